"""Audit: re-derive every hash and link from the stored bytes and name the first bad row.

Rows are streamed in (stream, version) pages, so memory stays constant however long the
log. Per event: the version is the next one, ``prev_hash`` is the previous event's hash,
the hash matches SHA-256 of the stored canonical bytes, and those bytes say exactly what
the row's columns say (compared as bytes; JSON is parsed only to describe a mismatch).
"""

from __future__ import annotations

import hashlib
import json

import asyncpg

from eventstore.canonical import envelope_tail
from eventstore.errors import StreamNotFoundError
from eventstore.records import ZERO_HASH, ChainBreak, VerifyReport

PAGE = 20_000
_HEAD = b'{"payload":'
_SELECT = """SELECT stream, version, position, event_id, type, schema_version,
                    to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                    canonical, hash, prev_hash
               FROM events"""
_PAGE_ALL = _SELECT + " WHERE (stream, version) > ($1, $2) ORDER BY stream, version LIMIT $3"
_PAGE_ONE = _SELECT + " WHERE stream = $1 AND version > $2 ORDER BY version LIMIT $3"
_EMPTY_STREAM = """SELECT s.stream FROM streams s
                    WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.stream = s.stream)
                    ORDER BY s.stream LIMIT 1"""
_UNREGISTERED = """SELECT e.stream FROM events e
                    WHERE e.version = 1
                      AND NOT EXISTS (SELECT 1 FROM streams s WHERE s.stream = e.stream)
                    ORDER BY e.stream LIMIT 1"""


async def verify(
    conn: asyncpg.Connection | asyncpg.pool.PoolConnectionProxy, stream: str | None = None
) -> VerifyReport:
    """Verify one stream, or every stream when ``stream`` is None."""
    events = streams = 0
    current: str | None = None
    expect_version, expect_prev = 1, ZERO_HASH
    after_stream, after_version = ("" if stream is None else stream), 0
    sha256 = hashlib.sha256
    while True:
        if stream is None:
            rows = await conn.fetch(_PAGE_ALL, after_stream, after_version, PAGE)
        else:
            rows = await conn.fetch(_PAGE_ONE, stream, after_version, PAGE)
        for name, version, position, event_id, typ, sv, at, canonical, hash_, prev in rows:
            if name != current:
                current, expect_version, expect_prev = name, 1, ZERO_HASH
                streams += 1
            problem = ""
            if version != expect_version:
                problem = (f"version {expect_version} is missing (next stored is {version}): "
                           "an event was removed")
            elif prev != expect_prev:
                problem = (f"prev_hash does not match the hash of version {version - 1}: "
                           f"version {version - 1} or this link was altered" if version > 1
                           else "prev_hash of the first event is not all zeros")
            elif sha256(b"\x00" + canonical).digest() != hash_:
                problem = "hash does not match the stored canonical bytes: this row was altered"
            elif not (canonical.startswith(_HEAD) and canonical.endswith(envelope_tail(
                    prev_hash=prev, recorded_at=at, schema_version=sv, stream=name,
                    type=typ, version=version))):
                problem = _describe_mismatch(canonical, name, version, typ, sv, at, prev)
            if problem:
                broken = ChainBreak(name, version, position, event_id, problem)
                return VerifyReport(events, streams, broken)
            events += 1
            expect_version, expect_prev = version + 1, hash_
        if len(rows) < PAGE:
            break
        after_stream, after_version = rows[-1][0], rows[-1][1]

    if stream is not None:
        if streams == 0:
            raise StreamNotFoundError(stream)
        return VerifyReport(events, streams)
    orphan = await conn.fetchval(_EMPTY_STREAM)
    if orphan is not None:
        problem = "registered in streams but has no events: its events were removed"
        return VerifyReport(events, streams, ChainBreak(orphan, 1, None, None, problem))
    unregistered = await conn.fetchval(_UNREGISTERED)
    if unregistered is not None:
        problem = "has events but its streams row was removed"
        return VerifyReport(events, streams, ChainBreak(unregistered, 1, None, None, problem))
    return VerifyReport(events, streams)


def _describe_mismatch(
    canonical: bytes, stream: str, version: int, typ: str, sv: int, at: str, prev: bytes
) -> str:
    """Name the column that disagrees with the hashed bytes."""
    try:
        doc = json.loads(canonical)
    except ValueError:
        return "stored canonical bytes are not JSON: this row was altered"
    columns = {"stream": stream, "version": version, "type": typ, "schema_version": sv,
               "recorded_at": at, "prev_hash": prev.hex()}
    for key, value in columns.items():
        if doc.get(key) != value:
            return (f"column {key} is {value!r} but the hashed bytes say {doc.get(key)!r}: "
                    "this row was altered")
    return "stored canonical bytes are not in canonical form: this row was altered"
