"""The metrics contract (DOMAIN.md "Metrics contract"): strict, never clamped."""

from __future__ import annotations

import copy
import pickle

import pytest
from pydantic import ValidationError

from domain.errors import DomainError, InputError
from domain.metrics import (
    FIELD_KINDS,
    FIELD_LABELS,
    MAX_COUNT,
    PART_OF,
    SUMMARY_FIELDS,
    Metrics,
    format_number,
    parse_metrics,
)

CONTRACT_FIELDS = """
population on_trafficking_route addicts_total addicts_with_records addicts_in_treatment
addicts_in_community addicts_negative_test_30d users_total users_with_records
users_negative_test_30d psychosis_cases suspects_total suspects_tested post_rehab_total
post_rehab_with_records post_rehab_tested baseline_addicts baseline_users hotspots drug_rings
risk_points drug_plants drug_plant_area_m2 illicit_production_cases drug_offenders
drug_crimes_by_residents violators_detected violators_handled resident_offenders
resident_offenders_arrested wanted_in_area wanted_arrested serious_incidents_by_users
relapse_crimes households_total households_committed hamlets_total hamlets_with_hotline_board
prevention_models
""".split()

COUNT_FIELDS = [f for f, kind in FIELD_KINDS.items() if kind == "count"]


def error_of(data: object) -> InputError:
    with pytest.raises(InputError) as caught:
        parse_metrics(data)
    return caught.value


# --- the shape of the contract ------------------------------------------------------------


def test_fields_are_exactly_the_contract() -> None:
    assert list(Metrics.model_fields) == CONTRACT_FIELDS


def test_every_field_is_optional_and_none_means_not_reported() -> None:
    m = parse_metrics({})
    assert all(getattr(m, f) is None for f in CONTRACT_FIELDS)
    assert m.missing(["population", "hotspots"]) == ["population", "hotspots"]


def test_glossary_covers_every_field() -> None:
    assert set(FIELD_LABELS) == set(CONTRACT_FIELDS)
    assert all(vi and en for vi, en in FIELD_LABELS.values())


def test_valid_metrics_parse_with_their_types() -> None:
    m = parse_metrics(
        {
            "population": 8000,
            "on_trafficking_route": True,
            "addicts_total": 12,
            "addicts_with_records": 12,
            "drug_plant_area_m2": 0.5,
        }
    )
    assert m.population == 8000
    assert m.on_trafficking_route is True
    assert m.drug_plant_area_m2 == 0.5
    assert m.users_total is None


def test_explicit_nulls_are_not_reported() -> None:
    assert parse_metrics({"addicts_total": None}).addicts_total is None


def test_area_accepts_an_integer() -> None:
    assert parse_metrics({"drug_plant_area_m2": 1000}).drug_plant_area_m2 == 1000


def test_zero_is_a_valid_count() -> None:
    assert parse_metrics({f: 0 for f in COUNT_FIELDS}).hotspots == 0


def test_metrics_are_immutable() -> None:
    m = parse_metrics({"hotspots": 1})
    with pytest.raises(ValidationError):
        m.hotspots = 2  # type: ignore[misc]


def test_parse_metrics_passes_a_metrics_object_through() -> None:
    m = parse_metrics({"hotspots": 1})
    assert parse_metrics(m) is m


def test_json_round_trip() -> None:
    m = parse_metrics({"population": 5000, "on_trafficking_route": False, "hotspots": 2})
    assert Metrics.model_validate_json(m.model_dump_json()) == m


# --- bad input: each rule is an InputError naming the field ---------------------------------


def test_unknown_field() -> None:
    err = error_of({"foo": 1})
    assert isinstance(err, DomainError)
    assert err.code == "metrics.invalid"
    assert str(err) == "metrics.foo: unknown field"


@pytest.mark.parametrize("field", COUNT_FIELDS)
def test_negative_count(field: str) -> None:
    err = error_of({field: -1})
    assert err.message == f"metrics.{field}: must be a non-negative integer"


def test_negative_area() -> None:
    err = error_of({"drug_plant_area_m2": -0.5})
    assert (
        err.message == "metrics.drug_plant_area_m2: must be a non-negative finite number"
    )


@pytest.mark.parametrize("bad", [3.0, 2.5, "3", [3]])
def test_non_integer_count(bad: object) -> None:
    err = error_of({"addicts_total": bad})
    assert err.message.startswith("metrics.addicts_total: must be a non-negative integer, got a")
    assert str(bad) not in err.message


@pytest.mark.parametrize("bad", [True, False])
def test_bool_is_not_a_count(bad: bool) -> None:
    err = error_of({"hotspots": bad})
    assert (
        err.message == "metrics.hotspots: must be a non-negative integer, got a boolean"
    )


@pytest.mark.parametrize("bad", [True, "10", float("nan"), float("inf")])
def test_area_must_be_a_finite_number(bad: object) -> None:
    err = error_of({"drug_plant_area_m2": bad})
    assert err.message.startswith(
        "metrics.drug_plant_area_m2: must be a non-negative finite number"
    )


@pytest.mark.parametrize("field", [*COUNT_FIELDS, "population"])
def test_counts_above_the_safe_integer_limit_are_refused(field: str) -> None:
    # The event store keeps integers up to 2^53-1 (every JSON reader's exact range); the
    # contract refuses more, naming the field, before a case records anything.
    assert parse_metrics({field: MAX_COUNT}).value(field) == 2**53 - 1
    err = error_of({field: 2**53})
    assert err.code == "metrics.invalid"
    assert err.message == f"metrics.{field}: must be at most 9007199254740991 (2^53-1)"


@pytest.mark.parametrize("bad", [1, 0, "true", "yes"])
def test_route_flag_must_be_a_bool(bad: object) -> None:
    err = error_of({"on_trafficking_route": bad})
    assert err.message.startswith("metrics.on_trafficking_route: must be true or false")


@pytest.mark.parametrize("bad", [0, -5])
def test_population_must_be_positive(bad: int) -> None:
    err = error_of({"population": bad})
    assert err.message == "metrics.population: must be a positive integer"


def test_population_one_is_fine() -> None:
    assert parse_metrics({"population": 1}).population == 1


@pytest.mark.parametrize(("part", "whole"), PART_OF)
def test_part_larger_than_whole(part: str, whole: str) -> None:
    err = error_of({whole: 3, part: 4})
    assert err.code == "metrics.invalid"
    assert err.message == f"metrics.{part}: must not exceed metrics.{whole}"


@pytest.mark.parametrize(("part", "whole"), PART_OF)
def test_part_equal_to_whole_is_fine(part: str, whole: str) -> None:
    m = parse_metrics({whole: 3, part: 3})
    assert getattr(m, part) == getattr(m, whole) == 3


def test_part_without_its_whole_is_not_checked() -> None:
    assert parse_metrics({"addicts_with_records": 4}).addicts_total is None


def test_required_part_whole_pairs_are_checked() -> None:
    required = {
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
    }
    assert required <= set(PART_OF)


def test_several_problems_in_one_line() -> None:
    err = error_of({"hotspots": -1, "foo": 2})
    assert "\n" not in err.message
    assert "metrics.hotspots: must be a non-negative integer" in err.message
    assert "-1" not in err.message
    assert "metrics.foo: unknown field" in err.message


def test_several_part_whole_problems_are_all_named() -> None:
    err = error_of(
        {
            "users_total": 1,
            "users_with_records": 2,
            "hamlets_total": 0,
            "hamlets_with_hotline_board": 1,
        }
    )
    assert "metrics.users_with_records" in err.message
    assert "metrics.hamlets_with_hotline_board" in err.message


@pytest.mark.parametrize("bad", [None, [1, 2], "population=5", 7])
def test_not_an_object(bad: object) -> None:
    assert error_of(bad).message.startswith("metrics: must be an object, got ")


def test_long_bad_values_are_truncated() -> None:
    err = error_of({"hotspots": "x" * 500})
    assert len(err.message) < 120


# Messages travel into workflow failures and logs: they name the field and the rule, never
# what was submitted (README, "No values in failures").
@pytest.mark.parametrize(("data", "secret"), [
    ({"addicts_total": 25, "addicts_with_records": 5555}, "5555"),
    ({"addicts_total": 25, "addicts_with_records": 5555}, "25"),
    ({"hotspots": -4321}, "4321"),
    ({"population": 2**53 + 12345}, str(2**53 + 12345)),
    ({"drug_plant_area_m2": -12.75}, "12.75"),
    ({"hotspots": "Nguyễn Văn A"}, "Nguyễn"),
    ({"on_trafficking_route": "Nguyễn Văn A"}, "Nguyễn"),
    ({"Nguyễn Văn A nghiện": 1}, "Nguyễn"),
    ("Nguyễn Văn A", "Nguyễn"),
    ({"hotspots": [7777]}, "7777"),
])
def test_messages_carry_no_submitted_value(data: object, secret: str) -> None:
    err = error_of(data)
    assert secret not in err.message
    assert err.message.startswith("metrics")


def test_value_of_an_unknown_field_is_refused() -> None:
    with pytest.raises(InputError) as caught:
        parse_metrics({}).value("foo")
    assert caught.value.message == "metrics.foo: unknown field"


# --- summary and errors -------------------------------------------------------------------


def test_summary_has_a_fixed_shape_of_aggregates() -> None:
    m = parse_metrics({"population": 9000, "addicts_total": 4, "addicts_with_records": 4})
    s = m.summary()
    assert list(s) == [*SUMMARY_FIELDS, "fields_reported"]
    assert s["population"] == 9000
    assert s["addicts_total"] == 4
    assert s["hotspots"] is None
    assert s["fields_reported"] == 3
    assert all(isinstance(v, int | float | bool) or v is None for v in s.values())


def test_format_number() -> None:
    assert format_number(0.5, "vi") == "0,5"
    assert format_number(0.5, "en") == "0.5"
    assert format_number(2.0, "vi") == "2"
    assert format_number(1000) == "1000"


def test_domain_error_keeps_code_and_message_through_pickle_and_copy() -> None:
    err = InputError("metrics.invalid", "metrics.foo: unknown field")
    for clone in (pickle.loads(pickle.dumps(err)), copy.deepcopy(err)):
        assert type(clone) is InputError
        assert clone.code == "metrics.invalid"
        assert str(clone) == "metrics.foo: unknown field"
