"""How a workflow records events: through the ``append_events`` activity, one batch at a time.

Event ids are derived deterministically from the case id, the writer and a counter carried in
workflow state, so a retried or replayed append is recognised by the store and never
duplicated. A lock keeps a workflow's own appends in order when handlers run concurrently.

With ``local`` (the workflow's input asked for local appends, and the run has the
``local-appends`` patch) a batch is appended by a local activity: one marker in the workflow
task that ran it instead of a scheduled activity and the workflow task that follows it. A local
append that still fails after a few quick attempts is handed to the regular activity, with its
patient retries; bad events fail at once either way, as the same non-retryable failure.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError, FailureError

with workflow.unsafe.imports_passed_through():
    from activities.contracts import AppendRequest, EventEnvelope, Notice
    from activities.persist import NON_RETRYABLE, EventActivities
    from domain.events import Event
    from workflows import names

# Bad events (oversize, unsafe numbers, an id reused with other content) never succeed on a
# retry; the names come from the exception classes the activity reports, so they cannot drift.
APPEND_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    non_retryable_error_types=sorted(NON_RETRYABLE),
)
# A local append: a few quick attempts inside the workflow task (their waits are real time in
# the worker, the workflow task held open), then the regular activity takes over.
LOCAL_APPEND_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_attempts=3,
    non_retryable_error_types=sorted(NON_RETRYABLE),
)
LOCAL_APPEND_TIMEOUT = timedelta(seconds=5)  # an attempt; a commit takes milliseconds


def local_enabled(asked: bool) -> bool:
    """Whether this run uses local activities: asked by its input and patched in (the patch
    marker is recorded on the first call of a run that asked, and read back on replay)."""
    return asked and workflow.patched(names.LOCAL_APPENDS)


def gave_up(exc: FailureError) -> bool:
    """A local activity that failed for a reason a regular activity may overcome (attempts
    used up, a timeout, a worker in trouble); not a failure no retry can fix."""
    cause = exc.cause if isinstance(exc, ActivityError) else exc
    return not (isinstance(cause, ApplicationError)
                and (cause.non_retryable or cause.type in NON_RETRYABLE))


async def local_then_regular(activity: Any, arg: Any, *, local_timeout: timedelta,
                             local_retry: RetryPolicy, regular_timeout: timedelta,
                             retry: RetryPolicy) -> Any:
    """``activity`` as a local activity; if it fails past its attempts for a reason a retry
    might fix, as a regular activity. A non-retryable failure is raised as it came."""
    try:
        return await workflow.execute_local_activity_method(
            activity, arg, start_to_close_timeout=local_timeout, retry_policy=local_retry)
    except ActivityError as exc:
        if not gave_up(exc):
            raise
    except FailureError as exc:
        # The SDK hands a local activity's own failure over as the failure itself (an
        # ApplicationError), not inside an ActivityError: before this patch it escaped the
        # fallback, and a full disk failed the command being recorded (the fault suite).
        if isinstance(exc, CancelledError) or not gave_up(exc) or \
                not workflow.patched(names.LOCAL_FALLBACK):
            raise
    workflow.logger.warning("local activity failed: retried as a regular activity")
    return await workflow.execute_activity_method(
        activity, arg, start_to_close_timeout=regular_timeout, retry_policy=retry)


class EventLog:
    def __init__(self, stream: str, writer: str, seq: int, local: bool = False) -> None:
        self.stream = stream
        self.writer = writer
        self.seq = seq
        self.local = local  # the input asked for local appends (the patch decides at the 1st)
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
            req = AppendRequest(stream=self.stream, events=envelopes, notices=list(notices))
            # an append is one short transaction: a worker that died mid-append has its
            # batch retried (idempotently) by another worker after this long
            timeout = timedelta(seconds=10)
            if local_enabled(self.local):
                await local_then_regular(
                    EventActivities.append_events, req, local_timeout=LOCAL_APPEND_TIMEOUT,
                    local_retry=LOCAL_APPEND_RETRY, regular_timeout=timeout, retry=APPEND_RETRY)
            else:
                await workflow.execute_activity_method(
                    EventActivities.append_events, req,
                    start_to_close_timeout=timeout, retry_policy=APPEND_RETRY)
            self.seq += len(envelopes)
