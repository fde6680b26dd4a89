"""The follower that keeps ``case_status`` up to date, and its full rebuild.

It tails ``read_all`` from a checkpoint; rows and checkpoint are written in one transaction,
so a crash replays at most one uncommitted batch. An advisory lock lets only one follower
(or a rebuild) write at a time; appends never wait for it.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterable

from eventstore.projection import COLUMNS, CaseStatus, apply
from eventstore.records import RecordedEvent
from eventstore.store import Connection, EventStore

NAME = "case_status"
_LOCK_KEY = int.from_bytes(hashlib.sha256(b"drugfree projector").digest()[:8], "big") >> 1

_CHECKPOINT = "SELECT position FROM projection_checkpoints WHERE name = $1"
_SAVE_CHECKPOINT = """INSERT INTO projection_checkpoints (name, position) VALUES ($1, $2)
                      ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position"""
_LOAD = f"SELECT {', '.join(COLUMNS)} FROM case_status WHERE stream = ANY($1::text[])"
_UPSERT = (
    f"INSERT INTO case_status ({', '.join(COLUMNS)}) "
    f"VALUES ({', '.join(f'${i}' for i in range(1, len(COLUMNS) + 1))}) "
    f"ON CONFLICT (stream) DO UPDATE SET "
    + ", ".join(f"{c} = EXCLUDED.{c}" for c in COLUMNS[1:])
)


class Projector:
    def __init__(self, store: EventStore, *, batch: int = 1000) -> None:
        self.store = store
        self.batch = batch

    async def run_once(self) -> int:
        """Apply the next batch of events after the checkpoint; return how many."""
        async with self.store.pool.acquire() as conn, conn.transaction():
            # Lock and reads first: the transaction has no id yet, so its snapshot does not
            # hold back read_all's horizon.
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)
            after = await conn.fetchval(_CHECKPOINT, NAME) or 0
            events = await self.store.read_all(after, self.batch, conn=conn)
            if not events:
                return 0
            streams = list({e.stream for e in events})
            rows = {r.stream: r for r in await _load(conn, streams)}
            changed = _fold(rows, events)
            await _save(conn, [rows[s] for s in changed])
            await conn.execute(_SAVE_CHECKPOINT, NAME, events[-1].position)
            return len(events)

    async def catch_up(self) -> int:
        """Run until no event is left after the checkpoint; return how many were applied."""
        total = 0
        while n := await self.run_once():
            total += n
        return total

    async def run(self, stop: asyncio.Event, poll_interval: float = 0.5) -> None:
        """Follow the log until ``stop`` is set."""
        while not stop.is_set():
            if await self.run_once() < self.batch:
                try:
                    await asyncio.wait_for(stop.wait(), poll_interval)
                except TimeoutError:
                    pass

    async def rebuild(self) -> int:
        """Recompute every row from the events and replace the table; return the row count."""
        async with self.store.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)
            rows: dict[str, CaseStatus] = {}
            after = 0
            while events := await self.store.read_all(after, 5000, conn=conn):
                _fold(rows, events)
                after = events[-1].position
            await conn.execute("DELETE FROM case_status")
            await _save(conn, list(rows.values()))
            await conn.execute(_SAVE_CHECKPOINT, NAME, after)
            return len(rows)


def _fold(rows: dict[str, CaseStatus], events: Iterable[RecordedEvent]) -> set[str]:
    changed = set()
    for event in events:
        row = rows.get(event.stream)
        if row is not None and row.version >= event.version:
            continue  # already applied
        new = apply(row, event)
        if new is not None:
            rows[event.stream] = new
            changed.add(event.stream)
    return changed


async def _load(conn: Connection, streams: list[str]) -> list[CaseStatus]:
    return [CaseStatus(**dict(r)) for r in await conn.fetch(_LOAD, streams)]


async def _save(conn: Connection, rows: list[CaseStatus]) -> None:
    if rows:
        await conn.executemany(_UPSERT, [tuple(getattr(r, c) for c in COLUMNS) for r in rows])


async def read_status(store: EventStore, stream: str) -> CaseStatus | None:
    """One case's row as last projected."""
    async with store.pool.acquire() as conn:
        rows = await _load(conn, [stream])
    return rows[0] if rows else None
