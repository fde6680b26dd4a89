"""The reporting demo's scenario, drawn from its seed: every unit's figures round by round, who
reports early, near the due day, late or never, and whose report comes back.

Each indicator has a level per unit (its scale below, or one by unit kind) that moves year by
year with a province-wide trend, so the year-on-year targets are met in some years and not in
others; the part of a share (cases resolved out of cases to resolve, ...) is drawn from its
whole at a rate near the share's target. Everything random is drawn here, up front and in a
fixed order, so one seed gives one run whatever order the workflows answer in.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date
from typing import Any

from domain.reporting import (
    Form,
    Indicator,
    ReportingPlan,
    ReportingUnit,
    Round,
    Value,
    reporting_units,
    reports,
)

LATE_SHARE = 0.08  # units that report after the due day (reminded, escalated, then accepted)
MISSING_SHARE = 0.03  # People's Committees that never report in a round
NEAR_DUE_SHARE = 0.25  # units that report in the last days, after two reminders

# Yearly scale of a figure for one unit (low, high), where the kind's default would not do.
SCALE: dict[str, tuple[float, float]] = {
    "people_reached": (1_500, 12_000), "contest_entries": (300, 4_000),
    "propaganda_sessions": (8, 90), "banners": (20, 150), "media_items": (30, 200),
    "drug_cases": (15, 120), "drug_crime_cases": (20, 160), "drug_offenders": (25, 200),
    "drug_cases_total": (120, 180), "trafficking_reports": (6, 20),
    "hotspots_cleared": (3, 15), "wanted_arrested": (2, 12), "users_detected": (5, 40),
    "addicts_detected": (5, 30), "addiction_determinations": (80, 300),
    "rehab_admissions": (60, 250), "tipoff_tests": (0, 25), "precursor_inspections": (4, 30),
    "drug_plant_area_destroyed": (50, 900), "prevention_models": (0, 3),
    "funds_allocated": (300, 4_000),
    "addicts": (0, 45), "users": (0, 30), "use_venues_found": (15, 40),
    "retail_dealers_found": (60, 150), "plant_area_found": (200, 2_000),
    "border_guard_units": (4, 7), "sea_courier_cases": (10, 30), "transnational_cases": (3, 10),
    "cyber_cases": (8, 25), "public_rehab_centres": (2, 3), "major_media": (8, 14),
    "schools": (500, 800), "park_workers": (40_000, 80_000), "legal_aid_requests": (30, 90),
    "opioid_addicts": (500, 1_200), "support_target_people": (2_000, 4_000),
    "communes_with_addicts": (0, 1),
}
BY_KIND: dict[str, tuple[float, float]] = {
    "department": (10, 120), "province": (10, 120), "district": (5, 60), "commune": (0, 12)}
NEW_HOTSPOT_CHANCE = 0.06  # a district where a new hotspot formed this year
ADHOC_PART = 0.25  # an ad hoc report covers the months since the last round, not a year

SECTION_TEXT = {
    "results": "{unit} đã triển khai đầy đủ các nhiệm vụ được giao; số liệu theo biểu kèm theo.",
    "shortcomings": "Nguồn lực, kinh phí còn hạn chế; phối hợp giữa các lực lượng có lúc chưa "
                    "chặt chẽ.",
    "proposals": "Đề nghị tiếp tục bố trí kinh phí và tập huấn nghiệp vụ cho cơ sở.",
    "situation": "Tình hình tội phạm, tệ nạn ma túy trên địa bàn {unit} cơ bản được kiểm "
                 "soát.",
    "final_review": "Các chỉ tiêu của Kế hoạch cơ bản hoàn thành; một số chỉ tiêu cần tiếp tục "
                    "phấn đấu.",
}


@dataclass(frozen=True)
class RoundPlay:
    """One round as the seed decides it (unit ids)."""

    round: Round
    reports: dict[str, dict[str, Value]]  # unit -> its (correct) figures
    sections: dict[str, dict[str, str]]  # unit -> its narrative sections
    early: list[str]  # well before the due day (the police first)
    near_due: list[str]  # in the last days, after the reminders 7 and 3 days before
    late: list[str]  # a few days after the due day
    missing: list[str]  # never
    returned: str  # its first report carries a wrong figure and is sent back
    wrong: dict[str, Value]  # that first report
    reason: str  # why the police sends it back


@dataclass(frozen=True)
class RoundsScenario:
    plan: ReportingPlan
    units: list[ReportingUnit]
    rounds: list[RoundPlay]  # in the order they run

    @classmethod
    def draw(cls, plan: ReportingPlan, seed: int) -> RoundsScenario:
        rng = random.Random(seed)
        units = reporting_units(plan)
        scheduled = sorted(plan.rounds, key=lambda r: r.opens_on)
        order = list(scheduled)
        if plan.adhoc_form is not None:  # an ad hoc round the spring after the first round
            order.insert(1, adhoc_round(plan, scheduled[0]))
        levels = Levels(rng, units)
        plays = []
        step = 0  # yearly rounds since the first: the trend's exponent
        for rnd in order:
            if rnd.kind != "adhoc" and rnd is not scheduled[0]:
                step += 1
            plays.append(draw_round(rng, plan, units, rnd, levels, step))
        return cls(plan=plan, units=units, rounds=plays)


def adhoc_round(plan: ReportingPlan, after: Round) -> Round:
    """Báo cáo đột xuất: the provincial police asks every unit, on 1 March after the first
    round, for the figures of the plan's ad hoc form within two weeks."""
    assert plan.adhoc_form is not None
    year = after.due.year + 1
    form = plan.form(plan.adhoc_form)
    return Round(id=f"adhoc-{year}-03", kind="adhoc", title_vi=f"{form.title_vi} (tháng 3/{year})",
                 title_en=f"{form.title_en} (March {year})", year=year,
                 opens_on=date(year, 3, 1), due=date(year, 3, 15), form=plan.adhoc_form,
                 source="Công an tỉnh yêu cầu báo cáo đột xuất (demo)")


class Levels:
    """Each unit's level of each figure, and the province's trend of each figure by year
    (drawn on first use, in the scenario's fixed order)."""

    def __init__(self, rng: random.Random, units: list[ReportingUnit]) -> None:
        self.rng = rng
        self.communes = sum(1 for u in units if u.kind == "commune")
        self.base: dict[tuple[str, str], float] = {}
        self.trend: dict[tuple[str, int], float] = {}

    def level(self, i: Indicator, unit: ReportingUnit, step: int) -> float:
        key = (i.id, unit.id)
        if key not in self.base:
            low, high = SCALE.get(i.id, BY_KIND[unit.kind])
            if i.id == "commune_health_stations":  # one station per commune
                low = high = float(self.communes)
            self.base[key] = self.rng.uniform(low, high)
        return self.base[key] * self.growth(i, step)

    def growth(self, i: Indicator, step: int) -> float:
        """The province-wide factor ``step`` years after the first round's (1): a rise of 0
        to 9% a year where the plan wants a rise, a fall of up to 12% where it wants a fall."""
        if step == 0:
            return 1.0
        key = (i.id, step)
        if key not in self.trend:
            kind = i.target.kind if i.target else None
            change = (self.rng.uniform(0.0, 0.09) if kind == "change_at_least" else
                      self.rng.uniform(-0.12, 0.02) if kind == "change_at_most" else
                      self.rng.uniform(-0.05, 0.08))
            self.trend[key] = self.growth(i, step - 1) * (1 + change)
        return self.trend[key]


def draw_round(rng: random.Random, plan: ReportingPlan, units: list[ReportingUnit], rnd: Round,
               levels: Levels, step: int) -> RoundPlay:
    form = plan.form(rnd.form)
    part = ADHOC_PART if rnd.kind == "adhoc" else 1.0
    reports_ = {u.id: figures(rng, form, u, levels, step, part) for u in units}
    sections = {u.id: section_texts(form, u) for u in units}
    police = [u.id for u in units if u.role == plan.consolidator]
    others = [u.id for u in units if u.id not in police]
    committees = [u.id for u in units if u.kind in ("district", "commune")]
    missing = sorted(rng.sample(committees, _some(len(units), MISSING_SHARE)))
    rest = [u for u in others if u not in missing]
    late = sorted(rng.sample(rest, _some(len(units), LATE_SHARE)))
    rest = [u for u in rest if u not in late]
    near_due = sorted(rng.sample(rest, round(len(rest) * NEAR_DUE_SHARE)))
    early = police + [u for u in rest if u not in near_due]
    # sent back: an early report (not the police's own) whose first figures hold a slip
    by_id = {u.id: u for u in units}
    fit = [u for u in early if u not in police and _slippable(form, by_id[u])]
    returned = rng.choice(fit)
    slipped = rng.choice(_slippable(form, by_id[returned]))
    right = reports_[returned][slipped.id]
    wrong_value: Value = int(right) * 10 + 10 if slipped.type == "count" else \
        round(float(right) * 10 + 10, 1)
    wrong = {**reports_[returned], slipped.id: wrong_value}
    shown = f"{wrong_value:,}".replace(",", " ").replace(".", ",").replace(" ", ".")
    reason = (f"Số liệu “{slipped.name_vi}” ({shown} {slipped.unit_vi}".rstrip() + ") chưa "
              "khớp với sổ theo dõi; đề nghị rà soát, báo cáo lại")
    return RoundPlay(round=rnd, reports=reports_, sections=sections, early=early,
                     near_due=near_due, late=late, missing=missing, returned=returned,
                     wrong=wrong, reason=reason)


def _some(n: int, share: float) -> int:
    return max(1, round(n * share))


def _slippable(form: Form, unit: ReportingUnit) -> list[Indicator]:
    """Figures a clerk could mistype: counts and numbers with no bound of their own."""
    return [i for i in form.indicators if reports(i, unit) and i.max is None
            and i.type in ("count", "number")]


def figures(rng: random.Random, form: Form, unit: ReportingUnit, levels: Levels, step: int,
            part: float = 1.0) -> dict[str, Value]:
    """The figures ``unit`` reports on ``form`` ``step`` years after the first round (``part``
    of a year's figures for an ad hoc round)."""
    parts = {i.numerator: i for i in form.indicators if i.aggregate == "share" and i.numerator}
    whole_of = {i.numerator: i.denominator for i in form.indicators
                if i.aggregate == "share" and i.numerator and i.denominator}
    out: dict[str, Value] = {}
    mine = [i for i in form.indicators if reports(i, unit)]
    for i in mine:  # wholes and plain figures first, parts of a share after
        if i.id in parts:
            continue
        out[i.id] = _plain(rng, i, unit, levels, step, part)
    for i in mine:
        if i.id not in parts:
            continue
        whole = out.get(whole_of[i.id] or "")
        out[i.id] = _part(rng, i, parts[i.id], whole)
    return out


def _plain(rng: random.Random, i: Indicator, unit: ReportingUnit, levels: Levels, step: int,
           part: float) -> Value:
    if i.type == "boolean":
        if i.id == "drug_free":  # more communes qualify each year
            return rng.random() < min(0.98, 0.55 + 0.1 * step)
        return rng.random() < 0.96
    if i.type == "percent":
        return round(rng.uniform(55, 100), 1)
    if i.id == "new_hotspots":
        return 1 if rng.random() < NEW_HOTSPOT_CHANCE else 0
    if i.max is not None:  # a yes/no answered as 0 or 1
        return 1 if rng.random() < 0.7 else 0
    value = levels.level(i, unit, step) * part * rng.uniform(0.95, 1.05)
    if i.type == "number":
        return round(value, 1)
    return max(0, round(value))


def _part(rng: random.Random, part: Indicator, share: Indicator, whole: Any) -> Value:
    """The part of ``whole`` that ``share`` counts, at a rate near its target: a 100% target
    is reached by most units, a lower one about as often as not."""
    goal = (share.target.value if share.target else 90.0) / 100
    if not isinstance(whole, int | float) or isinstance(whole, bool) or whole <= 0:
        return 0 if part.type == "count" else 0.0
    if part.max is not None:  # 0 or 1: the commune has the thing or not
        return 1 if rng.random() < min(1.0, goal + 0.08) else 0
    if goal >= 1:
        rate = 1.0 if rng.random() < 0.85 else rng.uniform(0.85, 0.99)
    else:
        rate = min(1.0, rng.uniform(goal - 0.08, goal + 0.15))
    if part.type == "count":
        return min(int(whole), round(whole * rate))
    return min(float(whole), round(float(whole) * rate, 1))


def section_texts(form: Form, unit: ReportingUnit) -> dict[str, str]:
    """The narrative sections a unit writes (the required ones, and proposals)."""
    out = {}
    for s in form.sections:
        if s.required or s.id == "proposals":
            text = SECTION_TEXT.get(s.id, "Đã thực hiện theo yêu cầu.")
            out[s.id] = text.format(unit=unit.name_vi)
    return out
