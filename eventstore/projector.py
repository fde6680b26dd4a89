"""The follower that keeps the read model (``case_status`` and ``pending_decisions``) up to
date, and its full rebuild.

It tails ``read_all`` from a checkpoint; both tables and the checkpoint are written in one
transaction, so a crash replays at most one uncommitted batch and the two tables always stand
at the same position. An advisory lock lets only one follower (or a rebuild) write at a time;
appends never wait for it. The worker runs ``run`` beside its activities (``worker.py``),
woken by ``wake`` after each append it makes and polling for other workers' appends.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field

import structlog

from domain.plan import Plan
from eventstore import disk
from eventstore.pending import (
    PENDING_COLUMNS,
    PendingDecision,
    PlanLookup,
    Rows,
    apply_pending,
    catalog_plans,
)
from eventstore.projection import COLUMNS, CaseStatus, apply
from eventstore.records import RecordedEvent
from eventstore.store import Connection, EventStore
from eventstore.streak import FailureStreak

log = structlog.get_logger("drugfree.projector")

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
_PUBLISHED = """SELECT document FROM plan_versions WHERE plan_id = $1
                ORDER BY version DESC LIMIT 1"""
_LOAD_PENDING = (f"SELECT {', '.join(PENDING_COLUMNS)} FROM pending_decisions "
                 "WHERE stream = ANY($1::text[])")
_DELETE_PENDING = "DELETE FROM pending_decisions WHERE stream = ANY($1::text[])"
_INSERT_PENDING = (
    f"INSERT INTO pending_decisions ({', '.join(PENDING_COLUMNS)}) "
    f"VALUES ({', '.join(f'${i}' for i in range(1, len(PENDING_COLUMNS) + 1))})"
)


@dataclass
class _Model:
    """The read model of the streams in hand: case rows and their pending decisions."""

    rows: dict[str, CaseStatus] = field(default_factory=dict)
    pending: dict[str, Rows] = field(default_factory=dict)


class Projector:
    def __init__(self, store: EventStore, *, batch: int = 1000,
                 plans: PlanLookup | None = None, settle: float = 0.05) -> None:
        """``plans``: the plan of an id, for roles and due dates (the catalogue's default;
        an id it does not know is looked up among the published versions, newest first);
        ``settle``: how long a wake waits for the appends right behind it, so a busy worker
        folds many appends per transaction instead of one each."""
        self.store = store
        self.batch = batch
        self.settle = settle
        self._files = plans or catalog_plans()
        self._published: dict[str, Plan] = {}
        self._wake = asyncio.Event()

    def plans(self, plan_id: str) -> Plan | None:
        return self._files(plan_id) or self._published.get(plan_id)

    async def _learn_plans(self, conn: Connection, model: _Model,
                           events: Iterable[RecordedEvent]) -> None:
        """Read the newest published version of each plan of the cases in hand that is
        neither a catalogue file nor known yet (a plan published through the front door)."""
        wanted = {e.payload.get("plan_id") for e in events if e.type == "case.opened"}
        wanted |= {row.plan_id for row in model.rows.values()}
        for plan_id in wanted:
            if not isinstance(plan_id, str) or self.plans(plan_id) is not None:
                continue
            document = await conn.fetchval(_PUBLISHED, plan_id)
            if document is not None:
                self._published[plan_id] = Plan.model_validate(json.loads(document))

    def wake(self) -> None:
        """New events were appended: look at once instead of at the next poll."""
        self._wake.set()

    async def run_once(self) -> int:
        """Apply the next batch of events after the checkpoint; return how many."""
        with disk.watched():  # a full disk is said once, in eventstore.disk
            async with self.store.pool.acquire() as conn, conn.transaction():
                # Lock and reads first: the transaction has no id yet, so its snapshot does
                # not hold back read_all's horizon.
                await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)
                after = await conn.fetchval(_CHECKPOINT, NAME) or 0
                events = await self.store.read_all(after, self.batch, conn=conn)
                if not events:
                    return 0  # nothing written: no word on the disk either way
                streams = list({e.stream for e in events})
                model = await _load_model(conn, streams)
                await self._learn_plans(conn, model, events)
                changed = self._fold(model, events)
                await _save(conn, model, changed)
                await conn.execute(_SAVE_CHECKPOINT, NAME, events[-1].position)
        disk.cleared()  # its rows and checkpoint committed
        return len(events)

    async def catch_up(self) -> int:
        """Run until no event is left after the checkpoint; return how many were applied."""
        total = 0
        while n := await self.run_once():
            total += n
        return total

    async def run(self, stop: asyncio.Event, poll_interval: float = 0.5) -> None:
        """Follow the log until ``stop`` is set: at once while batches come back full or
        ``wake`` was called, else every ``poll_interval`` seconds. Database trouble is logged
        and retried, never fatal (a dead follower would silently freeze the inbox)."""
        trouble = FailureStreak(log, "projection_failed")
        while not stop.is_set():
            self._wake.clear()
            applied = 0
            try:
                applied = await self.run_once()
            except Exception as err:
                trouble.failed(err)  # the first of a streak is said, its end too
            else:
                trouble.succeeded()
            if applied < self.batch:
                waits = [asyncio.ensure_future(stop.wait()),
                         asyncio.ensure_future(self._wake.wait())]
                try:
                    await asyncio.wait(waits, timeout=poll_interval,
                                       return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for w in waits:
                        w.cancel()
                if self._wake.is_set() and not stop.is_set():
                    await asyncio.sleep(self.settle)

    async def rebuild(self) -> int:
        """Recompute every row from the events and replace the table; return the row count."""
        async with self.store.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)
            model = _Model()
            after = 0
            while events := await self.store.read_all(after, 5000, conn=conn):
                await self._learn_plans(conn, model, events)
                self._fold(model, events)
                after = events[-1].position
            await conn.execute("DELETE FROM pending_decisions")
            await conn.execute("DELETE FROM case_status")
            await _save(conn, model, set(model.rows))
            await conn.execute(_SAVE_CHECKPOINT, NAME, after)
            return len(model.rows)

    def _fold(self, model: _Model, events: Iterable[RecordedEvent]) -> set[str]:
        """Apply ``events`` to both tables' rows in hand; return the streams changed."""
        changed = set()
        for event in events:
            row = model.rows.get(event.stream)
            if row is not None and row.version >= event.version:
                continue  # already applied
            new = apply(row, event)
            if new is not None:
                model.rows[event.stream] = new
                plan = self.plans(new.plan_id) if new.plan_id else None
                model.pending[event.stream] = apply_pending(
                    model.pending.get(event.stream, {}), new, event, plan)
                changed.add(event.stream)
        return changed


async def _load(conn: Connection, streams: list[str]) -> list[CaseStatus]:
    return [CaseStatus(**dict(r)) for r in await conn.fetch(_LOAD, streams)]


async def _load_model(conn: Connection, streams: list[str]) -> _Model:
    model = _Model(rows={r.stream: r for r in await _load(conn, streams)})
    for r in await conn.fetch(_LOAD_PENDING, streams):
        row = PendingDecision(**dict(r))
        model.pending.setdefault(row.stream, {})[row.key] = row
    return model


async def _save(conn: Connection, model: _Model, changed: set[str]) -> None:
    if not changed:
        return
    rows = [model.rows[s] for s in changed]
    await conn.executemany(_UPSERT, [tuple(getattr(r, c) for c in COLUMNS) for r in rows])
    # A stream's pending rows are replaced whole: the fold returns the full set.
    await conn.execute(_DELETE_PENDING, list(changed))
    pending = [p for s in changed for p in model.pending.get(s, {}).values()]
    if pending:
        await conn.executemany(_INSERT_PENDING, [tuple(getattr(p, c) for c in PENDING_COLUMNS)
                                                 for p in pending])


async def read_status(store: EventStore, stream: str) -> CaseStatus | None:
    """One case's row as last projected."""
    async with store.pool.acquire() as conn:
        rows = await _load(conn, [stream])
    return rows[0] if rows else None
