"""Shared database fixtures: one PostgreSQL per test session (``DATABASE_URL`` or an embedded
throwaway server), one migrated template, and fresh databases cloned from it."""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import asyncpg
import pytest
import pytest_asyncio

from eventstore.embedded import server_url
from eventstore.migrate import migrate
from eventstore.urls import app_url, with_database

_names = itertools.count(1)

# Encryption is the default (runtime.codec): every test process and the servers and workers it
# starts seal payloads with this key, as production does with its own; tests of the refusal
# without a key remove it themselves.
os.environ.setdefault("DRUGFREE_PAYLOAD_KEY", bytes(range(100, 132)).hex())
# The worker and API processes tests start serve no operations port unless a test asks for
# one (several run at once; the default port is for production).
os.environ.setdefault("DRUGFREE_METRICS_PORT", "0")
# Workflow code is re-imported inside the sandbox for every run, so its restrictions (no
# clock, no randomness) catch a call in workflows/ itself; production shares the modules.
os.environ.setdefault("DRUGFREE_WORKFLOW_SANDBOX", "strict")


@dataclass(frozen=True)
class Database:
    """A freshly migrated, empty database: ``admin_url`` is its owner (superuser on the
    embedded server), ``app_url`` the application role that may only read and append."""

    name: str
    admin_url: str
    app_url: str


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """The server's superuser URL for the whole session."""
    with server_url() as url:
        yield url


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def migrated_template(database_url: str) -> AsyncIterator[str]:
    """A database migrated once, cloned by ``CREATE DATABASE ... TEMPLATE`` (fast)."""
    name = f"drugfree_tpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    await _admin(database_url, f'CREATE DATABASE "{name}"')
    await migrate(with_database(database_url, name))
    yield name
    await _admin(database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _new_database(database_url: str, template: str) -> Database:
    name = f"drugfree_test_{next(_names)}_{uuid.uuid4().hex[:6]}"
    await _admin(database_url, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    admin = with_database(database_url, name)
    return Database(name, admin, app_url(admin))


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def migrated_database(database_url: str, migrated_template: str) -> AsyncIterator[Database]:
    """A fresh migrated database shared by the tests of one module."""
    db = await _new_database(database_url, migrated_template)
    yield db
    await _admin(database_url, f'DROP DATABASE IF EXISTS "{db.name}" WITH (FORCE)')


@pytest_asyncio.fixture(loop_scope="session")
async def fresh_database(database_url: str, migrated_template: str) -> AsyncIterator[Database]:
    """A fresh migrated database for one test."""
    db = await _new_database(database_url, migrated_template)
    yield db
    await _admin(database_url, f'DROP DATABASE IF EXISTS "{db.name}" WITH (FORCE)')


async def _admin(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()
