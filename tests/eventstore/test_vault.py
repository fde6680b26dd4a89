"""Issue 8, the store as a vault: the application role can append only through the append
functions (which derive the chain themselves), and verify also checks the jsonb query copy
against the hashed bytes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest
import pytest_asyncio

from eventstore import EventStore
from eventstore.canonical import canonical_payload, envelope, event_hash, json_string
from tests.conftest import Database
from tests.eventstore.conftest import event

_INSERT = """INSERT INTO events (position, stream, version, event_id, type, schema_version,
                                 recorded_at, canonical, payload, hash, prev_hash)
             VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $8::jsonb, $9, $10)"""


@pytest_asyncio.fixture(loop_scope="session")
async def app_conn(migrated_database: Database) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(migrated_database.app_url)
    yield conn
    await conn.close()


async def test_the_application_role_cannot_insert_even_a_correctly_chained_row(
        store: EventStore, app_conn: asyncpg.Connection, stream: str) -> None:
    [head] = await store.append(stream, 0, [event()])
    # A forged event, chained exactly as the append function would chain it.
    at = datetime.now(UTC)
    payload = canonical_payload({"purpose": "report", "metrics": {"hotspots": 0}})
    canonical = envelope(stream=stream, version=2, type="metrics.recorded", schema_version=1,
                         recorded_at=at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), payload=payload,
                         prev_hash=head.hash)
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
        await app_conn.execute(_INSERT, head.position + 1, stream, 2, "evt-forged",
                               "metrics.recorded", at, canonical, payload.decode(),
                               event_hash(canonical), head.hash)
    assert await store.version(stream) == 1


async def test_the_application_role_cannot_register_a_stream_directly(
        app_conn: asyncpg.Connection) -> None:
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
        await app_conn.execute("INSERT INTO streams VALUES ('conversion:x:1', now(), 1)")


async def test_the_append_function_refuses_a_stream_json_that_adds_keys(
        store: EventStore, app_conn: asyncpg.Connection, stream: str) -> None:
    # The JCS pieces are spliced into the hashed document: a crafted stream piece would put
    # a second "stream" and "version" into the hashed bytes.
    crafted = json_string("conversion:other:1") + ',"version":99'
    with pytest.raises(asyncpg.InvalidParameterValueError, match="stream JSON"):
        await app_conn.fetch(
            "SELECT * FROM eventstore_append_one($1, $2, 0, 'evt-crafted', 'metrics.recorded',"
            " $3, 1, '{}')", stream, crafted, json_string("metrics.recorded"))
    with pytest.raises(asyncpg.InvalidParameterValueError, match="type JSON"):
        await app_conn.fetch(
            "SELECT * FROM eventstore_append($1, $2, 0, '{evt-a,evt-b}', "
            "'{metrics.recorded,metrics.recorded}', $3, '{1,1}', '{\"{}\",\"{}\"}')",
            stream, json_string(stream), [json_string("metrics.recorded"), '"x","version":9'])
    assert await store.version(stream) == 0


async def test_the_append_functions_run_with_a_pinned_search_path(
        app_conn: asyncpg.Connection) -> None:
    rows = await app_conn.fetch(
        "SELECT proname, prosecdef, proconfig FROM pg_proc "
        "WHERE proname IN ('eventstore_append', 'eventstore_append_one') ORDER BY proname")
    assert [r["proname"] for r in rows] == ["eventstore_append", "eventstore_append_one"]
    for r in rows:
        assert r["prosecdef"]
        assert any(c.startswith("search_path=pg_catalog,") and c.endswith(", pg_temp")
                   for c in r["proconfig"])


async def test_a_payload_edited_only_in_its_query_copy_is_named_by_verify(
        store: EventStore, admin: asyncpg.Connection, stream: str) -> None:
    events = await store.append(stream, 0, [event(step=i) for i in range(3)])
    target = events[1]
    async with admin.transaction():  # the owner, triggers off: hashed bytes untouched
        await admin.execute("SET LOCAL session_replication_role = replica")
        await admin.execute("UPDATE events SET payload = jsonb_set(payload, '{step}', '7') "
                            "WHERE position = $1", target.position)
    for report in (await store.verify(stream, deep=True), await store.verify(deep=True)):
        assert report.broken is not None
        assert (report.broken.stream, report.broken.version, report.broken.position,
                report.broken.event_id) == (stream, 2, target.position, target.event_id)
        assert "payload" in report.broken.problem and "query copy" in report.broken.problem
    # the default (chains only) does not read the copy; nothing the system decides reads it
    # either: case outcomes come from the hashed bytes (EventStore.outcomes)
    assert (await store.verify(stream)).ok


async def test_verify_still_passes_on_numbers_jsonb_writes_differently(
        store: EventStore, stream: str) -> None:
    # jsonb keeps 1.50 as written but the hashed JCS form is 1.5: equal values, not an edit.
    await store.append(stream, 0, [event(ratio=1.5, big=10**15, nested={"b": [1, 2.25]})])
    assert (await store.verify(stream)).ok


async def test_hashed_bytes_that_are_not_json_are_named_not_a_crash(
        store: EventStore, admin: asyncpg.Connection, stream: str) -> None:
    events = await store.append(stream, 0, [event(step=i) for i in range(3)])
    target = events[1]
    canonical = await admin.fetchval("SELECT canonical FROM events WHERE position = $1",
                                     target.position)
    forged = canonical.replace(b'"step":1', b'"step":\xff')  # not UTF-8, so not JSON
    async with admin.transaction():
        await admin.execute("SET LOCAL session_replication_role = replica")
        await admin.execute("UPDATE events SET canonical = $2, hash = $3 WHERE position = $1",
                            target.position, forged, event_hash(forged))
    report = await store.verify(stream, deep=True)
    assert report.broken is not None and report.broken.version == 2
    assert "not JSON" in report.broken.problem
    # the chains alone: the forged row hashes right, and the next link names the break
    report = await store.verify(stream)
    assert report.broken is not None and report.broken.version == 3
