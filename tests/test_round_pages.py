"""The round pages' pure helpers (web/rounds.py): numbers as a reader writes them, targets,
and a unit's report read from its form as the workflow takes it."""

from __future__ import annotations

import catalog
from domain.reporting import IndicatorResult, reporting_units
from web.rounds import number, read_report, report_inputs, target_text


def test_numbers_in_each_language() -> None:
    assert number(38.0, "vi") == "38"
    assert number(1234.5, "vi") == "1.234,5"
    assert number(1234.5, "en") == "1,234.5"
    assert number(True, "vi") == "Có" and number(False, "en") == "No"
    assert number(None, "vi") == "-"


def test_targets() -> None:
    row = IndicatorResult(id="x", name_vi="x", name_en="x", unit_vi="%", value=91.0,
                          reported_by=1, expected=1, target_kind="at_least", target_value=90.0,
                          target_strict=True, met=True)
    assert target_text(row, "vi") == "> 90"
    up = row.model_copy(update={"target_kind": "change_at_least", "target_value": 5.0,
                                "target_strict": False})
    assert target_text(up, "vi") == "tăng (≥ 5%)"


def test_a_report_read_from_its_form() -> None:
    plan = catalog.reporting_plan("son-la-action-month-2023")
    health = next(u for u in reporting_units(plan) if u.id == "health")
    inputs = report_inputs(plan.form("sl-action-month"), health, "vi")
    names = {f.name for f in inputs}
    assert {"v_instructions_issued", "v_propaganda_sessions", "s_results"} <= names
    assert "v_drug_cases" not in names  # the police's and border guard's figure
    values, sections = read_report(inputs, {
        "v_propaganda_sessions": "3", "v_people_reached": "2.5", "v_tipoff_tests": "ba",
        "s_results": "Đã làm."})
    # a number where the text is one, the text itself otherwise (the form then names it);
    # an unticked checkbox is "no"; an empty number is left out (the form says it is missing)
    assert values["propaganda_sessions"] == 3 and values["people_reached"] == 2.5
    assert values["tipoff_tests"] == "ba" and values["instructions_issued"] is False
    assert "addiction_determinations" not in values
    assert sections == {"results": "Đã làm.", "shortcomings": "", "proposals": ""}
