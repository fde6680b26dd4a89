"""Checking a bundle before it goes into the catalogue: a plan with its own criteria and rule sets.

``validate_bundle`` reads every file given, tells plans from criteria sets and rule sets (by
the folder it sits in, else by its keys), validates each, checks each id against its file
name, and checks that every plan's ``criteria_set`` and ``classification_rules`` name a set
given beside it or already in the catalogue. It reports every problem it finds, each as
``file: field: message``, rather than stopping at the first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from catalog.reporting_checks import cross_problems, model_problems
from catalog.store import FOLDERS, NOUNS, Catalog, Kind, read_document, unknown
from domain.amendment import Amendment
from domain.classification import RuleSet
from domain.criteria import CriteriaSet
from domain.documents import validation_problems
from domain.errors import InputError
from domain.plan import Plan
from domain.reporting import ReportingPlan

MODELS: dict[Kind, type[BaseModel]] = {"plan": Plan, "criteria": CriteriaSet, "rules": RuleSet,
                                       "amendment": Amendment, "reporting": ReportingPlan}


@dataclass(frozen=True)
class Problem:
    """One problem: the document field it concerns ("" for the whole file) and why."""

    field: str
    message: str
    message_vi: str | None = None

    def text(self, lang: str = "vi") -> str:
        return self.message_vi if lang == "vi" and self.message_vi else self.message


@dataclass
class FileReport:
    """What one file is and what is wrong with it (nothing, when ``problems`` is empty)."""

    file: str
    kind: Kind | None = None
    id: str | None = None
    problems: list[Problem] = field(default_factory=list)
    model: BaseModel | None = None
    data: Any = field(default=None, repr=False)  # the parsed document

    @property
    def valid(self) -> bool:
        return not self.problems


def kind_of(path: Path, data: Any) -> Kind | None:
    """A file's kind: from its folder (``plans/``, ``criteria_sets/``, ``rule_sets/``) or keys."""
    for kind, folder in FOLDERS.items():
        if path.parent.name == folder:
            return kind
    if not isinstance(data, dict):
        return None
    if "amends" in data:
        return "amendment"
    if data.get("kind") == "reporting" or ("rounds" in data and "units" in data):
        return "reporting"
    if "phases" in data or "approval_chain" in data or "criteria_set" in data:
        return "plan"
    if "classes" in data or "drug_free" in data:
        return "rules"
    if "criteria" in data:
        return "criteria"
    return None


def _from_error(exc: InputError, name: str) -> Problem:
    """A document-level error, without the file name its message starts with."""
    prefix = f"{name}: "
    return Problem("", exc.message.removeprefix(prefix), exc.text("vi").removeprefix(prefix))


def _check_file(path: Path) -> FileReport:
    report = FileReport(file=str(path))
    try:
        data = read_document(path)
    except InputError as exc:
        report.problems.append(_from_error(exc, str(path)))
        # Unreadable, but in a catalogue folder it is still the set its name says: a plan
        # naming it should not also be told the set is unknown.
        report.kind = kind_of(path, None)
        report.id = path.stem if report.kind is not None else None
        return report
    report.data = data
    report.kind = kind_of(path, data)
    if isinstance(data, dict) and isinstance(data.get("id"), str):
        report.id = data["id"]
    if report.kind is None:
        report.problems.append(Problem(
            "",
            "not a plan, a criteria set or a rule set (expected the key 'phases', "
            "'criteria' or 'classes', or the folder plans/, criteria_sets/ or rule_sets/; "
            "a reporting plan has 'units' and 'rounds', or sits in reporting_plans/)",
            "không phải kế hoạch, bộ tiêu chí hay bộ quy tắc phân loại (cần khóa 'phases', "
            "'criteria' hoặc 'classes', hoặc thư mục plans/, criteria_sets/, rule_sets/; "
            "kế hoạch báo cáo có 'units' và 'rounds', hoặc nằm trong reporting_plans/)",
        ))
        return report
    if report.id is not None and report.id != path.stem:
        report.problems.append(Problem(
            "id",
            f"{report.id!r} does not match the file name (expected {path.stem!r})",
            f"{report.id!r} không khớp với tên tệp (cần {path.stem!r})",
        ))
    try:
        report.model = MODELS[report.kind].model_validate(data)
    except ValidationError as exc:
        found = validation_problems(exc)
        if report.kind == "reporting":
            # The reporting plan refuses in one plan-wide message: put each part on its field.
            found = [placed for f, m in found
                     for placed in (model_problems(data, m) if not f else [(f, m)])]
        report.problems.extend(Problem(f, m) for f, m in found)
        return report
    if isinstance(report.model, ReportingPlan):
        report.problems.extend(Problem(f, en, vi) for f, en, vi in cross_problems(report.model))
    return report


def validate_bundle(paths: Sequence[Path], catalog: Catalog) -> list[FileReport]:
    """Check ``paths`` together, falling back to ``catalog`` for sets the bundle lacks."""
    reports = [_check_file(path) for path in paths]
    given: dict[Kind, dict[str, FileReport]] = {
        "plan": {}, "criteria": {}, "rules": {}, "amendment": {}, "reporting": {}}
    for report in reports:
        if report.kind is None or report.id is None:
            continue
        first = given[report.kind].get(report.id)
        if first is not None:
            noun_en, noun_vi = NOUNS[report.kind]
            report.problems.append(Problem(
                "id",
                f"{noun_en} {report.id!r} is also given in {first.file}",
                f"{noun_vi} {report.id!r} cũng có trong {first.file}",
            ))
            continue
        given[report.kind][report.id] = report
    for report in reports:
        if report.kind == "plan" and isinstance(report.data, dict):
            # From the document, so the ids are checked even when the plan has other faults.
            report.problems.extend(_set_problems(report.data, given, catalog))
    return reports


def _set_problems(
    plan: dict[str, Any], given: dict[Kind, dict[str, FileReport]], catalog: Catalog
) -> list[Problem]:
    problems: list[Problem] = []
    named: list[tuple[Kind, str, str]] = [
        ("criteria", "criteria_set", "criteria"),
        ("rules", "classification_rules", "rules"),
    ]
    for kind, field_name, embedded in named:
        wanted = plan.get(field_name)
        if not isinstance(wanted, str) or plan.get(embedded) is not None:
            continue  # missing (the plan's own problem) or embedded (checked by the plan)
        if wanted in given[kind]:
            continue  # given here: checked in its own file
        try:
            known = catalog.ids(kind)
            if wanted in known:
                if kind == "criteria":
                    catalog.criteria_set(wanted)
                else:
                    catalog.rule_set(wanted)
                continue
            err = unknown(kind, wanted, {*known, *given[kind]})
        except InputError as exc:  # the catalogue itself is broken
            err = exc
        problems.append(Problem(field_name, err.message, err.text("vi")))
    return problems
