"""What a reporting plan file can get wrong beyond its own model: checks by field.

``ReportingPlan`` refuses an inconsistent plan in one message (``domain.reporting``); a
province writing its own file wants each problem at its field, as ``plans validate`` gives
them for conversion plans. ``cross_problems`` adds what the model does not check but the
round would trip on: an indicator reported by a unit the plan does not have, a share whose
parts come after it (the consolidation reads them in order) or are not sums, a share the
units would be asked to type in, a round due after the plan ends. ``model_problems`` puts
the model's own message back on its fields.
"""

from __future__ import annotations

import re
from typing import Any

from domain.reporting import ReportingPlan, reporting_units, reports

KINDS = ("department", "district", "commune", "province")

Found = tuple[str, str, str]  # field, English, Vietnamese


def cross_problems(plan: ReportingPlan) -> list[Found]:
    """Every problem of a plan the model accepted, each at its field."""
    out: list[Found] = []
    departments = {u.id for u in plan.units.departments}
    levels = set(plan.units.people_committees)
    units = reporting_units(plan)
    for fi, form in enumerate(plan.forms):
        seen: dict[str, int] = {}
        for ii, ind in enumerate(form.indicators):
            where = f"forms.{fi}.indicators.{ii}"
            for name in ind.reported_by:
                if name in departments or name == "department" or name in levels:
                    continue
                out.append((f"{where}.reported_by",
                            f"{name!r} is neither a department of the plan nor a level of its "
                            "People's Committees",
                            f"{name!r} không phải sở, ngành của kế hoạch hay cấp UBND của nó"))
            if not ind.computed and ind.reported_by and not any(reports(ind, u) for u in units):
                out.append((f"{where}.reported_by", "no unit of the plan reports it",
                            "không đơn vị nào của kế hoạch báo cáo chỉ tiêu này"))
            if ind.aggregate == "share":
                if not ind.computed:
                    out.append((f"{where}.computed",
                                "a share is computed from its parts: set computed: true",
                                "tỷ lệ được tính từ hai chỉ tiêu thành phần: cần computed: true"))
                for part_field, part in (("numerator", ind.numerator),
                                         ("denominator", ind.denominator)):
                    at = seen.get(part or "")
                    if at is None:
                        if part in {i.id for i in form.indicators}:
                            out.append((f"{where}.{part_field}",
                                        f"{part!r} must come before the share in the form",
                                        f"{part!r} phải đứng trước chỉ tiêu tỷ lệ trong biểu mẫu"))
                        continue
                    if form.indicators[at].aggregate != "sum":
                        out.append((f"{where}.{part_field}",
                                    f"{part!r} is not summed (aggregate: sum)",
                                    f"{part!r} không được cộng dồn (aggregate: sum)"))
            seen[ind.id] = ii
    for ri, rnd in enumerate(plan.rounds):
        if rnd.due > plan.ends_on:
            out.append((f"rounds.{ri}.due", f"{rnd.due} is after the plan ends ({plan.ends_on})",
                        f"{rnd.due} sau ngày kết thúc kế hoạch ({plan.ends_on})"))
    return out


_ROUND = re.compile(r"^round (\S+): (.*)$")
_FORM = re.compile(r"^form (\S+): (.*)$")
_INDICATOR = re.compile(r"^indicator (\S+): (.*)$")


def model_problems(data: Any, message: str) -> list[tuple[str, str]]:
    """The model's plan-wide refusal (problems joined by "; ") as ``(field, message)`` pairs,
    each on the round, form or indicator it names; what it cannot place stays on ""."""
    if not isinstance(data, dict):
        return [("", message)]
    out: list[tuple[str, str]] = []
    for problem in message.split("; "):
        out.append(_place(data, problem))
    return out


def _index(items: Any, wanted: str) -> int | None:
    if isinstance(items, list):
        for n, item in enumerate(items):
            if isinstance(item, dict) and item.get("id") == wanted:
                return n
    return None


def _place(data: dict[str, Any], problem: str) -> tuple[str, str]:
    if m := _ROUND.match(problem):
        n = _index(data.get("rounds"), m.group(1))
        if n is not None:
            rest = m.group(2)
            field = ("form" if rest.startswith("no form") else
                     "previous" if rest.startswith("no previous") else
                     "opens_on" if rest.startswith("opens") else
                     "due" if rest.startswith("due") else "")
            return (f"rounds.{n}.{field}".rstrip("."), rest)
    if m := _FORM.match(problem):
        n = _index(data.get("forms"), m.group(1))
        if n is not None:
            rest = m.group(2)
            if i := _INDICATOR.match(rest):
                forms = data["forms"]
                k = _index(forms[n].get("indicators"), i.group(1))
                if k is not None:
                    return (f"forms.{n}.indicators.{k}", i.group(2))
            return (f"forms.{n}.indicators", rest) if "indicators" in rest else (
                f"forms.{n}", rest)
    for prefix, field in (("adhoc_form:", "adhoc_form"), ("starts_on", "starts_on"),
                          ("a plan of the 2025 units", "units.people_committees"),
                          ("two departments", "units.departments"), ("two forms", "forms"),
                          ("two rounds", "rounds")):
        if problem.startswith(prefix):
            return (field, problem.removeprefix(f"{field}: "))
    return ("", problem)
