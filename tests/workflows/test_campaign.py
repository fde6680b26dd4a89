"""The province (here: Như Xuân district) campaign: proposals, the selection list in one
decision, the recognition list in one decision, and progress toward the plan's target."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from catalog import get_plan
from domain.admin_units import registry
from tests.workflows.support import BASELINE, CLEAN, Case, rid
from workflows.campaign import ProvinceCampaignWorkflow
from workflows.messages import Proposal, RecognitionList, SelectionList

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def refused(coro: Any, code: str) -> None:
    with pytest.raises(WorkflowUpdateFailedError) as info:
        await coro
    assert isinstance(info.value.cause, ApplicationError)
    assert info.value.cause.type == code, info.value.cause.message


async def test_campaign_lists_and_target(temporal: Any, worker: str, store: Any) -> None:
    client, env = temporal
    plan = get_plan("nhu-xuan-2024-2025")
    communes = registry("legacy").communes_of_district("402")
    today = plan.local_date(await env.get_current_time())
    cases = {c.code: Case(client, env, plan.id, c.code, "402", "38", worker, today)
             for c in communes}
    first = next(iter(cases.values()))
    wid = await first.service.start_campaign(
        plan, first.actor("district_ubnd"), clock=first.clock,
        campaign_id=f"campaign:{plan.id}:{uuid.uuid4().hex[:6]}")
    camp = await first.service.handle_for_result(wid)

    district = first.actor("district_ubnd")
    await refused(first.update(camp, ProvinceCampaignWorkflow.propose, Proposal(
        request_id=rid(), actor=first.actor("commune_ubnd"), communes={"16174": BASELINE})),
        "campaign.wrong_role")
    await refused(first.update(camp, ProvinceCampaignWorkflow.propose, Proposal(
        request_id=rid(), actor=district, communes={"29236": BASELINE})),
        "campaign.wrong_jurisdiction")
    # a bad baseline is refused at proposal, naming the field; no case is started
    bad = {**BASELINE, "addicts_with_records": BASELINE["addicts_total"] + 1}
    await refused(first.update(camp, ProvinceCampaignWorkflow.propose, Proposal(
        request_id=rid(), actor=district, communes={code: bad for code in cases})),
        "metrics.invalid")
    assert (await camp.query(ProvinceCampaignWorkflow.status)).proposed == []
    proposal = Proposal(request_id="p-1", actor=district,
                        communes={code: BASELINE for code in cases})
    reply = await first.update(camp, ProvinceCampaignWorkflow.propose, proposal)
    assert set(reply.results.values()) == {"ok"} and len(reply.results) == 16
    again = await first.update(camp, ProvinceCampaignWorkflow.propose, proposal)
    assert again == reply  # a retried request is answered from memory

    chosen = sorted(cases)[:4]
    selector = first.actor(plan.deadlines_of("selection")[0].role)
    await refused(first.update(camp, ProvinceCampaignWorkflow.approve_selection, SelectionList(
        request_id=rid(), actor=selector, selected=["29236"])), "campaign.not_proposed")
    await first.advance_to(plan.deadlines_of("selection")[0].due - timedelta(days=1))
    sel = await first.update(camp, ProvinceCampaignWorkflow.approve_selection, SelectionList(
        request_id="s-1", actor=selector, selected=chosen))
    assert set(sel.results.values()) == {"ok"}

    for code in chosen:
        await cases[code].on_time_reports(plan.deadline("dossier").due)
    await first.advance_to(plan.deadline("dossier").due - timedelta(days=1))
    for code in chosen:
        await cases[code].submit("dossier", CLEAN if code != chosen[-1] else
                                 {**CLEAN, "prevention_models": 0})
        if code != chosen[-1]:
            await cases[code].approve_level("district_appraisal")
    ubnd = first.actor("district_ubnd")
    await refused(first.update(camp, ProvinceCampaignWorkflow.approve_recognition,
                                      RecognitionList(request_id=rid(), actor=selector,
                                                      communes=chosen[:3])),
                  "campaign.wrong_role")
    rec = await first.update(camp, ProvinceCampaignWorkflow.approve_recognition,
                                    RecognitionList(request_id="r-1", actor=ubnd,
                                                    communes=chosen))
    assert [rec.results[c] for c in chosen[:3]] == ["ok"] * 3
    assert rec.results[chosen[-1]].startswith("unavailable") or "not found" in rec.results[
        chosen[-1]], rec.results  # its criteria failed: no chain to approve

    status = await camp.result()
    assert status.selected == chosen and status.recognised == chosen[:3]
    assert status.total_communes == 16 and status.target_share == 1.0
    assert status.target_met is False  # Như Xuân aims at 100% of its 16 communes
    for code in chosen[:3]:
        types = [e.type for e in await store.read(cases[code].id)]
        assert "recognition.granted" in types and types[-1] == "case.closed"
    not_selected = sorted(set(cases) - set(chosen))[0]
    types = [e.type for e in await store.read(cases[not_selected].id)]
    assert types[-2:] == ["selection.rejected", "case.closed"]
