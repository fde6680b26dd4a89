"""A reporting round end to end (issue 13) on the time-skipping server against real PostgreSQL:
Sơn La's 12 districts, the provincial police and the health department report; one late, one
sent back and corrected, one missing (reminded, then missed and escalated); refusals record
nothing; the consolidation's numbers are the hand-computed ones; the year-on-year change
against the previous round; the provincial People's Committee approves; an ad hoc round.

The plan here is synthetic (the shipped plans are tested in tests/catalog): its numbers are
chosen so the arithmetic can be done by hand."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError

import catalog
from domain.clock import PlanClock, rehearsal_shift
from domain.reporting import ReportingPlan, Round
from domain.roles import Actor
from runtime.temporal import skip_until
from service import CaseService, ServiceError
from service.rounds import RoundService
from tests.workflows.support import SIGNER, eventually, rid

pytestmark = pytest.mark.asyncio(loop_scope="session")

SOURCE = "synthetic test plan"
DISTRICTS = ["116", "118", "119", "120", "121", "122", "123", "124", "125", "126", "127", "128"]


def plan_doc(plan_id: str) -> dict[str, Any]:
    share = {"kind": "at_least", "value": 90, "source": SOURCE}
    return {
        "id": plan_id, "title_vi": "Kế hoạch báo cáo thử", "title_en": "Test reporting plan",
        "source": SOURCE, "structure": "legacy", "province_code": "14",
        "starts_on": "2023-01-01", "ends_on": "2024-12-31",
        "units": {"departments": [
            {"id": "police", "name_vi": "Công an tỉnh", "name_en": "Provincial police",
             "kind": "province", "role": "province_police", "source": SOURCE},
            {"id": "health", "name_vi": "Sở Y tế", "name_en": "Department of Health",
             "role": "province_department", "source": SOURCE}],
            "people_committees": ["district"], "source": SOURCE},
        "forms": [{
            "id": "yearly", "title_vi": "Báo cáo năm", "title_en": "Yearly report",
            "source": SOURCE,
            "indicators": [
                {"id": "sessions", "name_vi": "Số buổi tuyên truyền", "name_en": "Sessions",
                 "unit_vi": "buổi", "source": SOURCE},
                {"id": "cases_detected", "name_vi": "Số vụ phát hiện", "name_en": "Cases",
                 "reported_by": ["police"], "source": SOURCE,
                 "target": {"kind": "change_at_least", "value": 5, "source": SOURCE}},
                {"id": "cases_resolved", "name_vi": "Số vụ giải quyết", "name_en": "Resolved",
                 "reported_by": ["police"], "source": SOURCE},
                {"id": "resolved_share", "name_vi": "Tỷ lệ giải quyết", "name_en": "Resolved %",
                 "type": "percent", "aggregate": "share", "numerator": "cases_resolved",
                 "denominator": "cases_detected", "computed": True, "target": share,
                 "source": SOURCE},
                {"id": "screening_share", "name_vi": "Tỷ lệ xét nghiệm", "name_en": "Screened",
                 "type": "percent", "aggregate": "none", "reported_by": ["health"],
                 "source": SOURCE},
                {"id": "no_new_hotspots", "name_vi": "Không phát sinh điểm nóng",
                 "name_en": "No new hotspots", "type": "boolean", "aggregate": "all",
                 "reported_by": ["district"], "source": SOURCE}],
            "sections": [{"id": "results", "title_vi": "Kết quả", "title_en": "Results"}]}],
        "rounds": [
            {"id": "2023", "kind": "yearly", "title_vi": "Năm 2023", "title_en": "2023",
             "year": 2023, "opens_on": "2023-06-01", "due": "2023-07-03", "form": "yearly",
             "source": SOURCE},
            {"id": "2024", "kind": "yearly", "title_vi": "Năm 2024", "title_en": "2024",
             "year": 2024, "opens_on": "2024-06-01", "due": "2024-07-03", "form": "yearly",
             "previous": "2023", "source": SOURCE}],
        "adhoc_form": "yearly", "reminder_days_before": [7, 1],
    }


class Round_:
    """A round in a test: its plan, clock, people and service."""

    def __init__(self, temporal: Any, worker: str, store: Any, plan_id: str,
                 today: date) -> None:
        client, self.env = temporal
        self.plan = ReportingPlan.model_validate(plan_doc(plan_id))
        self.clock = PlanClock(shift_years=rehearsal_shift(self.plan, today))  # type: ignore[arg-type]
        self.cases = CaseService(client, worker, store, signer=SIGNER,
                                 clock=self.env.get_current_time)
        self.rounds = RoundService(self.cases)

    def person(self, role: str, **over: Any) -> Actor:
        return Actor(**{"person_id": f"p-{role}-{over.get('district_code') or ''}",
                        "role": role, "province_code": "14", **over})

    def district(self, code: str) -> Actor:
        return self.person("district_ubnd", district_code=code)

    async def at(self, day: date, hours: float = 9) -> None:
        await skip_until(self.env, self.clock.day_start(self.plan, day) + timedelta(hours=hours))

    async def submit(self, rnd: str, who: Actor, unit: str, values: dict[str, Any]) -> Any:
        return await self.rounds.submit(self.plan.id, rnd, who, unit, values,
                                        {"results": "Đã triển khai đầy đủ."}, request_id=rid())


async def refused(coro: Any, code: str) -> ServiceError:
    with pytest.raises(ServiceError) as info:
        await coro
    assert info.value.code == code, f"{info.value.code}: {info.value.message}"
    return info.value


async def closed(store: Any, stream: str) -> None:
    """Wait (real time) for the round's closing event. Not ``handle.result()``: awaiting a
    result lets the time-skipping server jump to the next timer of any workflow."""
    async def done() -> bool:
        return (await types(store, stream))[-1:] == ["round.closed"]

    await eventually(done)


async def types(store: Any, stream: str) -> list[str]:
    return [e.type for e in await store.read(stream)]


async def today(temporal: Any) -> date:
    """The server's clock moves forward across tests: rehearse the plan after "now"."""
    _, env = temporal
    now: datetime = await env.get_current_time()
    return now.date()


@pytest.fixture
def own_plans(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The synthetic plans in a catalogue of their own (the worker admits a round only on
    its catalogue's reporting plan, exactly)."""
    folder = tmp_path / "reporting_plans"
    folder.mkdir()
    for plan_id in ("test-reporting-a", "test-reporting-b"):
        (folder / f"{plan_id}.json").write_text(json.dumps(plan_doc(plan_id)), encoding="utf-8")
    monkeypatch.setenv(catalog.ENV_VAR, str(tmp_path))


@pytest.mark.usefixtures("own_plans")
async def test_a_round_from_opening_to_approval(temporal, worker, store,  # type: ignore[no-untyped-def]
                                                record_history) -> None:
    t = Round_(temporal, worker, store, "test-reporting-a", await today(temporal))
    police, health = t.person("province_police"), t.person("province_department", unit="health")
    rnd = t.plan.round("2023")
    await t.at(date(2023, 6, 1))
    wid = await t.rounds.open(t.plan, rnd, police, clock=t.clock)
    status = await t.rounds.status(t.plan.id, "2023")
    assert status.status == "open" and len(status.units) == 14  # police, health, 12 districts

    # refusals, nothing recorded

    async def opened() -> bool:
        return await store.version(wid) > 0

    await eventually(opened)
    logged = len(await store.read(wid))
    await refused(t.submit("2023", t.district("116"), "district-118",
                           {"sessions": 1, "no_new_hotspots": True}), "round.wrong_unit")
    await refused(t.submit("2023", t.person("province_department", unit="labour"), "health",
                           {"sessions": 1, "screening_share": 50}), "round.wrong_unit")
    await refused(t.submit("2023", t.person("province_ubnd"), "police",
                           {"sessions": 1, "cases_detected": 1, "cases_resolved": 1}),
                  "round.wrong_role")
    e = await refused(t.submit("2023", t.district("116"), "district-116",
                               {"sessions": "mười", "no_new_hotspots": True}), "report.bad_value")
    assert "sessions" in e.message and "sessions" in (e.message_vi or "")
    await refused(t.submit("2023", health, "health", {"sessions": 2, "screening_share": 120}),
                  "report.bad_value")
    await refused(t.submit("2023", t.district("116"), "district-116",
                           {"sessions": 1.5, "no_new_hotspots": True}), "report.bad_value")
    await refused(t.submit("2023", t.district("116"), "district-116",
                           {"sessions": 1, "no_new_hotspots": True, "cases_detected": 3}),
                  "report.unknown_indicator")
    await refused(t.rounds.decide(t.plan.id, "2023", police, "consolidate"),
                  "round.reports_owed")
    await refused(t.rounds.decide(t.plan.id, "2023", t.person("province_ubnd"), "approve"),
                  "round.not_consolidated")
    assert len(await store.read(wid)) == logged

    # a round the plan does not schedule, on another form or with other dates: not admitted
    forged = rnd.model_copy(update={"id": "2099", "due": date(2023, 7, 30)})
    fwid = await t.rounds.open(t.plan, forged, police, clock=t.clock)
    fh = t.cases.client.get_workflow_handle(fwid)

    async def refused_start() -> bool:
        return (await fh.describe()).status == WorkflowExecutionStatus.FAILED

    await eventually(refused_start)
    with pytest.raises(WorkflowFailureError) as info:
        await fh.result()
    assert getattr(info.value.cause, "type", None) == "round.not_scheduled"

    # districts 116..127 report on time (sessions 10, 11, ..., 21; all without new hotspots
    # but 127); 128 never reports
    for i, code in enumerate(DISTRICTS[:-1]):
        reply = await t.submit("2023", t.district(code), f"district-{code}",
                               {"sessions": 10 + i, "no_new_hotspots": code != "127"})
        assert reply.late is False
    await t.submit("2023", police, "police",
                   {"sessions": 40, "cases_detected": 200, "cases_resolved": 150})
    # the police sends district 116's report back; it comes again with corrected numbers
    await refused(t.rounds.send_back(t.plan.id, "2023", police, "district-116", "  "),
                  "round.reason_required")
    await t.rounds.send_back(t.plan.id, "2023", police, "district-116",
                             "số buổi tuyên truyền chưa khớp sổ theo dõi", request_id=rid())
    assert (await t.rounds.status(t.plan.id, "2023")).returned == {
        "district-116": "số buổi tuyên truyền chưa khớp sổ theo dõi"}
    await t.submit("2023", t.district("116"), "district-116",
                   {"sessions": 12, "no_new_hotspots": True})
    await refused(t.submit("2023", t.district("116"), "district-116",
                           {"sessions": 12, "no_new_hotspots": True}), "round.already_reported")

    # the due day passes: health and district 128 were reminded 7 and 1 days before, then
    # missed and escalated to the provincial police
    await t.at(date(2023, 7, 5))
    trail = await types(store, wid)
    reminded = [e.payload for e in await store.read(wid) if e.type == "unit_report.reminded"]
    assert {(r["unit"], r["days_before"]) for r in reminded} == {
        ("health", 7), ("health", 1), ("district-128", 7), ("district-128", 1)}
    missed = [e.payload for e in await store.read(wid) if e.type == "unit_report.missed"]
    assert {(m["unit"], m["escalated_to"]) for m in missed} == {
        ("health", "province_police"), ("district-128", "province_police")}
    # health reports late, still accepted
    assert (await t.submit("2023", health, "health",
                           {"sessions": 8, "screening_share": 64.5})).late is True

    await t.rounds.decide(t.plan.id, "2023", police, "consolidate", request_id=rid())
    table = await t.rounds.table(t.plan.id, "2023")
    assert table is not None
    # sessions: districts 116 (corrected to 12) + 118..127 (11..20) + police 40 + health 8
    #   = 12 + (11+12+...+20 = 155) + 40 + 8 = 215
    assert table.value("sessions") == 215.0
    assert table.value("cases_detected") == 200.0 and table.value("cases_resolved") == 150.0
    # resolved share = 150 / 200 = 75%: the 90% target is not met
    share = next(r for r in table.indicators if r.id == "resolved_share")
    assert (share.value, share.target_value, share.met) == (75.0, 90.0, False)
    # district 127 had a new hotspot: not all true
    assert table.value("no_new_hotspots") is False
    assert table.units_missing == ["district-128"] and table.late == ["health"]
    assert len(table.units_reported) == 13
    await refused(t.submit("2023", t.district("128"), "district-128",
                           {"sessions": 1, "no_new_hotspots": True}), "round.consolidated")
    await t.rounds.decide(t.plan.id, "2023", t.person("province_ubnd"), "approve",
                          "Đồng ý báo cáo tổng hợp", request_id=rid())
    await closed(store, wid)
    trail = await types(store, wid)
    assert trail[0] == "round.opened" and trail[-2:] == ["round.approved", "round.closed"]
    assert trail.count("unit_report.returned") == 1
    assert (await store.verify(wid)).ok
    await record_history(wid, "reporting_round")

    # the next year compares with this one: cases detected 200 -> 212 is +6%, target +5% met
    rnd24 = t.plan.round("2024")
    await t.at(date(2024, 6, 1))
    wid24 = await t.rounds.open(t.plan, rnd24, police, clock=t.clock)
    await t.submit("2024", police, "police",
                   {"sessions": 30, "cases_detected": 212, "cases_resolved": 200})
    await t.at(date(2024, 7, 4))
    await t.rounds.decide(t.plan.id, "2024", police, "consolidate", request_id=rid())
    t24 = await t.rounds.table(t.plan.id, "2024")
    assert t24 is not None
    detected = next(r for r in t24.indicators if r.id == "cases_detected")
    assert (detected.previous, detected.change_pct, detected.met) == (200.0, 6.0, True)
    # 200 / 212 = 94.34%: met
    share24 = next(r for r in t24.indicators if r.id == "resolved_share")
    assert (share24.value, share24.met) == (94.34, True)
    await t.rounds.decide(t.plan.id, "2024", t.person("province_ubnd"), "approve",
                          request_id=rid())
    await closed(store, wid24)


@pytest.mark.usefixtures("own_plans")
async def test_an_ad_hoc_round_and_who_may_open_one(temporal, worker, store) -> None:  # type: ignore[no-untyped-def]
    t = Round_(temporal, worker, store, "test-reporting-b", await today(temporal))
    await t.at(date(2023, 9, 1))
    adhoc = Round(id="adhoc-1", kind="adhoc", title_vi="Báo cáo đột xuất",
                  title_en="Ad hoc report", year=2023, opens_on=date(2023, 9, 1),
                  due=date(2023, 9, 15), form="yearly", source="Công an tỉnh yêu cầu")
    # only the consolidating role opens a round: refused before anything starts
    from eventstore import StreamNotFoundError

    await refused(t.rounds.open(t.plan, adhoc, t.district("116"), clock=t.clock),
                  "round.wrong_role")
    with pytest.raises(StreamNotFoundError):
        await store.read("round:test-reporting-b:adhoc-1")
    # the provincial police opens it; two units answer; consolidated after its due day
    police = t.person("province_police")
    wid = await t.rounds.open(t.plan, adhoc, police, clock=t.clock)
    await t.submit("adhoc-1", police, "police",
                   {"sessions": 3, "cases_detected": 10, "cases_resolved": 10})
    await t.submit("adhoc-1", t.district("118"), "district-118",
                   {"sessions": 2, "no_new_hotspots": True})
    await t.at(date(2023, 9, 17))
    await t.rounds.decide(t.plan.id, "adhoc-1", police, "consolidate", request_id=rid())
    table = await t.rounds.table(t.plan.id, "adhoc-1")
    assert table is not None and table.value("sessions") == 5.0
    assert len(table.units_missing) == 12
    await t.rounds.decide(t.plan.id, "adhoc-1", t.person("province_ubnd"), "approve",
                          request_id=rid())
    await closed(store, wid)
