"""Reporting plans (domain.reporting) on the shipped plans: a unit's report against its form
(each refusal names the indicator or section) and the province's consolidation, checked
against numbers computed by hand from the seeded reports below."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

import catalog
from domain.errors import InputError
from domain.reporting import (
    Consolidation,
    Form,
    Indicator,
    ReportingPlan,
    ReportingUnit,
    Value,
    consolidate,
    reporting_units,
    reports,
    validate_report,
)

TV = "tra-vinh-project-2-2022-2025"
SL = "son-la-action-month-2023"
NB = "ninh-binh-programme-2030"
SECTIONS = {"results": "Đã triển khai.", "shortcomings": "Còn hạn chế."}


def _unit(plan: ReportingPlan, unit_id: str) -> ReportingUnit:
    (unit,) = [u for u in reporting_units(plan) if u.id == unit_id]
    return unit


def _zeros(form: Form, unit: ReportingUnit) -> dict[str, Any]:
    """Every figure ``unit`` reports in ``form``, as 0 (false for a yes/no)."""
    return {i.id: (False if i.type == "boolean" else 0)
            for i in form.indicators if reports(i, unit)}


def _submit(plan: ReportingPlan, round_id: str, units: list[ReportingUnit],
            seeded: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Value]]:
    """Each unit's report: zeros, then its seeded numbers, through ``validate_report``."""
    form = plan.form(plan.round(round_id).form)
    return {u.id: validate_report(form, u, {**_zeros(form, u), **seeded.get(u.id, {})},
                                  SECTIONS) for u in units}


def _row(c: Consolidation, indicator_id: str) -> Any:
    (row,) = [r for r in c.indicators if r.id == indicator_id]
    return row


# -- one unit's report ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def tv() -> ReportingPlan:
    return catalog.reporting_plan(TV)


def _refusal(form: Form, unit: ReportingUnit, values: Mapping[str, Any],
             sections: Mapping[str, str] = SECTIONS) -> InputError:
    with pytest.raises(InputError) as exc:
        validate_report(form, unit, values, sections)
    return exc.value


def test_a_police_report_is_typed(tv: ReportingPlan) -> None:
    form, police = tv.form("tv-yearly"), _unit(tv, "police")
    values = {**_zeros(form, police), "drug_crime_cases": 110, "drug_offenders": 3.0}
    typed = validate_report(form, police, values, SECTIONS)
    assert typed["drug_crime_cases"] == 110 and type(typed["drug_offenders"]) is int
    # the police does not report what only the communes, districts or finance report
    assert not {"prevention_models", "new_hotspots", "funds_allocated"} & set(typed)


@pytest.mark.parametrize(("bad", "code", "named"), [
    ({"drug_crime_cases": "12"}, "report.bad_value", "drug_crime_cases"),
    ({"drug_crime_cases": True}, "report.bad_value", "drug_crime_cases"),
    ({"drug_crime_cases": 2.5}, "report.bad_value", "drug_crime_cases"),
    ({"drug_crime_cases": -1}, "report.bad_value", "drug_crime_cases"),
    ({"drug_crime_cases": None}, "report.bad_value", "drug_crime_cases"),
    ({"hotspots_cleared": float("nan")}, "report.bad_value", "hotspots_cleared"),
    ({"seized_kg": 3}, "report.unknown_indicator", "seized_kg"),
    ({"prevention_models": 1}, "report.unknown_indicator", "prevention_models"),
])
def test_refusals_name_the_indicator(tv: ReportingPlan, bad: dict[str, Any], code: str,
                                     named: str) -> None:
    form, police = tv.form("tv-yearly"), _unit(tv, "police")
    err = _refusal(form, police, {**_zeros(form, police), **bad})
    assert err.code == code
    assert named in err.message and named in err.text("vi")


def test_a_missing_indicator_is_named(tv: ReportingPlan) -> None:
    form, police = tv.form("tv-yearly"), _unit(tv, "police")
    values = _zeros(form, police)
    del values["drug_offenders"]
    err = _refusal(form, police, values)
    assert err.code == "report.missing_indicator" and "drug_offenders" in err.message
    assert "thiếu chỉ tiêu drug_offenders" in err.text("vi")


def test_a_number_is_refused_for_a_yes_no(tv: ReportingPlan) -> None:
    sl = catalog.reporting_plan(SL)
    form, district = sl.form("sl-action-month"), _unit(sl, "district-116")
    err = _refusal(form, district, {**_zeros(form, district), "instructions_issued": 1})
    assert err.code == "report.bad_value" and "instructions_issued" in err.message


def test_a_flag_above_its_bound_and_a_percent_above_100_are_refused() -> None:
    nb = catalog.reporting_plan(NB)
    form = nb.form("nb-yearly")
    commune = reporting_units(nb)[-1]
    err = _refusal(form, commune, {**_zeros(form, commune), "communes_with_addicts": 2})
    assert err.code == "report.bad_value" and "communes_with_addicts" in err.message
    assert "vượt quá 1" in err.text("vi")
    # no shipped form asks a unit to type a percent in (shares are computed): a form that does
    pct = Form(id="pct", title_vi="t", title_en="t", source="test data",
               indicators=[Indicator(id="coverage", name_vi="Tỷ lệ bao phủ", name_en="Coverage",
                                     type="percent", aggregate="none", source="test data")])
    err = _refusal(pct, commune, {"coverage": 100.5}, {})
    assert err.code == "report.bad_value" and "coverage" in err.message
    assert validate_report(pct, commune, {"coverage": 100}, {}) == {"coverage": 100.0}


def test_sections_are_checked(tv: ReportingPlan) -> None:
    form, police = tv.form("tv-yearly"), _unit(tv, "police")
    values = _zeros(form, police)
    err = _refusal(form, police, values, {"results": "Đã triển khai.", "shortcomings": "  "})
    assert err.code == "report.missing_section" and "shortcomings" in err.message
    err = _refusal(form, police, values, {"shortcomings": "x"})
    assert err.code == "report.missing_section" and "results" in err.message
    err = _refusal(form, police, values, {**SECTIONS, "annex": "x"})
    assert err.code == "report.unknown_section" and "annex" in err.message
    # proposals and the final review are optional
    assert validate_report(form, police, values, SECTIONS) == values


# -- the province's consolidation: Trà Vinh 2022 -> 2023 -----------------------------------------

TV_2022 = {
    "police": {"drug_crime_cases": 100, "drug_offenders": 140, "drug_cases_total": 70,
               "drug_cases_resolved": 60, "trafficking_reports": 10,
               "trafficking_reports_verified": 10, "hotspots_cleared": 4,
               "propaganda_sessions": 30, "people_reached": 3000},
    "border-guard": {"drug_crime_cases": 20, "drug_offenders": 25, "trafficking_reports": 5,
                     "trafficking_reports_verified": 5},
}
TV_2023 = {
    "police": {"drug_crime_cases": 110, "drug_offenders": 150, "drug_cases_total": 80,
               "drug_cases_resolved": 73, "trafficking_reports": 12,
               "trafficking_reports_verified": 12, "hotspots_cleared": 5,
               "propaganda_sessions": 40, "people_reached": 4200},
    "border-guard": {"drug_crime_cases": 17, "drug_offenders": 21, "trafficking_reports": 3,
                     "trafficking_reports_verified": 2, "propaganda_sessions": 6,
                     "people_reached": 500},
    "information": {"propaganda_sessions": 12, "people_reached": 15000},
    "agriculture": {"propaganda_sessions": 3, "people_reached": 210,
                    "drug_plant_area_destroyed": 35.5},
    "finance": {"funds_allocated": 1250.5},
    "district-842": {"propaganda_sessions": 25, "people_reached": 2500, "new_hotspots": 0},
    "district-844": {"propaganda_sessions": 18, "people_reached": 1900, "new_hotspots": 1},
    "district-851": {"propaganda_sessions": 7, "people_reached": 640},
}


def tra_vinh_2023() -> tuple[Consolidation, Consolidation]:
    """2022 (every department and district) and 2023 (the same, and two communes)."""
    plan = catalog.reporting_plan(TV)
    units = reporting_units(plan)
    communes = [u for u in units if u.kind == "commune"]
    first = [u for u in units if u.kind in ("department", "district")]
    c2022 = consolidate(plan, plan.round("yearly-2022"), units,
                        _submit(plan, "yearly-2022", first, TV_2022), late=[])
    seeded = {**TV_2023, communes[0].id: {"prevention_models": 2},
              communes[1].id: {"prevention_models": 1}}
    submitted = _submit(plan, "yearly-2023", [*first, *communes[:2]], seeded)
    c2023 = consolidate(plan, plan.round("yearly-2023"), units, submitted,
                        late=["district-851", "labour", communes[5].id], previous=c2022)
    return c2022, c2023


def test_tra_vinh_consolidation_matches_hand_computed_numbers() -> None:
    c2022, c = tra_vinh_2023()
    # 2022: 100 + 20 cases; 60 of 70 cases resolved = 85.714.. %; 15 of 15 reports verified
    assert c2022.value("drug_crime_cases") == 120.0
    assert c2022.value("drug_cases_resolved_share") == 85.71
    assert _row(c2022, "drug_cases_resolved_share").met is False  # not above 90
    assert c2022.value("trafficking_reports_verified_share") == 100.0
    assert _row(c2022, "trafficking_reports_verified_share").met is True
    assert _row(c2022, "drug_crime_cases").met is None  # no earlier year to compare with

    # units: 16 departments + 9 districts + 2 of 104 communes reported = 27 of 129
    assert c.units_expected == 129 and len(c.units_reported) == 27
    assert len(c.units_missing) == 102
    assert c.late == ["district-851", "labour"]  # a commune that did not report is not late

    cases = _row(c, "drug_crime_cases")
    # 110 + 17 = 127; (127 - 120) / 120 = 5.833.. % >= 5 %: met
    assert (cases.value, cases.previous, cases.change_pct) == (127.0, 120.0, 5.83)
    assert (cases.target_kind, cases.target_value, cases.met) == ("change_at_least", 5.0, True)
    assert (cases.reported_by, cases.expected) == (2, 2)
    offenders = _row(c, "drug_offenders")
    # 150 + 21 = 171; (171 - 165) / 165 = 3.636.. %; no target
    assert (offenders.value, offenders.change_pct, offenders.met) == (171.0, 3.64, None)
    resolved = _row(c, "drug_cases_resolved_share")
    # 73 / 80 = 91.25 % > 90 %: met
    assert (resolved.value, resolved.target_value, resolved.target_strict) == (91.25, 90.0, True)
    assert resolved.met is True
    verified = _row(c, "trafficking_reports_verified_share")
    # (12 + 2) / (12 + 3) = 14 / 15 = 93.33 % < 100 %: not met
    assert (verified.value, verified.met) == (93.33, False)
    hotspots = _row(c, "new_hotspots")
    # districts: 0 + 1 + 0 x 7 = 1 > 0: not met; reported by all 9 districts
    assert (hotspots.value, hotspots.met, hotspots.reported_by, hotspots.expected) == (
        1.0, False, 9, 9)
    sessions = _row(c, "propaganda_sessions")
    # 40 + 6 + 12 + 3 + 25 + 18 + 7 = 111, from the 12 departments named and the 9 districts
    assert (sessions.value, sessions.reported_by, sessions.expected) == (111.0, 21, 21)
    # 4200 + 500 + 15000 + 210 + 2500 + 1900 + 640 = 24950
    assert c.value("people_reached") == 24950.0
    models = _row(c, "prevention_models")
    # 2 + 1 from the two communes that reported, of 104
    assert (models.value, models.reported_by, models.expected) == (3.0, 2, 104)
    assert c.value("drug_plant_area_destroyed") == 35.5
    assert c.value("funds_allocated") == 1250.5
    assert c.value("precursor_inspections") == 0.0


# -- Ninh Bình: a programme year on year (strict targets, a goal from 2030) ------------------------

def _nb_seed(year: int) -> dict[str, dict[str, Any]]:
    plan = catalog.reporting_plan(NB)
    c1, c2, c3 = [u.id for u in reporting_units(plan) if u.kind == "commune"][:3]
    addicts = {2026: (10, 0, 6), 2027: (8, 0, 6), 2030: (0, 0, 0)}[year]
    users = {2026: (4, 0, 3), 2027: (4, 0, 3), 2030: (0, 0, 0)}[year]
    free = year == 2030
    return {
        c1: {"addicts": addicts[0], "users": users[0], "drug_free": free,
             "communes_with_addicts": int(not free), "communes_with_counselling_point": 1},
        c2: {"addicts": addicts[1], "users": users[1], "drug_free": True},
        c3: {"addicts": addicts[2], "users": users[2], "drug_free": free,
             "communes_with_addicts": int(not free)},
        "police": {"sea_courier_cases": {2026: 20, 2027: 21, 2030: 30}[year],
                   "transnational_cases": 4, "cyber_cases": {2026: 10, 2027: 11, 2030: 12}[year]},
        "military-command": {"sea_courier_cases": 5},
        "health": {"commune_health_stations": 129,
                   "commune_health_stations_able": {2026: 104, 2027: 103, 2030: 120}[year]},
    }


def _nb(year: int, previous: Consolidation | None) -> Consolidation:
    plan = catalog.reporting_plan(NB)
    units = reporting_units(plan)
    seeded = _nb_seed(year)
    reporting = [u for u in units if u.kind == "department" or u.id in seeded]
    rid = f"yearly-{year}"
    return consolidate(plan, plan.round(rid), units, _submit(plan, rid, reporting, seeded),
                       late=[], previous=previous)


def test_ninh_binh_programme_matches_hand_computed_numbers() -> None:
    y26 = _nb(2026, None)
    # addicts 10 + 0 + 6 = 16, users 4 + 0 + 3 = 7: the first year has nothing to fall from
    assert (y26.value("addicts"), _row(y26, "addicts").met) == (16.0, None)
    # one commune not drug-free: the province is not; the goal is for 2030 only
    assert (y26.value("drug_free"), _row(y26, "drug_free").met) == (False, None)
    # communes with addicts: 1 + 0 + 1 = 2; of them with a counselling point: 1 (the first);
    # 1 / 2 = 50 %, not above 70 %
    assert (y26.value("counselling_point_share"), _row(y26, "counselling_point_share").met) == (
        50.0, False)
    # 104 / 129 = 80.62 % > 80 %: met
    assert (y26.value("commune_health_stations_able_share"),
            _row(y26, "commune_health_stations_able_share").met) == (80.62, True)
    # nothing to divide by: no share, not measured
    assert (y26.value("legal_aid_share"), _row(y26, "legal_aid_share").met) == (None, None)
    # sea route and courier: police 20 + border guard (military command) 5 = 25
    assert y26.value("sea_courier_cases") == 25.0

    y27 = _nb(2027, y26)
    addicts = _row(y27, "addicts")
    # 8 + 0 + 6 = 14; (14 - 16) / 16 = -12.5 %: a fall, met
    assert (addicts.value, addicts.change_pct, addicts.met) == (14.0, -12.5, True)
    users = _row(y27, "users")
    # 7 again: 0 % is not a fall ("giảm"), not met
    assert (users.value, users.change_pct, users.met) == (7.0, 0.0, False)
    sea = _row(y27, "sea_courier_cases")
    # 21 + 5 = 26; (26 - 25) / 25 = 4 % > 3 %: met
    assert (sea.value, sea.change_pct, sea.met) == (26.0, 4.0, True)
    # 4 -> 4: 0 %, not above 3 %; 10 -> 11: 10 % > 5 %
    assert (_row(y27, "transnational_cases").change_pct, _row(y27, "transnational_cases").met) == (
        0.0, False)
    assert (_row(y27, "cyber_cases").change_pct, _row(y27, "cyber_cases").met) == (10.0, True)
    # 103 / 129 = 79.84 %: not above 80 %
    assert (y27.value("commune_health_stations_able_share"),
            _row(y27, "commune_health_stations_able_share").met) == (79.84, False)

    y30 = _nb(2030, None)
    # every reporting commune drug-free in 2030: the goal is measured, and met
    assert (y30.value("drug_free"), _row(y30, "drug_free").met) == (True, True)
    # no commune has addicts: the counselling share has no denominator
    assert y30.value("counselling_point_share") is None


def test_son_la_action_month_consolidates() -> None:
    plan = catalog.reporting_plan(SL)
    units = reporting_units(plan)
    seeded: dict[str, dict[str, Any]] = {u.id: {"instructions_issued": True} for u in units}
    seeded["district-128"]["instructions_issued"] = False
    seeded["police"].update(drug_cases=31, drug_offenders=44, propaganda_sessions=20,
                            people_reached=5000, contest_entries=800)
    seeded["border-guard"].update(drug_cases=9, drug_offenders=12, propaganda_sessions=15,
                                  people_reached=1200)
    seeded["district-116"].update(propaganda_sessions=30, people_reached=6000, banners=40,
                                  users_detected=14, addicts_detected=5)
    seeded["culture"].update(banners=60)
    submitted = _submit(plan, "action-month-2023", [u for u in units if u.id != "newspaper"],
                        seeded)
    c = consolidate(plan, plan.round("action-month-2023"), units, submitted, late=["police"])
    # 13 departments + 12 districts, one missing (the newspaper); the police was late
    assert (c.units_expected, len(c.units_reported), c.units_missing, c.late) == (
        25, 24, ["newspaper"], ["police"])
    # one district had not issued its instructions in May: the province's answer is no
    assert c.value("instructions_issued") is False
    assert c.value("drug_cases") == 40.0  # 31 + 9
    assert c.value("drug_offenders") == 56.0  # 44 + 12
    assert c.value("propaganda_sessions") == 65.0  # 20 + 15 + 30
    assert c.value("people_reached") == 12200.0  # 5000 + 1200 + 6000
    assert c.value("banners") == 100.0  # culture 60 + district 116's 40
    assert _row(c, "banners").expected == 13  # culture and the 12 districts
    assert c.value("users_detected") == 14.0 and c.value("addicts_detected") == 5.0
    assert all(r.met is None for r in c.indicators)  # the decision sets no numeric target
