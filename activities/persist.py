"""The ``append_events`` activity: a workflow's events and their notifications, one transaction.

A case's stream has two writers (the case and its recognition chain), each with its own
deterministic event ids. The activity appends at the stream's current end and retries on a
version race; a retry of a batch that already committed is recognised by its event ids and
changes nothing, and the outbox rows are keyed by the batch's first event id, so notifications
are never duplicated either. Bad input (oversize payload, unsafe number, an id reused with other
content) is non-retryable; database trouble is retried by Temporal. A full disk (SQLSTATE
53100) is one such retry, said once in the logs and in readiness (eventstore/disk.py) until a
commit succeeds again.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.contracts import (
    AppendRequest,
    AppendResult,
    Outcomes,
    OutcomesRequest,
    Table,
    TableRequest,
)
from eventstore import disk
from eventstore.errors import (
    ConcurrencyError,
    DuplicateEventError,
    EventStoreError,
    InvalidEventError,
    PayloadTooLargeError,
    StreamNotFoundError,
    UnsafeNumberError,
)
from eventstore.records import NewEvent
from eventstore.store import EventStore
from eventstore.urls import APP_ROLE
from notify.outbox import enqueue
from runtime import metrics

VERSION_RACE_RETRIES = 50
# The failure types this activity raises that no retry can fix (reported as the class name).
NON_RETRYABLE = frozenset(cls.__name__ for cls in (
    InvalidEventError, PayloadTooLargeError, UnsafeNumberError, DuplicateEventError))
log = structlog.get_logger("drugfree.persist")


class EventActivities:
    def __init__(self, store: EventStore, channels: list[str]) -> None:
        self.store = store
        self.pool = store.pool
        self.channels = channels
        # Called after each committed append (the worker's projector wakes on it).
        self.on_append: list[Callable[[], None]] = []

    @classmethod
    @asynccontextmanager
    async def open(cls, url: str, channels: list[str]) -> AsyncIterator[EventActivities]:
        """Connect to a migrated database with ``url``, the application role's (append
        through the functions and read only); refuse a role that can write events directly."""
        store = await EventStore.connect(url)
        try:
            await require_app_role(store)
            yield cls(store, channels)
        finally:
            await store.close()

    @activity.defn(name="append_events")
    async def append_events(self, req: AppendRequest) -> AppendResult:
        info = activity.info()
        with structlog.contextvars.bound_contextvars(
            workflow_id=info.workflow_id, case=req.stream, activity=info.activity_type,
            attempt=info.attempt,
        ):
            result = await self._append(req)
            # Ids, counts and types only: payloads never reach the logs.
            log.info("events.appended", count=len(req.events), last_version=result.last_version,
                     types=[e.type for e in req.events])
            return result

    @activity.defn(name="case_outcomes")
    async def case_outcomes(self, req: OutcomesRequest) -> Outcomes:
        """Facts for the campaign: the outcomes its cases recorded (only workers write)."""
        return Outcomes(outcomes=await self.store.outcomes(req.streams))

    @activity.defn(name="round_table")
    async def round_table(self, req: TableRequest) -> Table:
        """A reporting round's consolidated table, as it recorded it (year on year)."""
        try:
            events = await self.store.read(req.stream)
        except StreamNotFoundError:
            return Table()
        tables = [e.payload.get("table") for e in events if e.type == "round.consolidated"]
        return Table(table=tables[-1] if tables else None)

    async def _append(self, req: AppendRequest) -> AppendResult:
        events = [NewEvent(e.event_id, e.type, e.schema_version, e.payload) for e in req.events]
        started = time.perf_counter()
        for _ in range(VERSION_RACE_RETRIES):
            try:
                # a full disk is said once (eventstore.disk) and left to Temporal's retries
                with disk.watched():
                    async with self.pool.acquire() as conn, conn.transaction():
                        # the head is read on this transaction's connection: a second checkout
                        # would wait for a free connection while holding one (deadlock)
                        version = await self.store.version_in(conn, req.stream)
                        recorded = await self.store.append_in(conn, req.stream, version, events)
                        if req.notices:
                            await enqueue(conn, req.notices, key=req.events[0].event_id,
                                          channels=self.channels)
                disk.cleared()
                metrics.appended((e.type for e in events), time.perf_counter() - started)
                for wake in self.on_append:
                    wake()
                return AppendResult(last_version=recorded[-1].version,
                                    positions=[r.position for r in recorded])
            except ConcurrencyError:
                continue  # the other writer of this stream got there first: append after it
            except (InvalidEventError, DuplicateEventError) as exc:
                kind = next(c.__name__ for c in type(exc).__mro__ if c.__name__ in NON_RETRYABLE)
                raise ApplicationError(str(exc), type=kind, non_retryable=True) from None
        raise ApplicationError(f"stream {req.stream}: too many concurrent appends, will retry",
                               type="VersionRace")


async def require_app_role(store: EventStore) -> None:
    """A worker runs workflow code and sees payloads: it must not hold credentials that can
    rewrite the log (the owner's, a superuser's), only the application role's."""
    row = await store.pool.fetchrow(
        "SELECT current_user AS role, has_table_privilege('events', 'INSERT') AS writes")
    assert row is not None
    if row["writes"]:
        raise EventStoreError(
            f"the worker connected as {row['role']}, which can write the events table "
            f"directly: give it the application role's URL ({APP_ROLE}, see "
            "eventstore.urls.app_url), and migrate as the owner with `drugfree db migrate`")
