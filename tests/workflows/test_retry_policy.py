"""The append activity's retry policy names the failures the activity really raises (defect 4).

``append_events`` turns bad input into a non-retryable ``ApplicationError`` whose type is the
exception's class name. The workflows' ``APPEND_RETRY`` policy once listed ``PayloadTooLarge``
(the class is ``PayloadTooLargeError``) and ``InputError`` (never raised by the activity), so an
oversize payload or an unsafe number was retried forever instead of failing at once.
"""

from __future__ import annotations

import inspect
import uuid
from typing import Any

import pytest
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    RetryState,
    TimeoutError,
    TimeoutType,
)
from temporalio.testing import ActivityEnvironment

import eventstore.errors as store_errors
from activities.contracts import AppendRequest, EventEnvelope
from activities.persist import EventActivities
from eventstore.canonical import MAX_PAYLOAD_BYTES, MAX_SAFE_INTEGER
from eventstore.errors import (
    DuplicateEventError,
    InvalidEventError,
    PayloadTooLargeError,
    UnsafeNumberError,
)
from eventstore.store import EventStore
from tests.conftest import Database
from workflows.event_log import APPEND_RETRY, LOCAL_APPEND_RETRY, gave_up

# Every bad-input failure the activity turns into a non-retryable ApplicationError.
BAD_INPUT = [InvalidEventError, PayloadTooLargeError, UnsafeNumberError, DuplicateEventError]


def non_retryable() -> list[str]:
    return list(APPEND_RETRY.non_retryable_error_types or [])


@pytest.mark.parametrize("error", BAD_INPUT, ids=lambda c: c.__name__)
def test_every_bad_input_failure_is_non_retryable_by_policy(error: type[Exception]) -> None:
    """Defect 4: the policy lists each failure type the activity reports for bad input."""
    assert error.__name__ in non_retryable(), (
        f"{error.__name__} would be retried forever; the policy lists {non_retryable()}")


def test_every_listed_type_is_a_real_event_store_error() -> None:
    """Defect 4: no name in the policy is a typo or an error nobody raises."""
    errors = {name for name, obj in inspect.getmembers(store_errors, inspect.isclass)
              if issubclass(obj, Exception)}
    unknown = sorted(set(non_retryable()) - errors)
    assert not unknown, f"not exception classes of eventstore.errors: {unknown}"


def envelope(stream: str, n: int, payload: dict[str, Any]) -> EventEnvelope:
    return EventEnvelope(event_id=f"{stream}/case/{n}", type="metrics.recorded",
                         schema_version=1, payload=payload)


BAD_PAYLOADS: dict[str, dict[str, Any]] = {
    "unsafe_number": {"purpose": "report", "metrics": {"hotspots": MAX_SAFE_INTEGER + 1}},
    "oversize": {"purpose": "report", "summary": "x" * (MAX_PAYLOAD_BYTES + 1)},
}


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("bad", sorted(BAD_PAYLOADS))
async def test_the_activity_fails_bad_events_with_a_type_the_policy_stops_on(
        migrated_database: Database, bad: str) -> None:
    """Defect 4, end to end through the real activity: the ``ApplicationError`` it raises is
    non-retryable and its type is one the retry policy will not retry."""
    stream = f"conversion:tra-vinh-2025:retry-{uuid.uuid4().hex[:10]}"
    req = AppendRequest(stream=stream, events=[envelope(stream, 1, BAD_PAYLOADS[bad])])
    async with await EventStore.connect(migrated_database.app_url, max_size=2) as store:
        acts = EventActivities(store, ["log"])
        with pytest.raises(ApplicationError) as info:
            await ActivityEnvironment().run(acts.append_events, req)
        assert info.value.non_retryable is True
        assert info.value.type in non_retryable(), (
            f"the activity reports {info.value.type!r}; the policy lists {non_retryable()}")
        assert await store.version(stream) == 0  # nothing was written


@pytest.mark.asyncio(loop_scope="session")
async def test_a_reused_event_id_fails_with_a_type_the_policy_stops_on(
        migrated_database: Database) -> None:
    """Defect 4: an event id stored once and sent again with other content is refused for
    good (``DuplicateEventError``), never retried."""
    stream = f"conversion:tra-vinh-2025:retry-{uuid.uuid4().hex[:10]}"
    first: dict[str, Any] = {"purpose": "report", "metrics": {"hotspots": 1}}
    other: dict[str, Any] = {"purpose": "report", "metrics": {"hotspots": 2}}
    async with await EventStore.connect(migrated_database.app_url, max_size=2) as store:
        acts = EventActivities(store, ["log"])
        env = ActivityEnvironment()
        await env.run(acts.append_events,
                      AppendRequest(stream=stream, events=[envelope(stream, 1, first)]))
        with pytest.raises(ApplicationError) as info:
            await env.run(acts.append_events,
                          AppendRequest(stream=stream, events=[envelope(stream, 1, other)]))
        assert info.value.non_retryable is True
        assert info.value.type in non_retryable(), info.value.type
        assert await store.version(stream) == 1


# -- local appends (issue 15): the same failures stop the local attempts and the fallback --------

def _failed_locally(cause: BaseException) -> ActivityError:
    err = ActivityError("activity failed", scheduled_event_id=0, started_event_id=0,
                        identity="", activity_type="append_events", activity_id="1",
                        retry_state=RetryState.MAXIMUM_ATTEMPTS_REACHED)
    err.__cause__ = cause
    return err


def test_the_local_policy_stops_on_the_same_failures() -> None:
    assert LOCAL_APPEND_RETRY.non_retryable_error_types == APPEND_RETRY.non_retryable_error_types
    assert LOCAL_APPEND_RETRY.maximum_attempts == 3


@pytest.mark.parametrize("error", BAD_INPUT, ids=lambda c: c.__name__)
def test_bad_events_are_not_handed_to_the_regular_activity(error: type[Exception]) -> None:
    """A local append refused for bad events fails as it came (no regular retry)."""
    cause = ApplicationError("bad", type=error.__name__, non_retryable=True)
    assert gave_up(_failed_locally(cause)) is False


@pytest.mark.parametrize("cause", [
    ApplicationError("race", type="VersionRace"),
    TimeoutError("start-to-close", type=TimeoutType.START_TO_CLOSE, last_heartbeat_details=[]),
    ApplicationError("db down", type="ConnectionRefusedError"),
], ids=["version race", "timeout", "database"])
def test_other_failures_fall_back_to_the_regular_activity(cause: BaseException) -> None:
    assert gave_up(_failed_locally(cause)) is True


def test_a_local_failure_handed_over_bare_is_judged_alike() -> None:
    """The SDK hands a local activity's own failure over as the ApplicationError itself (no
    ActivityError around it): the same judgement applies to it."""
    assert gave_up(ApplicationError("disk full", type="DiskFullError")) is True
    assert gave_up(ApplicationError("bad", type="InvalidEventError", non_retryable=True)) \
        is False
