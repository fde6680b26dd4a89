"""Classification per 001_bb5719cd39510399.txt, PHỤ LỤC (appendix), tested at every bound."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from catalog import DEFAULT_RULE_SET, get_rule_set, rule_set_ids
from domain.classification import (
    SEVERITY,
    ClassificationResult,
    RuleSet,
    classify,
)
from domain.errors import DomainError, InputError
from domain.metrics import Metrics, parse_metrics

# The shipped rule sets (domain/rule_sets/*.yaml), loaded through the catalogue.
RULE_SETS: dict[str, RuleSet] = {rs_id: get_rule_set(rs_id) for rs_id in rule_set_ids()}
TV = RULE_SETS["tra-vinh-2025"]

# Population 10,000: 0.1% = 10 offenders, 0.3% = 30, 0.5% = 50.
CLEAN: dict[str, Any] = {
    "population": 10_000,
    "on_trafficking_route": False,
    "addicts_total": 0,
    "users_total": 0,
    "hotspots": 0,
    "drug_plants": 0,
    "drug_plant_area_m2": 0,
    "drug_offenders": 0,
}
REQUIRED = list(CLEAN)


def commune(**changes: Any) -> Metrics:
    return parse_metrics({**CLEAN, **changes})


def cls(**changes: Any) -> str:
    return classify(commune(**changes), TV).classification


# --- the shipped rule set ------------------------------------------------------------------


def test_default_rule_set_is_tra_vinh() -> None:
    assert DEFAULT_RULE_SET == "tra-vinh-2025"
    assert set(RULE_SETS) == {"tra-vinh-2025", "decision-28-2025-example"}
    assert get_rule_set("tra-vinh-2025") is RULE_SETS["tra-vinh-2025"]  # loaded once, cached


def test_tra_vinh_requires_exactly_the_appendix_fields() -> None:
    assert set(get_rule_set("tra-vinh-2025").required_fields()) == set(REQUIRED)


def test_tra_vinh_cites_the_appendix() -> None:
    rs = get_rule_set("tra-vinh-2025")
    assert "001_bb5719cd39510399.txt" in rs.source
    assert "PHỤ LỤC" in rs.source
    assert [c.classification for c in rs.classes] == [
        "type_i",
        "type_ii",
        "type_iii",
        "less_complex",
    ]


# --- thresholds at, just below and just above each bound -----------------------------------


@pytest.mark.parametrize(
    ("addicts", "expected"),
    [
        (1, "less_complex"),
        (19, "less_complex"),  # "dưới 20"
        (20, "type_iii"),  # "từ 20 ... đến dưới 60"
        (21, "type_iii"),
        (59, "type_iii"),
        (60, "type_ii"),  # "từ 60 ... đến dưới 100"
        (61, "type_ii"),
        (99, "type_ii"),
        (100, "type_i"),  # "từ 100 ... trở lên"
        (101, "type_i"),
        (10_000, "type_i"),
    ],
)
def test_managed_addicts(addicts: int, expected: str) -> None:
    assert cls(addicts_total=addicts) == expected


@pytest.mark.parametrize(
    ("hotspots", "expected"),
    [
        (0, "drug_free"),
        (1, "type_iii"),
        (2, "type_iii"),
        (3, "type_ii"),
        (4, "type_ii"),
        (5, "type_i"),
        (6, "type_i"),
    ],
)
def test_hotspots(hotspots: int, expected: str) -> None:
    assert cls(hotspots=hotspots) == expected


@pytest.mark.parametrize(
    ("plants", "expected"),
    [
        (0, "drug_free"),
        (1, "type_iii"),
        (499, "type_iii"),
        (500, "type_ii"),
        (501, "type_ii"),
        (2999, "type_ii"),
        (3000, "type_i"),
        (3001, "type_i"),
    ],
)
def test_drug_plants(plants: int, expected: str) -> None:
    assert cls(drug_plants=plants) == expected


@pytest.mark.parametrize(
    ("area", "expected"),
    [
        (0, "drug_free"),
        (0.5, "type_iii"),
        (999, "type_iii"),
        (999.99, "type_iii"),
        (1000, "type_ii"),
        (1000.01, "type_ii"),
        (1999, "type_ii"),
        (1999.99, "type_ii"),
        (2000, "type_i"),
        (2000.5, "type_i"),
    ],
)
def test_planted_area(area: float, expected: str) -> None:
    assert cls(drug_plant_area_m2=area) == expected


def test_plants_or_area_either_one_counts() -> None:
    # "số lượng ... cây ... hoặc diện tích trồng": the more severe of the two decides.
    assert cls(drug_plants=10, drug_plant_area_m2=2000) == "type_i"
    assert cls(drug_plants=3000, drug_plant_area_m2=1) == "type_i"
    assert cls(drug_plants=600, drug_plant_area_m2=0.5) == "type_ii"


@pytest.mark.parametrize(
    ("offenders", "expected"),
    [
        (1, "less_complex"),
        (9, "less_complex"),  # 0.09%: one offender below 0.1%
        (10, "type_iii"),  # exactly 0.1%
        (11, "type_iii"),
        (29, "type_iii"),  # one below 0.3%
        (30, "type_ii"),  # exactly 0.3%
        (31, "type_ii"),
        (49, "type_ii"),  # one below 0.5%
        (50, "type_i"),  # exactly 0.5%
        (51, "type_i"),
    ],
)
def test_offender_rate(offenders: int, expected: str) -> None:
    assert cls(drug_offenders=offenders) == expected


@pytest.mark.parametrize(
    ("population", "offenders", "expected"),
    [
        # Populations that are not multiples of 1000: the bound falls between two counts.
        (3001, 3, "less_complex"),  # 0.09997%
        (3001, 4, "type_iii"),
        (3001, 9, "type_iii"),  # 0.2999%
        (3001, 10, "type_ii"),
        (3001, 15, "type_ii"),  # 0.49983%
        (3001, 16, "type_i"),
        # Exactly on the bound with awkward denominators.
        (7000, 7, "type_iii"),
        (7000, 21, "type_ii"),
        (7000, 35, "type_i"),
        (1, 1, "type_i"),  # 100%
    ],
)
def test_offender_rate_is_exact(population: int, offenders: int, expected: str) -> None:
    assert cls(population=population, drug_offenders=offenders) == expected


# --- the key trafficking route lift --------------------------------------------------------

TYPE_III_CRITERIA = [
    {"addicts_total": 20},
    {"addicts_total": 59},
    {"hotspots": 1},
    {"hotspots": 2},
    {"drug_plants": 1},
    {"drug_plants": 499},
    {"drug_plant_area_m2": 0.5},
    {"drug_plant_area_m2": 999},
    {"drug_offenders": 10},
    {"drug_offenders": 29},
]
TYPE_II_CRITERIA = [
    {"addicts_total": 60},
    {"addicts_total": 99},
    {"hotspots": 3},
    {"hotspots": 4},
    {"drug_plants": 500},
    {"drug_plants": 2999},
    {"drug_plant_area_m2": 1000},
    {"drug_plant_area_m2": 1999},
    {"drug_offenders": 30},
    {"drug_offenders": 49},
]


@pytest.mark.parametrize("criterion", TYPE_III_CRITERIA)
def test_type_iii_criterion_on_route_is_type_ii(criterion: dict[str, Any]) -> None:
    assert cls(**criterion) == "type_iii"
    assert cls(**criterion, on_trafficking_route=True) == "type_ii"


@pytest.mark.parametrize("criterion", TYPE_II_CRITERIA)
def test_type_ii_criterion_on_route_is_type_i(criterion: dict[str, Any]) -> None:
    assert cls(**criterion) == "type_ii"
    assert cls(**criterion, on_trafficking_route=True) == "type_i"


def test_lift_is_one_step_not_a_chain() -> None:
    # A type III criterion on the route makes type II, not type I: the type II lift is not
    # itself a "type II criterion" for the type I lift.
    assert cls(addicts_total=25, on_trafficking_route=True) == "type_ii"


@pytest.mark.parametrize(
    "criterion",
    [{"addicts_total": 19}, {"addicts_total": 1}, {"users_total": 5}, {"drug_offenders": 9}],
)
def test_less_complex_on_route_stays_less_complex(criterion: dict[str, Any]) -> None:
    assert cls(**criterion, on_trafficking_route=True) == "less_complex"


def test_drug_free_on_route_stays_drug_free() -> None:
    assert cls(on_trafficking_route=True) == "drug_free"


def test_type_i_on_route_stays_type_i() -> None:
    assert cls(addicts_total=150, on_trafficking_route=True) == "type_i"


# --- drug-free vs less complex ---------------------------------------------------------------


def test_nothing_at_all_is_drug_free() -> None:
    result = classify(commune(), TV)
    assert result.classification == "drug_free"
    assert "không có người nghiện có hồ sơ quản lý (= 0)" in result.reasons


@pytest.mark.parametrize(
    "one",
    [{"addicts_total": 1}, {"users_total": 1}, {"drug_offenders": 1}],
)
def test_any_drug_presence_is_not_drug_free(one: dict[str, Any]) -> None:
    assert cls(**one) == "less_complex"


def test_many_users_but_few_addicts_is_less_complex() -> None:
    # Users alone are not a type III criterion in the appendix.
    assert cls(users_total=500, addicts_total=19) == "less_complex"


# --- reasons -----------------------------------------------------------------------------


def test_reason_names_the_count_and_the_bound() -> None:
    result = classify(commune(addicts_total=100), TV)
    assert result == ClassificationResult(
        rule_set="tra-vinh-2025",
        classification="type_i",
        reasons=["có 100 người nghiện có hồ sơ quản lý (>= 100)"],
        reasons_en=["managed addicts: 100 (>= 100)"],
    )


def test_reasons_list_every_matching_criterion() -> None:
    result = classify(commune(addicts_total=120, hotspots=7), TV)
    assert result.reasons == [
        "có 120 người nghiện có hồ sơ quản lý (>= 100)",
        "có 7 tụ điểm phức tạp về ma túy (>= 5)",
    ]
    assert len(result.reasons_en) == len(result.reasons)


def test_rate_reason_is_a_percentage() -> None:
    result = classify(commune(drug_offenders=30), TV)
    assert result.reasons == [
        "tỷ lệ đối tượng phạm tội về ma túy trên dân số là 0,3% (30/10000) (>= 0,3% và < 0,5%)"
    ]
    assert result.reasons_en == [
        "drug offenders per population: 0.3% (30/10000) (>= 0.3% and < 0.5%)"
    ]


def test_lift_reasons_mention_the_route() -> None:
    result = classify(commune(hotspots=1, on_trafficking_route=True), TV)
    assert result.classification == "type_ii"
    assert result.reasons == [
        "đạt tiêu chí của xã trọng điểm về ma túy loại III",
        "có 1 tụ điểm phức tạp về ma túy (>= 1 và <= 2)",
        "nằm trên tuyến trọng điểm về mua bán, vận chuyển trái phép chất ma túy",
    ]
    assert result.reasons_en[-1] == "on a key drug-trafficking route"


def test_area_reason_uses_a_decimal_comma() -> None:
    result = classify(commune(drug_plant_area_m2=0.5), TV)
    assert result.reasons == ["có 0,5 m² diện tích trồng cây có chứa chất ma túy (> 0 và < 1000)"]


# --- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize("field", REQUIRED)
def test_missing_required_field(field: str) -> None:
    data = {k: v for k, v in CLEAN.items() if k != field}
    with pytest.raises(InputError) as caught:
        classify(parse_metrics(data), TV)
    assert caught.value.code == "metrics.missing"
    assert f"metrics.{field}" in caught.value.message
    assert "tra-vinh-2025" in caught.value.message


def test_missing_fields_are_all_named() -> None:
    with pytest.raises(InputError) as caught:
        classify(parse_metrics({"addicts_total": 150}), TV)
    missing = [f for f in REQUIRED if f != "addicts_total"]
    for field in missing:
        assert f"metrics.{field}" in caught.value.message
    assert "metrics.addicts_total" not in caught.value.message


def test_unknown_rule_set_is_an_input_error_listing_the_known_ones() -> None:
    with pytest.raises(InputError) as caught:
        get_rule_set("quang-ninh-1999")
    err = caught.value
    assert err.code == "rules.unknown"
    assert "quang-ninh-1999" in err.message
    assert "tra-vinh-2025" in err.message
    assert "decision-28-2025-example" in err.message


# --- the k-of-n example (Decision 28/2025 shape, illustrative thresholds) ---------------------

D28 = RULE_SETS["decision-28-2025-example"]


def test_decision_28_example_is_labelled_illustrative() -> None:
    rs = D28
    assert "illustrative" in rs.description.lower()
    assert "not in the seed" in rs.description
    assert [c.criteria.k for c in rs.classes[:3]] == [3, 3, 1]
    assert [len(c.criteria.of) for c in rs.classes[:3]] == [5, 5, 5]


def test_decision_28_three_of_five_is_type_i() -> None:
    result = classify(commune(addicts_total=100, users_total=150, hotspots=5), D28)
    assert result.classification == "type_i"
    assert result.reasons[0] == "đạt 3/5 tiêu chí (cần ít nhất 3)"
    assert result.reasons_en[0] == "3 of 5 criteria met (at least 3 required)"


def test_decision_28_two_of_five_type_i_criteria_are_not_enough() -> None:
    # Two type I criteria, and hotspots 1 only: 2/5 for type I and for type II.
    result = classify(commune(addicts_total=100, users_total=150, hotspots=1), D28)
    assert result.classification == "type_iii"


def test_decision_28_three_type_ii_criteria() -> None:
    assert cls_d28(addicts_total=60, users_total=90, drug_offenders=30) == "type_ii"
    assert cls_d28(addicts_total=60, users_total=89, drug_offenders=30) == "type_iii"


def test_decision_28_one_criterion_is_type_iii() -> None:
    assert cls_d28(drug_offenders=10) == "type_iii"
    assert cls_d28(drug_offenders=9) == "less_complex"
    assert cls_d28() == "drug_free"


def cls_d28(**changes: Any) -> str:
    return classify(commune(**changes), D28).classification


# --- rule sets as data ---------------------------------------------------------------------


@pytest.mark.parametrize("rule_set_id", sorted(RULE_SETS))
def test_rule_sets_round_trip_through_json(rule_set_id: str) -> None:
    rs = get_rule_set(rule_set_id)
    assert RuleSet.model_validate_json(rs.model_dump_json()) == rs
    assert RuleSet.model_validate(rs.model_dump(mode="json")) == rs


def _tiny(**overrides: Any) -> dict[str, Any]:
    """A small rule set as a YAML/JSON author would write it."""
    data: dict[str, Any] = {
        "id": "tiny",
        "title_vi": "thử",
        "title_en": "test",
        "source": "test",
        "classes": [
            {
                "classification": "type_i",
                "criteria": {
                    "kind": "at_least",
                    "k": 2,
                    "of": [
                        {"kind": "compare", "quantity": "hotspots", "ge": 1},
                        {"kind": "compare", "quantity": "offender_rate", "ge": "0.2%"},
                        {"kind": "flag", "field": "on_trafficking_route"},
                    ],
                },
            },
            {
                "classification": "less_complex",
                "criteria": {
                    "kind": "at_least",
                    "k": 1,
                    "of": [{"kind": "compare", "quantity": "hotspots", "gt": 0}],
                },
            },
        ],
        "drug_free": {"kind": "compare", "quantity": "hotspots", "le": 0},
    }
    data.update(overrides)
    return data


def test_a_rule_set_loaded_from_data_classifies() -> None:
    rs = RuleSet.model_validate(_tiny())
    assert rs.required_fields() == (
        "population",
        "on_trafficking_route",
        "hotspots",
        "drug_offenders",
    )
    assert rs.classify(commune(hotspots=1, on_trafficking_route=True)).classification == "type_i"
    assert rs.classify(commune(hotspots=1, drug_offenders=20)).classification == "type_i"
    assert rs.classify(commune(hotspots=1, drug_offenders=19)).classification == "less_complex"
    assert rs.classify(commune()).classification == "drug_free"


@pytest.mark.parametrize(
    "bound", ["1/500", "0.002", "0.2%", 0.002], ids=["fraction", "decimal", "percent", "float"]
)
def test_bounds_can_be_written_several_ways(bound: object) -> None:
    data = _tiny()
    data["classes"][0]["criteria"]["of"][1]["ge"] = bound
    rs = RuleSet.model_validate(data)
    assert rs.classify(commune(hotspots=1, drug_offenders=20)).classification == "type_i"
    assert rs.classify(commune(hotspots=1, drug_offenders=19)).classification == "less_complex"


def test_a_gap_in_a_rule_set_is_refused_not_called_drug_free() -> None:
    rs = RuleSet.model_validate(_tiny(drug_free={"kind": "flag", "field": "on_trafficking_route"}))
    with pytest.raises(DomainError) as caught:
        rs.classify(commune(hotspots=0, on_trafficking_route=False))
    assert caught.value.code == "rules.incomplete"


def _bad(path: str, value: Any) -> dict[str, Any]:
    data = _tiny()
    target: Any = data
    keys = path.split(".")
    for key in keys[:-1]:
        target = target[int(key)] if key.isdigit() else target[key]
    last = keys[-1]
    if last.isdigit():
        target[int(last)] = value
    else:
        target[last] = value
    return data


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("classes.0.criteria.of.0.quantity", "dragons"),  # unknown quantity
        ("classes.0.criteria.of.0.quantity", "on_trafficking_route"),  # not a number
        ("classes.0.criteria.of.2.field", "hotspots"),  # not a yes/no field
        ("classes.0.criteria.k", 4),  # k > n
        ("classes.0.criteria.k", 0),
        ("classes.0.criteria.k", True),
        ("classes.0.criteria.of.0.gt", 0),  # both ge and gt
        ("classes.0.criteria.of.0", {"kind": "compare", "quantity": "hotspots"}),  # no bound
        ("classes.0.criteria.of.0.ge", "lots"),
        ("classes.0.criteria.of.0.ge", True),
        ("classes.0.criteria.of.0.colour", "red"),  # unknown key
        ("classes.0.criteria.of.0.kind", "maybe"),
        ("classes.1.classification", "type_i"),  # listed twice
        ("classes.1.classification", "drug_free"),  # not a ranked class
        ("classes.0.criteria.of.0", {"kind": "criteria_of", "classification": "type_ii"}),
    ],
)
def test_invalid_rule_data_is_refused(path: str, value: Any) -> None:
    with pytest.raises(ValidationError):
        RuleSet.model_validate(_bad(path, value))


def test_criteria_that_refer_to_each_other_in_a_loop_are_refused() -> None:
    data = _tiny()
    data["classes"][0]["criteria"]["of"][0] = {
        "kind": "criteria_of",
        "classification": "less_complex",
    }
    data["classes"][1]["criteria"]["of"][0] = {"kind": "criteria_of", "classification": "type_i"}
    with pytest.raises(ValidationError, match="refer back"):
        RuleSet.model_validate(data)


# --- properties --------------------------------------------------------------------------

complete_metrics: st.SearchStrategy[dict[str, Any]] = st.builds(
    dict,
    population=st.integers(1, 1_000_000),
    on_trafficking_route=st.booleans(),
    addicts_total=st.integers(0, 400),
    users_total=st.integers(0, 400),
    hotspots=st.integers(0, 8),
    drug_plants=st.integers(0, 5000),
    drug_plant_area_m2=st.one_of(
        st.integers(0, 3000), st.floats(0, 3000, allow_nan=False, allow_infinity=False)
    ),
    drug_offenders=st.integers(0, 3000),
)


@settings(max_examples=300, deadline=None)
@given(data=complete_metrics, rule_set_id=st.sampled_from(sorted(RULE_SETS)))
def test_classify_never_raises_on_complete_metrics(data: dict[str, Any], rule_set_id: str) -> None:
    result = classify(parse_metrics(data), RULE_SETS[rule_set_id])
    assert result.classification in SEVERITY
    assert result.reasons and len(result.reasons) == len(result.reasons_en)


@settings(max_examples=300, deadline=None)
@given(data=complete_metrics)
def test_drug_free_exactly_when_nothing_is_present(data: dict[str, Any]) -> None:
    nothing = all(
        data[f] == 0
        for f in (
            "addicts_total",
            "users_total",
            "hotspots",
            "drug_plants",
            "drug_plant_area_m2",
            "drug_offenders",
        )
    )
    assert (classify(parse_metrics(data), TV).classification == "drug_free") == nothing


@settings(max_examples=300, deadline=None)
@given(
    data=complete_metrics,
    extra=st.integers(1, 200),
    rule_set_id=st.sampled_from(sorted(RULE_SETS)),
)
def test_more_addicts_never_lowers_the_class(
    data: dict[str, Any], extra: int, rule_set_id: str
) -> None:
    before = classify(parse_metrics(data), RULE_SETS[rule_set_id]).classification
    more = {**data, "addicts_total": data["addicts_total"] + extra}
    after = classify(parse_metrics(more), RULE_SETS[rule_set_id]).classification
    assert SEVERITY[after] >= SEVERITY[before]


@settings(max_examples=300, deadline=None)
@given(
    data=complete_metrics,
    field=st.sampled_from(["hotspots", "drug_plants", "drug_offenders", "users_total"]),
    extra=st.integers(1, 500),
)
def test_more_of_anything_never_lowers_the_tra_vinh_class(
    data: dict[str, Any], field: str, extra: int
) -> None:
    before = classify(parse_metrics(data), TV).classification
    after = classify(parse_metrics({**data, field: data[field] + extra}), TV).classification
    assert SEVERITY[after] >= SEVERITY[before]


@settings(max_examples=200, deadline=None)
@given(data=complete_metrics)
def test_the_route_never_lowers_the_class(data: dict[str, Any]) -> None:
    off = classify(parse_metrics({**data, "on_trafficking_route": False}), TV).classification
    on = classify(parse_metrics({**data, "on_trafficking_route": True}), TV).classification
    assert SEVERITY[on] >= SEVERITY[off]
    assert SEVERITY[on] - SEVERITY[off] <= 1  # a lift is one step
