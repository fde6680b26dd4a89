"""Event store fixtures: a store connected as the application role, and owner/superuser
connections for the tests that inspect or tamper with rows."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import pytest
import pytest_asyncio

from eventstore import EventStore, NewEvent
from tests.conftest import Database

_ids = itertools.count(1)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def store(migrated_database: Database) -> AsyncIterator[EventStore]:
    s = await EventStore.connect(migrated_database.app_url, max_size=16)
    yield s
    await s.close()


@pytest_asyncio.fixture(loop_scope="session")
async def admin(migrated_database: Database) -> AsyncIterator[asyncpg.Connection]:
    """The superuser on the module's database (embedded server: the owner is superuser)."""
    conn = await asyncpg.connect(migrated_database.admin_url)
    yield conn
    await conn.close()


@pytest.fixture
def stream() -> str:
    """A new case stream name, unique in the session."""
    return f"conversion:tra-vinh-2025:{next(_ids):05d}-{uuid.uuid4().hex[:6]}"


def event(type: str = "metrics.recorded", **payload: Any) -> NewEvent:
    """An event with a fresh id (what a workflow derives deterministically)."""
    return NewEvent(f"evt-{uuid.uuid4()}", type, 1, payload or {"purpose": "report",
                                                                "metrics": {"hotspots": 1}})


@pytest.fixture
def make_event() -> Callable[..., NewEvent]:
    return event
