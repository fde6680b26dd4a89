"""The shipped reporting plans end to end (issue 13) on the time-skipping server against real
PostgreSQL: Trà Vinh's Project 2 (000: its 2022 round, an ad hoc round, its 2023 round compared
with 2022) and Ninh Bình's programme to 2030 (002: its 2026 round).

In each round a few units report on time, one after a reminder, some late (reminded 7, 3 and 1
days before, recorded as missed and escalated to the provincial police at the due day, then
accepted as late); the rest never report. The police sends one report back with its reason and
the unit corrects it. Refusals record nothing: another unit's report, a role that may not act,
a value of the wrong type or out of range, a round already closed. The consolidated numbers
are the hand-computed ones below (the arithmetic in the comments), the share and year-on-year
targets met or not; the provincial People's Committee approves, so every round ends.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowExecutionStatus

import catalog
from domain.clock import PlanClock, rehearsal_shift
from domain.reporting import Consolidation, IndicatorResult, ReportingPlan, Round
from domain.roles import Actor
from runtime.temporal import skip_until
from service import CaseService, ServiceError
from service.rounds import RoundService
from tests.workflows.support import SIGNER, eventually, rid
from tests.workflows.test_reporting_round import closed, refused

pytestmark = pytest.mark.asyncio(loop_scope="session")

TRA_VINH = "tra-vinh-project-2-2022-2025"
NINH_BINH = "ninh-binh-programme-2030"
TV_SECTIONS = {"results": "Đã triển khai đầy đủ các nhiệm vụ.",
               "shortcomings": "Nguồn lực còn hạn chế."}


class Plan:
    """A shipped reporting plan in a test: its clock, its people, its rounds' service."""

    def __init__(self, temporal: Any, worker: str, store: Any, plan_id: str) -> None:
        self.client, self.env = temporal
        self.store = store
        self.plan: ReportingPlan = catalog.reporting_plan(plan_id)
        self.cases = CaseService(self.client, worker, store, signer=SIGNER,
                                 clock=self.env.get_current_time)
        self.rounds = RoundService(self.cases)
        self.clock = PlanClock()

    async def rehearse(self) -> None:
        """The server's clock moves forward across tests: rehearse the plan after "now"."""
        today = self.plan.local_date(await self.env.get_current_time())
        self.clock = PlanClock(shift_years=rehearsal_shift(self.plan, today))

    def person(self, role: str, **over: Any) -> Actor:
        where = over.get("unit") or over.get("district_code") or over.get("commune_code") or ""
        return Actor(**{"person_id": f"p-{role}-{where}", "role": role,
                        "province_code": self.plan.province_code, **over})

    @property
    def police(self) -> Actor:
        return self.person("province_police", unit="police")

    @property
    def ubnd(self) -> Actor:
        return self.person("province_ubnd")

    def department(self, unit: str) -> Actor:
        return self.person("province_department", unit=unit)

    def district(self, code: str) -> Actor:
        return self.person("district_ubnd", district_code=code)

    def commune(self, code: str, district: str | None = None) -> Actor:
        return self.person("commune_ubnd", commune_code=code, district_code=district)

    async def at(self, day: date, hours: float = 9) -> None:
        await skip_until(self.env, self.clock.day_start(self.plan, day) + timedelta(hours=hours))

    async def submit(self, rnd: str, who: Actor, unit: str, values: dict[str, Any],
                     sections: dict[str, str] | None = None) -> Any:
        return await self.rounds.submit(self.plan.id, rnd, who, unit, values,
                                        TV_SECTIONS if sections is None else sections,
                                        request_id=rid())

    async def events(self, rnd: str) -> list[Any]:
        return list(await self.store.read(f"round:{self.plan.id}:{rnd}"))

    async def logged(self, rnd: str) -> int:
        return len(await self.events(rnd))

    async def ended(self, rnd: str) -> None:
        """The round's closing event is recorded and its workflow has completed."""
        wid = f"round:{self.plan.id}:{rnd}"
        await closed(self.store, wid)
        handle = self.client.get_workflow_handle(wid)

        async def completed() -> bool:
            return (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED

        await eventually(completed)


def row(table: Consolidation, indicator: str) -> IndicatorResult:
    return next(r for r in table.indicators if r.id == indicator)


async def refused_closed(coro: Any) -> None:
    """A closed round takes nothing: the decider's refusal while the workflow finishes, the
    service's once it has ended."""
    with pytest.raises(ServiceError) as info:
        await coro
    assert info.value.code in ("round.closed", "case.closed"), info.value.code


# -- Trà Vinh (000) ---------------------------------------------------------------------------

TV_POLICE_2022 = {"drug_crime_cases": 120, "drug_offenders": 150, "drug_cases_total": 100,
                  "drug_cases_resolved": 92, "trafficking_reports": 10,
                  "trafficking_reports_verified": 10, "hotspots_cleared": 6,
                  "propaganda_sessions": 40, "people_reached": 5000}
TV_BORDER_2022 = {"drug_crime_cases": 20, "drug_offenders": 25, "trafficking_reports": 6,
                  "trafficking_reports_verified": 6, "propaganda_sessions": 10,
                  "people_reached": 1000}


async def test_tra_vinh_2022_an_ad_hoc_round_and_2023(temporal, worker, store) -> None:  # type: ignore[no-untyped-def]
    t = Plan(temporal, worker, store, TRA_VINH)
    await t.rehearse()
    units = [u.id for u in (await _units(t))]
    assert len(units) == 129  # 16 departments, 9 districts, 104 communes (legacy Trà Vinh)

    # -- 2022 --------------------------------------------------------------------------------
    await t.at(date(2022, 10, 1))
    # only the provincial police opens a round: refused before anything starts
    await refused(t.rounds.open(t.plan, t.plan.round("yearly-2022"), t.district("842"),
                                clock=t.clock), "round.wrong_role")
    await t.rounds.open(t.plan, t.plan.round("yearly-2022"), t.police, clock=t.clock)

    async def opened() -> bool:
        return await store.version(f"round:{TRA_VINH}:yearly-2022") > 0

    await eventually(opened)
    await t.at(date(2022, 10, 10))
    before = await t.logged("yearly-2022")
    # refusals, nothing recorded
    await refused(t.submit("yearly-2022", t.district("842"), "district-844",
                           {"new_hotspots": 0, "propaganda_sessions": 1, "people_reached": 1}),
                  "round.wrong_unit")
    await refused(t.submit("yearly-2022", t.department("health"), "finance",
                           {"funds_allocated": 10.0}), "round.wrong_unit")
    await refused(t.submit("yearly-2022", t.ubnd, "police", TV_POLICE_2022), "round.wrong_role")
    await refused(t.submit("yearly-2022", t.department("border-guard"), "police",
                           TV_POLICE_2022), "round.wrong_role")
    await refused(t.submit("yearly-2022", t.district("842"), "district-842",
                           {"new_hotspots": 0, "propaganda_sessions": "mười hai",
                            "people_reached": 2000}), "report.bad_value")
    await refused(t.submit("yearly-2022", t.district("842"), "district-842",
                           {"new_hotspots": -1, "propaganda_sessions": 12,
                            "people_reached": 2000}), "report.bad_value")
    await refused(t.submit("yearly-2022", t.district("842"), "district-842",
                           {"new_hotspots": 0, "propaganda_sessions": 12.5,
                            "people_reached": 2000}), "report.bad_value")
    await refused(t.submit("yearly-2022", t.commune("29236", "842"), "commune-29236",
                           {"prevention_models": 2, "drug_crime_cases": 1}),
                  "report.unknown_indicator")
    await refused(t.submit("yearly-2022", t.district("842"), "district-842",
                           {"new_hotspots": 0, "propaganda_sessions": 12}),
                  "report.missing_indicator")
    await refused(t.submit("yearly-2022", t.commune("29236", "842"), "commune-29236",
                           {"prevention_models": 2}, {"results": "Có"}),
                  "report.missing_section")
    await refused(t.rounds.decide(TRA_VINH, "yearly-2022", t.police, "consolidate"),
                  "round.reports_owed")
    await refused(t.rounds.decide(TRA_VINH, "yearly-2022", t.ubnd, "approve"),
                  "round.not_consolidated")
    assert await t.logged("yearly-2022") == before

    # on time: the police, the border guard, finance, a commune, and Trà Vinh city, whose
    # first report says 120 sessions where its register has 12
    for who, unit, values in (
            (t.police, "police", TV_POLICE_2022),
            (t.department("border-guard"), "border-guard", TV_BORDER_2022),
            (t.department("finance"), "finance", {"funds_allocated": 1250.5}),
            (t.commune("29236", "842"), "commune-29236", {"prevention_models": 2}),
            (t.district("842"), "district-842",
             {"new_hotspots": 0, "propaganda_sessions": 120, "people_reached": 2000})):
        assert (await t.submit("yearly-2022", who, unit, values)).late is False
    await t.at(date(2022, 10, 12))
    await refused(t.rounds.send_back(TRA_VINH, "yearly-2022", t.district("842"), "police",
                                     "sai"), "round.wrong_role")
    await t.rounds.send_back(TRA_VINH, "yearly-2022", t.police, "district-842",
                             "số buổi tuyên truyền (120) không khớp sổ theo dõi",
                             request_id=rid())
    assert (await t.rounds.status(TRA_VINH, "yearly-2022")).returned == {
        "district-842": "số buổi tuyên truyền (120) không khớp sổ theo dõi"}
    await t.at(date(2022, 10, 20))
    await t.submit("yearly-2022", t.district("842"), "district-842",
                   {"new_hotspots": 0, "propaganda_sessions": 12, "people_reached": 2000})
    # Càng Long reports after the reminder 7 days before the due day (14/11)
    await t.at(date(2022, 11, 10))
    assert (await t.submit("yearly-2022", t.district("844"), "district-844",
                           {"new_hotspots": 0, "propaganda_sessions": 8,
                            "people_reached": 1500})).late is False
    # after the due day: Cầu Kè and the health department report late, still accepted
    await t.at(date(2022, 11, 18))
    assert (await t.submit("yearly-2022", t.district("845"), "district-845",
                           {"new_hotspots": 0, "propaganda_sessions": 5,
                            "people_reached": 700})).late is True
    assert (await t.submit("yearly-2022", t.department("health"), "health",
                           {"addiction_determinations": 30, "precursor_inspections": 5})
            ).late is True

    events = await t.events("yearly-2022")
    early = {"police", "border-guard", "finance", "commune-29236", "district-842"}
    reminded: dict[str, set[int]] = {}
    for e in events:
        if e.type == "unit_report.reminded":
            reminded.setdefault(e.payload["unit"], set()).add(e.payload["days_before"])
    # every unit owing at a reminder was reminded; those who had reported were not
    assert not early & set(reminded)
    assert reminded["district-844"] == {7} and reminded["health"] == {7, 3, 1}
    assert all(reminded[u] == {7, 3, 1} for u in units if u not in early | {"district-844"})
    missed = {e.payload["unit"]: e.payload["escalated_to"] for e in events
              if e.type == "unit_report.missed"}
    # 129 units - 5 early - Càng Long = 123 missed at the due day, escalated to the police
    assert len(missed) == 123 and set(missed.values()) == {"province_police"}
    assert "district-845" in missed and "health" in missed and "district-844" not in missed
    returned = [e.payload for e in events if e.type == "unit_report.returned"]
    assert [(r["unit"], r["role"]) for r in returned] == [("district-842", "province_police")]
    again = [e.payload for e in events if e.type == "unit_report.submitted"
             and e.payload["unit"] == "district-842"]
    assert [a["resubmission"] for a in again] == [False, True]

    await t.at(date(2022, 11, 20))
    await refused(t.rounds.decide(TRA_VINH, "yearly-2022", t.ubnd, "consolidate"),
                  "round.wrong_role")
    await t.rounds.decide(TRA_VINH, "yearly-2022", t.police, "consolidate", request_id=rid())
    t22 = await t.rounds.table(TRA_VINH, "yearly-2022")
    assert t22 is not None
    # drug crime cases: police 120 + border guard 20 = 140 (no previous round: not assessed)
    cases = row(t22, "drug_crime_cases")
    assert (cases.value, cases.previous, cases.change_pct, cases.met) == (140.0, None, None,
                                                                          None)
    # offenders: 150 + 25 = 175
    assert t22.value("drug_offenders") == 175.0
    # cases resolved: 92 / 100 = 92% > 90%: met
    share = row(t22, "drug_cases_resolved_share")
    assert (share.value, share.target_value, share.met) == (92.0, 90.0, True)
    # transport reports verified: (10 + 6) / (10 + 6) = 100% >= 100%: met
    assert (row(t22, "trafficking_reports_verified_share").value,
            row(t22, "trafficking_reports_verified_share").met) == (100.0, True)
    # new hotspots: 842: 0 + 844: 0 + 845: 0 = 0 <= 0: met
    assert (t22.value("new_hotspots"), row(t22, "new_hotspots").met) == (0.0, True)
    # sessions: police 40 + border guard 10 + 842 (corrected) 12 + 844: 8 + 845: 5 = 75
    assert t22.value("propaganda_sessions") == 75.0
    # people reached: 5000 + 1000 + 2000 + 1500 + 700 = 10200
    assert t22.value("people_reached") == 10200.0
    assert t22.value("funds_allocated") == 1250.5 and t22.value("prevention_models") == 2.0
    assert t22.value("precursor_inspections") == 5.0 and t22.value("rehab_admissions") is None
    assert len(t22.units_reported) == 8 and len(t22.units_missing) == 121
    assert t22.late == ["district-845", "health"]
    await refused(t.submit("yearly-2022", t.district("846"), "district-846",
                           {"new_hotspots": 0, "propaganda_sessions": 1, "people_reached": 1}),
                  "round.consolidated")
    await refused(t.rounds.decide(TRA_VINH, "yearly-2022", t.police, "approve"),
                  "round.wrong_role")
    await t.rounds.decide(TRA_VINH, "yearly-2022", t.ubnd, "approve", "Đồng ý",
                          request_id=rid())
    await t.ended("yearly-2022")
    logged = await t.logged("yearly-2022")
    await refused_closed(t.submit("yearly-2022", t.district("846"), "district-846",
                                  {"new_hotspots": 0, "propaganda_sessions": 1,
                                   "people_reached": 1}))
    await refused_closed(t.rounds.send_back(TRA_VINH, "yearly-2022", t.police, "district-842",
                                            "muộn"))
    assert await t.logged("yearly-2022") == logged
    trail = [e.type for e in await t.events("yearly-2022")]
    assert trail[0] == "round.opened" and trail[-2:] == ["round.approved", "round.closed"]
    assert (await store.verify(f"round:{TRA_VINH}:yearly-2022")).ok

    # -- an ad hoc round (§VI.2 "hoặc đột xuất"), March 2023 ----------------------------------
    await t.at(date(2023, 3, 1))
    adhoc = Round(id="adhoc-2023-03", kind="adhoc", title_vi="Báo cáo đột xuất quý I/2023",
                  title_en="Ad hoc report, Q1 2023", year=2023, opens_on=date(2023, 3, 1),
                  due=date(2023, 3, 15), form="tv-adhoc", source="Công an tỉnh yêu cầu")
    await refused(t.rounds.open(t.plan, adhoc, t.district("842"), clock=t.clock),
                  "round.wrong_role")
    await t.rounds.open(t.plan, adhoc, t.police, clock=t.clock)
    situation = {"situation": "Tình hình cơ bản ổn định."}
    await t.submit("adhoc-2023-03", t.police, "police",
                   {"drug_crime_cases": 30, "drug_offenders": 36}, situation)
    await t.submit("adhoc-2023-03", t.department("border-guard"), "border-guard",
                   {"drug_crime_cases": 4, "drug_offenders": 5}, situation)
    await refused(t.submit("adhoc-2023-03", t.district("842"), "district-842",
                           {"new_hotspots": 0}, {**situation, **TV_SECTIONS}),
                  "report.unknown_section")  # the yearly form's sections
    await t.submit("adhoc-2023-03", t.district("842"), "district-842", {"new_hotspots": 0},
                   situation)
    await t.at(date(2023, 3, 17))
    await t.rounds.decide(TRA_VINH, "adhoc-2023-03", t.police, "consolidate", request_id=rid())
    ta = await t.rounds.table(TRA_VINH, "adhoc-2023-03")
    assert ta is not None
    # cases 30 + 4 = 34; offenders 36 + 5 = 41; new hotspots 0 <= 0: met
    assert (ta.value("drug_crime_cases"), ta.value("drug_offenders")) == (34.0, 41.0)
    assert row(ta, "new_hotspots").met is True
    assert len(ta.units_reported) == 3 and len(ta.units_missing) == 126
    assert (await t.rounds.definition(t.plan, "adhoc-2023-03")).form == "tv-adhoc"
    await t.rounds.decide(TRA_VINH, "adhoc-2023-03", t.ubnd, "approve", request_id=rid())
    await t.ended("adhoc-2023-03")

    # -- 2023, compared with 2022 ------------------------------------------------------------
    await t.at(date(2023, 10, 1))
    await t.rounds.open(t.plan, t.plan.round("yearly-2023"), t.police, clock=t.clock)
    await t.at(date(2023, 10, 10))
    for who, unit, values in (
            (t.police, "police", {
                "drug_crime_cases": 130, "drug_offenders": 160, "drug_cases_total": 100,
                "drug_cases_resolved": 90, "trafficking_reports": 8,
                "trafficking_reports_verified": 7, "hotspots_cleared": 4,
                "propaganda_sessions": 44, "people_reached": 5500}),
            (t.department("border-guard"), "border-guard", {
                "drug_crime_cases": 17, "drug_offenders": 20, "trafficking_reports": 4,
                "trafficking_reports_verified": 4, "propaganda_sessions": 9,
                "people_reached": 900}),
            (t.district("842"), "district-842",
             {"new_hotspots": 1, "propaganda_sessions": 10, "people_reached": 1800}),
            (t.commune("29236", "842"), "commune-29236", {"prevention_models": 3})):
        await t.submit("yearly-2023", who, unit, values)
    await t.at(date(2023, 11, 16))
    await t.rounds.decide(TRA_VINH, "yearly-2023", t.police, "consolidate", request_id=rid())
    t23 = await t.rounds.table(TRA_VINH, "yearly-2023")
    assert t23 is not None
    # cases: 130 + 17 = 147 against 140: (147 - 140) / 140 = 5% >= +5%: met (§I.2)
    cases = row(t23, "drug_crime_cases")
    assert (cases.value, cases.previous, cases.change_pct, cases.met) == (147.0, 140.0, 5.0,
                                                                          True)
    # resolved: 90 / 100 = 90%, not above 90%: not met
    share = row(t23, "drug_cases_resolved_share")
    assert (share.value, share.previous, share.met) == (90.0, 92.0, False)
    # verified: (7 + 4) / (8 + 4) = 11 / 12 = 91.67% < 100%: not met
    assert (row(t23, "trafficking_reports_verified_share").value,
            row(t23, "trafficking_reports_verified_share").met) == (91.67, False)
    # a new hotspot in Trà Vinh city: 1 > 0: not met
    assert (t23.value("new_hotspots"), row(t23, "new_hotspots").met) == (1.0, False)
    # sessions: 44 + 9 + 10 = 63 against 75: (63 - 75) / 75 = -16%
    sessions = row(t23, "propaganda_sessions")
    assert (sessions.value, sessions.previous, sessions.change_pct) == (63.0, 75.0, -16.0)
    await t.rounds.decide(TRA_VINH, "yearly-2023", t.ubnd, "approve", request_id=rid())
    await t.ended("yearly-2023")

    # the programme over its years so far: the path of each indicator, the units behind
    programme = await t.rounds.programme(t.plan)
    assert programme.years == [2022, 2023] and programme.latest_round == "yearly-2023"
    path = next(i for i in programme.indicators if i.id == "drug_crime_cases")
    assert [(p.year, p.value, p.met) for p in path.points] == [(2022, 140.0, None),
                                                               (2023, 147.0, True)]
    hotspots = next(i for i in programme.indicators if i.id == "new_hotspots")
    # Trà Vinh city had a new hotspot; the other 8 districts did not report in 2023
    assert "district-842" in hotspots.units_behind and len(hotspots.units_behind) == 9
    for rnd in ("yearly-2022", "adhoc-2023-03", "yearly-2023"):
        assert (await store.verify(f"round:{TRA_VINH}:{rnd}")).ok


async def _units(t: Plan) -> list[Any]:
    from domain.reporting import reporting_units

    return reporting_units(t.plan)


# -- Ninh Bình (002), 2026 --------------------------------------------------------------------

NB_COMMUNES = {  # commune -> (addicts, users, drug-free, has addicts, counselling point)
    "13285": (12, 5, False, 1, 1),
    "13291": (0, 2, True, 0, 0),
    "13318": (7, 0, False, 1, 0),
    "13324": (3, 1, False, 1, 1),  # reports late
}
NB_POLICE = {"use_venues_found": 20, "use_venues_dismantled": 20, "retail_dealers_found": 50,
             "retail_dealers_arrested": 48, "plant_area_found": 1500.5,
             "plant_area_destroyed": 1500.5, "sea_courier_cases": 12, "transnational_cases": 3,
             "cyber_cases": 9, "public_rehab_centres": 2, "public_rehab_centres_able": 2,
             "public_rehab_centres_compliant": 1}
NB_HEALTH = {"commune_health_stations": 129, "commune_health_stations_able": 105,
             "opioid_addicts": 400, "opioid_addicts_treated": 400,
             "support_target_people": 1000, "support_given": 905}


def nb_commune(code: str) -> dict[str, Any]:
    addicts, users, free, has, point = NB_COMMUNES[code]
    return {"addicts": addicts, "users": users, "drug_free": free,
            "communes_with_addicts": has, "communes_with_counselling_point": point}


async def test_ninh_binh_2026(temporal, worker, store) -> None:  # type: ignore[no-untyped-def]
    t = Plan(temporal, worker, store, NINH_BINH)
    await t.rehearse()
    rnd = "yearly-2026"
    await t.at(date(2026, 10, 1))
    await t.rounds.open(t.plan, t.plan.round(rnd), t.police, clock=t.clock)
    status = await t.rounds.status(NINH_BINH, rnd)
    assert len(status.units) == 143  # 14 departments, 129 communes and wards (2025 units)

    async def opened() -> bool:
        return await store.version(f"round:{NINH_BINH}:{rnd}") > 0

    await eventually(opened)
    await t.at(date(2026, 10, 10))
    before = await t.logged(rnd)
    c1 = t.commune("13285")
    await refused(t.submit(rnd, c1, "commune-13291", nb_commune("13291")), "round.wrong_unit")
    await refused(t.submit(rnd, t.department("health"), "police", NB_POLICE), "round.wrong_role")
    outsider = Actor(person_id="p-out", role="province_police", province_code="01",
                     unit="police")
    await refused(t.submit(rnd, outsider, "police", NB_POLICE), "round.wrong_jurisdiction")
    await refused(t.submit(rnd, c1, "commune-13285",
                           {**nb_commune("13285"), "communes_with_addicts": 2}),
                  "report.bad_value")  # a yes/no counted 0 or 1: 2 is above its bound
    await refused(t.submit(rnd, c1, "commune-13285", {**nb_commune("13285"), "drug_free": "có"}),
                  "report.bad_value")
    await refused(t.submit(rnd, c1, "commune-13285", {**nb_commune("13285"), "addicts": -3}),
                  "report.bad_value")
    await refused(t.submit(rnd, c1, "commune-13285",
                           {**nb_commune("13285"), "use_venues_found": 1}),
                  "report.unknown_indicator")
    await refused(t.submit(rnd, c1, "commune-13285",
                           {k: v for k, v in nb_commune("13285").items() if k != "users"}),
                  "report.missing_indicator")
    assert await t.logged(rnd) == before

    for code in ("13285", "13291", "13318"):
        await t.submit(rnd, t.commune(code), f"commune-{code}", nb_commune(code))
    await t.submit(rnd, t.police, "police", NB_POLICE)
    await t.submit(rnd, t.department("military-command"), "military-command",
                   {"border_guard_units": 5, "border_guard_units_equipped": 4,
                    "sea_courier_cases": 2})
    # the health department typed 1290 stations for 129: sent back, corrected
    await t.submit(rnd, t.department("health"), "health",
                   {**NB_HEALTH, "commune_health_stations": 1290})
    await t.at(date(2026, 10, 12))
    await refused(t.rounds.send_back(NINH_BINH, rnd, c1, "health", "sai"), "round.wrong_role")
    await t.rounds.send_back(NINH_BINH, rnd, t.police, "health",
                             "số trạm y tế cấp xã 1290 không đúng (toàn tỉnh có 129 xã, phường)",
                             request_id=rid())
    await t.at(date(2026, 10, 20))
    await t.submit(rnd, t.department("health"), "health", NB_HEALTH)
    await t.at(date(2026, 11, 17))
    assert (await t.submit(rnd, t.commune("13324"), "commune-13324", nb_commune("13324"))
            ).late is True

    events = await t.events(rnd)
    early = {"commune-13285", "commune-13291", "commune-13318", "police", "military-command",
             "health"}
    reminded = [e.payload for e in events if e.type == "unit_report.reminded"]
    # the 143 - 6 = 137 units owing at each of the reminders 7, 3 and 1 days before: 411
    assert len(reminded) == 3 * 137 and not early & {r["unit"] for r in reminded}
    missed = {e.payload["unit"]: e.payload["escalated_to"] for e in events
              if e.type == "unit_report.missed"}
    assert len(missed) == 137 and "commune-13324" in missed
    assert set(missed.values()) == {"province_police"}
    late = [e.payload for e in events if e.type == "unit_report.submitted" and e.payload["late"]]
    assert [x["unit"] for x in late] == ["commune-13324"]

    await t.rounds.decide(NINH_BINH, rnd, t.police, "consolidate", request_id=rid())
    tb = await t.rounds.table(NINH_BINH, rnd)
    assert tb is not None
    # addicts 12 + 0 + 7 + 3 = 22; users 5 + 2 + 0 + 1 = 8 (the first year: no change yet)
    assert (tb.value("addicts"), row(tb, "addicts").met) == (22.0, None)
    assert tb.value("users") == 8.0
    # drug-free: one of four communes only: not all; measured from 2030 only
    assert (tb.value("drug_free"), row(tb, "drug_free").met) == (False, None)
    # use venues 20 / 20 = 100%: met; retail dealers 48 / 50 = 96% < 100%: not met;
    # plant area 1500.5 / 1500.5 = 100%: met
    assert (tb.value("use_venues_dismantled_share"),
            row(tb, "use_venues_dismantled_share").met) == (100.0, True)
    assert (tb.value("retail_dealers_arrested_share"),
            row(tb, "retail_dealers_arrested_share").met) == (96.0, False)
    assert row(tb, "plant_area_destroyed_share").met is True
    # border guard units equipped 4 / 5 = 80%, not above 80%: not met
    assert (tb.value("border_guard_units_equipped_share"),
            row(tb, "border_guard_units_equipped_share").met) == (80.0, False)
    # health stations 105 / 129 = 81.395...% -> 81.4% > 80%: met (corrected report)
    assert (tb.value("commune_health_stations"),
            tb.value("commune_health_stations_able_share"),
            row(tb, "commune_health_stations_able_share").met) == (129.0, 81.4, True)
    # rehab centres able 2 / 2 = 100%: met; compliant 1 / 2 = 50%: not met
    assert row(tb, "public_rehab_centres_able_share").met is True
    assert (tb.value("public_rehab_centres_compliant_share"),
            row(tb, "public_rehab_centres_compliant_share").met) == (50.0, False)
    # communes with addicts 1 + 0 + 1 + 1 = 3, with a counselling point 1 + 0 + 0 + 1 = 2:
    # 2 / 3 = 66.67%, not above 70%: not met
    assert (tb.value("communes_with_addicts"), tb.value("counselling_point_share"),
            row(tb, "counselling_point_share").met) == (3.0, 66.67, False)
    # opioid treatment 400 / 400 = 100%: met; support 905 / 1000 = 90.5% > 90%: met
    assert row(tb, "opioid_addicts_treated_share").met is True
    assert (tb.value("support_share"), row(tb, "support_share").met) == (90.5, True)
    # the year-on-year rises need a previous year; media and schools were not reported
    assert row(tb, "cyber_cases").met is None and tb.value("cyber_cases") == 9.0
    assert tb.value("sea_courier_cases") == 14.0  # police 12 + military command 2
    assert tb.value("schools_with_drug_education_share") is None
    assert len(tb.units_reported) == 7 and tb.late == ["commune-13324"]
    assert len(tb.units_missing) == 136
    await refused(t.rounds.decide(NINH_BINH, rnd, t.police, "approve"), "round.wrong_role")
    await t.rounds.decide(NINH_BINH, rnd, t.ubnd, "approve", "Đồng ý", request_id=rid())
    await t.ended(rnd)
    logged = await t.logged(rnd)
    await refused_closed(t.submit(rnd, t.commune("13336"), "commune-13336", {
        "addicts": 0, "users": 0, "drug_free": True, "communes_with_addicts": 0,
        "communes_with_counselling_point": 0}))
    await refused_closed(t.rounds.decide(NINH_BINH, rnd, t.ubnd, "approve"))
    assert await t.logged(rnd) == logged
    assert (await store.verify(f"round:{NINH_BINH}:{rnd}")).ok
