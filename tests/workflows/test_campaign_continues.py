"""The campaign keeps bounded state: past its history limit it continues as new, carrying
what it knows, and a flood of forged ``case_closed`` signals changes no count (issue 8)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType

from catalog import get_plan
from domain.admin_units import registry
from tests.workflows.support import BASELINE, Case
from workflows.campaign import ProvinceCampaignWorkflow
from workflows.messages import Proposal

pytestmark = pytest.mark.asyncio(loop_scope="session")
COMMUNE = "29299"  # used by no other test


async def test_a_long_campaign_continues_as_new_and_keeps_its_counts(
        temporal: Any, worker: str) -> None:
    client, env = temporal
    plan = get_plan("tra-vinh-2025")
    unit = registry(plan.structure).commune(COMMUNE)
    today = plan.local_date(await env.get_current_time())
    people = Case(client, env, plan.id, COMMUNE, unit.district_code, plan.province_code,
                  worker, today)
    wid = await people.service.start_campaign(
        plan, people.actor("province_ubnd"), clock=people.clock, history_limit=50,
        campaign_id=f"campaign:{plan.id}:long-{uuid.uuid4().hex[:6]}")
    camp = client.get_workflow_handle(wid)
    first_run = (await camp.describe()).run_id
    try:
        reply = await people.update(camp, ProvinceCampaignWorkflow.propose, Proposal(
            request_id="p-long", actor=people.actor("district_ubnd"),
            communes={COMMUNE: BASELINE}))
        assert reply.results == {COMMUNE: "ok"}
        for _ in range(40):  # forged: the case is open, nothing was recognised
            await camp.signal("case_closed", args=[COMMUNE, "recognised"])
        status = await camp.query(ProvinceCampaignWorkflow.status)
        assert status.recognised == [] and status.proposed == [COMMUNE]
        assert (await camp.describe()).run_id != first_run, "it never continued as new"
        old = client.get_workflow_handle(wid, run_id=first_run)
        events = [e.event_type async for e in old.fetch_history_events()]
        assert events[-1] == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
        # the new run remembers the proposal: its retry is answered from memory
        again = await people.update(camp, ProvinceCampaignWorkflow.propose, Proposal(
            request_id="p-long", actor=people.actor("district_ubnd"),
            communes={COMMUNE: BASELINE}))
        assert again == reply
    finally:
        await camp.terminate(reason="test over")
        await people.handle.terminate(reason="test over")
