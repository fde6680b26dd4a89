"""Attacks from a plain Temporal client (anyone who can reach the workflow service), with no
help from the project's own client code: workflow types by name, inputs as plain JSON.
Each is refused, and the event store is left as it was (issue 8)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowFailureError

from tests.workflows.support import CLEAN, Case

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def versions(store: Any, stream: str) -> list[tuple[int, str]]:
    return [(e.version, e.type) for e in await store.read(stream)]


async def test_a_chain_started_on_its_own_against_a_case_writes_nothing(
        make_case: Any, store: Any) -> None:
    case: Case = await make_case("tra-vinh-2025", "29284")
    await case.start()
    await case.select()
    before = await versions(store, case.id)
    forged = {
        "case_id": case.id, "plan": case.plan.model_dump(mode="json"),
        "scope": case.scope.model_dump(mode="json"), "clock": case.clock.model_dump(mode="json"),
        "submitted_by": case.actor("commune_ubnd").model_dump(mode="json"),
        "cutoff": (await case.env.get_current_time() + timedelta(days=400)).isoformat(),
    }
    handle = await case.client.start_workflow(
        "RecognitionWorkflow", forged, id=f"forged-{uuid.uuid4().hex[:6]}", task_queue=case.tq)
    with pytest.raises(WorkflowFailureError) as err:
        await handle.result()
    assert getattr(err.value.cause, "type", None) == "chain.not_a_child", err.value.cause
    assert await versions(store, case.id) == before  # no forged dossier.submitted

    # the real chain is unharmed: the commune's dossier still enters it and gets decided
    await case.on_time_reports(case.plan.deadline("phase_2_report").due)
    await case.advance_to(case.plan.deadline("dossier").due - timedelta(days=2))
    assert (await case.submit("dossier", CLEAN)).criteria_met is True
    await case.approve_all()
    # (the case runs to its end: a workflow left running stalls the shared test server's clock)
    await case.advance_to(case.plan.deadline("phase_3_report").due - timedelta(days=1))
    await case.submit("phase_3_report", CLEAN)
    assert (await (await case.service.handle_for_result(case.id)).result()).outcome == \
        "recognised"
    types = [t for _, t in await versions(store, case.id)]
    assert types.count("dossier.submitted") == 1 and "recognition.granted" in types


async def test_a_case_started_with_a_bad_baseline_fails_at_once_and_writes_nothing(
        make_case: Any, store: Any) -> None:
    """Never wedged: the run fails with the field named instead of a task failing forever."""
    from eventstore.errors import StreamNotFoundError
    from tests.workflows.support import BASELINE

    case: Case = await make_case("tra-vinh-2025", "29290")
    start = {
        "plan": case.plan.model_dump(mode="json"), "scope": case.scope.model_dump(mode="json"),
        "opened_by": case.actor("district_ubnd").model_dump(mode="json"),
        "baseline": {**BASELINE, "addicts_with_records": BASELINE["addicts_total"] + 1},
        "clock": case.clock.model_dump(mode="json"),
    }
    handle = await case.client.start_workflow("CommuneConversionWorkflow", start, id=case.id,
                                              task_queue=case.tq)
    with pytest.raises(WorkflowFailureError) as err:
        await handle.result()
    cause = err.value.cause
    assert getattr(cause, "type", None) == "metrics.invalid"
    assert "addicts_with_records" in str(cause)
    with pytest.raises(StreamNotFoundError):
        await store.read(case.id)


async def test_forged_case_closed_signals_change_no_count(
        temporal: Any, worker: str, store: Any) -> None:
    """The campaign's counts come from what cases recorded, never from a signal's word."""
    from catalog import get_plan
    from domain.admin_units import registry
    client, env = temporal
    plan = get_plan("ninh-binh-2026")
    communes = registry(plan.structure).communes_of_province(plan.province_code)[:30]
    today = plan.local_date(await env.get_current_time())
    first = Case(client, env, plan.id, communes[0].code, None, plan.province_code, worker,
                 today)
    wid = await first.service.start_campaign(plan, first.actor("province_ubnd"),
                                             clock=first.clock,
                                             campaign_id=f"campaign:{plan.id}:{uuid.uuid4().hex[:6]}")
    attacker = client.get_workflow_handle(wid)  # by id and names only
    for c in communes[:21]:
        await attacker.signal("case_closed", args=[c.code, "recognised"])
    status = await attacker.query("status")
    assert status["recognised"] == [] and status["target_met"] is False, status
    assert status["proposed"] == [] and status["selected"] == []
    await attacker.terminate("test done")
