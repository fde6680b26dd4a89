"""The campaign's remembered replies are bounded (defect 9).

Every workflow remembers its replies by request id, so a retried request is answered instead
of applied twice. The case and the chain capped that memory at 500 (oldest forgotten first);
the province campaign kept a plain dict that grew with every list decision for the campaign's
whole life. All three now share ``workflows.replies.ReplyMemory``.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest
from pydantic import BaseModel
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from catalog import get_plan
from domain.admin_units import registry
from domain.case import CaseState
from tests.workflows.support import BASELINE, Case
from workflows.campaign import ProvinceCampaignWorkflow
from workflows.conversion import CommuneConversionWorkflow
from workflows.messages import (
    CampaignInput,
    CaseCarry,
    CaseInput,
    ListReply,
    Proposal,
    RecognitionInput,
    RecognitionList,
)
from workflows.recognition import RecognitionWorkflow

try:
    from workflows.replies import MAX_REPLIES, ReplyMemory
except ImportError:  # before the fix: each workflow had its own memory (the campaign's unbounded)
    MAX_REPLIES, ReplyMemory = 500, None  # type: ignore[assignment,misc]

PLAN = "tra-vinh-2025"
COMMUNE = "29359"  # no other workflow test proposes or opens it
BATCH = 25  # updates in flight at once


class _Reply(BaseModel):
    request_id: str


def _memory(limit: int) -> Any:
    if ReplyMemory is None:
        pytest.fail("workflows.replies.ReplyMemory does not exist: no bounded reply memory")
    return ReplyMemory(limit=limit)


# -- the memory itself --------------------------------------------------------------------------

def test_reply_memory_keeps_at_most_its_limit_and_forgets_oldest_first() -> None:
    """Defect 9: the shared memory is bounded; the oldest request is forgotten first."""
    memory = _memory(3)
    for n in range(1, 6):
        reply = _Reply(request_id=f"r-{n}")
        assert memory.remember(reply.request_id, reply) is reply
        assert len(memory.replies) == min(n, 3)
    assert "r-1" not in memory and "r-2" not in memory
    assert [memory.get(f"r-{n}") for n in (3, 4, 5)] == [
        _Reply(request_id=f"r-{n}") for n in (3, 4, 5)]
    assert memory.get("r-1") is None


def test_reply_memory_default_limit_is_the_shared_bound() -> None:
    """Defect 9: a memory built without a limit (as every workflow builds it) is bounded by
    ``MAX_REPLIES``."""
    if ReplyMemory is None:
        pytest.fail("workflows.replies.ReplyMemory does not exist: no bounded reply memory")
    memory: Any = ReplyMemory()
    assert memory.limit == MAX_REPLIES == 500
    for n in range(MAX_REPLIES + 10):
        memory.remember(f"r-{n}", _Reply(request_id=f"r-{n}"))
    assert len(memory.replies) == MAX_REPLIES
    assert "r-9" not in memory and "r-10" in memory


def _workflow(kind: str, people: Case) -> Any:
    """A workflow object built as the worker builds it (``@workflow.init`` with its input),
    outside Temporal: its constructor only sets up state."""
    plan = people.plan
    if kind == "campaign":
        return ProvinceCampaignWorkflow(CampaignInput(
            plan=plan, clock=people.clock, commune_districts={COMMUNE: people.scope.district_code}))
    if kind == "conversion":
        # a continued case: a new one opens in its constructor, which needs the workflow clock
        return CommuneConversionWorkflow(CaseInput(
            plan=plan, scope=people.scope, opened_by=people.actor("district_ubnd"),
            baseline=BASELINE, clock=people.clock,
            carried=CaseCarry(case=CaseState(opened=True))))
    return RecognitionWorkflow(RecognitionInput(
        case_id=people.id, plan=plan, scope=people.scope, clock=people.clock,
        submitted_by=people.actor("commune_ubnd"), cutoff=datetime(2100, 1, 1, tzinfo=UTC)))


@pytest.mark.parametrize("kind", ["campaign", "conversion", "recognition"])
def test_every_workflow_remembers_replies_in_the_bounded_memory(kind: str) -> None:
    """Defect 9: the campaign, like the case and the chain, keeps its replies in a
    ``ReplyMemory`` bounded by ``MAX_REPLIES`` (it used to keep a plain, unbounded dict)."""
    c = registry(get_plan(PLAN).structure).commune(COMMUNE)
    people = Case(None, None, PLAN, COMMUNE, c.district_code, c.province_code,  # type: ignore[arg-type]
                  "unused", date(2025, 1, 1))
    replies = _workflow(kind, people).replies
    assert ReplyMemory is not None and isinstance(replies, ReplyMemory), (
        f"{kind} keeps its replies in a {type(replies).__name__}, not a bounded ReplyMemory")
    assert replies.limit == MAX_REPLIES


# -- the real campaign --------------------------------------------------------------------------

async def refused(coro: Any, code: str) -> None:
    with pytest.raises(WorkflowUpdateFailedError) as info:
        await coro
    assert isinstance(info.value.cause, ApplicationError)
    assert info.value.cause.type == code, info.value.cause.message


@pytest.mark.asyncio(loop_scope="session")
async def test_campaign_forgets_its_oldest_reply_beyond_the_bound(
        temporal: Any, worker: str) -> None:
    """Defect 9, through the real campaign on the time-skipping server: a proposal is answered
    from memory while it is among the last ``MAX_REPLIES`` requests, and forgotten (so its
    retry is checked afresh, and refused as already proposed) once ``MAX_REPLIES`` later
    requests have been remembered. An unbounded memory answers it forever."""
    client, env = temporal
    plan = get_plan(PLAN)
    district = registry(plan.structure).commune(COMMUNE).district_code
    today = plan.local_date(await env.get_current_time())
    people = Case(client, env, plan.id, COMMUNE, district, plan.province_code, worker, today)
    camp = await people.service.handle_for_result(await people.service.start_campaign(
        plan, people.actor("province_ubnd"), clock=people.clock,
        campaign_id=f"campaign:{plan.id}:replies-{uuid.uuid4().hex[:6]}"))
    try:
        proposal = Proposal(request_id="p-first", actor=people.actor("district_ubnd"),
                            communes={COMMUNE: BASELINE})
        first = await people.update(camp, ProvinceCampaignWorkflow.propose, proposal)
        assert first.results == {COMMUNE: "ok"}

        ubnd = people.actor("province_ubnd")

        async def decisions(start: int, count: int) -> list[ListReply]:
            """``count`` accepted list decisions with new request ids (empty lists: they
            change nothing but are remembered like any other)."""
            replies: list[ListReply] = []
            for lo in range(start, start + count, BATCH):
                ids = range(lo, min(lo + BATCH, start + count))
                replies += await asyncio.gather(*(people.update(camp,
                    ProvinceCampaignWorkflow.approve_recognition,
                    RecognitionList(request_id=f"r-{n}", actor=ubnd, communes=[]))
                    for n in ids))
            return replies

        # The proposal and MAX_REPLIES - 1 later requests: all remembered.
        await decisions(1, MAX_REPLIES - 1)
        again = await people.update(camp, ProvinceCampaignWorkflow.propose, proposal)
        assert again == first, "a retry within the bound is answered from memory"

        # One more request: the memory is full, the oldest (the proposal) is forgotten.
        (last,) = await decisions(MAX_REPLIES, 1)
        await refused(people.update(camp, ProvinceCampaignWorkflow.propose, proposal),
                      "campaign.already_proposed")
        recent = await people.update(camp,
            ProvinceCampaignWorkflow.approve_recognition,
            RecognitionList(request_id=f"r-{MAX_REPLIES}", actor=ubnd, communes=[]))
        assert recent == last, "the newest requests are still remembered"
    finally:
        await camp.terminate(reason="test over")
        try:
            await people.handle.terminate(reason="test over")
        except Exception:  # noqa: BLE001 - the case may not have started
            pass
