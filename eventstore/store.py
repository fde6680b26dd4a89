"""The event store: one stream per case, appended atomically, read in a gap-free global order.

Writes go through the SQL functions ``eventstore_append_one`` / ``eventstore_append`` (one
round trip, atomic): they check the expected version, chain the hashes and insert. Python
only validates and canonicalises payloads first. Conflicts are sorted out after the fact:
a unique violation or a wrong version first looks up the batch's event ids, so a retried
batch that already committed returns its original positions instead of an error.

Global order: an event's position is ``transaction id * 65536 + index``. ``read_all`` returns
only positions below ``pg_snapshot_xmin * 65536``: every transaction under xmin has ended,
so no event can commit later below what a reader has seen (the sequence-gap problem), and
writers never wait on each other for ordering.

A full disk (SQLSTATE 53100) fails an append like any database error; ``append`` also tells
``eventstore.disk``, which says so once in the logs and in readiness until a write commits.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, TypeAlias

import asyncpg

from eventstore import disk
from eventstore.canonical import canonical_payload, check_name, json_string
from eventstore.errors import (
    ConcurrencyError,
    DuplicateEventError,
    EventStoreError,
    InvalidEventError,
    NotMigratedError,
    StreamNotFoundError,
)
from eventstore.migrate import require_migrated
from eventstore.pool import Pool
from eventstore.records import NewEvent, RecordedEvent, StreamInfo, VerifyReport
from eventstore.urls import APP_ROLE

Upcaster = Callable[[str, int, dict[str, Any]], tuple[int, dict[str, Any]]]
Connection: TypeAlias = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy

MAX_BATCH = 10_000
_WRONG_VERSION = "DF001"  # SQLSTATEs raised by the append functions (0001_events.sql)
_NOT_FIRST_WRITE = "DF002"
_PAYLOAD_START = len(b'{"payload":')

_APPEND = "SELECT * FROM eventstore_append($1, $2, $3, $4, $5, $6, $7, $8)"
_APPEND_ONE = "SELECT * FROM eventstore_append_one($1, $2, $3, $4, $5, $6, $7, $8)"
_COLUMNS = "position, stream, version, event_id, type, schema_version, recorded_at, canonical, " \
           "hash, prev_hash"
_READ = f"""SELECT {_COLUMNS} FROM events
            WHERE stream = $1 AND version >= $2 ORDER BY version LIMIT $3"""
_READ_ALL = f"""SELECT {_COLUMNS} FROM events
                WHERE position > $1
                  AND position < (SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint
                                         * 65536)
                ORDER BY position LIMIT $2"""
_BY_IDS = f"SELECT {_COLUMNS} FROM events WHERE event_id = ANY($1::text[])"
_VERSION = "SELECT coalesce(max(version), 0) FROM events WHERE stream = $1"
# From the hashed bytes, not the jsonb copy: what the workflows decide on is what verify
# checks by default.
_OUTCOMES = """SELECT stream,
                      convert_from(canonical, 'UTF8')::jsonb -> 'payload' ->> 'outcome'
                          AS outcome
                 FROM events WHERE stream = ANY($1::text[]) AND type = 'case.closed'"""
_STREAMS = r"""SELECT s.stream,
                      (SELECT max(e.version) FROM events e WHERE e.stream = s.stream) AS version
                 FROM streams s WHERE s.stream LIKE $1 ORDER BY s.stream"""
_XID_CHECK = """SELECT coalesce(max(position), 0) / 65536 AS stored,
                       pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS next_xid
                  FROM events"""


def _default_upcaster() -> Upcaster:
    from domain.events import upcast

    return upcast


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads,
                              schema="pg_catalog")


class EventStore:
    """Append-only, hash-chained streams in PostgreSQL. Connect as the application role."""

    def __init__(
        self, pool: Pool, *, upcaster: Upcaster | None = None, url: str | None = None
    ) -> None:
        self.pool = pool
        self.url = url  # lets verify() spread a large log over processes
        self._upcast = upcaster or _default_upcaster()

    @classmethod
    async def connect(
        cls, url: str, *, min_size: int = 1, max_size: int = 10,
        upcaster: Upcaster | None = None,
    ) -> EventStore:
        try:
            pool = await Pool.create(
                url, min_size=min_size, max_size=max_size, init=_init_connection,
                server_settings={"jit": "off", "application_name": "drugfree-eventstore"},
            )
        except asyncpg.InvalidAuthorizationSpecificationError as err:
            if f'role "{APP_ROLE}" does not exist' in str(err):  # the first migration makes it
                raise NotMigratedError(
                    f"the database is not migrated (no role {APP_ROLE}): "
                    "run `drugfree db migrate` first") from None
            raise
        store = cls(pool, upcaster=upcaster, url=url)
        try:
            async with pool.acquire() as conn:
                await require_migrated(conn)
            await store._check_transaction_counter()
        except BaseException:
            await pool.close()
            raise
        return store

    async def close(self) -> None:
        await self.pool.close()

    async def __aenter__(self) -> EventStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _check_transaction_counter(self) -> None:
        # Positions grow with transaction ids; a logical restore into a new cluster restarts
        # them lower, and new events would sort before old ones. Refuse rather than misorder.
        row = await self.pool.fetchrow(_XID_CHECK)
        assert row is not None
        if row["stored"] >= row["next_xid"]:
            raise EventStoreError(
                f"stored positions reach transaction id {row['stored']} but this server is at "
                f"{row['next_xid']}: was the database restored from a logical dump? Advance "
                "the transaction counter (pg_resetwal -x) before appending"
            )

    # -- writing ---------------------------------------------------------------------------

    async def append(
        self, stream: str, expected_version: int, events: Sequence[NewEvent]
    ) -> list[RecordedEvent]:
        """Append ``events`` after ``expected_version`` (0: the stream must not exist), all
        or nothing. A retry of a stored batch returns the stored events unchanged."""
        query, args, payloads = _prepare(stream, expected_version, events)
        with disk.watched():
            async with self.pool.acquire() as conn:
                try:
                    rows = await conn.fetch(query, *args)
                except asyncpg.PostgresError as err:
                    if not _is_conflict(err):
                        raise
                    return await self._resolve_conflict(conn, stream, expected_version, events,
                                                        payloads)
        disk.cleared()  # committed (no transaction of the caller's: append_in's callers clear)
        return _appended(stream, expected_version, events, rows)

    async def append_in(
        self, conn: Connection, stream: str, expected_version: int, events: Sequence[NewEvent]
    ) -> list[RecordedEvent]:
        """``append`` inside the caller's open transaction (it must be its first write);
        the events commit or roll back with it (the caller, which sees the commit, tells
        ``eventstore.disk`` of a full disk or of a write that succeeded)."""
        query, args, payloads = _prepare(stream, expected_version, events)
        try:
            async with conn.transaction():  # a savepoint: a conflict leaves the caller usable
                rows = await conn.fetch(query, *args)
        except asyncpg.PostgresError as err:
            if not _is_conflict(err):
                raise
            return await self._resolve_conflict(conn, stream, expected_version, events,
                                                payloads)
        return _appended(stream, expected_version, events, rows)

    async def _resolve_conflict(
        self, conn: Connection, stream: str, expected_version: int,
        events: Sequence[NewEvent], payloads: list[bytes],
    ) -> list[RecordedEvent]:
        """A retry of a committed batch is a no-op; anything else is an error."""
        ids = [str(e.event_id) for e in events]
        stored = {r["event_id"]: r for r in await conn.fetch(_BY_IDS, ids)}
        if not stored:
            actual = await conn.fetchval(_VERSION, stream)
            raise ConcurrencyError(stream, expected_version, actual)
        for event_id, event, payload in zip(ids, events, payloads, strict=True):
            row = stored.get(event_id)
            if row is not None:
                problem = _difference(row, stream, event, payload)
                if problem:
                    raise DuplicateEventError(event_id, problem)
        missing = [i for i in ids if i not in stored]
        if missing:
            raise DuplicateEventError(
                next(i for i in ids if i in stored),
                f"is already stored but {missing[0]!r} of the same batch is not "
                "(a retry must repeat the whole batch)",
            )
        return [self._recorded(stored[i]) for i in ids]

    # -- reading ---------------------------------------------------------------------------

    async def read(
        self, stream: str, from_version: int = 1, limit: int | None = None
    ) -> list[RecordedEvent]:
        """A stream's events from ``from_version`` on, in version order."""
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(_READ, stream, from_version, limit)
            if not rows and not await conn.fetchval(_VERSION, stream):
                raise StreamNotFoundError(stream)
        return [self._recorded(r) for r in rows]

    async def read_all(
        self, after_position: int = 0, limit: int = 1000, *, conn: Connection | None = None
    ) -> list[RecordedEvent]:
        """Up to ``limit`` events after ``after_position`` in global order, stopping before
        anything a still-open transaction could yet commit (so nothing is ever skipped).
        Pass the last position seen as the next ``after_position``."""
        if conn is None:
            rows = await self.pool.fetch(_READ_ALL, after_position, limit)
        else:
            rows = await conn.fetch(_READ_ALL, after_position, limit)
        return [self._recorded(r) for r in rows]

    async def iter_all(
        self, after_position: int = 0, chunk: int = 1000
    ) -> AsyncIterator[RecordedEvent]:
        """Every event after ``after_position`` up to the current safe head, chunk by chunk."""
        while True:
            batch = await self.read_all(after_position, chunk)
            for event in batch:
                yield event
            if len(batch) < chunk:
                return
            after_position = batch[-1].position

    async def version(self, stream: str) -> int:
        """The stream's current version (0 if it has no events)."""
        result: int = await self.pool.fetchval(_VERSION, stream)
        return result

    async def outcomes(self, streams: Sequence[str]) -> dict[str, str]:
        """The recorded outcome of each closed case among ``streams`` (``case.closed``)."""
        rows = await self.pool.fetch(_OUTCOMES, list(streams))
        return {r["stream"]: r["outcome"] for r in rows}

    async def version_in(self, conn: Connection, stream: str) -> int:
        """The stream's current version, read on the caller's connection (its transaction)."""
        result: int = await conn.fetchval(_VERSION, stream)
        return result

    async def streams(self, prefix: str = "") -> list[StreamInfo]:
        """Streams whose name starts with ``prefix``, e.g. ``conversion:tra-vinh-2025:``."""
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = await self.pool.fetch(_STREAMS, escaped + "%")
        return [StreamInfo(r["stream"], r["version"] or 0) for r in rows]

    async def verify(self, stream: str | None = None, deep: bool = False) -> VerifyReport:
        """Check the hash chain of one stream, or of all; report the first broken link.
        ``deep``: also compare every event's jsonb ``payload`` copy (what ad hoc queries
        read) with its hashed bytes; several times slower, as PostgreSQL parses each."""
        from eventstore.verify import verify, verify_url

        if stream is None and self.url is not None:
            return await verify_url(self.url, deep=deep)
        async with self.pool.acquire() as conn:
            return await verify(conn, stream, deep)

    def _recorded(self, row: asyncpg.Record) -> RecordedEvent:
        payload = json.loads(row["canonical"])["payload"]
        schema_version, payload = self._upcast(row["type"], row["schema_version"], payload)
        return RecordedEvent(
            position=row["position"], stream=row["stream"], version=row["version"],
            event_id=row["event_id"], type=row["type"], schema_version=schema_version,
            recorded_at=row["recorded_at"], payload=payload, hash=row["hash"],
            prev_hash=row["prev_hash"],
        )


def _prepare(
    stream: str, expected_version: int, events: Sequence[NewEvent]
) -> tuple[str, tuple[Any, ...], list[bytes]]:
    """Validate and canonicalise a batch before touching the database; return the statement
    and its arguments."""
    check_name("stream", stream)
    if not isinstance(expected_version, int) or expected_version < 0:
        raise InvalidEventError("expected_version must be an integer >= 0")
    if not events:
        raise InvalidEventError("an append needs at least one event")
    if len(events) > MAX_BATCH:
        raise InvalidEventError(f"an append carries at most {MAX_BATCH} events")
    ids, types, type_jsons, versions, texts, payloads = [], [], [], [], [], []
    for event in events:
        event_id = check_name("event id", str(event.event_id))
        check_name("event type", event.type)
        if not isinstance(event.schema_version, int) or event.schema_version < 1:
            raise InvalidEventError(f"event {event_id}: schema_version must be an integer >= 1")
        payload = canonical_payload(event.payload)
        ids.append(event_id)
        types.append(event.type)
        type_jsons.append(json_string(event.type))
        versions.append(event.schema_version)
        payloads.append(payload)
        texts.append(payload.decode())
    if len(set(ids)) != len(ids):
        raise InvalidEventError("an event id appears twice in the same batch")
    if len(ids) == 1:
        return _APPEND_ONE, (stream, json_string(stream), expected_version, ids[0], types[0],
                             type_jsons[0], versions[0], texts[0]), payloads
    return _APPEND, (stream, json_string(stream), expected_version, ids, types, type_jsons,
                     versions, texts), payloads


def _is_conflict(err: asyncpg.PostgresError) -> bool:
    if err.sqlstate == _NOT_FIRST_WRITE:
        raise EventStoreError(
            "append_in must be the first write of its transaction (positions come from the "
            "transaction id, which must be taken after the stream's head is read)"
        ) from err
    return isinstance(err, asyncpg.UniqueViolationError) or err.sqlstate == _WRONG_VERSION


def _appended(
    stream: str, expected_version: int, events: Sequence[NewEvent], rows: list[asyncpg.Record]
) -> list[RecordedEvent]:
    if len(events) == 1:
        by_version = {expected_version + 1: rows[0]}
    else:
        by_version = {r["out_version"]: r for r in rows}
    out = []
    for i, event in enumerate(events, start=1):
        r = by_version[expected_version + i]
        out.append(RecordedEvent(
            position=r["out_position"], stream=stream, version=expected_version + i,
            event_id=str(event.event_id), type=event.type,
            schema_version=event.schema_version, recorded_at=r["out_recorded_at"],
            payload=event.payload, hash=r["out_hash"], prev_hash=r["out_prev_hash"],
        ))
    return out


def _difference(row: asyncpg.Record, stream: str, event: NewEvent, payload: bytes) -> str:
    """Why a stored row is not the same event as ``event`` ('' if it is)."""
    if row["stream"] != stream:
        return f"is already stored in another stream ({row['stream']!r})"
    if row["type"] != event.type or row["schema_version"] != event.schema_version:
        return (f"is already stored as {row['type']} v{row['schema_version']}, "
                f"not {event.type} v{event.schema_version}")
    canonical: bytes = row["canonical"]
    stored = canonical[_PAYLOAD_START:canonical.rindex(b',"prev_hash":"')]
    if stored != payload:
        return "is already stored with a different payload"
    return ""
