"""Programme indicators over years (chỉ tiêu của chương trình qua các năm), pure.

A programme (002's to 2030, 000's 2022-2025) is followed round by round: each indicator's
consolidated value per year beside its target for that year (``IndicatorTarget.by_year``, the
plan's path), met or not; and which units are behind: those that did not report in the
latest round, and those whose own value misses the target (a share is computed per unit from
its own numerator and denominator). The caller reads the recorded tables and reports.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from domain.reporting import (
    Consolidation,
    Indicator,
    ReportingPlan,
    Value,
    reporting_units,
    reports,
    target_met,
)


@dataclass(frozen=True)
class YearPoint:
    year: int
    round: str
    value: float | bool | None
    target: float | None
    met: bool | None
    change_pct: float | None = None


@dataclass(frozen=True)
class IndicatorPath:
    id: str
    name_vi: str
    name_en: str
    unit_vi: str
    target_kind: str | None
    points: list[YearPoint]
    units_behind: list[str] = field(default_factory=list)  # the latest round's

    @property
    def latest(self) -> YearPoint | None:
        return self.points[-1] if self.points else None


@dataclass(frozen=True)
class ProgrammeStatus:
    plan_id: str
    years: list[int]
    indicators: list[IndicatorPath]
    not_reported: list[str]  # units that did not report in the latest consolidated round
    latest_round: str | None


def unit_value(indicator: Indicator, values: Mapping[str, Value]) -> float | bool | None:
    """One unit's own value of ``indicator`` (a share from its own two figures)."""
    if indicator.aggregate == "share":
        num = values.get(indicator.numerator or "")
        den = values.get(indicator.denominator or "")
        if isinstance(num, bool) or isinstance(den, bool) or num is None or not den:
            return None
        return round(100.0 * float(num) / float(den), 2)
    return values.get(indicator.id)


def _misses(indicator: Indicator, value: float | bool | None, year: int) -> bool:
    """A unit's own value misses a level target (at least / at most, strict or not, from
    its year); a change target is the province's, never a unit's."""
    t = indicator.target
    if t is None or t.kind not in ("at_least", "at_most"):
        return False
    return target_met(indicator, value, None, year) is False


def programme_status(plan: ReportingPlan, tables: Mapping[str, Consolidation],
                     reports_by_round: Mapping[str, Mapping[str, Mapping[str, Value]]]
                     ) -> ProgrammeStatus:
    """The programme's paths from the consolidated ``tables`` (round id -> table) and the
    units' reports (round id -> unit -> values) of the rounds consolidated so far."""
    done = sorted((r for r in plan.rounds if r.id in tables), key=lambda r: (r.year, r.due))
    latest = done[-1] if done else None
    units = reporting_units(plan)
    paths: list[IndicatorPath] = []
    indicators: dict[str, Indicator] = {}
    for r in done:
        for i in plan.form(r.form).indicators:
            indicators.setdefault(i.id, i)
    for i in indicators.values():
        points = []
        for r in done:
            row = next((x for x in tables[r.id].indicators if x.id == i.id), None)
            if row is None:
                continue
            points.append(YearPoint(year=r.year, round=r.id, value=row.value,
                                    target=row.target_value, met=row.met,
                                    change_pct=row.change_pct))
        behind: list[str] = []
        if latest is not None and i.target is not None:
            given = reports_by_round.get(latest.id, {})
            for u in units:
                if not (reports(i, u) or (i.aggregate == "share" and u.id in given)):
                    continue
                if u.id not in given:
                    behind.append(u.id)
                elif _misses(i, unit_value(i, given[u.id]), latest.year):
                    behind.append(u.id)
        paths.append(IndicatorPath(id=i.id, name_vi=i.name_vi, name_en=i.name_en,
                                   unit_vi=i.unit_vi,
                                   target_kind=i.target.kind if i.target else None,
                                   points=points, units_behind=behind))
    missing = list(tables[latest.id].units_missing) if latest is not None else []
    return ProgrammeStatus(plan_id=plan.id, years=sorted({r.year for r in done}),
                           indicators=paths, not_reported=missing,
                           latest_round=latest.id if latest else None)
