"""The ``append_events`` activity against a small connection pool (defect 1).

``EventActivities._append`` holds one pooled connection for its transaction. It once read the
stream's head with ``store.version()``, which checks out a *second* connection: with a pool of
one (or with every connection busy in other appends) the activity waited forever. The head is
now read on the transaction's own connection, so an append needs exactly one connection.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from activities.contracts import AppendRequest, EventEnvelope, Notice
from activities.persist import EventActivities
from eventstore.store import EventStore
from tests.conftest import Database

pytestmark = pytest.mark.asyncio(loop_scope="session")

# Far above what one append takes on an idle test database; a deadlocked append never ends.
APPEND_TIMEOUT = 10.0


def new_stream() -> str:
    return f"conversion:tra-vinh-2025:append-{uuid.uuid4().hex[:10]}"


def envelope(stream: str, n: int) -> EventEnvelope:
    return EventEnvelope(event_id=f"{stream}/case/{n}", type="metrics.recorded",
                         schema_version=1,
                         payload={"purpose": "report", "metrics": {"hotspots": n}})


@asynccontextmanager
async def activities_on(db: Database, max_size: int) -> AsyncIterator[EventActivities]:
    """The activity object over its own store whose pool holds at most ``max_size``
    connections (the pool the worker would give it, only smaller)."""
    store = await EventStore.connect(db.app_url, min_size=1, max_size=max_size)
    try:
        yield EventActivities(store, ["log"])
    finally:
        await store.close()  # closes idle connections now, the others when they come back


async def test_append_with_a_pool_of_one_connection_completes(
        migrated_database: Database) -> None:
    """Defect 1: a pool of size 1 must be enough for one append (events and notices)."""
    stream = new_stream()
    req = AppendRequest(
        stream=stream, events=[envelope(stream, 1)],
        notices=[Notice(template="case_opened", to_role="district_ubnd", case_id=stream,
                        params={"commune": "29236"})])
    async with activities_on(migrated_database, max_size=1) as acts:
        try:
            result = await asyncio.wait_for(acts._append(req), timeout=APPEND_TIMEOUT)
        except TimeoutError:
            pytest.fail(f"append with a one-connection pool did not finish in "
                        f"{APPEND_TIMEOUT:.0f} s: it waits for a second connection (deadlock)")
        assert result.last_version == 1 and len(result.positions) == 1
        events = await acts.store.read(stream)
        assert [(e.version, e.event_id, e.type) for e in events] == [
            (1, f"{stream}/case/1", "metrics.recorded")]
        outbox = await acts.pool.fetch(
            "SELECT template, to_role, channel FROM outbox WHERE case_id = $1", stream)
        assert [tuple(r) for r in outbox] == [("case_opened", "district_ubnd", "log")]


async def test_concurrent_appends_on_a_small_pool_are_gapless(
        migrated_database: Database) -> None:
    """Defect 1: 20 appends racing for one stream over 2 connections all land, in versions
    1..20 without gap or duplicate (a version race is retried at the new head)."""
    stream, n = new_stream(), 20
    async with activities_on(migrated_database, max_size=2) as acts:
        appends = [acts._append(AppendRequest(stream=stream, events=[envelope(stream, i)]))
                   for i in range(1, n + 1)]
        try:
            results = await asyncio.wait_for(asyncio.gather(*appends), timeout=APPEND_TIMEOUT * 3)
        except TimeoutError:
            pytest.fail("concurrent appends over a two-connection pool deadlocked")
        assert sorted(r.last_version for r in results) == list(range(1, n + 1))
        events = await acts.store.read(stream)
        assert [e.version for e in events] == list(range(1, n + 1))
        assert sorted(e.event_id for e in events) == sorted(
            f"{stream}/case/{i}" for i in range(1, n + 1))
        assert (await acts.store.verify(stream)).ok
