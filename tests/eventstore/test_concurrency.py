"""Many writers at once: one winner per version, nothing lost, nothing partial, and a
follower of the global log that sees every event exactly once, in a stable order."""

from __future__ import annotations

import asyncio
import random
from collections import Counter, defaultdict

import asyncpg
import pytest

from eventstore import ConcurrencyError, EventStore, StreamNotFoundError
from tests.conftest import Database
from tests.eventstore.conftest import event


async def _drain(store: EventStore, after: int = 0) -> int:
    """The position a follower starting now would begin after."""
    while batch := await store.read_all(after, 1000):
        after = batch[-1].position
    return after


async def test_50_appenders_racing_for_one_version_have_one_winner(
        migrated_database: Database, stream: str) -> None:
    async with await EventStore.connect(migrated_database.app_url, max_size=50) as racers:
        outcomes = await asyncio.gather(
            *(racers.append(stream, 0, [event()]) for _ in range(50)), return_exceptions=True)
    winners = [o for o in outcomes if isinstance(o, list)]
    assert len(winners) == 1
    assert all(isinstance(o, ConcurrencyError) for o in outcomes if not isinstance(o, list))
    assert [e.event_id for e in await racers_read(migrated_database, stream)] == \
        [winners[0][0].event_id]


async def racers_read(db: Database, stream: str) -> list:
    async with await EventStore.connect(db.app_url, max_size=1) as s:
        return await s.read(stream)


async def test_50_appenders_to_one_stream_lose_nothing(migrated_database: Database,
                                                       stream: str) -> None:
    conflicts = 0

    async def appender(writer: EventStore, n: int) -> str:
        nonlocal conflicts
        e = event(writer=n)
        while True:  # what the append activity does: re-read the head and try again
            try:
                await writer.append(stream, await writer.version(stream), [e])
                return str(e.event_id)
            except ConcurrencyError:
                conflicts += 1
                await asyncio.sleep(random.random() / 100)

    async with await EventStore.connect(migrated_database.app_url, max_size=50) as writer:
        ids = await asyncio.gather(*(appender(writer, n) for n in range(50)))
        stored = await writer.read(stream)
        report = await writer.verify(stream)
    assert [e.version for e in stored] == list(range(1, 51))  # gapless, one per version
    assert sorted(e.event_id for e in stored) == sorted(ids)  # every writer landed once
    assert conflicts > 0  # they really raced
    assert report.ok and report.events == 50


async def test_a_reader_never_skips_an_event_that_commits_later_with_a_lower_position(
        store: EventStore, migrated_database: Database, stream: str) -> None:
    after = await _drain(store)
    slow = await asyncpg.connect(migrated_database.app_url)
    try:
        tx = slow.transaction()
        await tx.start()
        [early] = await store.append_in(slow, stream + "-slow", 0, [event()])  # takes its id
        [late] = await store.append(stream + "-fast", 0, [event()])  # commits first
        assert early.position < late.position
        # The follower must not move past `early` while it may still commit.
        assert [e.event_id for e in await store.read_all(after)] == []
        await tx.commit()
    finally:
        await slow.close()
    seen = await store.read_all(after)
    assert [e.event_id for e in seen] == [early.event_id, late.event_id]


async def test_a_follower_sees_every_event_once_in_order_under_8_writers(
        migrated_database: Database) -> None:
    writers_done = asyncio.Event()
    async with await EventStore.connect(migrated_database.app_url, max_size=12) as s:
        start = await _drain(s)
        seen: list = []

        async def follow() -> None:
            after = start
            while True:
                batch = await s.read_all(after, 37)
                seen.extend(batch)
                if batch:
                    after = batch[-1].position
                elif writers_done.is_set():
                    if not await s.read_all(after, 1):
                        return
                else:
                    await asyncio.sleep(0.002)

        async def write(w: int) -> None:
            name, version = f"conversion:follow-test:{w}", 0
            for _ in range(25):
                batch = [event() for _ in range(random.randint(1, 3))]
                if w == 0 and version % 2:  # some commits wait while others overtake them
                    async with s.pool.acquire() as conn, conn.transaction():
                        await s.append_in(conn, name, version, batch)
                        await asyncio.sleep(0.01)
                else:
                    await s.append(name, version, batch)
                version += len(batch)

        follower = asyncio.create_task(follow())
        await asyncio.gather(*(write(w) for w in range(8)))
        writers_done.set()
        await asyncio.wait_for(follower, 30)
        stored = [e for e in await s.read_all(start, 100_000)]

    positions = [e.position for e in seen]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    assert Counter(e.event_id for e in seen) == Counter(e.event_id for e in stored)
    per_stream = [await racers_read(migrated_database, f"conversion:follow-test:{w}")
                  for w in range(8)]
    assert len(seen) == sum(len(events) for events in per_stream)
    versions: dict[str, list[int]] = defaultdict(list)
    for e in seen:
        versions[e.stream].append(e.version)
    assert all(v == list(range(1, len(v) + 1)) for v in versions.values())


async def test_a_connection_killed_mid_transaction_leaves_nothing(
        store: EventStore, migrated_database: Database, admin: asyncpg.Connection,
        stream: str) -> None:
    victim = await asyncpg.connect(migrated_database.app_url)
    tx = victim.transaction()
    await tx.start()
    appended = await store.append_in(victim, stream, 0, [event() for _ in range(3)])
    assert len(appended) == 3
    await admin.execute("SELECT pg_terminate_backend($1)", victim.get_server_pid())
    # The termination reaches the client asynchronously: the commit fails one way or another
    # (server error, closed connection, or asyncpg still busy with the termination notice).
    with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError, ConnectionError,
                        asyncpg.InternalClientError)):
        await tx.commit()
    victim.terminate()
    with pytest.raises(StreamNotFoundError):
        await store.read(stream)
    ids = [e.event_id for e in appended]
    assert await admin.fetchval("SELECT count(*) FROM events WHERE event_id = ANY($1)", ids) == 0
    [again] = await store.append(stream, 0, [event()])  # the version is free again
    assert again.version == 1


async def test_a_connection_killed_inside_the_append_statement_leaves_nothing(
        store: EventStore, migrated_database: Database, admin: asyncpg.Connection,
        stream: str) -> None:
    # Hold the streams table so the append blocks after inserting its events, uncommitted.
    blocker = await asyncpg.connect(migrated_database.admin_url)
    await blocker.execute("BEGIN; LOCK TABLE streams IN ACCESS EXCLUSIVE MODE")
    victim = await EventStore.connect(migrated_database.app_url, max_size=1)
    pid = await victim.pool.fetchval("SELECT pg_backend_pid()")
    task = asyncio.create_task(victim.append(stream, 0, [event() for _ in range(5)]))
    try:
        for _ in range(500):
            if await admin.fetchval("SELECT wait_event_type FROM pg_stat_activity "
                                    "WHERE pid = $1", pid) == "Lock":
                break
            await asyncio.sleep(0.01)
        else:
            pytest.fail("the append never blocked")
        inserted = await admin.fetchval(
            "SELECT count(*) FROM events WHERE stream = $1", stream)  # not visible: uncommitted
        assert inserted == 0
        await admin.execute("SELECT pg_terminate_backend($1)", pid)
        with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError, ConnectionError)):
            await task
    finally:
        await blocker.execute("ROLLBACK")
        await blocker.close()
        await victim.close()
    assert await admin.fetchval("SELECT count(*) FROM events WHERE stream = $1", stream) == 0
    assert await admin.fetchval("SELECT count(*) FROM streams WHERE stream = $1", stream) == 0
    assert [e.version for e in await store.append(stream, 0, [event(), event()])] == [1, 2]


async def test_the_pool_replaces_a_killed_connection(store: EventStore,
                                                     migrated_database: Database,
                                                     admin: asyncpg.Connection,
                                                     stream: str) -> None:
    async with await EventStore.connect(migrated_database.app_url, max_size=1) as s:
        pid = await s.pool.fetchval("SELECT pg_backend_pid()")
        await admin.execute("SELECT pg_terminate_backend($1)", pid)
        await asyncio.sleep(0.05)
        # the idle connection the server closed is not handed out: a new one serves at once
        # (a database restart costs the next request nothing)
        await s.append(stream, 0, [event()])
        await s.append(stream, 1, [event()])
        assert await s.pool.fetchval("SELECT pg_backend_pid()") != pid
        assert await s.version(stream) == 2
