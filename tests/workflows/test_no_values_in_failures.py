"""No values in failures (README): with the payload key set, what Temporal stores of a refusal
or failure is encrypted, errors name fields and rules only, oversize input is refused with a
code before any handler meets it, and the worker's logs withhold failure text."""

from __future__ import annotations

import asyncio
import io
import logging
import uuid
from datetime import timedelta
from typing import Any

import pytest
from temporalio.client import Client, WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from catalog import get_plan
from domain.admin_units import registry
from runtime.codec import codec_from_env
from runtime.logs import WithholdFailureText
from service import ServiceError
from service.errors import guarded
from tests.workflows.support import BASELINE, CLEAN, Case, rid
from workflows import names
from workflows.campaign import ProvinceCampaignWorkflow
from workflows.conversion import CommuneConversionWorkflow
from workflows.messages import (
    MAX_COMMUNES,
    MAX_METRIC_KEYS,
    MAX_TEXT,
    CaseInput,
    Proposal,
    SelectionList,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")

SECRET_TEXT = "Nguyễn Văn Bí Mật, thôn Ba"  # free text about a person
SECRET_COUNT = 5555  # a submitted metric, more than its whole (addicts_total = 25)
PART_WHOLE = "must not exceed"


async def plain_history(client: Client, workflow_id: str) -> bytes:
    """The workflow's history as the server stores it, fetched without the codec."""
    target = client.service_client.config.target_host
    plain = await Client.connect(target, namespace=client.namespace)
    history = await plain.get_workflow_handle(workflow_id).fetch_history()
    return b"".join(e.SerializeToString() for e in history.events)


def leaks(raw: bytes, *secrets: str) -> list[str]:
    return [s for s in secrets if s.encode() in raw]


async def test_failures_and_payloads_are_encrypted_at_rest(make_case: Any,
                                                           caplog: Any) -> None:
    assert codec_from_env() is not None, "the workflow tests run with payload encryption"
    caplog.set_level(logging.DEBUG, logger="temporalio")
    bad: Case = await make_case("tra-vinh-2025", "29284")
    # A bad baseline sent straight to Temporal (the service would refuse it before starting):
    # the run fails with the contract's code, as in the attack.
    handle = await bad.client.start_workflow(
        CommuneConversionWorkflow.run,
        CaseInput(plan=bad.plan, scope=bad.scope, opened_by=bad.actor("district_ubnd"),
                  baseline={**BASELINE, "addicts_with_records": SECRET_COUNT,
                            "population": 987654},
                  clock=bad.clock),
        id=bad.id, task_queue=bad.tq)
    with pytest.raises(WorkflowFailureError) as failed:
        await handle.result()
    cause = failed.value.cause
    # The project's client decodes the failure: code and message are readable to callers.
    assert isinstance(cause, ApplicationError) and cause.type == "metrics.invalid"
    assert cause.message == ("metrics.addicts_with_records: must not exceed "
                             "metrics.addicts_total")
    with pytest.raises(ServiceError) as refused:
        await guarded(handle.result(), bad.id)
    assert refused.value.code == "metrics.invalid" and PART_WHOLE in refused.value.message

    # A case that accepts free text, then a validator's refusal with a message.
    good: Case = await make_case("tra-vinh-2025", "29287")
    await good.start()
    await good.select(reason=SECRET_TEXT)
    with pytest.raises(ServiceError) as wrong:
        await good.withdraw(SECRET_TEXT, actor=good.actor("commune_ubnd"))
    assert wrong.value.code == "case.wrong_role" and "may not" in wrong.value.message

    # The server lives for the session: a running case left behind stalls its time skipping.
    await good.handle.terminate(reason="test over")
    raw = await plain_history(bad.client, bad.id)
    assert b"Encoded failure" in raw
    assert b"metrics.invalid" in raw  # the failure's type, our code, stays readable
    assert leaks(raw, PART_WHOLE, "addicts_with_records", str(SECRET_COUNT), "987654") == []
    raw = await plain_history(good.client, good.id)
    assert leaks(raw, SECRET_TEXT, "Nguy", "may not", str(BASELINE["households_total"])) == []

    # What the SDK logged meanwhile, as the worker's configured handler prints it.
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(WithholdFailureText())
    for record in caplog.records:
        if record.name.startswith("temporalio"):
            handler.handle(record)
    assert leaks(out.getvalue().encode(), PART_WHOLE, str(SECRET_COUNT), SECRET_TEXT) == []


async def test_oversize_input_is_refused_with_a_code_and_changes_nothing(
        temporal: Any, worker: str) -> None:
    client, env = temporal
    # communes (hence case ids) no other test uses: the server lives for the whole session
    plan = get_plan("tra-vinh-2025")
    province = registry(plan.structure).communes_of_province("84")
    codes = ["29290", "29293", "29296"]
    today = plan.local_date(await env.get_current_time())
    first = Case(client, env, plan.id, codes[0], "844", "84", worker, today)
    del province
    camp = await first.service.handle_for_result(await first.service.start_campaign(
        plan, first.actor("province_ubnd"), clock=first.clock,
        campaign_id=f"campaign:{plan.id}:{uuid.uuid4().hex[:6]}"))
    district = first.actor("district_ubnd")
    chosen = codes[:2]
    reply = await first.update(camp, ProvinceCampaignWorkflow.propose, Proposal(
        request_id=rid(), actor=district, communes={code: BASELINE for code in chosen}))
    assert set(reply.results.values()) == {"ok"}
    before = await camp.query(ProvinceCampaignWorkflow.status)
    selector = first.actor(plan.deadlines_of("selection")[0].role)

    async def refused(update: str, message: Any, *fields: str) -> None:
        # model_construct: sent as a client that skips our models would send it
        with pytest.raises(WorkflowUpdateFailedError) as info:
            # before the fix the handler crashed and the update never answered
            await asyncio.wait_for(camp.execute_update(update, message), timeout=60)
        cause = info.value.cause
        assert isinstance(cause, ApplicationError) and cause.type == "input.invalid"
        for field in fields:
            assert field in cause.message, cause.message
        assert SECRET_TEXT not in cause.message and "input_value" not in cause.message

    long_reason = (SECRET_TEXT + " ") * (3000 // len(SECRET_TEXT))
    assert MAX_TEXT < len(long_reason)
    await refused(names.APPROVE_SELECTION, SelectionList.model_construct(
        request_id=rid(), actor=selector, selected=chosen, reason=long_reason), "reason")
    await refused(names.APPROVE_SELECTION, SelectionList.model_construct(
        request_id=rid(), actor=selector, reason="",
        selected=[chosen[0]] * (MAX_COMMUNES + 1)), "selected")
    await refused(names.APPROVE_SELECTION, SelectionList.model_construct(
        request_id="r" * 120, actor=selector, selected=chosen, reason=""), "request_id")
    await refused(names.PROPOSE, Proposal.model_construct(
        request_id=rid(), actor=district, communes={codes[2]: {
            f"k{i}": 0 for i in range(MAX_METRIC_KEYS + 1)}}), "communes")
    assert await camp.query(ProvinceCampaignWorkflow.status) == before

    # Through the service layer the same messages are refused before anything is sent, with
    # the same code; a 10 MB reason too (the server would refuse its size with no code).
    svc = first.service
    for reason in (long_reason, "x" * 10_000_000):
        with pytest.raises(ServiceError) as err:
            await svc.approve_selection(camp.id, selector, chosen, reason=reason)
        assert err.value.code == "input.invalid" and "reason" in err.value.message
        assert SECRET_TEXT not in err.value.message and "xxxx" not in err.value.message
    assert await camp.query(ProvinceCampaignWorkflow.status) == before

    # The bounds are what lets the list decision fan out: a full-size reason is accepted.
    sel = await svc.approve_selection(camp.id, selector, chosen, reason="x" * MAX_TEXT)
    assert set(sel.results.values()) == {"ok"}
    # The server lives for the session: running workflows left behind stall time skipping.
    await camp.terminate(reason="test over")
    for code in chosen:
        await client.get_workflow_handle(names.case_id(plan.id, code)).terminate(
            reason="test over")


async def test_a_full_case_leaves_no_submitted_value_or_text_in_history_or_logs(
        make_case: Any, store: Any, capfd: Any, caplog: Any) -> None:
    """Issue 8: after a whole case with encryption on, the raw history (read through
    Temporal's API without the codec) and what the worker printed hold none of the metric
    values or free text that were submitted; the event store has them (it is the record)."""
    caplog.set_level(logging.DEBUG)
    case: Case = await make_case("ninh-binh-2026", "14746")
    secret_reason = "Lý do riêng tư: hộ ông Trần Văn Kín"
    secret_summary = "Báo cáo của thôn Kín Đáo"
    # distinctive numbers no timestamp or id would contain by chance
    marked = {**CLEAN, "population": 987651, "households_total": 876541,
              "households_committed": 876541}
    handle = await case.start({**BASELINE, "population": 987651, "households_total": 876541,
                               "households_committed": 765431})
    await case.select(reason=secret_reason)
    for d in sorted(case.plan.deadlines, key=lambda d: d.due):
        if d.kind in ("selection", "district_list", "dossier"):
            continue
        if d.due > case.plan.deadline("dossier").due:
            continue
        await case.advance_to(d.due - timedelta(days=1))
        await case.service.submit(case.ref, case.actor("commune_ubnd"), d.id,
                                  marked if d.kind == "phase_report" else None,
                                  summary=secret_summary, request_id=rid())
    await case.advance_to(case.plan.deadline("dossier").due - timedelta(days=1))
    await case.submit("dossier", marked)
    await case.decide("reject", case.actor(case.plan.approval_chain[0].roles[0]),
                      case.plan.approval_chain[0].id, reason=secret_reason)
    await case.decide("resubmit", case.actor("commune_ubnd"))
    await case.approve_all()
    assert (await handle.result()).outcome == "recognised"

    secrets = [secret_reason, secret_summary, "987651", "876541", "765431", "Kín"]
    recorded = json_text([e.payload for e in await store.read(case.id)])
    assert "987651" in recorded and secret_reason in recorded  # the record keeps them
    for wid in (case.id, case.rid):
        raw = await plain_history(case.client, wid)
        assert len(raw) > 10_000, wid  # a real history was read
        assert leaks(raw, *secrets) == [], wid
    out, err = capfd.readouterr()
    printed = out + err + "\n".join(r.getMessage() for r in caplog.records)
    assert "events.appended" in printed  # the worker did log while the case ran
    assert leaks(printed.encode(), *secrets) == []


def json_text(data: Any) -> str:
    import json

    return json.dumps(data, ensure_ascii=False)
