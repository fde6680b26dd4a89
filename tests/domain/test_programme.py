"""A programme's indicators over the years (domain/programme.py), on hand-made tables."""

from __future__ import annotations

from typing import Any

from domain.programme import programme_status, unit_value
from domain.reporting import ReportingPlan, consolidate, reporting_units
from tests.workflows.test_reporting_round import plan_doc


def plan() -> ReportingPlan:
    return ReportingPlan.model_validate(plan_doc("programme-test"))


def test_paths_over_two_years_and_the_units_behind() -> None:
    p = plan()
    units = reporting_units(p)
    reports: dict[str, dict[str, dict[str, Any]]] = {
        # 2023: police resolves 150 of 200 (75%)
        "2023": {"police": {"sessions": 4, "cases_detected": 200, "cases_resolved": 150}},
        # 2024: 212 detected (+6%), 200 resolved (94.34%); district 116 reports, 118 not
        "2024": {"police": {"sessions": 5, "cases_detected": 212, "cases_resolved": 200},
                 "district-116": {"sessions": 2, "no_new_hotspots": True}},
    }
    t23 = consolidate(p, p.round("2023"), units, reports["2023"], [])
    t24 = consolidate(p, p.round("2024"), units, reports["2024"], [], previous=t23)
    st = programme_status(p, {"2023": t23, "2024": t24}, reports)
    assert st.years == [2023, 2024] and st.latest_round == "2024"
    share = next(i for i in st.indicators if i.id == "resolved_share")
    assert [(x.year, x.value, x.met) for x in share.points] == [
        (2023, 75.0, False), (2024, 94.34, True)]
    detected = next(i for i in st.indicators if i.id == "cases_detected")
    assert [(x.year, x.change_pct, x.met) for x in detected.points] == [
        (2023, None, None), (2024, 6.0, True)]
    # the police's own share (94.34%) meets the 90% target: nobody behind on it
    assert share.units_behind == []
    assert "district-118" in st.not_reported and "police" not in st.not_reported


def test_a_units_own_share() -> None:
    p = plan()
    share = p.form("yearly").indicator("resolved_share")
    assert unit_value(share, {"cases_detected": 40, "cases_resolved": 30}) == 75.0
    assert unit_value(share, {"cases_detected": 0, "cases_resolved": 0}) is None
