"""Full-year conversion scenarios on the time-skipping server against real PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from domain.plan import plan_hash
from service import ServiceError
from tests.workflows.support import CLEAN, Case
from workflows.conversion import CommuneConversionWorkflow

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def refused(coro, code: str) -> ServiceError:  # type: ignore[no-untyped-def]
    """The service layer turns the validator's refusal into the domain's code."""
    with pytest.raises(ServiceError) as info:
        await coro
    assert info.value.code == code, f"{info.value.code}: {info.value.message}"
    return info.value


async def refused_after_close(coro) -> None:  # type: ignore[no-untyped-def]
    """A finished workflow takes no update: the server refuses it before any handler runs."""
    with pytest.raises(ServiceError) as info:
        await coro
    assert info.value.code == "case.closed", info.value


async def types_of(store, stream: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [e.type for e in await store.read(stream)]


async def test_happy_path_tra_vinh(make_case, store, record_history) -> None:  # type: ignore[no-untyped-def]
    case: Case = await make_case("tra-vinh-2025", "29236")
    handle = await case.start()
    status = await handle.query(CommuneConversionWorkflow.status)
    assert status.status == "opened" and status.classification == "type_iii"
    await case.select()
    await case.on_time_reports(case.plan.deadline("phase_2_report").due)
    dossier = case.plan.deadline("dossier")
    await case.advance_to(dossier.due - timedelta(days=2))
    reply = await case.submit("dossier", CLEAN)
    assert reply.criteria_met is True and reply.late is False
    await case.approve_all()
    await case.advance_to(case.plan.deadline("phase_3_report").due - timedelta(days=1))
    await case.submit("phase_3_report", CLEAN)
    final = await handle.result()
    assert final.outcome == "recognised"
    assert final.missed == []
    types = await types_of(store, case.id)
    assert types[:3] == ["case.opened", "metrics.recorded", "selection.approved"]
    assert "recognition.granted" in types and types[-1] == "case.closed"
    assert types.count("phase.started") == 3 and types.count("phase.ended") == 3
    assert "deadline.missed" not in types
    signed = [e for e in await store.read(case.id) if e.type == "level.signed"]
    assert {(e.payload["level"], e.payload["role"]) for e in signed} == {
        (lv.id, r) for lv in case.plan.approval_chain for r in lv.roles}
    assert (await store.verify(case.id)).ok
    # the opening names the plan version the case ran on, as its status query does
    [opened] = [e for e in await store.read(case.id) if e.type == "case.opened"]
    assert opened.schema_version == 2
    assert opened.payload["plan_hash"] == plan_hash(case.plan) == status.plan_hash
    await record_history(case.id, "happy_path_case")
    await record_history(case.rid, "happy_path_recognition")


async def to_dossier(case: Case) -> None:
    """Selected, every report on time, dossier submitted: the chain is at its first level."""
    await case.select()
    await case.on_time_reports(case.plan.deadline("dossier").due)
    await case.advance_to(case.plan.deadline("dossier").due - timedelta(days=2))
    assert (await case.submit("dossier", CLEAN)).criteria_met is True


async def test_rejection_at_each_level_then_resubmission(make_case, store, record_history) -> None:  # type: ignore[no-untyped-def]
    case: Case = await make_case("tra-vinh-2025", "29239")
    handle = await case.start()
    await to_dossier(case)
    for i, lv in enumerate(case.plan.approval_chain):
        for prior in case.plan.approval_chain[:i]:
            await case.approve_level(prior.id)
        await case.decide("reject", case.actor(lv.roles[-1]), lv.id, f"thiếu hồ sơ {lv.id}")
        st = await case.chain.query("status")
        assert st["status"] == "returned" and st["last_rejection"] == f"thiếu hồ sơ {lv.id}"
        await case.decide("resubmit", case.actor("commune_ubnd"))
    await case.approve_all()
    assert (await handle.result()).outcome == "recognised"
    events = await store.read(case.id)
    rejected = [e.payload["level"] for e in events if e.type == "level.rejected"]
    assert rejected == [lv.id for lv in case.plan.approval_chain]
    rounds = [e.payload["round"] for e in events if e.type == "dossier.resubmitted"]
    assert rounds == [2, 3, 4, 5]
    granted = next(e for e in events if e.type == "recognition.granted")
    assert granted.payload["round"] == 5
    assert (await store.verify(case.id)).ok
    await record_history(case.id, "rejection_case")
    await record_history(case.rid, "rejection_recognition")


async def test_missed_report_reminded_escalated_and_accepted_late(make_case, store) -> None:  # type: ignore[no-untyped-def]
    case: Case = await make_case("tra-vinh-2025", "29242")
    handle = await case.start()
    await case.select()
    d = case.plan.deadline("implementation_plan")
    await case.advance_to(d.due + timedelta(days=3))
    status = await handle.query(CommuneConversionWorkflow.status)
    assert status.missed == ["implementation_plan"]
    reply = await case.submit("implementation_plan")
    assert reply.late is True
    await refused(case.submit("implementation_plan"), "case.already_submitted")
    events = [e for e in await store.read(case.id) if e.payload.get("deadline_id") == d.id]
    kinds = [(e.type, e.payload.get("days_before")) for e in events]
    assert kinds == [("reminder.sent", 7), ("reminder.sent", 1), ("deadline.missed", None),
                     ("case.escalated", None), ("report.submitted", None)]
    assert events[3].payload["to_role"] == "district_ubnd"
    assert events[4].payload["late"] is True
    await case.withdraw("thử nghiệm kết thúc / test ends")
    assert (await handle.result()).outcome == "withdrawn"


async def test_withdrawal_during_recognition(make_case, store, record_history) -> None:  # type: ignore[no-untyped-def]
    case: Case = await make_case("tra-vinh-2025", "29260")
    handle = await case.start()
    await to_dossier(case)
    await case.approve_level("district_appraisal")
    await refused(case.withdraw("x", actor=case.actor("commune_ubnd")), "case.wrong_role")
    withdrawer = case.actor("district_ubnd")
    reason = "sáp nhập đơn vị hành chính / administrative merger"
    reply = await case.service.withdraw(case.ref, withdrawer, reason, request_id="withdraw-1")
    result = await handle.result()
    # retried after the run ended (its answer was lost): the same answer, nothing twice
    assert await case.service.withdraw(case.ref, withdrawer, reason,
                                       request_id="withdraw-1") == reply
    assert result.outcome == "withdrawn" and result.reasons == [
        "sáp nhập đơn vị hành chính / administrative merger"]
    await refused_after_close(case.submit("phase_3_report"))
    types = [e.type for e in await store.read(case.id)]
    assert types[-2:] == ["case.withdrawn", "case.closed"]
    assert "recognition.granted" not in types
    await record_history(case.id, "withdrawal_case")


async def test_delegation(make_case, store) -> None:  # type: ignore[no-untyped-def]
    case: Case = await make_case("tra-vinh-2025", "29248")
    await case.start()
    await to_dossier(case)
    lv = case.plan.approval_chain[0]
    chief, deputy = case.actor("district_police", "chief"), case.actor("district_police", "deputy")
    await case.decide("delegate", chief, lv.id, to=deputy)
    await refused(case.decide("approve", chief, lv.id), "chain.delegated")
    await case.decide("approve", deputy, lv.id)
    signed = [e for e in await store.read(case.id) if e.type == "level.signed"]
    assert signed[-1].payload["reviewer"] == "deputy"
    assert signed[-1].payload["on_behalf_of"] == "chief"
    assert any(e.type == "signoff.delegated" for e in await store.read(case.id))


async def test_every_refusal_records_nothing(make_case, store) -> None:  # type: ignore[no-untyped-def]
    case: Case = await make_case("tra-vinh-2025", "29263")
    handle = await case.start()
    await refused(case.submit("implementation_plan"), "case.not_selected")
    await refused(case.select(actor=case.actor("district_ubnd")), "case.wrong_role")
    await refused(case.select(actor=case.actor("province_police", province_code="01")),
                  "case.wrong_jurisdiction")
    await refused(case.select(False, ""), "case.reason_required")
    await case.select(request_id="sel-1")
    again = await case.select(request_id="sel-1")  # a retried request is answered, not re-applied
    assert again.accepted
    await refused(case.select(), "case.already_decided")
    await refused(case.submit("dossier", {"population": 0}), "metrics.invalid")
    await refused(case.submit("selection"), "case.unknown_deadline")
    await refused(case.submit("nope"), "plan.unknown_deadline")
    other = case.actor("commune_ubnd", commune_code="29254")
    await refused(case.submit("implementation_plan", actor=other), "case.wrong_jurisdiction")
    await to_dossier_after_selection(case)
    lv = case.plan.approval_chain

    async def decisions() -> int:
        return len([e for e in await store.read(case.id) if e.type.startswith("level.")])

    await refused(case.decide("approve", case.actor("district_ubnd"), lv[0].id),
                  "chain.wrong_role")
    await refused(case.decide("approve", case.actor("district_police", district_code="843"),
                              lv[0].id), "chain.wrong_jurisdiction")
    await refused(case.decide("approve", case.actor("district_ubnd"), lv[1].id),
                  "chain.wrong_level")
    assert await decisions() == 0
    await case.decide("approve", case.actor("district_police"), lv[0].id)
    assert await decisions() == 1
    await refused(case.decide("approve", case.actor("district_police"), lv[0].id),
                  "chain.already_signed")
    await refused(case.decide("reject", case.actor("district_health"), lv[0].id, "  "),
                  "chain.reason_required")
    assert await decisions() == 1
    for role in ("district_labour", "district_health"):
        await case.decide("approve", case.actor(role), lv[0].id)
    for level in lv[1:-1]:
        await case.approve_level(level.id)
    *others, last_role = lv[-1].roles
    for role in others:
        await case.decide("approve", case.actor(role), lv[-1].id)
    last = await case.decide("approve", case.actor(last_role), lv[-1].id,
                             request_id="last-signature")
    assert (await handle.result()).outcome == "recognised"
    # the connection dropped before the last signer heard back; the retry (same request)
    # reaches an ended chain, which still answers what it answered
    assert await case.decide("approve", case.actor(last_role), lv[-1].id,
                             request_id="last-signature") == last
    await refused_after_close(case.decide("approve", case.actor("province_ubnd"), lv[-1].id))
    await refused_after_close(case.withdraw("late"))
    assert (await store.verify(case.id)).ok


async def to_dossier_after_selection(case: Case) -> None:
    await case.on_time_reports(case.plan.deadline("dossier").due)
    await case.advance_to(case.plan.deadline("dossier").due - timedelta(days=2))
    await case.submit("dossier", CLEAN)


async def test_criteria_not_met_is_not_recognised(make_case, store, record_history) -> None:  # type: ignore[no-untyped-def]
    case: Case = await make_case("tra-vinh-2025", "29257")
    handle = await case.start()
    await case.select()
    await case.advance_to(case.plan.deadline("dossier").due)
    reply = await case.submit("dossier", {**CLEAN, "hotspots": 1})
    assert reply.criteria_met is False
    result = await handle.result()
    assert result.outcome == "not_recognised"
    assert any(r.startswith("1.") for r in result.reasons), result.reasons
    types = [e.type for e in await store.read(case.id)]
    assert "criteria.evaluated" in types and types[-2:] == ["recognition.denied", "case.closed"]
    assert types.count("deadline.missed") >= 4  # the reports it never sent
    await record_history(case.id, "denied_case")  # the denial and closing in one append


async def test_two_phase_nhu_xuan(make_case, store) -> None:  # type: ignore[no-untyped-def]
    case: Case = await make_case("nhu-xuan-2024-2025", "16177")
    handle = await case.start()
    await case.select()
    await case.on_time_reports(case.plan.deadline("dossier").due)
    await case.advance_to(case.plan.deadline("dossier").due - timedelta(days=1))
    await case.submit("dossier", CLEAN)
    await case.approve_all()
    await case.advance_to(case.plan.deadline("phase_2_report").due - timedelta(days=1))
    await case.submit("phase_2_report", CLEAN)
    assert (await handle.result()).outcome == "recognised"
    events = await store.read(case.id)
    assert [e.payload["phase"] for e in events if e.type == "phase.started"] == [1, 2]
    levels = [e.payload["level"] for e in events if e.type == "level.approved"]
    assert levels == ["district_appraisal", "district_decision"]
    assert not [e for e in events if e.type == "deadline.missed"]


async def test_two_level_plan(make_case, store) -> None:  # type: ignore[no-untyped-def]
    case: Case = await make_case("ninh-binh-2026", "13285")
    assert case.scope.district_code is None
    handle = await case.start()
    await case.select()
    await case.on_time_reports(case.plan.deadline("dossier").due)
    await case.advance_to(case.plan.deadline("dossier").due - timedelta(days=1))
    await case.submit("dossier", CLEAN)
    await refused(case.decide("approve", case.actor("district_police", district_code="001"),
                              "province_appraisal"), "chain.wrong_role")
    await case.approve_all()
    assert (await handle.result()).outcome == "recognised"
    levels = [e.payload["level"] for e in await store.read(case.id) if e.type == "level.approved"]
    assert levels == ["province_appraisal", "province_council"]


async def test_continue_as_new_carries_the_case(make_case, store) -> None:  # type: ignore[no-untyped-def]
    case: Case = await make_case("tra-vinh-2025", "29266")
    handle = await case.start(history_limit=60)
    first_run = (await handle.describe()).run_id
    await case.select(request_id="can-select")
    await case.on_time_reports(case.plan.deadline("phase_2_report").due)
    assert (await handle.describe()).run_id != first_run  # it continued as new
    again = await case.select(request_id="can-select")  # remembered across runs
    assert again.accepted
    await case.advance_to(case.plan.deadline("dossier").due - timedelta(days=1))
    await case.submit("dossier", CLEAN)
    await case.approve_all()
    assert (await handle.result()).outcome == "recognised"
    events = await store.read(case.id)
    ids = [e.event_id for e in events]
    assert len(ids) == len(set(ids))
    types = [e.type for e in events]
    assert types.count("case.opened") == 1 and types.count("phase.started") == 3
    assert types.count("selection.approved") == 1
    assert (await store.verify(case.id)).ok


async def test_level_deadline_reminds_the_unsigned_and_escalates(make_case, store) -> None:  # type: ignore[no-untyped-def]
    case: Case = await make_case("tra-vinh-2025", "29269")
    await case.start()
    await to_dossier(case)
    lv = case.plan.approval_chain[0]
    await case.decide("approve", case.actor("district_police"), lv.id)
    status = await case.chain.query("status")
    assert status["awaiting"] == ["district_labour", "district_health"]
    await case.env.sleep(timedelta(days=lv.deadline_days + 1))
    events = [e for e in await store.read(case.id)
              if e.payload.get("deadline_id", "").startswith(f"level:{lv.id}:")]
    reminded = sorted(e.payload["to_role"] for e in events if e.type == "reminder.sent")
    assert reminded == ["district_health", "district_labour"]  # only the roles not yet signed
    kinds = [e.type for e in events if e.type != "reminder.sent"]
    assert kinds == ["deadline.missed", "case.escalated"]
    assert events[-1].payload["to_role"] == lv.escalate_to
    for role in ("district_labour", "district_health"):
        await case.decide("approve", case.actor(role), lv.id)  # late signatures still count
    status = await case.chain.query("status")
    assert status["pending_level"] == case.plan.approval_chain[1].id
    await case.withdraw("kết thúc thử nghiệm / end of test")


async def test_chain_unfinished_at_plan_end_is_not_recognised(make_case, store) -> None:  # type: ignore[no-untyped-def]
    case: Case = await make_case("tra-vinh-2025", "29272")
    handle = await case.start()
    await to_dossier(case)
    await case.approve_level("district_appraisal")
    result = await handle.result()  # nobody else signs before the plan's last day
    assert result.outcome == "not_recognised"
    assert any("district_review" in r for r in result.reasons), result.reasons
    events = await store.read(case.id)
    types = [e.type for e in events]
    assert types[-2:] == ["recognition.denied", "case.closed"]
    assert "recognition.granted" not in types
    escalated = [e.payload["deadline_id"] for e in events if e.type == "case.escalated"]
    assert any(d.startswith("level:district_review:") for d in escalated)


async def test_forged_or_missing_proof_is_refused(make_case, store) -> None:  # type: ignore[no-untyped-def]
    from domain.identity import Signer, command_digest, prove
    from service.errors import guarded
    from workflows import names
    from workflows.messages import SelectionDecision

    case: Case = await make_case("tra-vinh-2025", "29275")
    await case.start()
    police = case.actor("province_police")
    now = await case.env.get_current_time()

    def decision(actor: Any, proof: str | None) -> SelectionDecision:
        return SelectionDecision(request_id="sel-1", actor=actor, selected=True, proof=proof)

    def proof_by(signer: Signer, actor: Any) -> str:
        return prove(signer, actor, target=case.id, request_id="sel-1",
                     digest=command_digest(decision(actor, None).model_dump(mode="json")),
                     now=now)

    async def send(message: SelectionDecision) -> Any:
        return await guarded(case.handle.execute_update(names.DECIDE_SELECTION, message),
                             case.id)

    await refused(send(decision(police, proof_by(Signer.generate(), police))),
                  "identity.unknown_key")
    await refused(send(decision(police, None)), "identity.missing_token")
    impostor = case.actor("province_police", "someone-else")
    await refused(send(decision(impostor, proof_by(case.signer, police))), "identity.mismatch")
    assert [e.type for e in await store.read(case.id)] == ["case.opened", "metrics.recorded"]
    await case.select()
    await case.withdraw("kết thúc thử nghiệm / end of test")
