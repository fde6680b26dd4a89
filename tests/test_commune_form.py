"""The commune form's reading of the metrics (web/commune.py), without a browser: each
problem lands on the field that caused it, in plain Vietnamese; empty inputs are not reported."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData

from catalog import get_plan
from domain.metrics import Metrics
from tests.workflows.support import CLEAN
from web.commune import GROUPS, SubmitForm, metric_groups, read_metrics

PLAN = get_plan("tra-vinh-2025")


def form() -> SubmitForm:
    groups = metric_groups()
    return SubmitForm([], [], groups, fields={f.name: f for g in groups for f in g.fields})


def typed(values: dict[str, Any]) -> FormData:
    def text(v: Any) -> str:
        return ("yes" if v else "no") if isinstance(v, bool) else str(v)

    return FormData([(f"m_{k}", text(v)) for k, v in values.items()])


def errors(f: SubmitForm) -> dict[str, str]:
    return {name: x.error for name, x in f.fields.items() if x.error}


def test_every_field_of_the_contract_is_on_the_form_once() -> None:
    names = [x.name for g in metric_groups() for x in g.fields]
    assert sorted(names) == sorted(Metrics.model_fields)
    assert {n for _, _, group in GROUPS for n in group} == set(Metrics.model_fields)


def test_empty_form_is_no_metrics_and_clean_values_read_as_typed() -> None:
    f = form()
    assert read_metrics(f, FormData([]), PLAN, "vi") is None and not f.has_errors
    f = form()
    got = read_metrics(f, typed({**CLEAN, "drug_plant_area_m2": "0,5"}), PLAN, "vi")
    assert got == {**CLEAN, "drug_plant_area_m2": 0.5} and not f.has_errors


def test_each_problem_next_to_its_field() -> None:
    f = form()
    read_metrics(f, typed({**CLEAN, "users_total": "-1", "addicts_total": "2.5",
                           "population": "0", "households_committed": 2500,
                           "on_trafficking_route": "maybe",
                           "hotspots": "9007199254740993"}), PLAN, "vi")
    found = errors(f)
    assert set(found) == {"users_total", "addicts_total", "population", "households_committed",
                          "on_trafficking_route", "hotspots"}, found
    assert "không âm" in found["users_total"] and "không âm" in found["addicts_total"]
    assert "dương" in found["population"]
    assert "Tổng số hộ gia đình" in found["households_committed"]
    assert "vượt quá" in found["hotspots"]
    assert f.fields["users_total"].value == "-1"  # what was typed comes back


def test_a_report_lacking_what_the_rule_set_needs_names_those_fields() -> None:
    f = form()
    read_metrics(f, typed({"population": 9000, "addicts_total": 3}), PLAN, "vi")
    needed = set(PLAN.rules.required_fields()) - {"population", "addicts_total"} \
        if PLAN.rules else set()
    assert set(errors(f)) == needed and needed
    assert all("Bắt buộc" in e for e in errors(f).values())
