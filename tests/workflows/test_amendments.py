"""Amendments reach running cases (issue 12): Trà Vinh's 1 July 2025 reform applied mid-phase,
mid-chain, after a rejection, to merged communes; refusals and re-application change nothing.
Time-skipping server, real PostgreSQL; the cases act through the service layer."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType

from catalog import get_plan, load_amendment_file
from domain.amendment import Amendment
from domain.roles import Actor
from service import ServiceError
from service.amendments import amended, preview
from tests.workflows.support import CLEAN, Case, eventually, rid
from workflows.campaign import ProvinceCampaignWorkflow
from workflows.conversion import CommuneConversionWorkflow
from workflows.recognition import RecognitionWorkflow

pytestmark = pytest.mark.asyncio(loop_scope="session")

REFORM = load_amendment_file(
    Path(__file__).resolve().parents[2] / "domain/amendments/tra-vinh-2025-reform.yaml")
NEW_PROVINCE = "86"  # Vĩnh Long, which took Trà Vinh in


def after(case: Case, role: str, commune: str | None = None) -> Actor:
    """A person of the 2025 units: the new province, no district."""
    return case.actor(role, province_code=NEW_PROVINCE, district_code=None,
                      commune_code=commune if role == "commune_ubnd" else None)


async def amend(case: Case, amendment: Amendment = REFORM, actor: Actor | None = None) -> Any:
    _, _, units = amended(case.plan, REFORM)  # the conversion tables (a bad variant's too)
    return await case.service.amend(case.ref, actor or after(case, "province_ubnd"), amendment,
                                    units, request_id=rid())


async def refused(coro: Any, code: str) -> ServiceError:
    with pytest.raises(ServiceError) as info:
        await coro
    assert info.value.code == code, f"{info.value.code}: {info.value.message}"
    return info.value


async def records(store: Any, case: Case, type_: str) -> list[Any]:
    return [e for e in await store.read(case.id) if e.type == type_]


async def crossed(store: Any, *cases: Case) -> None:
    """Skip to the first hour of the effective day, then wait (real time) until each case has
    recorded the amendment: skipping on while the cases' workflow tasks of that instant are
    in flight lets the time-skipping server time them out on its own clock."""
    await cases[0].advance_to(date(2025, 7, 1), hours=1)

    async def amended() -> bool:
        for c in cases:
            if not await records(store, c, "case.amended"):
                return False
        return True

    await eventually(amended, within=30)


async def until_dossier(case: Case, day: date) -> None:
    """Selected, the reports due before ``day`` in on time, the dossier submitted on ``day``
    (early: before the reform), so the chain is at its first, district level."""
    await case.select()
    await case.on_time_reports(date(2025, 4, 30))
    await case.advance_to(day)
    assert (await case.submit("dossier", CLEAN)).criteria_met is True


async def test_mid_chain_a_pending_district_level_moves_to_the_province(  # type: ignore[no-untyped-def]
        make_case, store, record_history) -> None:
    case: Case = await make_case("tra-vinh-2025", "29323")
    handle = await case.start()
    await until_dossier(case, date(2025, 6, 10))
    await case.decide("approve", case.actor("district_police"), "district_appraisal")

    # the dry run changes nothing: not the log, not the workflows' histories
    plans = {case.plan.id: amended(case.plan, REFORM)}

    async def in_read_model() -> bool:
        return any(e.case_id == case.id for e in await preview(store, REFORM, plans))

    await eventually(in_read_model)
    logged = len(await store.read(case.id))
    histories = [len((await h.fetch_history()).events) for h in (case.handle, case.chain)]
    effect = next(e for e in await preview(store, REFORM, plans) if e.case_id == case.id)
    assert effect.changes and effect.pending is not None
    assert (effect.pending.level_before, effect.pending.level_after) == (
        "district_appraisal", "province_appraisal")
    assert effect.codes is not None and effect.codes.commune_after == "29329"
    assert len(await store.read(case.id)) == logged
    assert [len((await h.fetch_history()).events) for h in (case.handle, case.chain)] == \
        histories

    # before its effective date the amendment waits in the case, on a timer
    assert (await amend(case)).detail == "scheduled"
    assert (await amend(case)).detail == "already_scheduled"
    status = await handle.query(CommuneConversionWorkflow.status)
    assert status.scheduled == [REFORM.id] and status.amendments == []
    assert await records(store, case, "case.amended") == []
    await case.decide("approve", case.actor("district_labour"), "district_appraisal")

    await crossed(store, case)
    [record] = await records(store, case, "case.amended")
    assert record.event_id.split("/")[-2] == "recognition"  # in order with the chain's own
    p = record.payload
    assert p["amendment"] == REFORM.id and p["effective_on"] == "2025-07-01"
    assert p["pending"]["level_before"] == "district_appraisal"
    assert p["pending"]["level_after"] == "province_appraisal"
    assert p["pending"]["transferred"] is True
    assert p["pending"]["awaiting_before"] == ["district_health"]
    assert p["pending"]["awaiting_after"] == ["province_police", "province_department"]
    assert {(s["level"], s["role"]) for s in p["pending"]["signatures_kept"]} == {
        ("district_appraisal", "district_police"), ("district_appraisal", "district_labour")}
    assert [lv["id"] for lv in p["chain_after"]] == ["province_appraisal", "province_decision"]
    assert (p["codes"]["commune_before"], p["codes"]["commune_after"],
            p["codes"]["province_after"]) == ("29323", "29329", NEW_PROVINCE)
    assert p["merged"] == {"recognition": "all_constituents", "target": "new_communes"}
    chain = await case.chain.query(RecognitionWorkflow.status)
    assert chain.pending_level == "province_appraisal" and chain.signed == {}

    # the district is gone: its people are refused, nothing is recorded
    logged = len(await store.read(case.id))
    await refused(case.decide("approve", case.actor("district_health"), "district_appraisal"),
                  "chain.wrong_jurisdiction")
    await refused(case.submit("forum_q3"), "case.wrong_jurisdiction")
    assert len(await store.read(case.id)) == logged
    # applying it again changes nothing
    assert (await amend(case)).detail == "already_applied"
    assert len(await store.read(case.id)) == logged

    # the province signs; the new commune's officer reports
    for role in ("province_police", "province_department"):
        await case.decide("approve", after(case, role), "province_appraisal")
    await case.decide("approve", after(case, "province_ubnd"), "province_decision")
    for d in ("forum_q3", "phase_2_report", "phase_3_report"):
        await case.service.submit(case.ref, after(case, "commune_ubnd", "29329"), d,
                                  CLEAN if d.startswith("phase") else None, request_id=rid())
    final = await handle.result()
    assert final.outcome == "recognised" and final.amendments == [REFORM.id]
    signed = [(e.payload["level"], e.payload["role"])
              for e in await records(store, case, "level.signed")]
    assert signed == [("district_appraisal", "district_police"),
                      ("district_appraisal", "district_labour"),
                      ("province_appraisal", "province_police"),
                      ("province_appraisal", "province_department"),
                      ("province_decision", "province_ubnd")]
    assert (await store.verify(case.id)).ok
    await record_history(case.id, "amended_mid_chain_case")
    await record_history(case.rid, "amended_mid_chain_recognition")


async def test_mid_phase_escalations_go_to_the_new_roles(make_case, store) -> None:  # type: ignore[no-untyped-def]
    case: Case = await make_case("tra-vinh-2025", "29350")
    handle = await case.start()
    await case.select()
    await case.on_time_reports(date(2025, 6, 30))
    await case.advance_to(date(2025, 7, 5))
    # after its effective date: applied at once, by the case itself
    assert (await amend(case)).detail == "applied"
    [record] = await records(store, case, "case.amended")
    assert record.event_id.split("/")[-2] == "case" and record.payload["pending"] is None
    moved = {d["deadline"]: d for d in record.payload["deadlines"]}
    assert set(moved) == {"forum_q3", "phase_2_report", "dossier", "phase_3_report"}
    assert {(d["escalate_before"], d["escalate_after"]) for d in moved.values()} == {
        ("district_ubnd", "province_ubnd")}
    assert record.payload["codes"]["commune_after"] == "29365"
    # the Q3 forum record is missed: reminded to the commune, escalated to the province
    await case.advance_to(case.plan.deadline("forum_q3").due + timedelta(days=2))
    escalated = [e.payload for e in await records(store, case, "case.escalated")]
    assert escalated == [{"deadline_id": "forum_q3", "to_role": "province_ubnd"}]
    assert any(e.payload["deadline_id"] == "forum_q3"
               for e in await records(store, case, "reminder.sent"))
    # the district can no longer withdraw; the province can
    await refused(case.withdraw("sáp nhập"), "case.wrong_role")
    await case.service.withdraw(case.ref, after(case, "province_ubnd"), "sáp nhập đơn vị",
                                request_id=rid())
    assert (await handle.result()).outcome == "withdrawn"


async def test_after_a_rejection_the_resubmission_follows_the_new_chain_merged_communes(  # type: ignore[no-untyped-def]
        make_case, store) -> None:
    # Xã An Phú Tân (29317) and the commune merged into it (29320): two cases, one new commune
    returned: Case = await make_case("tra-vinh-2025", "29320")
    other: Case = await make_case("tra-vinh-2025", "29317")
    handle = await returned.start()
    other_handle = await other.start()
    await other.select()
    await until_dossier(returned, date(2025, 6, 12))
    await returned.decide("reject", returned.actor("district_police"), "district_appraisal",
                          reason="thiếu biên bản họp dân")
    await returned.advance_to(date(2025, 7, 3))
    assert (await amend(returned)).detail == "applied"
    assert (await amend(other)).detail == "applied"
    [record] = await records(store, returned, "case.amended")
    p = record.payload["pending"]
    assert (p["level_before"], p["level_after"], p["transferred"]) == (None, None, False)
    assert (p["resubmit_first_before"], p["resubmit_first_after"]) == (
        "district_appraisal", "province_appraisal")
    # each legacy commune keeps its own stream and history, and gains the same new codes
    [other_record] = await records(store, other, "case.amended")
    for r in (record, other_record):
        assert (r.payload["codes"]["commune_after"], r.payload["codes"]["province_after"]) == (
            "29317", NEW_PROVINCE)
    assert (await records(store, other, "case.opened"))[0].payload["commune_code"] == "29317"
    assert (await records(store, returned, "case.opened"))[0].payload["commune_code"] == \
        "29320"

    # the other case has shown what it had to: withdrawn now, so that awaiting the returned
    # case's result below cannot let the server run the other to its plan's end first
    await other.service.withdraw(other.ref, after(other, "province_ubnd"), "thử nghiệm",
                                 request_id=rid())
    assert (await other_handle.result()).outcome == "withdrawn"

    officer = after(returned, "commune_ubnd", "29317")  # the new commune's officer
    await returned.decide("resubmit", officer)
    [again] = await records(store, returned, "dossier.resubmitted")
    assert again.payload["first_level"] == "province_appraisal"
    for role in ("province_police", "province_department"):
        await returned.decide("approve", after(returned, role), "province_appraisal")
    await returned.decide("approve", after(returned, "province_ubnd"), "province_decision")
    for d in ("forum_q3", "phase_2_report", "phase_3_report"):
        await returned.service.submit(returned.ref, officer, d,
                                      CLEAN if d.startswith("phase") else None,
                                      request_id=rid())
    assert (await handle.result()).outcome == "recognised"
    assert (await store.verify(returned.id)).ok and (await store.verify(other.id)).ok


async def updates_accepted(handle: Any) -> int:
    history = await handle.fetch_history()
    return sum(1 for e in history.events
               if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED)


def _variant(**changes: Any) -> Amendment:
    doc = REFORM.model_dump(mode="json", by_alias=True)
    doc["changes"] = {**doc["changes"], **changes}
    return Amendment.model_validate(doc)


async def test_a_bad_amendment_is_refused_naming_what_is_wrong(make_case, store) -> None:  # type: ignore[no-untyped-def]
    case: Case = await make_case("tra-vinh-2025", "29332")
    handle = await case.start()
    await case.select()
    await case.advance_to(date(2025, 7, 2))
    logged = len(await store.read(case.id))
    accepted = await updates_accepted(handle)
    levels = REFORM.changes.levels.model_dump(mode="json", by_alias=True)

    unknown_level = _variant(levels={**levels, "remove": [
        {"level": "district_council", "inherited_by": "province_appraisal", "source": "test"}]})
    e = await refused(amend(case, unknown_level), "amendment.unknown_level")
    assert "district_council" in e.message and "district_council" in (e.message_vi or "")
    unknown_role = _variant(roles=[{"from": "district_mayor", "to": "province_ubnd",
                                    "source": "test"}])
    assert "district_mayor" in (await refused(amend(case, unknown_role),
                                              "amendment.unknown_role")).message
    empty = _variant(levels={**levels, "edit": [
        {"level": "province_decision", "remove_roles": ["province_ubnd"], "source": "test"}]})
    assert "province_decision" in (await refused(amend(case, empty),
                                                 "amendment.empty_level")).message
    await refused(amend(case, actor=case.actor("district_ubnd")), "amendment.wrong_role")
    await refused(amend(case, actor=case.actor("province_ubnd", province_code="01")),
                  "amendment.wrong_jurisdiction")
    assert len(await store.read(case.id)) == logged
    assert await updates_accepted(handle) == accepted  # refused in the validator: unrecorded
    await case.withdraw("thử nghiệm")  # the district still stands: the reform was refused
    assert (await handle.result()).outcome == "withdrawn"


async def test_the_campaign_counts_merged_communes_by_the_plans_rule(  # type: ignore[no-untyped-def]
        temporal, worker, store) -> None:
    """Xã Hùng Hòa (2025, 29362) = legacy 29359 + 29362 + 29368, all recognised: it counts;
    Xã Song Lộc = 29386 + 29389 + 29392, only 29386 in the campaign: it does not."""
    import uuid

    from tests.workflows.support import BASELINE
    client, env = temporal
    plan = get_plan("tra-vinh-2025")
    today = plan.local_date(await env.get_current_time())
    codes = {"29359": "846", "29362": "846", "29368": "846", "29386": "847"}
    cases = {c: Case(client, env, plan.id, c, d, "84", worker, today) for c, d in codes.items()}
    first = cases["29359"]
    wid = await first.service.start_campaign(
        plan, first.actor("province_ubnd"), clock=first.clock,
        campaign_id=f"campaign:{plan.id}:{uuid.uuid4().hex[:6]}")
    camp = await first.service.handle_for_result(wid)
    for district in ("846", "847"):
        mine = {c: BASELINE for c, d in codes.items() if d == district}
        reply = await first.service.propose(wid, first.actor("district_ubnd",
                                                             district_code=district), mine)
        assert set(reply.results.values()) == {"ok"}, reply.results
    await first.advance_to(date(2025, 3, 20))
    selected = await first.service.approve_selection(wid, first.actor("province_police"),
                                                     sorted(codes))
    assert set(selected.results.values()) == {"ok"}, selected.results
    _, _, units = amended(plan, REFORM)
    ubnd = after(first, "province_ubnd")
    assert await first.service.amend_campaign(wid, ubnd, REFORM, units) == "scheduled"
    for c in cases.values():
        assert (await amend(c)).detail == "scheduled"

    await crossed(store, *cases.values())
    await first.advance_to(date(2025, 7, 2))
    status = await camp.query(ProvinceCampaignWorkflow.status)
    assert status.amendments == [REFORM.id] and status.target_unit == "new_communes"
    assert (status.target_total, status.target_need) == (41, 9)
    for code, c in cases.items():
        new = "29362" if codes[code] == "846" else "29386"
        officer = after(c, "commune_ubnd", new)
        got = await c.service.submit(c.ref, officer, "dossier", CLEAN, request_id=rid())
        assert got.criteria_met is True, got
        for role in ("province_police", "province_department"):
            await c.decide("approve", after(c, role), "province_appraisal")
    # the new province's People's Committee approves the list (the old one's is refused)
    reply = await first.service.approve_recognition(wid, ubnd, sorted(codes))
    assert set(reply.results.values()) == {"ok"}, reply.results
    final = await camp.result()
    assert sorted(final.recognised) == sorted(codes)
    assert final.new_communes_recognised == ["29362"]  # Song Lộc lacks 29389 and 29392
    assert (final.target_recognised, final.target_met) == (1, False)
