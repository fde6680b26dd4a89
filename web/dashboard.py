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
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from domain.admin_units import registry
from domain.plan import Plan
from domain.roles import ROLE_SCOPE, Actor
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

    @property
    def recognised(self) -> int:
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


async def default_plan(door: FrontDoor, actor: Actor) -> str | None:
    """The reader's plan when none is named: the first of their province (and district)."""
    for p in await door.plans.listing():
        plan = p.plan
        if plan.province_code == actor.province_code and (
                plan.district_code is None or actor.district_code in (None, plan.district_code)):
            return plan.id
    return None


async def build(door: FrontDoor, actor: Actor, plan_id: str) -> Dashboard:
    """The dashboard of ``plan_id`` as ``actor`` may see it (403 outside their role or
    territory, 404 for no such plan)."""
    may_see(actor)
    plan = await door.campaign_allowed(actor, "read", plan_id)
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

    order = ["proposed", "selected", *(f"phase_{p.number}" for p in plan.phases),
             "in_recognition", "recognised", "not_recognised", "not_selected", "withdrawn"]
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


_MILESTONES = """
SELECT s.stream, s.created_at,
       (SELECT min(e.recorded_at) FROM events e
         WHERE e.stream = s.stream AND e.type = 'recognition.granted') AS recognised_at
  FROM streams s WHERE s.stream = ANY($1::text[])"""
_OVERDUE = """
SELECT stream, kind, subject, role, commune_code, due FROM pending_decisions
 WHERE plan_id = $1 AND province_code = $2 AND kind IN ('report', 'dossier') AND due < $3"""


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
    shown = list(d.counts)
    if d.by == "district":
        header = [pick(lang, "Mã huyện", "District code"), pick(lang, "Huyện", "District"),
                  pick(lang, "Số xã", "Communes")] + [category_name(c, lang) for c in shown]
        rows = [[line.code, line.name, str(line.communes)]
                + [str(line.counts.get(c, 0)) for c in shown] for line in d.lines]
        return header, rows
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
