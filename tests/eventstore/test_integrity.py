"""Append-only in the database, and tampering found by verify, which names the row."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator

import asyncpg
import pytest
import pytest_asyncio

import eventstore.verify as verify
from eventstore import EventStore, RecordedEvent, StreamNotFoundError
from eventstore.canonical import event_hash
from tests.conftest import Database
from tests.eventstore.conftest import event


@pytest_asyncio.fixture(loop_scope="session")
async def app_conn(migrated_database: Database) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(migrated_database.app_url)
    yield conn
    await conn.close()


async def _case(store: EventStore, stream: str, n: int = 4) -> list[RecordedEvent]:
    return await store.append(stream, 0, [event(step=i) for i in range(n)])


async def _tamper(admin: asyncpg.Connection, sql: str, *args: object) -> None:
    """What a superuser can still do: switch off triggers for the session and edit."""
    async with admin.transaction():
        await admin.execute("SET LOCAL session_replication_role = replica")
        await admin.execute(sql, *args)


async def test_the_application_role_is_not_a_superuser(app_conn: asyncpg.Connection) -> None:
    role = await app_conn.fetchrow(
        "SELECT rolname, rolsuper, rolcreaterole, rolbypassrls FROM pg_roles "
        "WHERE rolname = current_user")
    assert tuple(role) == ("drugfree_app", False, False, False)


@pytest.mark.parametrize("sql", [
    "UPDATE events SET type = 'x' WHERE stream = $1",
    "DELETE FROM events WHERE stream = $1",
    "UPDATE streams SET created_at = now() WHERE stream = $1",
    "DELETE FROM streams WHERE stream = $1",
])
async def test_the_application_role_cannot_change_or_remove_events(
        store: EventStore, app_conn: asyncpg.Connection, stream: str, sql: str) -> None:
    await _case(store, stream, 2)
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
        await app_conn.execute(sql, stream)
    assert await store.version(stream) == 2


@pytest.mark.parametrize("table", ["events", "streams"])
async def test_the_application_role_cannot_truncate(app_conn: asyncpg.Connection,
                                                    table: str) -> None:
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await app_conn.execute(f"TRUNCATE {table}")


@pytest.mark.parametrize("sql", [
    "UPDATE events SET type = 'x' WHERE stream = $1",
    "DELETE FROM events WHERE stream = $1",
])
async def test_the_trigger_stops_even_the_owner(store: EventStore, admin: asyncpg.Connection,
                                                stream: str, sql: str) -> None:
    await _case(store, stream, 2)
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        await admin.execute(sql, stream)
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        await admin.execute("TRUNCATE events CASCADE")
    assert await store.version(stream) == 2


async def test_verify_passes_on_an_untouched_log(store: EventStore, stream: str) -> None:
    await _case(store, stream)
    one = await store.verify(stream)
    assert one.ok and (one.events, one.streams) == (4, 1)
    everything = await store.verify()
    assert everything.ok and everything.events >= 4


async def test_verify_of_an_unknown_stream_raises(store: EventStore) -> None:
    with pytest.raises(StreamNotFoundError):
        await store.verify("conversion:nowhere:1")


async def test_an_edited_payload_is_found_and_named(store: EventStore, admin: asyncpg.Connection,
                                                    stream: str) -> None:
    events = await _case(store, stream)
    target = events[2]
    await _tamper(admin, "UPDATE events SET canonical = convert_to(replace(convert_from("
                         "canonical, 'UTF8'), '\"step\":2', '\"step\":9'), 'UTF8') "
                         "WHERE position = $1", target.position)
    report = await store.verify(stream)
    assert not report.ok and report.broken is not None
    assert (report.broken.stream, report.broken.version, report.broken.position,
            report.broken.event_id) == (stream, 3, target.position, target.event_id)
    assert "hash does not match" in str(report.broken)
    assert f"stream {stream!r} version 3 (position {target.position}" in str(report.broken)
    assert report.events == 2  # versions 1 and 2 checked out before the break


async def test_an_edit_with_a_recomputed_hash_breaks_the_next_link(
        store: EventStore, admin: asyncpg.Connection, stream: str) -> None:
    events = await _case(store, stream)
    target = events[1]
    canonical = await admin.fetchval("SELECT canonical FROM events WHERE position = $1",
                                     target.position)
    forged = canonical.replace(b'"step":1', b'"step":7')
    # The query copy edited to match, so only the link to version 3 is left to break.
    await _tamper(admin, "UPDATE events SET canonical = $2, hash = $3, "
                         "payload = jsonb_set(payload, '{step}', '7') WHERE position = $1",
                  target.position, forged, event_hash(forged))
    report = await store.verify(stream)
    assert report.broken is not None and report.broken.version == 3
    assert "does not match the hash of version 2" in report.broken.problem


async def test_an_edited_column_is_named(store: EventStore, admin: asyncpg.Connection,
                                         stream: str) -> None:
    events = await _case(store, stream)
    await _tamper(admin, "UPDATE events SET type = 'recognition.granted' WHERE position = $1",
                  events[3].position)
    report = await store.verify(stream)
    assert report.broken is not None and report.broken.version == 4
    assert "column type is 'recognition.granted'" in report.broken.problem
    assert "'metrics.recorded'" in report.broken.problem


async def test_a_removed_event_is_found(store: EventStore, admin: asyncpg.Connection,
                                        stream: str) -> None:
    events = await _case(store, stream)
    await _tamper(admin, "DELETE FROM events WHERE position = $1", events[1].position)
    report = await store.verify(stream)
    assert report.broken is not None and report.broken.version == 3
    assert "version 2 is missing" in report.broken.problem


async def test_a_removed_stream_is_found_by_verify_all(fresh_database: Database) -> None:
    async with await EventStore.connect(fresh_database.app_url) as s:
        await s.append("conversion:a:1", 0, [event()])
        await s.append("conversion:b:1", 0, [event(), event()])
        admin = await asyncpg.connect(fresh_database.admin_url)
        try:
            await _tamper(admin, "DELETE FROM events WHERE stream = 'conversion:b:1'")
        finally:
            await admin.close()
        report = await s.verify()
    assert report.broken is not None and report.broken.stream == "conversion:b:1"
    assert "has no events" in report.broken.problem


async def test_parallel_verify_finds_the_first_break_across_ranges(
        fresh_database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(verify, "PARALLEL_FROM", 1)
    async with await EventStore.connect(fresh_database.app_url) as s:
        for i in range(12):
            await s.append(f"conversion:p:{i:02d}", 0, [event(step=j) for j in range(3)])
        clean = await verify.verify_url(fresh_database.admin_url, workers=3)
        assert clean.ok and (clean.events, clean.streams) == (36, 12)
        admin = await asyncpg.connect(fresh_database.admin_url)
        try:
            for name in ("conversion:p:03", "conversion:p:10"):
                await _tamper(admin, "UPDATE events SET canonical = canonical || ' '::bytea "
                                     "WHERE stream = $1 AND version = 2", name)
        finally:
            await admin.close()
        broken = await verify.verify_url(fresh_database.admin_url, workers=3)
    assert broken.broken is not None
    assert (broken.broken.stream, broken.broken.version) == ("conversion:p:03", 2)


async def test_verify_checks_the_hash_independently_of_the_database(
        store: EventStore, admin: asyncpg.Connection, stream: str) -> None:
    [e] = await store.append(stream, 0, [event()])
    canonical = await admin.fetchval("SELECT canonical FROM events WHERE position = $1",
                                     e.position)
    doc = json.loads(canonical)
    assert doc["prev_hash"] == "0" * 64
    assert hashlib.sha256(b"\x00" + canonical).digest() == e.hash


async def test_an_inserted_event_is_found(store: EventStore, admin: asyncpg.Connection,
                                          stream: str) -> None:
    """A row slipped into the middle of a stream (later versions renumbered): its chain
    no longer links."""
    events = await _case(store, stream)
    await _tamper(admin, "UPDATE events SET version = version + 1000 "
                         "WHERE stream = $1 AND version >= 3", stream)
    await _tamper(admin, "UPDATE events SET version = version - 999 "
                         "WHERE stream = $1 AND version >= 1000", stream)
    await _tamper(admin, """INSERT INTO events (position, stream, version, event_id, type,
                                schema_version, recorded_at, canonical, payload, hash,
                                prev_hash)
                            SELECT (SELECT max(position) FROM events) + 1, stream, 3,
                                   event_id || '-forged', type,
                                   schema_version, recorded_at, canonical, payload, hash,
                                   prev_hash
                              FROM events WHERE position = $1""", events[1].position)
    report = await store.verify(stream)
    assert report.broken is not None and report.broken.stream == stream
    assert report.broken.version == 3  # the forged row: its link is to version 1's hash


async def test_two_swapped_events_are_found(store: EventStore, admin: asyncpg.Connection,
                                            stream: str) -> None:
    events = await _case(store, stream)
    await _tamper(admin, "UPDATE events SET version = 100 WHERE position = $1",
                  events[1].position)
    await _tamper(admin, "UPDATE events SET version = 2 WHERE position = $1",
                  events[2].position)
    await _tamper(admin, "UPDATE events SET version = 3 WHERE position = $1",
                  events[1].position)
    report = await store.verify(stream)
    assert report.broken is not None and report.broken.version == 2
