"""The service layer: one facade, the domain's codes for every failure, reads from the store."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from service import CaseRef, CaseService, ServiceError
from service.errors import translate
from tests.workflows.support import BASELINE, CLEAN, Case, eventually
from workflows import names

# -- ids and their inverses --------------------------------------------------------------------


def test_workflow_ids_and_their_inverses() -> None:
    wid = names.case_id("tra-vinh-2025", "29236")
    assert wid == "conversion:tra-vinh-2025:29236"
    assert names.parse_case_id(wid) == ("tra-vinh-2025", "29236")
    assert names.parse_case_id(names.recognition_id("ninh-binh-2026", "13285")) == (
        "ninh-binh-2026", "13285")
    assert names.parse_campaign_id(names.campaign_id("tra-vinh-2025")) == "tra-vinh-2025"
    assert CaseRef.parse(wid) == CaseRef("tra-vinh-2025", "29236")
    for bad in ("conversion:tra-vinh-2025", "campaign:x", "conversion::29236",
                "conversion:p:29236:1", "other:p:29236", "conversion:p:abc"):
        with pytest.raises(ValueError):
            names.parse_case_id(bad)
    with pytest.raises(ServiceError) as err:
        CaseRef.parse("nope")
    assert err.value.code == "case.bad_id"


# -- Temporal failures -> the domain's codes ---------------------------------------------------


def test_failures_are_translated_to_stable_codes() -> None:
    refused = WorkflowUpdateFailedError(ApplicationError("wrong role", type="case.wrong_role"))
    assert translate(refused).code == "case.wrong_role"
    assert translate(RPCError("gone", RPCStatusCode.NOT_FOUND, b"")).code == "case.not_found"
    assert translate(RPCError("down", RPCStatusCode.UNAVAILABLE, b"")).code == \
        "service.unavailable"
    assert translate(WorkflowAlreadyStartedError("w", "T")).code == "case.already_exists"
    with pytest.raises(KeyError):
        translate(KeyError("not ours"))  # anything else is not silently turned into a code


# -- the facade against the real servers -------------------------------------------------------

pytestmark_async = pytest.mark.asyncio(loop_scope="session")


@pytestmark_async
async def test_a_case_through_the_service(make_case: Any, store: Any) -> None:
    case: Case = await make_case("tra-vinh-2025", "29278")
    svc = CaseService(case.client, case.tq, store, signer=case.signer,
                      clock=case.env.get_current_time)
    ref = case.ref
    with pytest.raises(ServiceError) as err:  # bad metrics: refused before anything starts
        await svc.start_case(case.plan, case.scope, case.actor("district_ubnd"),
                             {**BASELINE, "population": -1}, clock=case.clock)
    assert err.value.code == "metrics.invalid"
    with pytest.raises(ServiceError) as err:  # a number the command proof cannot sign (it
        # was a 500 at the door: schemathesis found it in a submission's metrics)
        await svc.submit(ref, case.actor("commune_ubnd"), "dossier",
                         {**CLEAN, "extra": [-25433764772013568000]})
    assert err.value.code == "input.invalid"
    with pytest.raises(ServiceError) as err:
        await svc.status(ref)
    assert err.value.code == "case.not_found"

    await case.start()
    with pytest.raises(ServiceError) as err:
        await svc.start_case(case.plan, case.scope, case.actor("district_ubnd"), BASELINE,
                             clock=case.clock)
    assert err.value.code == "case.already_exists"
    view = await svc.status(ref)
    assert view.case.status == "opened" and view.chain is None
    assert await svc.chain_status(ref) is None

    await case.select()
    await case.on_time_reports(case.plan.deadline("phase_2_report").due)
    await case.advance_to(case.plan.deadline("dossier").due - timedelta(days=2))
    assert (await case.submit("dossier", CLEAN)).criteria_met
    first = case.plan.approval_chain[0]
    # a reviewer may leave the level out: the pending one is used
    for role in first.roles:
        await svc.approve(ref, case.actor(role))
    view = await svc.status(ref)
    assert view.chain is not None and view.chain.pending_level == case.plan.approval_chain[1].id
    with pytest.raises(ServiceError) as err:  # a stale level is still refused by the workflow
        await svc.approve(ref, case.actor(first.roles[0]), level=first.id)
    assert err.value.code == "chain.wrong_level"

    history = await svc.history(ref)
    assert history[0].type == "case.opened" and history[-1].type == "level.approved"
    async def listed_at_the_second_level() -> bool:
        rows = {r.stream: r for r in await svc.list_cases("tra-vinh-2025")}
        return ref.case_id in rows and (
            rows[ref.case_id].pending_level == case.plan.approval_chain[1].id)

    await eventually(listed_at_the_second_level)  # the read model follows the log
    with pytest.raises(ServiceError) as err:
        await svc.history(CaseRef("tra-vinh-2025", "00000"))
    assert err.value.code == "case.not_found"
    assert not isinstance(err.value, WorkflowUpdateFailedError)

    # the case runs to its end: a workflow left running stalls the shared test server's clock
    for lv in case.plan.approval_chain[1:]:
        await case.approve_level(lv.id)
    await case.advance_to(case.plan.deadline("phase_3_report").due - timedelta(days=1))
    await case.submit("phase_3_report", CLEAN)
    assert (await case.service.result(ref)).outcome == "recognised"


@pytestmark_async
async def test_without_a_store_reads_say_so(make_case: Any) -> None:
    case: Case = await make_case("tra-vinh-2025", "29281")
    with pytest.raises(ServiceError) as err:
        await CaseService(case.client, case.tq).history(case.ref)
    assert err.value.code == "service.no_store"
