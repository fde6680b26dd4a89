"""Recognition criteria: 001_bb5719cd39510399.txt §III.3 (Trà Vinh) and 003_6ef7dbea58ef7382.txt
§II (Như Xuân, Thanh Hóa). Each criterion met, not met, and not met for missing data."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from catalog import criteria_set_ids, get_criteria_set
from domain.criteria import (
    CriteriaReport,
    CriteriaSet,
    CriterionResult,
    evaluate,
)
from domain.errors import InputError
from domain.metrics import FIELD_KINDS, Metrics, parse_metrics

TV = "tra-vinh-2025"
TH = "thanh-hoa-2024"

# A commune that meets every criterion of both sets.
GOOD: dict[str, Any] = {
    "population": 5000,
    "on_trafficking_route": False,
    "addicts_total": 8,
    "addicts_with_records": 8,
    "addicts_in_treatment": 8,
    "addicts_in_community": 8,
    "addicts_negative_test_30d": 8,
    "users_total": 3,
    "users_with_records": 3,
    "users_negative_test_30d": 3,
    "psychosis_cases": 0,
    "suspects_total": 4,
    "suspects_tested": 4,
    "post_rehab_total": 5,
    "post_rehab_with_records": 5,
    "post_rehab_tested": 5,
    "baseline_addicts": 10,
    "baseline_users": 5,
    "hotspots": 0,
    "drug_rings": 0,
    "risk_points": 0,
    "drug_plants": 0,
    "drug_plant_area_m2": 0,
    "illicit_production_cases": 0,
    "drug_offenders": 0,
    "drug_crimes_by_residents": 0,
    "violators_detected": 2,
    "violators_handled": 2,
    "resident_offenders": 1,
    "resident_offenders_arrested": 1,
    "wanted_in_area": 1,
    "wanted_arrested": 1,
    "serious_incidents_by_users": 0,
    "relapse_crimes": 0,
    "households_total": 1200,
    "households_committed": 1200,
    "hamlets_total": 6,
    "hamlets_with_hotline_board": 6,
    "prevention_models": 1,
}


def commune(**changes: Any) -> Metrics:
    return parse_metrics({**GOOD, **changes})


def failing(report: CriteriaReport) -> list[int]:
    return [r.id for r in report.results if not r.met]


def result(report: CriteriaReport, criterion_id: int) -> CriterionResult:
    return next(r for r in report.results if r.id == criterion_id)


# --- the sets as shipped -------------------------------------------------------------------


def test_shipped_sets() -> None:
    assert set(criteria_set_ids()) == {TV, TH}
    assert [c.id for c in get_criteria_set(TV).criteria] == list(range(1, 9))
    assert [c.id for c in get_criteria_set(TH).criteria] == list(range(1, 11))


@pytest.mark.parametrize(
    ("set_id", "source"),
    [(TV, "001_bb5719cd39510399.txt §III.3"), (TH, "003_6ef7dbea58ef7382.txt §II")],
)
def test_every_criterion_cites_its_source_and_has_two_titles(set_id: str, source: str) -> None:
    for c in get_criteria_set(set_id).criteria:
        assert c.source == f"{source}, bullet {c.id}"
        assert c.title_vi and c.title_en
        assert c.needs


def test_tra_vinh_criterion_4_needs_the_baseline() -> None:
    needs = set(get_criteria_set(TV).criteria[3].needs)
    assert {"baseline_addicts", "baseline_users", "addicts_total", "users_total"} == needs


@pytest.mark.parametrize("set_id", [TV, TH])
def test_a_commune_meeting_everything(set_id: str) -> None:
    report = evaluate(commune(), get_criteria_set(set_id))
    assert report.criteria_set == set_id
    assert report.met is True
    assert failing(report) == []
    assert all(r.reason_vi and r.reason_en for r in report.results)


def test_unknown_criteria_set() -> None:
    with pytest.raises(InputError) as caught:
        get_criteria_set("ha-giang-2030")
    assert caught.value.code == "criteria.unknown"
    assert "ha-giang-2030" in caught.value.message
    assert TV in caught.value.message and TH in caught.value.message


# --- each criterion not met ----------------------------------------------------------------

TRA_VINH_BREAKS: list[tuple[int, dict[str, Any]]] = [
    (1, {"hotspots": 1}),
    (1, {"drug_rings": 1}),
    (1, {"drug_crimes_by_residents": 1}),
    (2, {"addicts_with_records": 7}),
    (2, {"addicts_in_treatment": 7}),
    (2, {"users_with_records": 2}),
    (2, {"post_rehab_with_records": 4}),
    (2, {"post_rehab_tested": 4}),
    (3, {"households_committed": 1199}),
    (3, {"hamlets_with_hotline_board": 5}),
    (3, {"households_total": 0, "households_committed": 0}),
    (3, {"hamlets_total": 0, "hamlets_with_hotline_board": 0}),
    (4, {"baseline_addicts": 5}),  # 8 + 3 = 11 now > 5 + 5 = 10 at entry
    (4, {"baseline_users": 0, "baseline_addicts": 10}),
    (5, {"relapse_crimes": 1}),
    (6, {"serious_incidents_by_users": 1}),
    (7, {"suspects_tested": 3}),
    (8, {"prevention_models": 0}),
]

THANH_HOA_BREAKS: list[tuple[int, dict[str, Any]]] = [
    (1, {"addicts_with_records": 7}),
    (1, {"addicts_in_treatment": 7}),
    (1, {"addicts_negative_test_30d": 7}),
    # "dưới 10 người nghiện ngoài cộng đồng": 10 in the community is too many.
    (
        1,
        {
            f: 10
            for f in (
                "addicts_total",
                "addicts_with_records",
                "addicts_in_treatment",
                "addicts_in_community",
                "addicts_negative_test_30d",
            )
        },
    ),
    (2, {"users_with_records": 2}),
    (2, {"users_negative_test_30d": 2}),
    (3, {"suspects_tested": 0}),
    (4, {"baseline_addicts": 5}),
    (5, {"post_rehab_with_records": 4}),
    (5, {"post_rehab_tested": 0}),
    (6, {"hotspots": 1}),
    (6, {"risk_points": 1}),
    (6, {"drug_rings": 1}),
    (6, {"drug_plants": 1}),
    (6, {"drug_plant_area_m2": 0.5}),
    (6, {"illicit_production_cases": 1}),
    (7, {"violators_handled": 1}),
    (7, {"resident_offenders_arrested": 0}),
    (7, {"wanted_arrested": 0}),
    (8, {"serious_incidents_by_users": 1}),
    (9, {"households_committed": 1199}),
    (9, {"households_total": 0, "households_committed": 0}),
    (10, {"prevention_models": 0}),
]


@pytest.mark.parametrize(("criterion_id", "change"), TRA_VINH_BREAKS)
def test_tra_vinh_criterion_not_met(criterion_id: int, change: dict[str, Any]) -> None:
    report = evaluate(commune(**change), get_criteria_set(TV))
    assert failing(report) == [criterion_id]
    assert report.met is False
    r = result(report, criterion_id)
    assert r.reason_vi and r.reason_en
    assert "thiếu dữ liệu" not in r.reason_vi


@pytest.mark.parametrize(("criterion_id", "change"), THANH_HOA_BREAKS)
def test_thanh_hoa_criterion_not_met(criterion_id: int, change: dict[str, Any]) -> None:
    report = evaluate(commune(**change), get_criteria_set(TH))
    assert failing(report) == [criterion_id]
    assert report.met is False


@pytest.mark.parametrize("set_id", [TV, TH])
def test_every_criterion_has_a_way_to_fail(set_id: str) -> None:
    breaks = TRA_VINH_BREAKS if set_id == TV else THANH_HOA_BREAKS
    assert {cid for cid, _ in breaks} == {c.id for c in get_criteria_set(set_id).criteria}


# --- thresholds and wording ----------------------------------------------------------------


def test_thanh_hoa_nine_addicts_in_the_community_is_fewer_than_ten() -> None:
    nine = {
        f: 9
        for f in (
            "addicts_total",
            "addicts_with_records",
            "addicts_in_treatment",
            "addicts_in_community",
            "addicts_negative_test_30d",
        )
    }
    report = evaluate(commune(**nine), get_criteria_set(TH))
    assert report.met
    ten = {
        **nine,
        "addicts_total": 12,
        "addicts_with_records": 12,
        "addicts_in_treatment": 12,
        "addicts_negative_test_30d": 12,
        "addicts_in_community": 10,
    }
    r = result(evaluate(commune(**ten), get_criteria_set(TH)), 1)
    assert not r.met
    assert r.reason_vi == "có 10 người nghiện ngoài cộng đồng (yêu cầu dưới 10)"
    assert r.reason_en == "addicts living in the community: 10 (fewer than 10 required)"


def test_thanh_hoa_more_addicts_in_treatment_facilities_is_fine() -> None:
    # 30 addicts, all recorded, treated and tested, only 9 living in the community.
    many = {
        "addicts_total": 30,
        "addicts_with_records": 30,
        "addicts_in_treatment": 30,
        "addicts_negative_test_30d": 30,
        "addicts_in_community": 9,
        "baseline_addicts": 40,
    }
    assert evaluate(commune(**many), get_criteria_set(TH)).met


@pytest.mark.parametrize("set_id", [TV, TH])
def test_baseline_equal_is_met_and_one_more_is_not(set_id: str) -> None:
    # now 8 + 3 = 11
    at = evaluate(commune(baseline_addicts=6, baseline_users=5), get_criteria_set(set_id))
    assert result(at, 4).met
    over = evaluate(commune(baseline_addicts=6, baseline_users=4), get_criteria_set(set_id))
    r = result(over, 4)
    assert not r.met
    assert "hiện nay 11" in r.reason_vi and "khi đưa vào xây dựng 10" in r.reason_vi
    assert (
        r.reason_en == "addicts plus illicit users: now 11, at programme entry 10 (must not exceed)"
    )


def test_partial_coverage_reason_shows_the_fraction() -> None:
    r = result(evaluate(commune(addicts_with_records=7), get_criteria_set(TV)), 2)
    assert r.reason_vi == "7/8 người nghiện có hồ sơ quản lý (yêu cầu 100%)"
    assert r.reason_en == "addicts with a management record: 7/8 (100% required)"


def test_no_addicts_means_every_addict_criterion_is_met() -> None:
    none = {
        f: 0
        for f in (
            "addicts_total",
            "addicts_with_records",
            "addicts_in_treatment",
            "addicts_in_community",
            "addicts_negative_test_30d",
        )
    }
    assert evaluate(commune(**none), get_criteria_set(TV)).met
    assert evaluate(commune(**none), get_criteria_set(TH)).met


def test_zero_households_cannot_be_100_percent_committed() -> None:
    metrics = commune(households_total=0, households_committed=0)
    r = result(evaluate(metrics, get_criteria_set(TV)), 3)
    assert not r.met
    assert "hộ gia đình" in r.reason_vi


def test_met_reasons_say_what_was_checked() -> None:
    r = result(evaluate(commune(), get_criteria_set(TV)), 1)
    assert r.reason_vi == (
        "không có tụ điểm, điểm phức tạp về ma túy; không có ổ nhóm, đường dây tội phạm về ma "
        "túy; không có vụ phạm tội về ma túy do người cư trú trên địa bàn gây ra"
    )
    r8 = result(evaluate(commune(prevention_models=0), get_criteria_set(TV)), 8)
    assert r8.reason_en == "drug-prevention models maintained: 0 (at least 1 required)"


def test_not_met_reasons_show_only_what_failed() -> None:
    r = result(evaluate(commune(hotspots=2), get_criteria_set(TH)), 6)
    assert r.reason_vi == "có 2 tụ điểm, điểm phức tạp về ma túy (yêu cầu không có)"
    assert r.reason_en == "drug hotspots: 2 (must be none)"


def test_more_prevention_models_is_fine() -> None:
    assert evaluate(commune(prevention_models=3), get_criteria_set(TV)).met


# --- missing data: never assumed met -------------------------------------------------------


@pytest.mark.parametrize("set_id", [TV, TH])
@pytest.mark.parametrize("field", sorted(GOOD))
def test_a_missing_field_fails_exactly_the_criteria_that_need_it(set_id: str, field: str) -> None:
    data = {k: v for k, v in GOOD.items() if k != field}
    report = evaluate(parse_metrics(data), get_criteria_set(set_id))
    needing = [c.id for c in get_criteria_set(set_id).criteria if field in c.needs]
    assert failing(report) == needing
    for cid in needing:
        r = result(report, cid)
        assert r.reason_vi.startswith("thiếu dữ liệu: ") and field in r.reason_vi
        assert r.reason_en.startswith("missing data: ") and field in r.reason_en


def test_missing_data_reason_lists_every_missing_field() -> None:
    report = evaluate(parse_metrics({}), get_criteria_set(TV))
    assert not report.met
    assert all(not r.met for r in report.results)
    assert result(report, 7).reason_vi == "thiếu dữ liệu: suspects_total, suspects_tested"
    assert result(report, 7).reason_en == "missing data: suspects_total, suspects_tested"
    assert result(report, 4).reason_en == (
        "missing data: addicts_total, users_total, baseline_addicts, baseline_users"
    )


def test_missing_baseline_fails_tra_vinh_criterion_4() -> None:
    data = {k: v for k, v in GOOD.items() if k != "baseline_users"}
    r = result(evaluate(parse_metrics(data), get_criteria_set(TV)), 4)
    assert not r.met
    assert r.reason_vi == "thiếu dữ liệu: baseline_users"


def test_thanh_hoa_criterion_2_needs_psychosis_cases_reported() -> None:
    data = {k: v for k, v in GOOD.items() if k != "psychosis_cases"}
    r = result(evaluate(parse_metrics(data), get_criteria_set(TH)), 2)
    assert (r.met, r.reason_en) == (False, "missing data: psychosis_cases")
    assert result(evaluate(commune(psychosis_cases=2), get_criteria_set(TH)), 2).met


# --- criteria sets as data -----------------------------------------------------------------


@pytest.mark.parametrize("set_id", [TV, TH])
def test_criteria_sets_round_trip_through_json(set_id: str) -> None:
    cs = get_criteria_set(set_id)
    assert CriteriaSet.model_validate_json(cs.model_dump_json()) == cs


def _one_criterion(**criterion: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": 1,
        "title_vi": "t",
        "title_en": "t",
        "source": "test",
        "requirements": [{"kind": "none", "field": "hotspots"}],
    }
    return {
        "id": "test",
        "title_vi": "t",
        "title_en": "t",
        "source": "test",
        "criteria": [{**base, **criterion}],
    }


def test_a_criteria_set_loaded_from_data_evaluates() -> None:
    cs = CriteriaSet.model_validate(
        _one_criterion(requirements=[{"kind": "fewer_than", "field": "users_total", "limit": 4}])
    )
    assert cs.evaluate(commune()).met
    assert not cs.evaluate(
        commune(users_total=4, users_with_records=4, users_negative_test_30d=4)
    ).met


@pytest.mark.parametrize(
    "bad",
    [
        {"id": 2},  # not numbered from 1
        {"requirements": []},
        {"requirements": [{"kind": "none", "field": "dragons"}]},
        {"requirements": [{"kind": "none", "field": "on_trafficking_route"}]},
        {"requirements": [{"kind": "all", "part": "x", "whole": "households_total"}]},
        {"requirements": [{"kind": "at_least", "field": "prevention_models", "minimum": 0}]},
        {"requirements": [{"kind": "sometimes", "field": "hotspots"}]},
        {"requirements": [{"kind": "none", "field": "hotspots", "extra": 1}]},
    ],
)
def test_invalid_criteria_data_is_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        CriteriaSet.model_validate(_one_criterion(**bad))


# --- properties --------------------------------------------------------------------------

COUNTS = [f for f, kind in FIELD_KINDS.items() if kind == "count"]


@st.composite
def any_valid_metrics(draw: st.DrawFn) -> Metrics:
    """Random metrics, any field possibly missing, parts never above their wholes."""
    data: dict[str, Any] = {}
    for field in COUNTS:
        if draw(st.booleans()):
            data[field] = draw(st.integers(0, 20))
    if draw(st.booleans()):
        data["drug_plant_area_m2"] = draw(st.floats(0, 100, allow_nan=False))
    for part, whole in (
        ("addicts_with_records", "addicts_total"),
        ("addicts_in_treatment", "addicts_total"),
        ("addicts_in_community", "addicts_total"),
        ("addicts_negative_test_30d", "addicts_total"),
        ("users_with_records", "users_total"),
        ("users_negative_test_30d", "users_total"),
        ("suspects_tested", "suspects_total"),
        ("post_rehab_with_records", "post_rehab_total"),
        ("post_rehab_tested", "post_rehab_total"),
        ("violators_handled", "violators_detected"),
        ("resident_offenders_arrested", "resident_offenders"),
        ("wanted_arrested", "wanted_in_area"),
        ("households_committed", "households_total"),
        ("hamlets_with_hotline_board", "hamlets_total"),
    ):
        if part in data and whole in data:
            data[part] = min(data[part], data[whole])
    return parse_metrics(data)


@settings(max_examples=300, deadline=None)
@given(metrics=any_valid_metrics(), set_id=st.sampled_from([TV, TH]))
def test_evaluate_never_raises_and_met_means_all_met(metrics: Metrics, set_id: str) -> None:
    report = evaluate(metrics, get_criteria_set(set_id))
    assert report.met == all(r.met for r in report.results)
    for criterion, r in zip(get_criteria_set(set_id).criteria, report.results, strict=True):
        assert r.id == criterion.id
        if metrics.missing(criterion.needs):
            assert not r.met and r.reason_vi.startswith("thiếu dữ liệu: ")
