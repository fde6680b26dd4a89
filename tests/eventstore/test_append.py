"""Appending and reading one case's stream: versions, idempotent retries, refusals."""

from __future__ import annotations

import json
import uuid

import asyncpg
import pytest
import rfc8785

from eventstore import (
    ConcurrencyError,
    DuplicateEventError,
    EventStore,
    InvalidEventError,
    NewEvent,
    PayloadTooLargeError,
    StreamNotFoundError,
    UnsafeNumberError,
)
from eventstore.canonical import MAX_PAYLOAD_BYTES, event_hash
from eventstore.records import ZERO_HASH
from tests.eventstore.conftest import event

OPENED = {"plan_id": "tra-vinh-2025", "commune_code": "28750", "district_code": "848",
          "province_code": "84", "opened_by": "p-1", "opened_by_role": "district_ubnd"}


async def test_append_starts_a_stream_and_versions_are_gapless(store: EventStore,
                                                               stream: str) -> None:
    first = await store.append(stream, 0, [event("case.opened", **OPENED)])
    more = await store.append(stream, 1, [event(), event(), event()])
    assert [e.version for e in first + more] == [1, 2, 3, 4]
    positions = [e.position for e in first + more]
    assert positions == sorted(positions) and len(set(positions)) == 4
    assert await store.version(stream) == 4
    assert first[0].prev_hash == ZERO_HASH
    assert [e.prev_hash for e in more] == [first[0].hash, more[0].hash, more[1].hash]


async def test_read_returns_what_was_appended(store: EventStore, stream: str) -> None:
    # case.opened at its current schema (v2): an older one would be read upcast
    opened = NewEvent(f"evt-{uuid.uuid4()}", "case.opened", 2, OPENED)
    appended = await store.append(stream, 0, [opened,
                                              event(purpose="baseline", metrics={"hotspots": 2})])
    read = await store.read(stream)
    assert [(e.event_id, e.type, e.payload, e.position, e.hash) for e in read] == \
        [(e.event_id, e.type, e.payload, e.position, e.hash) for e in appended]
    assert [e.version for e in await store.read(stream, from_version=2)] == [2]
    assert await store.read(stream, from_version=3) == []


async def test_stored_bytes_are_the_jcs_envelope_and_hash_to_the_stored_hash(
        store: EventStore, stream: str, admin: asyncpg.Connection) -> None:
    [e1, e2] = await store.append(stream, 0, [event("case.opened", **OPENED), event()])
    for e in (e1, e2):
        canonical, stored_hash = await admin.fetchrow(
            "SELECT canonical, hash FROM events WHERE position = $1", e.position)
        doc = json.loads(canonical)
        assert doc == {
            "stream": stream, "version": e.version, "type": e.type, "schema_version": 1,
            "recorded_at": e.recorded_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "payload": e.payload, "prev_hash": e.prev_hash.hex(),
        }
        assert canonical == rfc8785.dumps(doc)  # the exact bytes, not just the same JSON
        assert stored_hash == e.hash == event_hash(canonical)


async def test_wrong_expected_version_raises_and_writes_nothing(store: EventStore,
                                                                stream: str) -> None:
    await store.append(stream, 0, [event("case.opened", **OPENED), event()])
    for expected in (0, 1, 3, 7):
        with pytest.raises(ConcurrencyError) as info:
            await store.append(stream, expected, [event(), event()])
        assert (info.value.expected_version, info.value.actual_version) == (expected, 2)
        assert "at version 2" in str(info.value)
    assert await store.version(stream) == 2


async def test_retry_of_a_committed_batch_returns_the_original_events(store: EventStore,
                                                                      stream: str) -> None:
    batch = [event("case.opened", **OPENED), event()]
    original = await store.append(stream, 0, batch)
    await store.append(stream, 2, [event()])
    retried = await store.append(stream, 0, batch)  # the stream moved on: still a no-op
    assert [(e.position, e.version, e.hash) for e in retried] == \
        [(e.position, e.version, e.hash) for e in original]
    assert await store.version(stream) == 3


async def test_retry_of_a_single_event_is_a_noop(store: EventStore, stream: str) -> None:
    opened = event("case.opened", **OPENED)
    [first] = await store.append(stream, 0, [opened])
    [again] = await store.append(stream, 0, [opened])
    assert again.position == first.position and await store.version(stream) == 1


async def test_same_id_with_different_content_is_an_error(store: EventStore,
                                                          stream: str) -> None:
    original = event("case.opened", **OPENED)
    await store.append(stream, 0, [original])
    changed = NewEvent(original.event_id, "case.opened", 1, {**OPENED, "commune_code": "1"})
    with pytest.raises(DuplicateEventError, match="different payload"):
        await store.append(stream, 1, [changed])
    with pytest.raises(DuplicateEventError, match="already stored as case.opened v1"):
        await store.append(stream, 1, [NewEvent(original.event_id, "case.closed", 1, {})])
    with pytest.raises(DuplicateEventError, match="another stream"):
        await store.append(stream + "-other", 0, [original])
    # the stored v1 opening, read upcast to v2 (its plan version unknown)
    assert [e.payload for e in await store.read(stream)] == [{**OPENED, "plan_hash": None}]


async def test_a_batch_mixing_stored_and_new_ids_is_refused(store: EventStore,
                                                            stream: str) -> None:
    first = event("case.opened", **OPENED)
    await store.append(stream, 0, [first])
    with pytest.raises(DuplicateEventError, match="whole batch"):
        await store.append(stream, 0, [first, event()])
    assert await store.version(stream) == 1


async def test_same_id_twice_in_a_batch_is_refused(store: EventStore, stream: str) -> None:
    e = event()
    with pytest.raises(InvalidEventError, match="twice"):
        await store.append(stream, 0, [e, e])


async def test_oversize_payload_is_refused_and_nothing_is_written(store: EventStore,
                                                                  stream: str) -> None:
    big = NewEvent("big-1", "report.submitted", 2, {"summary": "x" * MAX_PAYLOAD_BYTES})
    with pytest.raises(PayloadTooLargeError, match="limit is 262144"):
        await store.append(stream, 0, [event("case.opened", **OPENED), big])
    with pytest.raises(StreamNotFoundError):
        await store.read(stream)


async def test_numbers_outside_the_safe_range_are_refused(store: EventStore,
                                                          stream: str) -> None:
    with pytest.raises(UnsafeNumberError, match="payload.metrics.population"):
        await store.append(stream, 0, [event(metrics={"population": 2**53})])
    with pytest.raises(StreamNotFoundError):
        await store.read(stream)


@pytest.mark.parametrize("name", ["", "x" * 201, "bad\nname"])
async def test_bad_stream_names_are_refused(store: EventStore, name: str) -> None:
    with pytest.raises(InvalidEventError, match="stream"):
        await store.append(name, 0, [event()])


async def test_empty_batch_and_negative_version_are_refused(store: EventStore,
                                                            stream: str) -> None:
    with pytest.raises(InvalidEventError, match="at least one"):
        await store.append(stream, 0, [])
    with pytest.raises(InvalidEventError, match="expected_version"):
        await store.append(stream, -1, [event()])


async def test_reading_an_unknown_stream_raises(store: EventStore) -> None:
    with pytest.raises(StreamNotFoundError, match="does not exist"):
        await store.read("conversion:nowhere:00000")


async def test_streams_lists_by_prefix_with_versions(store: EventStore) -> None:
    prefix = "conversion:list-test-2025:"
    for i, n in enumerate((1, 3, 2)):
        await store.append(f"{prefix}{i}", 0, [event() for _ in range(n)])
    await store.append("conversion:list-test-2025_x:0", 0, [event()])  # "_" is not a wildcard
    listed = await store.streams(prefix)
    assert [(s.stream, s.version) for s in listed] == \
        [(f"{prefix}0", 1), (f"{prefix}1", 3), (f"{prefix}2", 2)]


async def test_append_in_commits_and_rolls_back_with_the_callers_transaction(
        store: EventStore, stream: str) -> None:
    async with store.pool.acquire() as conn:
        with pytest.raises(RuntimeError):
            async with conn.transaction():
                await store.append_in(conn, stream, 0, [event("case.opened", **OPENED)])
                raise RuntimeError("the activity failed after appending")
        assert await store.version(stream) == 0
        [opened] = await store.append(stream, 0, [event("case.opened", **OPENED)])
        async with conn.transaction():
            with pytest.raises(ConcurrencyError):  # a conflict leaves the transaction usable
                await store.append_in(conn, stream, 5, [event()])
            [e] = await store.append_in(conn, stream, 1, [event()])
        assert await store.version(stream) == 2 and e.prev_hash == opened.hash


async def test_append_in_must_be_the_first_write_of_its_transaction(
        store: EventStore, stream: str) -> None:
    async with store.pool.acquire() as conn, conn.transaction():
        await store.append_in(conn, stream, 0, [event("case.opened", **OPENED)])
        with pytest.raises(Exception, match="first write"):
            await store.append_in(conn, stream, 1, [event()])
