"""Reporting plans (kế hoạch báo cáo định kỳ) as data: who reports what, when, to whom.

Three of the source documents are not about one commune's conversion but about reports: the
departments and People's Committees named in a plan report their results in rounds (yearly
before a day, a final round, a one-off campaign such as an action month), the provincial
police consolidates them (tổng hợp) and the provincial People's Committee approves the
province's report (000 §VI.2-3, 004 §IV, 002 §II.3 and §IV). A ``ReportingPlan`` says:

- ``units``: the reporting units (đơn vị báo cáo): departments named in the document, each
  with the role its people act in, and the People's Committees of each level the plan's
  structure has (``people_committees``: every district and/or commune of the territory);
- ``forms``: what a report holds: indicators (chỉ tiêu) with their type, unit, bounds, how
  the province consolidates them (sum, a share of two sums, all true) and their target (at
  least / at most a value, or a year-on-year change), and narrative sections;
- ``rounds``: each with its opening day, due day, form and the round it compares with;
- ``adhoc_form``: the form of an ad hoc round (đột xuất) the consolidating role may open;
- who consolidates, who approves, whom a missed report is escalated to, reminder offsets.

Every item cites its source (seed file and section). Pure: the catalogue reads the files.
``validate_report`` checks one unit's values against its form (refusals name the indicator);
``consolidate`` is the province's table (``domain.reporting`` has no clock and no I/O).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.admin_units import registry
from domain.errors import InputError
from domain.roles import Role

Source = Annotated[str, Field(min_length=3, max_length=300)]
Id = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=64)]
IndicatorType = Literal["count", "number", "percent", "boolean"]
Aggregate = Literal["sum", "share", "all", "none"]
TargetKind = Literal["at_least", "at_most", "change_at_least", "change_at_most"]
Value = int | float | bool


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class IndicatorTarget(_Strict):
    """Mục tiêu: the consolidated value (or its change on the previous round, in percent)
    compared with ``value``; ``by_year``: a programme's path (the value for a given year)."""

    kind: TargetKind
    value: float
    by_year: dict[int, float] = {}
    # "trên 90%", "tăng trên 3%", "giảm": beyond the value, not reaching it
    strict: bool = False
    # "phấn đấu đến hết năm 2030": not measured before that year (met is None)
    from_year: int | None = Field(default=None, ge=2000, le=2100)
    source: Source

    def for_year(self, year: int) -> float:
        return self.by_year.get(year, self.value)


class Indicator(_Strict):
    """Chỉ tiêu báo cáo: one number (or yes/no) each reporting unit gives."""

    id: Id
    name_vi: str
    name_en: str
    unit_vi: str = ""  # e.g. "vụ", "người", "%"
    unit_en: str = ""
    type: IndicatorType = "count"
    max: float | None = Field(default=None, gt=0)  # an upper bound beyond the type's own
    aggregate: Aggregate = "sum"
    numerator: Id | None = None  # share: sum(numerator) / sum(denominator), in percent
    denominator: Id | None = None
    reported_by: list[Id] = []  # unit ids or kinds (department, district, commune); [] = all
    computed: bool = False  # a share computed from two others: units do not report it
    target: IndicatorTarget | None = None
    source: Source

    @model_validator(mode="after")
    def _share_names_its_parts(self) -> Indicator:
        if (self.aggregate == "share") != (self.numerator is not None
                                           and self.denominator is not None):
            raise ValueError("a share names its numerator and denominator, and only a share")
        if self.type == "boolean" and self.aggregate not in ("all", "none"):
            raise ValueError("a yes/no indicator consolidates as all or none")
        return self


class Section(_Strict):
    """A narrative section of the report (kết quả, tồn tại, đề xuất ...)."""

    id: Id
    title_vi: str
    title_en: str
    required: bool = True
    max_chars: int = Field(default=20000, ge=100, le=200000)


class Form(_Strict):
    id: Id
    title_vi: str
    title_en: str
    indicators: list[Indicator] = Field(min_length=1)
    sections: list[Section] = []
    source: Source

    def indicator(self, indicator_id: str) -> Indicator:
        for i in self.indicators:
            if i.id == indicator_id:
                return i
        raise InputError("report.unknown_indicator",
                         f"form {self.id} has no indicator {indicator_id!r}",
                         f"biểu mẫu {self.id} không có chỉ tiêu {indicator_id!r}")


UnitKind = Literal["department", "district", "commune", "province"]


class ReportingUnit(_Strict):
    """Đơn vị báo cáo: a department (sở, ngành) or a People's Committee."""

    id: Id
    name_vi: str
    name_en: str
    kind: UnitKind = "department"
    role: Role  # the role its people act in
    district_code: str | None = Field(default=None, pattern=r"^\d{3}$")
    commune_code: str | None = Field(default=None, pattern=r"^\d{5}$")
    source: Source = "the plan's territory"


class Units(_Strict):
    departments: list[ReportingUnit] = []
    # every People's Committee of these levels in the plan's territory reports too
    people_committees: list[Literal["district", "commune"]] = []
    source: Source


RoundKind = Literal["yearly", "final", "campaign", "adhoc"]


class Round(_Strict):
    """Kỳ báo cáo: when a round opens, when reports are due, and its form."""

    id: Id
    kind: RoundKind
    title_vi: str
    title_en: str
    year: int = Field(ge=2000, le=2100)
    opens_on: date
    due: date
    form: Id
    previous: Id | None = None  # the round its values are compared with (year on year)
    source: Source

    @model_validator(mode="after")
    def _due_after_open(self) -> Round:
        if self.due < self.opens_on:
            raise ValueError(f"round {self.id}: due {self.due} before it opens {self.opens_on}")
        return self


class ReportingPlan(_Strict):
    """A reporting plan (kế hoạch có chế độ báo cáo): units, forms, rounds, roles."""

    id: Id
    kind: Literal["reporting"] = "reporting"
    title_vi: str
    title_en: str
    source: str
    structure: Literal["legacy", "current"]
    province_code: str = Field(pattern=r"^\d{2}$")
    timezone: str = "Asia/Ho_Chi_Minh"
    starts_on: date
    ends_on: date
    units: Units
    forms: list[Form] = Field(min_length=1)
    rounds: list[Round] = Field(min_length=1)
    adhoc_form: Id | None = None
    consolidator: Role = "province_police"
    approver: Role = "province_ubnd"
    escalate_to: Role = "province_police"  # a missed report: who urges the unit (đôn đốc)
    reminder_days_before: list[int] = Field(default=[7, 3, 1])
    programme_years: list[int] = []  # a programme followed year by year (002: to 2030)

    @model_validator(mode="after")
    def _consistent(self) -> ReportingPlan:
        problems = reporting_plan_problems(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def form(self, form_id: str) -> Form:
        for f in self.forms:
            if f.id == form_id:
                return f
        raise InputError("reporting.unknown_form", f"plan {self.id} has no form {form_id!r}",
                         f"kế hoạch {self.id} không có biểu mẫu {form_id!r}")

    def round(self, round_id: str) -> Round:
        for r in self.rounds:
            if r.id == round_id:
                return r
        listed = ", ".join(r.id for r in self.rounds)
        raise InputError("reporting.unknown_round",
                         f"plan {self.id} has no round {round_id!r} (known: {listed})",
                         f"kế hoạch {self.id} không có kỳ báo cáo {round_id!r} "
                         f"(hiện có: {listed})")

    def local_midnight(self, day: date) -> datetime:
        """The instant ``day`` begins in the plan's time zone."""
        return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(self.timezone))

    def local_date(self, instant: datetime) -> date:
        return instant.astimezone(ZoneInfo(self.timezone)).date()


def reporting_plan_problems(plan: ReportingPlan) -> list[str]:
    """Every inconsistency of a reporting plan, each naming the thing."""
    out: list[str] = []
    forms = {f.id for f in plan.forms}
    rounds = {r.id for r in plan.rounds}
    if len(forms) != len(plan.forms):
        out.append("two forms have the same id")
    if len(rounds) != len(plan.rounds):
        out.append("two rounds have the same id")
    for f in plan.forms:
        ids = [i.id for i in f.indicators]
        if len(set(ids)) != len(ids):
            out.append(f"form {f.id}: two indicators have the same id")
        for i in f.indicators:
            for part in (i.numerator, i.denominator):
                if part is not None and part not in ids:
                    out.append(f"form {f.id}: indicator {i.id}: no indicator {part!r}")
    for r in plan.rounds:
        if r.form not in forms:
            out.append(f"round {r.id}: no form {r.form!r}")
        if r.previous is not None and r.previous not in rounds:
            out.append(f"round {r.id}: no previous round {r.previous!r}")
        if not plan.starts_on <= r.opens_on <= plan.ends_on:
            out.append(f"round {r.id}: opens {r.opens_on}, outside the plan's period")
    if plan.adhoc_form is not None and plan.adhoc_form not in forms:
        out.append(f"adhoc_form: no form {plan.adhoc_form!r}")
    if plan.starts_on > plan.ends_on:
        out.append("starts_on is after ends_on")
    if plan.structure == "current" and "district" in plan.units.people_committees:
        out.append("a plan of the 2025 units has no district People's Committees")
    unit_ids = [u.id for u in plan.units.departments]
    if len(set(unit_ids)) != len(unit_ids):
        out.append("two departments have the same id")
    return out


# -- the units of a plan --------------------------------------------------------------------------

def reporting_units(plan: ReportingPlan) -> list[ReportingUnit]:
    """Every unit that reports under ``plan``: its departments, then the People's Committees
    of each listed level in its territory (ids ``district-<code>``, ``commune-<code>``)."""
    units = list(plan.units.departments)
    reg = registry(plan.structure)
    if "district" in plan.units.people_committees:
        for d in reg.districts_of_province(plan.province_code):
            units.append(ReportingUnit(
                id=f"district-{d.code}", name_vi=f"UBND {d.name}", name_en=f"{d.name} PC",
                kind="district", role="district_ubnd", district_code=d.code,
                source=plan.units.source))
    if "commune" in plan.units.people_committees:
        for c in reg.communes_of_province(plan.province_code):
            units.append(ReportingUnit(
                id=f"commune-{c.code}", name_vi=f"UBND {c.name}", name_en=f"{c.name} PC",
                kind="commune", role="commune_ubnd", district_code=c.district_code,
                commune_code=c.code, source=plan.units.source))
    return units


def reports(indicator: Indicator, unit: ReportingUnit) -> bool:
    """Does ``unit`` report ``indicator``?"""
    if indicator.computed:
        return False
    return not indicator.reported_by or unit.id in indicator.reported_by or \
        unit.kind in indicator.reported_by


# -- one unit's report against its form ------------------------------------------------------------

def validate_report(form: Form, unit: ReportingUnit, values: Mapping[str, Any],
                    sections: Mapping[str, str]) -> dict[str, Value]:
    """The unit's values as the form types them; refused (``InputError``) naming the
    indicator or section: unknown, missing, of the wrong type, out of range."""
    known = {i.id: i for i in form.indicators}
    for key in values:
        i = known.get(key)
        if i is None or not reports(i, unit):
            raise InputError("report.unknown_indicator",
                             f"{key!r} is not an indicator {unit.id} reports in form {form.id}",
                             f"{key!r} không phải chỉ tiêu {unit.name_vi} báo cáo trong biểu "
                             f"mẫu {form.id}")
    out: dict[str, Value] = {}
    for i in form.indicators:
        if not reports(i, unit):
            continue
        if i.id not in values:
            raise InputError("report.missing_indicator",
                             f"indicator {i.id} ({i.name_en}) is missing",
                             f"thiếu chỉ tiêu {i.id} ({i.name_vi})")
        out[i.id] = _typed(i, values[i.id])
    for s in form.sections:
        text = sections.get(s.id, "")
        if not isinstance(text, str):
            raise InputError("report.bad_section", f"section {s.id} must be text",
                             f"phần {s.id} phải là văn bản")
        if s.required and not text.strip():
            raise InputError("report.missing_section", f"section {s.id} ({s.title_en}) is "
                             "empty", f"phần “{s.title_vi}” ({s.id}) còn trống")
        if len(text) > s.max_chars:
            raise InputError("report.section_too_long",
                             f"section {s.id} has {len(text)} characters (at most {s.max_chars})",
                             f"phần “{s.title_vi}” dài {len(text)} ký tự (tối đa {s.max_chars})")
    unknown = sorted(set(sections) - {s.id for s in form.sections})
    if unknown:
        raise InputError("report.unknown_section",
                         f"form {form.id} has no section {unknown[0]!r}",
                         f"biểu mẫu {form.id} không có phần {unknown[0]!r}")
    return out


def _bad(i: Indicator, en: str, vi: str) -> InputError:
    return InputError("report.bad_value", f"indicator {i.id} ({i.name_en}): {en}",
                      f"chỉ tiêu {i.id} ({i.name_vi}): {vi}")


def _typed(i: Indicator, v: Any) -> Value:
    if i.type == "boolean":
        if not isinstance(v, bool):
            raise _bad(i, f"expected true or false, got {v!r}", f"phải là có/không, nhận {v!r}")
        return v
    if isinstance(v, bool) or not isinstance(v, int | float) or \
            (isinstance(v, float) and not math.isfinite(v)):
        raise _bad(i, f"expected a number, got {v!r}", f"phải là một số, nhận {v!r}")
    if i.type == "count" and (not float(v).is_integer()):
        raise _bad(i, f"expected a whole number, got {v!r}", f"phải là số nguyên, nhận {v!r}")
    if v < 0:
        raise _bad(i, f"{v} is negative", f"{v} là số âm")
    upper = 100.0 if i.type == "percent" else None
    if i.max is not None:
        upper = i.max if upper is None else min(upper, i.max)
    if upper is not None and v > upper:
        raise _bad(i, f"{v} is above {upper:g}", f"{v} vượt quá {upper:g}")
    if abs(v) > 2**53 - 1:
        raise _bad(i, f"{v} is too large", f"{v} quá lớn")
    return int(v) if i.type == "count" else float(v)


# -- the province's consolidated table -------------------------------------------------------------

class IndicatorResult(_Strict):
    """One row of the consolidated report (báo cáo tổng hợp)."""

    id: str
    name_vi: str
    name_en: str
    unit_vi: str
    value: float | bool | None  # None: nothing reported for it
    reported_by: int  # units whose report carries it
    expected: int  # units that should report it
    previous: float | bool | None = None  # the compared round's consolidated value
    change_pct: float | None = None  # year-on-year change, percent
    target_kind: str | None = None
    target_value: float | None = None
    target_strict: bool = False  # "trên", "giảm": beyond target_value
    met: bool | None = None  # None: no target, or not measurable yet


class Consolidation(_Strict):
    round: str
    year: int
    units_expected: int
    units_reported: list[str]
    units_missing: list[str]
    late: list[str]
    indicators: list[IndicatorResult]

    def value(self, indicator_id: str) -> float | bool | None:
        for r in self.indicators:
            if r.id == indicator_id:
                return r.value
        return None


def consolidate(plan: ReportingPlan, rnd: Round, units: Sequence[ReportingUnit],
                submitted: Mapping[str, Mapping[str, Value]], late: Sequence[str],
                previous: Consolidation | None = None) -> Consolidation:
    """Sums, shares and all-true per indicator over the units that reported (``submitted``:
    unit id -> its typed values), the change on ``previous``, each target met or not."""
    form = plan.form(rnd.form)
    sums: dict[str, float] = {}
    rows: list[IndicatorResult] = []
    for i in form.indicators:
        expected = [u for u in units if reports(i, u)]
        given = [submitted[u.id][i.id] for u in expected
                 if u.id in submitted and i.id in submitted[u.id]]
        value: float | bool | None
        if i.aggregate == "share":
            assert i.numerator is not None and i.denominator is not None
            num, den = sums.get(i.numerator), sums.get(i.denominator)
            value = None if num is None or not den else round(100.0 * num / den, 2)
            given_count = len([u for u in units if u.id in submitted])
        elif i.aggregate == "all":
            value = all(bool(x) for x in given) if given else None
            given_count = len(given)
        elif i.aggregate == "none":
            value, given_count = None, len(given)
        else:
            value = float(sum(float(x) for x in given)) if given else None
            if value is not None:
                sums[i.id] = value
            given_count = len(given)
        prev = previous.value(i.id) if previous is not None else None
        change = None
        if isinstance(value, float) and isinstance(prev, float) and prev:
            change = round(100.0 * (value - prev) / prev, 2)
        rows.append(IndicatorResult(
            id=i.id, name_vi=i.name_vi, name_en=i.name_en, unit_vi=i.unit_vi, value=value,
            reported_by=given_count, expected=len(expected) if i.aggregate != "share" else len(
                units), previous=prev, change_pct=change,
            target_kind=i.target.kind if i.target else None,
            target_value=i.target.for_year(rnd.year) if i.target else None,
            target_strict=i.target.strict if i.target else False,
            met=target_met(i, value, change, rnd.year)))
    reported = sorted(u.id for u in units if u.id in submitted)
    return Consolidation(
        round=rnd.id, year=rnd.year, units_expected=len(units), units_reported=reported,
        units_missing=sorted(u.id for u in units if u.id not in submitted),
        late=sorted(set(late) & set(reported)), indicators=rows)


def target_met(i: Indicator, value: float | bool | None, change: float | None,
               year: int) -> bool | None:
    """Whether ``value`` (or its year-on-year ``change``) meets ``i``'s target in ``year``;
    None: no target, not measured that year, or nothing to compare."""
    t = i.target
    if t is None or value is None or (t.from_year is not None and year < t.from_year):
        return None
    goal = t.for_year(year)
    if t.kind in ("change_at_least", "change_at_most"):
        if change is None:
            return None
        number = change
    else:
        number = float(value)
    if t.kind in ("at_least", "change_at_least"):
        return number > goal if t.strict else number >= goal
    return number < goal if t.strict else number <= goal
