"""How a workflow records events: through the ``append_events`` activity, one batch at a time.

Event ids are derived deterministically from the case id, the writer and a counter carried in
workflow state, so a retried or replayed append is recognised by the store and never
duplicated. A lock keeps a workflow's own appends in order when handlers run concurrently.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.contracts import AppendRequest, EventEnvelope, Notice
    from activities.persist import NON_RETRYABLE, EventActivities
    from domain.events import Event

# Bad events (oversize, unsafe numbers, an id reused with other content) never succeed on a
# retry; the names come from the exception classes the activity reports, so they cannot drift.
APPEND_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    non_retryable_error_types=sorted(NON_RETRYABLE),
)


class EventLog:
    def __init__(self, stream: str, writer: str, seq: int) -> None:
        self.stream = stream
        self.writer = writer
        self.seq = seq
        self._lock = asyncio.Lock()

    async def emit(self, events: Sequence[Event], notices: Sequence[Notice] = ()) -> None:
        if not events:
            return
        async with self._lock:
            envelopes = [
                EventEnvelope(
                    event_id=f"{self.stream}/{self.writer}/{self.seq + i + 1}",
                    type=e.TYPE,
                    schema_version=e.SCHEMA_VERSION,
                    payload=e.payload(),
                )
                for i, e in enumerate(events)
            ]
            await workflow.execute_activity_method(
                EventActivities.append_events,
                AppendRequest(stream=self.stream, events=envelopes, notices=list(notices)),
                # an append is one short transaction: a worker that died mid-append has its
                # batch retried (idempotently) by another worker after this long
                start_to_close_timeout=timedelta(seconds=10),
                retry_policy=APPEND_RETRY,
            )
            self.seq += len(envelopes)
