"""The province dashboard (Tổng quan): what the pages under ``/ui/dashboard`` show.

Counts come from the read model (``case_status``: each case's state and outcome), limited to
the reader's jurisdiction exactly as the case lists are (``FrontDoor.cases``); when a case was
opened and when it was recognised come from the log itself (``streams.created_at`` and the
``recognition.granted`` event's ``recorded_at``), so the read model needs no new column.
Overdue reports are the ``report`` / ``dossier`` rows of ``pending_decisions`` past their due
date in the reader's territory, whichever role owes them.

The chart is drawn by pygal (server-side SVG, no JavaScript): recognitions over time, as a
running total, against the plan's target line. The table (per district for a legacy plan read
by the province, per commune for a 2025 two-level plan or a district's own reader) is also
offered as CSV.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from domain.admin_units import registry
from domain.amendment import Amendment, MergedCommunes
from domain.case import territory_scope
from domain.errors import DomainError
from domain.merged import Rule, commune_recognised, need
from domain.plan import Plan
from domain.roles import ROLE_SCOPE, Actor
from domain.units import UnitConversion
from eventstore.amendments import Amendments
from service.access import check
from service.amendments import amended
from service.errors import ServiceError
from service.frontdoor import FrontDoor
from service.readmodel import today_in_vietnam
from web import labels
from web.i18n import Lang, day, pick

# Where a case stands, in the order the dashboard counts them (phases come in between).
FINAL = ("recognised", "not_recognised", "not_selected", "withdrawn", "halted")
NAMES: dict[str, tuple[str, str]] = {
    "proposed": ("Đề xuất, chờ lựa chọn", "Proposed, awaiting selection"),
    "selected": ("Đã được lựa chọn", "Selected"),
    "in_recognition": ("Đang xét công nhận", "In recognition"),
    "recognised": ("Được công nhận", "Recognised"),
    "not_recognised": ("Không được công nhận", "Not recognised"),
    "not_selected": ("Không được lựa chọn", "Not selected"),
    "withdrawn": ("Đã rút", "Withdrawn"),
    "halted": ("Bị dừng", "Halted"),
}


def categories(plan: Plan) -> list[str]:
    """Where a case of ``plan`` can stand, in the order the dashboard counts them."""
    return ["proposed", "selected", *(f"phase_{p.number}" for p in plan.phases),
            "in_recognition", "recognised", "not_recognised", "not_selected", "withdrawn"]


def category(row: dict[str, Any]) -> str:
    """The dashboard's name for where a case stands: proposed, selected, phase_N,
    in_recognition (returned dossiers included), or how it ended."""
    outcome, state = row.get("outcome"), str(row.get("state") or "")
    if outcome in FINAL:
        return str(outcome)
    if state in FINAL:
        return state
    if state == "opened":
        return "proposed"
    if state in ("in_recognition", "returned"):
        return "in_recognition"
    return state  # selected, phase_N


def category_name(code: str, lang: Lang) -> str:
    if code.startswith("phase_"):
        return pick(lang, f"Giai đoạn {code[6:]}", f"Phase {code[6:]}")
    vi, en = NAMES.get(code, (code, code))
    return pick(lang, vi, en)


@dataclass(frozen=True)
class Overdue:
    case_id: str
    commune_code: str
    commune_name: str
    kind: str
    subject: str
    role: str
    due: date


@dataclass(frozen=True)
class Line:
    """One row of the table: a district (legacy plans) or a commune (2025 plans)."""

    code: str
    name: str
    counts: dict[str, int]  # category -> cases (a commune: one case, or none)
    state: str | None = None  # a commune's category
    case_id: str | None = None
    classification: str | None = None
    missed_deadlines: int = 0
    recognised_on: date | None = None
    communes: int = 0  # a district: its communes in the plan's territory


@dataclass
class Dashboard:
    plan: Plan
    area: str  # the reader's territory, named
    communes: int  # communes of the plan's territory in the reader's jurisdiction
    need: int  # how many of them the target asks for
    counts: dict[str, int]  # category -> cases, every category shown in order
    by: str  # "district" | "commune"
    lines: list[Line]
    recognitions: list[tuple[date, str]]  # (day recognised, commune code), in order
    first_day: date  # the chart's span: the plan's year, widened to every opening and
    last_day: date  # recognition
    overdue: list[Overdue] = field(default_factory=list)
    today: date = date.min
    merged: Merged | None = None  # the plan's communes were merged by an amendment

    @property
    def recognised(self) -> int:
        """Recognised units as the target counts them (merged: the new communes, when the
        amendment says the target counts them)."""
        if self.merged is not None and self.merged.target == "new_communes":
            return self.merged.recognised
        return self.counts.get("recognised", 0)

    @property
    def cases(self) -> int:
        return sum(self.counts.values())

    def cumulative(self) -> list[tuple[date, int]]:
        """The running total of recognitions, one point per day that had any."""
        out: list[tuple[date, int]] = []
        total = 0
        for when, _ in self.recognitions:
            total += 1
            if out and out[-1][0] == when:
                out[-1] = (when, total)
            else:
                out.append((when, total))
        return out


def may_see(actor: Actor) -> None:
    """The dashboard is for province and district offices and auditors; a commune's officers
    read their own case (its page, the inbox), not their neighbours' counts."""
    if ROLE_SCOPE[actor.role] == "commune":
        raise ServiceError(
            "dashboard.wrong_role",
            "the dashboard is for province and district offices and auditors; a commune "
            "follows its own case from the inbox",
            "trang tổng quan dành cho cấp tỉnh, cấp huyện và thanh tra; UBND cấp xã theo dõi "
            "hồ sơ của xã mình trong Hộp công việc")


async def own_plans(door: FrontDoor, actor: Actor) -> list[Plan]:
    """The plans of the reader's province (and district): by the plan's own province, or by
    the province its cases moved to (a reform: Trà Vinh's plan is Vĩnh Long's after 1 July
    2025)."""
    out = []
    for p in await door.plans.listing():
        plan = p.plan
        provinces = {plan.province_code}
        if plan.province_code != actor.province_code:
            moved = await merging(door, plan)
            if moved is not None:
                provinces.add(moved[1].province_code)
        if actor.province_code in provinces and (
                plan.district_code is None or actor.district_code in (None, plan.district_code)):
            out.append(plan)
    return out


async def default_plan(door: FrontDoor, actor: Actor) -> str | None:
    """The reader's plan when none is named: the first of their province (and district)."""
    plans = await own_plans(door, actor)
    return plans[0].id if plans else None


async def build(door: FrontDoor, actor: Actor, plan_id: str) -> Dashboard:
    """The dashboard of ``plan_id`` as ``actor`` may see it (403 outside their role or
    territory, 404 for no such plan)."""
    may_see(actor)
    base = await door.plan_of(plan_id)
    merging_by = await merging(door, base)
    try:
        plan = await door.campaign_allowed(actor, "read", plan_id)
    except ServiceError:
        if merging_by is None:
            raise
        # after the reform the plan's territory lies in the new province: its readers too
        check(actor, "read", merging_by[1], territory_scope(merging_by[1]))
        plan = base
    if merging_by is not None and ROLE_SCOPE[actor.role] != "commune":
        return await _build_merged(door, actor, plan, *merging_by)
    units = registry(plan.structure)
    territory = [c for c in units.communes_of_province(plan.province_code)
                 if plan.district_code is None or c.district_code == plan.district_code]
    mine_district = actor.district_code if ROLE_SCOPE[actor.role] == "district" else None
    if mine_district is not None:
        territory = [c for c in territory
                     if c.district_code is None or c.district_code == mine_district]
    names = {c.code: c.name for c in territory}
    rows = await door.cases(actor, plan.id)
    store = door.service.store
    opened: dict[str, datetime] = {}
    granted: dict[str, datetime] = {}
    overdue: list[Overdue] = []
    today = today_in_vietnam()
    if store is not None and rows:
        for r in await store.pool.fetch(_MILESTONES, [str(row["stream"]) for row in rows]):
            opened[r["stream"]] = r["created_at"]
            if r["recognised_at"] is not None:
                granted[r["stream"]] = r["recognised_at"]
    if store is not None:
        args: list[Any] = [plan.id, actor.province_code, today]
        where = ""
        if mine_district is not None:
            args.append(mine_district)
            where = " AND district_code = $4"
        for r in await store.pool.fetch(_OVERDUE + where + " ORDER BY due, stream, subject",
                                        *args):
            code = str(r["commune_code"])
            overdue.append(Overdue(case_id=r["stream"], commune_code=code,
                                   commune_name=names.get(code, code), kind=r["kind"],
                                   subject=r["subject"], role=r["role"], due=r["due"]))

    order = categories(plan)
    counts = dict.fromkeys(order, 0)
    per_commune: dict[str, Line] = {}
    for row in rows:
        cat = category(row)
        counts[cat] = counts.get(cat, 0) + 1
        code = str(row["commune_code"])
        stream = str(row["stream"])
        when = granted.get(stream)
        per_commune[code] = Line(
            code=code, name=names.get(code, code), counts={cat: 1}, state=cat,
            case_id=stream, classification=row.get("last_classification"),
            missed_deadlines=int(row.get("missed_deadlines") or 0),
            recognised_on=plan.local_date(when) if when and cat == "recognised" else None)
    recognitions = sorted((line.recognised_on, line.code) for line in per_commune.values()
                          if line.recognised_on is not None)

    if plan.has_districts and mine_district is None:
        lines = []
        districts = sorted({c.district_code for c in territory if c.district_code})
        for dcode in districts:
            members = [c.code for c in territory if c.district_code == dcode]
            dcounts: dict[str, int] = {}
            for code in members:
                if code in per_commune:
                    cat = per_commune[code].state or ""
                    dcounts[cat] = dcounts.get(cat, 0) + 1
            lines.append(Line(code=dcode, name=units.district(dcode).name, counts=dcounts,
                              communes=len(members)))
        by = "district"
    else:
        lines = sorted(per_commune.values(), key=lambda line: line.code)
        by = "commune"

    # the chart spans the plan's year, and any day a case was opened or recognised outside
    # it (a rehearsal of an old plan happens years after its dates)
    days = [plan.local_date(t) for t in opened.values()] + [d for d, _ in recognitions]
    first = min([plan.starts_on, *days])
    last = max([plan.ends_on, *days])
    if mine_district is not None:
        area = units.district(mine_district).name
    elif plan.district_code is not None:
        area = units.district(plan.district_code).name
    else:
        area = units.province(plan.province_code).name
    return Dashboard(plan=plan, area=area, communes=len(territory),
                     need=math.ceil(plan.target.share * len(territory) - 1e-9),
                     counts={k: v for k, v in counts.items() if v or k in order},
                     by=by, lines=lines, recognitions=recognitions, first_day=first,
                     last_day=last, overdue=overdue, today=today)


async def _build_merged(door: FrontDoor, actor: Actor, plan: Plan, amendment: Amendment,
                        as_run: Plan) -> Dashboard:
    """The dashboard of a legacy plan whose communes an amendment merged: its cases (opened
    under the legacy codes, some now at the 2025 ones) by former district and new commune, the
    target counted as the amendment says."""
    rule = amendment.changes.merged_communes
    assert rule is not None
    _, _, units = amended(plan, amendment)
    legacy = registry("legacy")
    territory = [c.code for c in (legacy.communes_of_district(plan.district_code)
                                  if plan.district_code
                                  else legacy.communes_of_province(plan.province_code))]
    mine_district = actor.district_code if ROLE_SCOPE[actor.role] == "district" else None
    if mine_district is not None:  # a former district's reader: its own areas
        territory = [c for c in territory
                     if c in units and units[c].legacy_district_code == mine_district]
    inside = set(territory)
    provinces = [plan.province_code, as_run.province_code]
    rows = [asdict(r) for r in await door.service.list_cases(plan.id)
            if r.province_code in provinces and legacy_code(asdict(r)) in inside]
    store = door.service.store
    opened: dict[str, datetime] = {}
    granted: dict[str, date] = {}
    overdue: list[Overdue] = []
    today = today_in_vietnam()
    names = {c: units[c].legacy_commune_name for c in territory if c in units}
    if store is not None and rows:
        for r in await store.pool.fetch(_MILESTONES, [str(row["stream"]) for row in rows]):
            opened[r["stream"]] = r["created_at"]
            if r["recognised_at"] is not None:
                granted[r["stream"]] = plan.local_date(r["recognised_at"])
        streams = {str(row["stream"]): legacy_code(row) for row in rows}
        for r in await store.pool.fetch(_OVERDUE_STREAMS, list(streams), today):
            code = streams[r["stream"]]
            overdue.append(Overdue(case_id=r["stream"], commune_code=code,
                                   commune_name=names.get(code, code), kind=r["kind"],
                                   subject=r["subject"], role=r["role"], due=r["due"]))
    order = categories(plan)
    counts = dict.fromkeys(order, 0)
    for row in rows:
        cat = category(row)
        counts[cat] = counts.get(cat, 0) + 1
    m = merge(rule, amendment.id, territory, units, rows, granted)
    if rule.target == "new_communes":
        communes = len(m.communes)
        recognitions = sorted((c.recognised_on, c.code) for c in m.communes
                              if c.recognised and c.recognised_on is not None)
    else:
        communes = len(territory)
        recognitions = sorted((d, legacy_code(row)) for row in rows
                              if category(row) == "recognised"
                              and (d := granted.get(str(row["stream"]))) is not None)
    days = [plan.local_date(t) for t in opened.values()] + [d for d, _ in recognitions]
    old = (legacy.district(plan.district_code).name if plan.district_code
           else legacy.province(plan.province_code).name)
    if mine_district is not None:
        old = legacy.district(mine_district).name
    new = registry("current").province(as_run.province_code).name
    return Dashboard(plan=plan, area=f"{old} → {new}", communes=communes,
                     need=merged_target(plan.target.share, communes),
                     counts={k: v for k, v in counts.items() if v or k in order},
                     by="merged", lines=m.districts, recognitions=recognitions,
                     first_day=min([plan.starts_on, *days]),
                     last_day=max([plan.ends_on, *days]), overdue=overdue, today=today,
                     merged=m)


_MILESTONES = """
SELECT s.stream, s.created_at,
       (SELECT min(e.recorded_at) FROM events e
         WHERE e.stream = s.stream AND e.type = 'recognition.granted') AS recognised_at
  FROM streams s WHERE s.stream = ANY($1::text[])"""
_OVERDUE = """
SELECT stream, kind, subject, role, commune_code, due FROM pending_decisions
 WHERE plan_id = $1 AND province_code = $2 AND kind IN ('report', 'dossier') AND due < $3"""
_OVERDUE_STREAMS = """
SELECT stream, kind, subject, role, commune_code, due FROM pending_decisions
 WHERE stream = ANY($1::text[]) AND kind IN ('report', 'dossier') AND due < $2
 ORDER BY due, stream, subject"""


# -- merged communes (an amendment switched the plan to the 2025 units) ------------------------
Recognition = Rule


@dataclass(frozen=True)
class NewCommune:
    """A 2025 commune made of the plan's legacy communes (its constituent areas, each its own
    case), and whether it counts as recognised under the amendment's rule."""

    code: str
    name: str
    former_districts: list[str]  # names of the former districts its areas lay in
    constituents: list[str]  # legacy commune codes of the plan's former territory
    cases: int  # constituents with a case
    recognised_areas: int  # constituents whose case was recognised
    recognised: bool
    recognised_on: date | None = None  # the day the rule was first satisfied


@dataclass(frozen=True)
class Merged:
    amendment: str
    recognition: Recognition
    target: Literal["new_communes", "legacy_areas"]
    communes: list[NewCommune]  # by former district, then code
    districts: list[Line]  # per former district: its areas' cases by category

    @property
    def recognised(self) -> int:
        return sum(1 for c in self.communes if c.recognised)


Outcomes = Mapping[str, tuple[str, date | None]]  # legacy commune -> (category, day recognised)


def new_commune_outcome(rule: Recognition, constituents: list[str],
                        outcomes: Outcomes) -> tuple[bool, date | None]:
    """Whether a new commune counts as recognised (``domain.merged``'s rule), and since when:
    ``outcomes`` maps a legacy commune with a case to (its category, the day recognised);
    since the last constituent recognised (all of them) or the first (any one)."""
    recognised = [c for c in constituents if c in outcomes and outcomes[c][0] == "recognised"]
    if not commune_recognised(rule, constituents, recognised):
        return False, None
    days = [outcomes[c][1] for c in recognised]
    known = [d for d in days if d is not None]
    if rule == "all_constituents":
        return True, max(known) if len(known) == len(days) else None
    return True, min(known) if known else None


def merged_target(share: float, units: int) -> int:
    """How many units the target share asks for (20% of 41 new communes: 9)."""
    return need(share, units)


def legacy_code(row: Mapping[str, Any]) -> str:
    """The legacy commune a case was opened for (its codes are the 2025 ones once amended)."""
    return str(row.get("legacy_commune_code") or row.get("commune_code"))


def merge(rule: MergedCommunes, amendment_id: str, territory: list[str],
          units: Mapping[str, UnitConversion], rows: Sequence[Mapping[str, Any]],
          granted_on: Mapping[str, date]) -> Merged:
    """Group the cases of the plan's former ``territory`` (legacy commune codes) by former
    district and by new commune. A case never amended (it ended before the reform) is placed
    in its new commune by the conversion of its legacy code, as amended ones are.
    ``granted_on``: stream -> the day its case was recognised."""
    outcomes: dict[str, tuple[str, date | None]] = {}
    by_district: dict[str, dict[str, int]] = {}
    for row in rows:
        code, cat = legacy_code(row), category(dict(row))
        outcomes[code] = (cat, granted_on.get(str(row["stream"])))
        district = str(row.get("legacy_district_code") or row.get("district_code")
                       or (units[code].legacy_district_code if code in units else "") or "")
        counts = by_district.setdefault(district, {})
        counts[cat] = counts.get(cat, 0) + 1
    members: dict[str, list[str]] = {}
    for code in territory:
        if code in units:
            members.setdefault(units[code].commune_code, []).append(code)
    communes = []
    for new, parts in members.items():
        ok, since = new_commune_outcome(rule.recognition, parts, outcomes)
        former = list(dict.fromkeys(units[c].legacy_district_code or "" for c in parts))
        communes.append(NewCommune(
            code=new, name=units[parts[0]].commune_name,
            former_districts=[_district_name(legacy_district) for legacy_district in former],
            constituents=parts, cases=sum(1 for c in parts if c in outcomes),
            recognised_areas=sum(1 for c in parts if outcomes.get(c, ("",))[0] == "recognised"),
            recognised=ok, recognised_on=since))
    communes.sort(key=lambda c: (c.former_districts, c.code))
    districts = sorted({units[c].legacy_district_code or "" for c in territory if c in units})
    lines = [Line(code=d, name=_district_name(d), counts=by_district.get(d, {}),
                  communes=sum(1 for c in territory
                               if c in units and units[c].legacy_district_code == d))
             for d in districts]
    return Merged(amendment=amendment_id, recognition=rule.recognition, target=rule.target,
                  communes=communes, districts=lines)


def _district_name(code: str) -> str:
    try:
        return registry("legacy").district(code).name
    except DomainError:  # a code the registry lacks is shown as it is
        return code


_PLAN_AMENDMENTS = """SELECT amendments FROM case_status
                      WHERE plan_id = $1 AND cardinality(amendments) > 0
                      ORDER BY cardinality(amendments) DESC, stream LIMIT 1"""


async def merging(door: FrontDoor, plan: Plan) -> tuple[Amendment, Plan] | None:
    """The amendment that merged the plan's communes (the last one applied to its cases that
    says how merged communes count), the plan as its cases run it, and the ids applied."""
    store = door.service.store
    if store is None:
        return None
    ids = await store.pool.fetchval(_PLAN_AMENDMENTS, plan.id)
    if not ids:
        return None
    docs = await Amendments(store.pool).load(list(ids))
    found = [docs[i] for i in ids if i in docs and docs[i].changes.merged_communes is not None]
    if not found:
        return None
    return found[-1], await door.as_run(plan, list(ids))


def rule_text(m: Merged, lang: Lang) -> str:
    if m.recognition == "all_constituents":
        return pick(lang, "xã mới được tính là đạt khi tất cả các khu vực xã cũ hợp thành "
                          "đều được công nhận",
                    "a new commune counts when every constituent former commune is recognised")
    return pick(lang, "xã mới được tính là đạt khi ít nhất một khu vực xã cũ hợp thành "
                      "được công nhận",
                "a new commune counts when at least one constituent former commune is "
                "recognised")


def target_text(d: Dashboard, lang: Lang) -> str:
    share = f"{d.plan.target.share * 100:g}%"
    if d.merged is not None and d.merged.target == "new_communes":
        return pick(lang, f"chỉ tiêu tính trên số xã mới: {share} × {d.communes} xã mới = "
                          f"{d.need}",
                    f"the target counts the new communes: {share} × {d.communes} new "
                    f"communes = {d.need}")
    return pick(lang, f"chỉ tiêu tính trên số khu vực xã cũ: {share} × {d.communes} = {d.need}",
                f"the target counts the former communes: {share} × {d.communes} = {d.need}")


# -- the chart ---------------------------------------------------------------------------------
def chart_svg(d: Dashboard, lang: Lang) -> bytes:
    """Recognitions over time (running total) against the target, as an SVG by pygal: no
    script (``js=[]``), its own inline style only."""
    import pygal
    from pygal.style import Style

    style = Style(background="#ffffff", plot_background="#ffffff", foreground="#1a1a1a",
                  foreground_strong="#1a1a1a", foreground_subtle="#4a4a4a",
                  colors=("#0b4f9c", "#a00000"), font_family="system-ui, sans-serif",
                  title_font_size=16, legend_font_size=14, label_font_size=12,
                  major_label_font_size=12)
    chart = pygal.DateLine(
        js=[], style=style, width=900, height=380, show_dots=True, dots_size=4,
        x_label_rotation=0, truncate_label=-1, legend_at_bottom=True, show_y_guides=True,
        range=(0, max(d.need, d.recognised, 1) + 1), min_scale=1, max_scale=10,
        x_value_formatter=lambda v: day(v if isinstance(v, date) else v.date()),
        value_formatter=lambda v: f"{v:g}", explicit_size=True,
        no_data_text=pick(lang, "Chưa có dữ liệu", "No data"))
    chart.title = pick(lang, "Số xã được công nhận theo thời gian so với chỉ tiêu",
                       "Communes recognised over time against the target")
    start = datetime.combine(d.first_day, datetime.min.time())
    end = datetime.combine(d.last_day, datetime.min.time())
    points: list[tuple[datetime, int]] = [(start, 0)]
    for when, total in d.cumulative():
        moment = datetime.combine(when, datetime.min.time())
        points.append((moment, points[-1][1]))  # a step: flat until the day it rose
        points.append((moment, total))
    if points[-1][0] < end:
        points.append((end, points[-1][1]))
    chart.add(pick(lang, "Được công nhận (lũy kế)", "Recognised (running total)"), points)
    chart.add(pick(lang, f"Chỉ tiêu: {d.need} xã", f"Target: {d.need} communes"),
              [(start, d.need), (max(end, points[-1][0]), d.need)],
              show_dots=False, stroke_style={"width": 2, "dasharray": "8, 5"})
    # pygal writes its settings into an inline <script> for its tooltips even with js=[];
    # nothing would run it (an <img> runs no script, and the response's policy forbids it),
    # but it carries nothing a reader needs either: drop it
    from pygal.etree import etree

    tree = chart.render_tree()
    for parent in tree.iter():
        for child in list(parent):
            if child.tag == "script":
                parent.remove(child)
    svg: bytes = etree.tostring(tree, encoding="utf-8", xml_declaration=True)
    return svg


# -- the table as CSV ----------------------------------------------------------------------------
def table(d: Dashboard, lang: Lang) -> tuple[list[str], list[list[str]]]:
    """The table's header and rows, as the page shows them and the CSV carries them."""
    if d.merged is not None:
        return merged_table(d.merged, lang)
    if d.by == "district":
        return district_table(d, lang)
    header = [pick(lang, "Mã xã", "Commune code"), pick(lang, "Xã", "Commune"),
              pick(lang, "Tình trạng", "Status"), pick(lang, "Phân loại", "Classification"),
              pick(lang, "Số lần quá hạn", "Deadlines missed"),
              pick(lang, "Ngày công nhận", "Recognised on"), pick(lang, "Hồ sơ", "Case")]
    rows = [[line.code, line.name, category_name(line.state or "", lang),
             labels.state(line.classification, lang) if line.classification else "",
             str(line.missed_deadlines),
             day(line.recognised_on) if line.recognised_on else "", line.case_id or ""]
            for line in d.lines]
    return header, rows


def district_table(d: Dashboard, lang: Lang) -> tuple[list[str], list[list[str]]]:
    """Cases per district by category (merged: per former district, khu vực huyện cũ)."""
    shown = list(d.counts)
    former = d.merged is not None
    header = [pick(lang, "Mã huyện cũ" if former else "Mã huyện", "District code"),
              pick(lang, "Khu vực huyện cũ" if former else "Huyện",
                   "Former district" if former else "District"),
              pick(lang, "Số xã cũ" if former else "Số xã",
                   "Former communes" if former else "Communes")]
    rows = [[line.code, line.name, str(line.communes)]
            + [str(line.counts.get(c, 0)) for c in shown] for line in d.lines]
    return header + [category_name(c, lang) for c in shown], rows


def merged_table(m: Merged, lang: Lang) -> tuple[list[str], list[list[str]]]:
    """Each new commune (by former district): its constituent areas and its outcome under the
    amendment's rule."""
    header = [pick(lang, "Khu vực huyện cũ", "Former district"),
              pick(lang, "Mã xã mới", "New commune code"), pick(lang, "Xã mới", "New commune"),
              pick(lang, "Khu vực xã cũ hợp thành", "Constituent former communes"),
              pick(lang, "Có hồ sơ", "With a case"),
              pick(lang, "Được công nhận", "Recognised"), pick(lang, "Kết quả", "Outcome"),
              pick(lang, "Ngày công nhận", "Recognised on")]
    rows = [[", ".join(c.former_districts), c.code, c.name, " ".join(c.constituents),
             str(c.cases), str(c.recognised_areas),
             pick(lang, "Đạt", "Counts") if c.recognised else pick(lang, "Chưa đạt",
                                                                    "Does not count yet"),
             day(c.recognised_on) if c.recognised_on else ""] for c in m.communes]
    return header, rows


def csv_bytes(d: Dashboard, lang: Lang) -> bytes:
    """The table as CSV, UTF-8 with a byte-order mark (Excel then reads Vietnamese right)."""
    header, rows = table(d, lang)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return "\ufeff".encode() + out.getvalue().encode("utf-8")


# -- the recognition list ---------------------------------------------------------------------
# Refusals of the list, or of one commune on it, in plain words (the workflows answer in
# English with a stable code).
REFUSALS: dict[str, tuple[str, str]] = {
    "campaign.not_selected": ("xã chưa được lựa chọn xây dựng trong chiến dịch này",
                              "the commune was not selected in this campaign"),
    "campaign.wrong_role": ("chỉ UBND tỉnh phê duyệt danh sách công nhận",
                            "only the provincial People's Committee approves the list"),
    "campaign.wrong_jurisdiction": ("không thuộc địa bàn quản lý của bạn",
                                    "outside your jurisdiction"),
    "case.not_found": ("chưa có chiến dịch của kế hoạch này (chưa mở chiến dịch)",
                       "this plan has no campaign (none was opened)"),
    "chain.not_pending": ("hồ sơ không còn chờ cấp này phê duyệt",
                          "the dossier no longer awaits this level"),
    "chain.wrong_level": ("hồ sơ đang chờ một cấp khác, chưa đến lượt UBND tỉnh",
                          "the dossier awaits another level, not the province yet"),
    "chain.already_signed": ("đã phê duyệt trước đó", "already approved"),
    "chain.closed": ("quá trình xét công nhận đã kết thúc", "the recognition has ended"),
    "chain.wrong_role": ("vai trò của bạn không phê duyệt cấp này",
                         "your role does not sign this level"),
    "chain.wrong_jurisdiction": ("hồ sơ không thuộc địa bàn quản lý của bạn",
                                 "the case is outside your jurisdiction"),
    "chain.delegated": ("bạn đã ủy quyền phê duyệt cho người khác",
                        "you delegated this sign-off to someone else"),
    "campaign.empty": ("chưa chọn xã nào", "no commune was chosen"),
    "identity.expired": ("phiên đăng nhập đã hết hạn; hãy đăng nhập lại",
                         "your sign-in has expired; sign in again"),
}


def refusal_text(result: str, lang: Lang) -> str:
    """A commune's result on the list (``ok`` or ``code: message``) in plain words."""
    code = result.split(":", 1)[0].strip()
    if code in REFUSALS:
        vi, en = REFUSALS[code]
        return pick(lang, vi, en)
    return pick(lang, f"bị từ chối ({code})", f"refused ({code})")
