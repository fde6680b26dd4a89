"""Audit: re-derive every hash and link from the stored bytes and name the first bad row.

Rows are streamed in (stream, version) pages, so memory stays constant however long the
log. Per event: the version is the next one, ``prev_hash`` is the previous event's hash,
the hash matches SHA-256 of the stored canonical bytes, those bytes say exactly what the
row's columns say (compared as bytes; JSON is parsed only to describe a mismatch), and the
jsonb ``payload`` column, the copy that queries read, equals the payload inside the hashed
bytes (compared by the server as jsonb: it rewrites numbers and key order, not values).

The work is bound by Python (receiving and hashing ~1 KB per event), so a large log is
split into ranges of streams verified by one process per core.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import os
import sys
from typing import Any, TypeAlias

import asyncpg

from eventstore.canonical import envelope_tail
from eventstore.errors import EventStoreError, StreamNotFoundError
from eventstore.records import ZERO_HASH, ChainBreak, VerifyReport

PAGE = 5_000
PARALLEL_FROM = 200_000  # events; below this, starting processes costs more than it saves
_HEAD = b'{"payload":'
_SELECT = """SELECT stream, version, type, schema_version,
                    to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                    canonical, hash, prev_hash, {copy}
               FROM events"""
# Whether the query copy holds what was hashed. Parsing fails on bytes that are not JSON (an
# edited row); the page is then checked row by row with _ROW_COPY to name it.
_COPY = "payload = (convert_from(canonical, 'UTF8')::jsonb -> 'payload')"
_ROW_COPY = f"SELECT {_COPY} FROM events WHERE stream = $1 AND version = $2"
_WHERE_ALL = """ WHERE (stream, version) > ($1, $2) AND ($3::text IS NULL OR stream < $3)
                ORDER BY stream, version LIMIT $4"""
_WHERE_ONE = " WHERE stream = $1 AND version > $2 ORDER BY version LIMIT $3"
_PAGE_ALL = _SELECT.format(copy=_COPY) + _WHERE_ALL
_PAGE_ONE = _SELECT.format(copy=_COPY) + _WHERE_ONE
_PAGE_ALL_UNCHECKED = _SELECT.format(copy="NULL") + _WHERE_ALL
_PAGE_ONE_UNCHECKED = _SELECT.format(copy="NULL") + _WHERE_ONE
_ROW_IDS = "SELECT position, event_id FROM events WHERE stream = $1 AND version = $2"
_EMPTY_STREAM = """SELECT s.stream FROM streams s
                    WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.stream = s.stream)
                    ORDER BY s.stream LIMIT 1"""
_UNREGISTERED = """SELECT e.stream FROM events e
                    WHERE e.version = 1
                      AND NOT EXISTS (SELECT 1 FROM streams s WHERE s.stream = e.stream)
                    ORDER BY e.stream LIMIT 1"""
_SPLITS = """SELECT min(stream) AS start
               FROM (SELECT stream, ntile($1) OVER (ORDER BY stream) AS part FROM streams) t
              GROUP BY part ORDER BY start"""

Conn: TypeAlias = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy


async def verify(conn: Conn, stream: str | None = None, deep: bool = False) -> VerifyReport:
    """Verify one stream, or every stream when ``stream`` is None (in this process).
    ``deep``: also compare each event's jsonb ``payload`` copy with the hashed bytes."""
    if stream is not None:
        report = await _verify_range(conn, stream=stream, deep=deep)
        if report.streams == 0:
            raise StreamNotFoundError(stream)
        return report
    report = await _verify_range(conn, deep=deep)
    return report if report.broken else await _check_registry(conn, report)


async def verify_url(url: str, workers: int | None = None, deep: bool = False) -> VerifyReport:
    """Verify every stream, one process per core when the log is large."""
    conn = await asyncpg.connect(url, server_settings={"jit": "off"})
    try:
        workers = workers or min(os.cpu_count() or 1, 4)
        total = await conn.fetchval("SELECT count(*) FROM events")
        if workers < 2 or total < PARALLEL_FROM:
            return await verify(conn, deep=deep)
        bounds = await _split(conn, workers)
        parts = await asyncio.gather(*(_verify_in_subprocess(url, lo, hi, deep)
                                       for lo, hi in bounds))
        events = sum(p.events for p in parts)
        streams = sum(p.streams for p in parts)
        for part in parts:  # ranges are in stream order: the first break is the first found
            if part.broken:
                return VerifyReport(events, streams, part.broken)
        return await _check_registry(conn, VerifyReport(events, streams))
    finally:
        await conn.close()


async def _split(conn: Conn, workers: int) -> list[tuple[str | None, str | None]]:
    """Contiguous ranges of stream names, about equal in number of streams."""
    starts = [r["start"] for r in await conn.fetch(_SPLITS, workers)][1:]
    lows: list[str | None] = [None, *starts]
    highs: list[str | None] = [*starts, None]
    return list(zip(lows, highs, strict=True))


async def _verify_in_subprocess(url: str, lower: str | None, upper: str | None,
                                deep: bool) -> VerifyReport:
    """``python -m eventstore.verify`` on one range; the URL goes through stdin, not argv,
    so credentials never show in a process list. (A plain subprocess, not multiprocessing:
    that would re-import the caller's main module.)"""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "eventstore.verify",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate(json.dumps([url, lower, upper, deep]).encode())
    if proc.returncode != 0:
        raise EventStoreError(f"verify worker failed: {err.decode(errors='replace').strip()}")
    data = json.loads(out)
    broken = ChainBreak(**data["broken"]) if data["broken"] else None
    return VerifyReport(data["events"], data["streams"], broken)


async def _verify_range_of(url: str, lower: str | None, upper: str | None,
                           deep: bool) -> VerifyReport:
    conn = await asyncpg.connect(url, server_settings={"jit": "off"})
    try:
        return await _verify_range(conn, lower=lower, upper=upper, deep=deep)
    finally:
        await conn.close()


async def _verify_range(
    conn: Conn, *, stream: str | None = None, lower: str | None = None,
    upper: str | None = None, deep: bool = False,
) -> VerifyReport:
    """Walk one stream, or the streams in [lower, upper), checking every link."""
    events = streams = 0
    current: str | None = None
    expect_version, expect_prev = 1, ZERO_HASH
    after_stream, after_version = (stream or lower or ""), 0  # (lower, 0) precedes lower's v1
    seeded = hashlib.sha256(b"\x00")
    while True:
        rows = await _page(conn, stream, after_stream, after_version, upper, deep)
        for name, version, typ, sv, at_text, canonical, hash_, prev, copy_ok in rows:
            if name != current:
                current, expect_version, expect_prev = name, 1, ZERO_HASH
                streams += 1
            digest = seeded.copy()
            digest.update(canonical)
            copy_ok = copy_ok if deep else True  # the copy is compared in a deep run only
            if (version != expect_version or prev != expect_prev
                    or digest.digest() != hash_ or copy_ok is not True
                    or not canonical.startswith(_HEAD)
                    or not canonical.endswith(envelope_tail(
                        prev_hash=prev, recorded_at=at_text, schema_version=sv, stream=name,
                        type=typ, version=version))):
                problem = _describe(canonical, hash_, prev, name, version, typ, sv, at_text,
                                    expect_version, expect_prev, copy_ok is True)
                ids = await conn.fetchrow(_ROW_IDS, name, version)
                broken = ChainBreak(name, version, ids["position"], ids["event_id"], problem)
                return VerifyReport(events, streams, broken)
            events += 1
            expect_version, expect_prev = version + 1, hash_
        if len(rows) < PAGE:
            return VerifyReport(events, streams)
        after_stream, after_version = rows[-1][0], rows[-1][1]


async def _page(
    conn: Conn, stream: str | None, after_stream: str, after_version: int, upper: str | None,
    deep: bool = True,
) -> list[Any]:
    """The next page of rows, the last column telling whether the query copy matches (in a
    deep run; NULL otherwise)."""
    if not deep:
        if stream is None:
            return list(await conn.fetch(_PAGE_ALL_UNCHECKED, after_stream, after_version,
                                         upper, PAGE))
        return list(await conn.fetch(_PAGE_ONE_UNCHECKED, stream, after_version, PAGE))
    try:
        if stream is None:
            page: list[Any] = await conn.fetch(_PAGE_ALL, after_stream, after_version, upper,
                                               PAGE)
        else:
            page = await conn.fetch(_PAGE_ONE, stream, after_version, PAGE)
        return page
    except asyncpg.DataError:  # some row's canonical bytes are not JSON: find which
        pass
    if stream is None:
        rows = await conn.fetch(_PAGE_ALL_UNCHECKED, after_stream, after_version, upper, PAGE)
    else:
        rows = await conn.fetch(_PAGE_ONE_UNCHECKED, stream, after_version, PAGE)
    checked = []
    for row in rows:
        try:
            copy_ok = await conn.fetchval(_ROW_COPY, row[0], row[1])
        except asyncpg.DataError:
            copy_ok = False
        checked.append((*tuple(row)[:-1], copy_ok))
    return checked


async def _check_registry(conn: Conn, report: VerifyReport) -> VerifyReport:
    """A stream whose every event was removed leaves no link to break: use ``streams``."""
    orphan = await conn.fetchval(_EMPTY_STREAM)
    if orphan is not None:
        problem = "registered in streams but has no events: its events were removed"
        return VerifyReport(report.events, report.streams,
                            ChainBreak(orphan, 1, None, None, problem))
    unregistered = await conn.fetchval(_UNREGISTERED)
    if unregistered is not None:
        problem = "has events but its streams row was removed"
        return VerifyReport(report.events, report.streams,
                            ChainBreak(unregistered, 1, None, None, problem))
    return report


def _describe(
    canonical: bytes, hash_: bytes, prev: bytes, stream: str, version: int, typ: str, sv: int,
    at: str, expect_version: int, expect_prev: bytes, copy_ok: bool,
) -> str:
    """What is wrong with a row that failed the fast check."""
    if version != expect_version:
        return (f"version {expect_version} is missing (next stored is {version}): "
                "an event was removed")
    if prev != expect_prev:
        if version == 1:
            return "prev_hash of the first event is not all zeros"
        return (f"prev_hash does not match the hash of version {version - 1}: "
                f"version {version - 1} or this link was altered")
    if hashlib.sha256(b"\x00" + canonical).digest() != hash_:
        return "hash does not match the stored canonical bytes: this row was altered"
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
    if not copy_ok:
        return ("column payload (the query copy) differs from the payload in the hashed "
                "bytes: this row's copy was altered")
    return "stored canonical bytes are not in canonical form: this row was altered"


if __name__ == "__main__":  # a worker of verify_url: [url, lower, upper, deep] on stdin
    _url, _lower, _upper, _deep = json.loads(sys.stdin.read())
    _report = asyncio.run(_verify_range_of(_url, _lower, _upper, _deep))
    print(json.dumps({
        "events": _report.events, "streams": _report.streams,
        "broken": dataclasses.asdict(_report.broken) if _report.broken else None,
    }))
