"""The reporting rounds' pages (báo cáo định kỳ, issue 13): the plans of the reader's province
with their rounds, a round's page with the actions of each role, the consolidated report's
downloads, and a programme's indicators over the years.

The round page is where every role acts, each through a small form posting to the page:
a unit's people send their unit's report (one input per indicator the unit reports, a
textarea per section); the consolidating role (provincial police) opens a scheduled round,
sends a report back with its reason and consolidates; the approving role (provincial
People's Committee) approves. The pages keep readers inside their province (``may_read``, as
the API); every rule (role, unit, form, timing) is the workflow's, whose refusal is shown
next to the form in the reader's language, with nothing recorded.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import FastAPI, Path, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

import catalog
from api.errors import status_for
from api.rounds import file_headers, may_read
from domain.clock import PlanClock
from domain.errors import DomainError
from domain.reporting import (
    Consolidation,
    Form,
    IndicatorResult,
    ReportingPlan,
    ReportingUnit,
    Round,
    reporting_units,
    reports,
)
from eventstore.errors import StreamNotFoundError
from runtime.limits import attachment_limit
from service import report_document
from service.access import Principal
from service.audit_reads import ReadLog
from service.errors import ServiceError
from service.frontdoor import FrontDoor
from service.round_reads import (
    RoundItem,
    calendar_due,
    due_instant,
    next_adhoc_id,
    own_units,
    plan_rounds,
    readable_plans,
    round_items,
    standing,
    unit_rows,
)
from service.rounds import RoundService
from web.commune import Pages
from web.i18n import Lang, pick
from web.session import Sessions
from web.uploads import read_uploads
from workflows import names
from workflows.messages import MAX_ATTACHMENTS, MAX_SECTION

_SHA256 = Path(pattern=r"^[0-9a-f]{64}$")
_PLAN = Path(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")
_ROUND = Path(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
_NUMBER = re.compile(r"-?[0-9]{1,15}([.,][0-9]{1,6})?")
_NAMED = re.compile(r"indicator ([a-z0-9_-]+)")
ACTIONS = ("open", "report", "send_back", "consolidate", "approve")
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def known_plan(plan_id: str) -> ReportingPlan:
    """A shipped reporting plan; an unknown id is a 404 (the catalogue's own code is 422)."""
    if plan_id not in catalog.reporting_plan_ids():
        raise ServiceError("round.plan_not_found", f"no reporting plan {plan_id!r}",
                           f"không có kế hoạch báo cáo {plan_id!r}")
    return catalog.reporting_plan(plan_id)


# -- what the pages show ---------------------------------------------------------------------

def number(value: float | bool | None, lang: Lang) -> str:
    """A consolidated value as a reader writes it: 38, 1.5 (1,5 in Vietnamese), có/không."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return pick(lang, "Có", "Yes") if value else pick(lang, "Không", "No")
    text = f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}".rstrip("0")
    if lang == "vi":  # Vietnamese: dot for thousands, comma for decimals
        text = text.replace(",", " ").replace(".", ",").replace(" ", ".")
    return text


def target_text(r: IndicatorResult, lang: Lang) -> str:
    if r.target_kind is None or r.target_value is None:
        return "-"
    v = number(r.target_value, lang)
    rel = {"at_least": ">" if r.target_strict else "≥",
           "at_most": "<" if r.target_strict else "≤"}
    if r.target_kind in rel:
        return f"{rel[r.target_kind]} {v}"
    up = r.target_kind == "change_at_least"
    word = pick(lang, "tăng" if up else "giảm", "up" if up else "down")
    sign = (">" if up else "<") if r.target_strict else ("≥" if up else "≤")
    return f"{word} ({sign} {v}%)"


def met_text(met: bool | None, lang: Lang) -> str:
    if met is None:
        return "-"
    return pick(lang, "Đạt", "Met") if met else pick(lang, "Không đạt", "Not met")


ROUND_STATES: dict[str, tuple[str, str]] = {
    "not_open": ("Chưa mở", "Not opened yet"),
    "draft": ("Chưa mở", "Not opened yet"),
    "open": ("Đang mở", "Open"),
    "consolidated": ("Đã tổng hợp, chờ phê duyệt", "Consolidated, awaiting approval"),
    "approved": ("Đã phê duyệt", "Approved"),
    "closed": ("Đã kết thúc", "Closed"),
}
UNIT_STATES: dict[str, tuple[str, str]] = {
    "not_open": ("Kỳ chưa mở", "Round not open"),
    "on_time": ("Đã báo cáo đúng hạn", "Reported on time"),
    "late": ("Đã báo cáo, nộp trễ", "Reported late"),
    "returned": ("Bị trả lại", "Sent back"),
    "owing": ("Chưa báo cáo", "Owing"),
    "missed": ("Quá hạn, chưa báo cáo", "Missed"),
}


def state_name(table: dict[str, tuple[str, str]], code: str, lang: Lang) -> str:
    vi, en = table.get(code, (code, code))
    return pick(lang, vi, en)


class ReportInput:
    """One input of a unit's report form: an indicator the unit reports, or a section."""

    def __init__(self, name: str, label: str, kind: str, unit_label: str = "",
                 required: bool = True, maximum: float | None = None) -> None:
        self.name, self.label, self.kind, self.unit_label = name, label, kind, unit_label
        self.required, self.max = required, maximum
        self.value: str = ""
        self.error: str | None = None


def report_inputs(form: Form, unit: ReportingUnit, lang: Lang) -> list[ReportInput]:
    out = []
    for i in form.indicators:
        if reports(i, unit):
            upper = 100.0 if i.type == "percent" else None
            if i.max is not None:
                upper = i.max if upper is None else min(upper, i.max)
            out.append(ReportInput(f"v_{i.id}", pick(lang, i.name_vi, i.name_en), i.type,
                                   pick(lang, i.unit_vi, i.unit_en), maximum=upper))
    for s in form.sections:
        out.append(ReportInput(f"s_{s.id}", pick(lang, s.title_vi, s.title_en), "section",
                               required=s.required, maximum=s.max_chars))
    return out


def read_report(inputs: list[ReportInput], data: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """The values and sections typed, as the workflow takes them: a number where the text is
    one, the text itself otherwise (the form refuses it naming the indicator); a checkbox is
    yes when ticked; an empty number is left out (the form says it is missing)."""
    values: dict[str, Any] = {}
    sections: dict[str, str] = {}
    for f in inputs:
        raw = str(data.get(f.name) or "")
        if f.kind == "section":
            f.value = raw[:MAX_SECTION]
            sections[f.name[2:]] = raw[:MAX_SECTION]
            continue
        key = f.name[2:]
        if f.kind == "boolean":
            f.value = "yes" if raw else ""
            values[key] = bool(raw)
            continue
        raw = raw.strip()[:40]
        f.value = raw
        if raw == "":
            continue
        if _NUMBER.fullmatch(raw):
            n = float(raw.replace(",", "."))
            values[key] = int(n) if n.is_integer() and "." not in raw and "," not in raw else n
        else:
            values[key] = raw
    return values, sections


async def read_files(data: FormData, limit: int,
                     lang: Lang) -> tuple[list[tuple[str, bytes, str | None]], str | None]:
    """The files chosen with a report (none chosen: an empty part, skipped), each within
    ``limit`` bytes; the problems found, in one line for the file input (None: none)."""
    return await read_uploads(data, limit, lang, ("mỗi báo cáo", "per report"))


def report_files(events: list[Any]) -> dict[str, list[dict[str, Any]]]:
    """Each unit's files as its standing report names them (a report sent back has none)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        if e.type == "unit_report.submitted":
            out[str(e.payload["unit"])] = list(e.payload.get("attachments") or [])
        elif e.type == "unit_report.returned":
            out.pop(str(e.payload["unit"]), None)
    return out


# -- the routes ------------------------------------------------------------------------------

def add_round_pages(ui: FastAPI, door: FrontDoor, sessions: Sessions, pages: Pages,
                    csrf_error: Callable[[], ServiceError], reads: ReadLog,
                    max_attachment: int | None = None
                    ) -> Callable[[Principal], Awaitable[list[RoundItem]]]:
    """The pages above on ``ui`` (mounted under ``/ui``); returns what the inbox lists of
    the rounds for a person (``service.round_reads.round_items``). An auditor's reading of a
    round's page (or of a report's file) is recorded (``reads``). ``max_attachment``: a
    file's bound (default ``attachment_limit()``, as the commune's form)."""
    rounds = RoundService(door.service)

    def limit() -> int:
        return max_attachment if max_attachment is not None else attachment_limit()

    def clock_for(plan: ReportingPlan) -> PlanClock:
        # the front door's calendar (a rehearsal in tests) serves reporting plans too, as
        # the API's round routes use it
        return door.clock_for(plan)  # type: ignore[arg-type]

    def readable(who: Principal, plan_id: str) -> ReportingPlan:
        plan = known_plan(plan_id)
        may_read(who.actor, plan)
        return plan

    @ui.get("/rounds")
    async def rounds_list(request: Request) -> Response:
        who = pages_who(request)
        lang = pages.lang_of(request)
        listing = []
        try:
            for plan in readable_plans(who.actor):
                clock = clock_for(plan)
                rows = []
                for rnd in await plan_rounds(rounds, plan):
                    status = await standing(rounds, plan.id, rnd.id)
                    rows.append((rnd, status, calendar_due(plan, rnd, clock)))
                listing.append((plan, rows))
        except DomainError as exc:
            return pages.refusal(request, exc, who)
        return pages.render(request, "rounds.html", who=who, listing=listing,
                            idem=uuid.uuid4().hex, opens_adhoc=lambda p: (
                                p.adhoc_form is not None and who.actor.role == p.consolidator
                                and who.actor.province_code == p.province_code),
                            round_state=lambda s: state_name(
                                ROUND_STATES, s.status if s else "not_open", lang))

    def pages_who(request: Request) -> Principal:
        return sessions.principal(request)

    async def round_page(request: Request, who: Principal, plan_id: str, round_id: str,
                         status_code: int = 200, form_error: str | None = None,
                         typed: dict[str, list[ReportInput]] | None = None,
                         done: str | None = None,
                         files_error: dict[str, str] | None = None) -> Response:
        lang = pages.lang_of(request)
        plan = readable(who, plan_id)
        rnd = await rounds.definition(plan, round_id)
        status = await standing(rounds, plan.id, rnd.id)
        try:
            files = report_files(await rounds.history(plan.id, rnd.id))
        except StreamNotFoundError:  # not opened, or its opening not appended yet
            files = {}
        clock = clock_for(plan)
        now = await door.service.clock()
        table = Consolidation.model_validate(status.consolidation) \
            if status is not None and status.consolidation else None
        form = plan.form(rnd.form)
        units = own_units(who.actor, plan)
        # a unit's form: while the round is open and its report is owed (again, once sent back)
        forms = {u.id: (typed or {}).get(u.id) or report_inputs(form, u, lang) for u in units
                 if status is not None and status.status == "open" and u.id in status.owing}
        return pages.render(
            request, "round.html", status_code, who=who, plan=plan, rnd=rnd, form=form,
            st=status, rows=unit_rows(plan, status), table=table, units=units,
            forms=forms, form_error=form_error, done=done, idem=uuid.uuid4().hex,
            files=files, files_error=files_error or {}, limit=limit(),
            max_files=MAX_ATTACHMENTS,
            due=calendar_due(plan, rnd, clock), rehearsed=clock != PlanClock(),
            past_due=now >= due_instant(plan, rnd, clock),
            consolidator=who.actor.role == plan.consolidator
            and who.actor.province_code == plan.province_code,
            approver=who.actor.role == plan.approver
            and who.actor.province_code == plan.province_code,
            round_state=state_name(ROUND_STATES, status.status if status else "not_open", lang),
            unit_state=lambda code: state_name(UNIT_STATES, code, lang),
            num=lambda v: number(v, lang), target=lambda r: target_text(r, lang),
            met=lambda m: met_text(m, lang), max_section=MAX_SECTION)

    @ui.post("/rounds/{plan_id}")
    async def adhoc_post(request: Request, plan_id: Annotated[str, _PLAN]) -> Response:
        """Mở kỳ báo cáo đột xuất: the consolidating role opens an ad hoc round (its title,
        year and due day) on the plan's ad hoc form."""
        who = pages_who(request)
        data = await request.form(max_files=0, max_fields=20)
        if not sessions.csrf_ok(request, str(data.get("csrf") or "")):
            return pages.render(request, "error.html", 403, who=who, error=csrf_error())
        try:
            plan = readable(who, plan_id)
            if plan.adhoc_form is None:
                raise ServiceError("round.no_adhoc", f"plan {plan_id} has no ad hoc form",
                                   f"kế hoạch {plan_id} không có biểu mẫu báo cáo đột xuất")
            title = str(data.get("title") or "").strip()[:300]
            try:
                due = date.fromisoformat(str(data.get("due") or ""))
            except ValueError:
                raise ServiceError("round.bad_due", "the due day must be a date (YYYY-MM-DD)",
                                   "hạn báo cáo phải là một ngày (năm-tháng-ngày)") from None
            if len(title) < 3:
                raise ServiceError("round.title_required", "an ad hoc round needs its title",
                                   "kỳ báo cáo đột xuất cần có tiêu đề")
            clock = clock_for(plan)
            today = clock.plan_date(plan, await door.service.clock())
            if due < today:
                raise ServiceError("round.due_passed", f"the due day {due} has passed",
                                   f"hạn báo cáo {due:%d/%m/%Y} đã qua")
            rnd = Round(id=next_adhoc_id(await plan_rounds(rounds, plan)), kind="adhoc",
                        title_vi=title, title_en=title, year=due.year, opens_on=today, due=due,
                        form=plan.adhoc_form, source="Công an tỉnh yêu cầu báo cáo đột xuất")
            await rounds.open(plan, rnd, who.actor, clock=clock)
        except DomainError as exc:
            return pages.refusal(request, exc, who)
        return RedirectResponse(f"/ui/rounds/{quote(plan_id)}/{quote(rnd.id)}?done=open",
                                status_code=303)

    @ui.get("/rounds/{plan_id}/{round_id}")
    async def round_get(request: Request, plan_id: Annotated[str, _PLAN],
                        round_id: Annotated[str, _ROUND], done: str | None = None) -> Response:
        who = pages_who(request)
        try:
            if who.actor.role == "auditor":  # who looked, recorded before the answer
                readable(who, plan_id)
                await reads.record(who.actor, "web", "round_page",
                                   names.round_id(plan_id, round_id))
            return await round_page(request, who, plan_id, round_id,
                                    done=done if done in ACTIONS else None)
        except DomainError as exc:
            return pages.refusal(request, exc, who)

    @ui.post("/rounds/{plan_id}/{round_id}")
    async def round_post(request: Request, plan_id: Annotated[str, _PLAN],
                         round_id: Annotated[str, _ROUND]) -> Response:
        who = pages_who(request)
        # a unit's report may bring files (multipart; BodyLimit bounds the whole form)
        async with request.form(max_files=MAX_ATTACHMENTS + 1, max_fields=200) as data:
            return await act(request, who, plan_id, round_id, data)

    async def act(request: Request, who: Principal, plan_id: str, round_id: str,
                  data: FormData) -> Response:
        if not sessions.csrf_ok(request, str(data.get("csrf") or "")):
            return pages.render(request, "error.html", 403, who=who, error=csrf_error())
        lang = pages.lang_of(request)
        action = str(data.get("action") or "")
        idem = str(data.get("idem") or "")[:64] or None
        unit_id = str(data.get("unit") or "")[:64]
        typed: dict[str, list[ReportInput]] = {}
        files_error: dict[str, str] = {}
        try:
            plan = readable(who, plan_id)
            rnd = await rounds.definition(plan, round_id)
            rid = door.request_id(f"ui-round-{action}", who.actor, idem)
            if action == "open":
                await rounds.open(plan, rnd, who.actor, clock=clock_for(plan))
            elif action == "report":
                unit = next((u for u in own_units(who.actor, plan) if u.id == unit_id), None)
                if unit is None:
                    raise ServiceError("round.wrong_unit", f"you do not report for {unit_id}",
                                       f"bạn không báo cáo thay cho đơn vị {unit_id}")
                inputs = report_inputs(plan.form(rnd.form), unit, lang)
                typed[unit.id] = inputs
                values, sections = read_report(inputs, data)
                chosen, problem = await read_files(data, limit(), lang)
                if problem:  # nothing stored or recorded; the file input is marked
                    files_error[unit.id] = problem
                    raise ServiceError("attachment.refused", problem, problem)
                attached = []
                try:
                    for name, content, media_type in chosen:
                        stored = await rounds.upload(plan.id, rnd.id, who.actor, content,
                                                     name, media_type)
                        attached.append((name, stored.sha256))
                except DomainError as exc:
                    files_error[unit.id] = exc.text(lang)
                    raise
                await rounds.submit(plan.id, rnd.id, who.actor, unit.id, values, sections,
                                    attached, request_id=rid)
            elif action == "send_back":
                await rounds.send_back(plan.id, rnd.id, who.actor, unit_id,
                                       str(data.get("reason") or "")[:2000], request_id=rid)
            elif action in ("consolidate", "approve"):
                await rounds.decide(plan.id, rnd.id, who.actor, action,
                                    str(data.get("reason") or "")[:2000], request_id=rid)
            else:
                raise ServiceError("round.unknown_action", f"unknown action {action!r}",
                                   "thao tác không hợp lệ")
        except DomainError as exc:
            code = status_for(exc.code)
            if exc.code.startswith("identity.") or code == 404 or (
                    code == 403 and action != "report"):
                return pages.refusal(request, exc, who)
            # the indicator the refusal names is marked on its input
            named = _NAMED.search(exc.message)
            for f in typed.get(unit_id, []):
                if named and f.name == f"v_{named.group(1)}":
                    f.error = exc.text(lang)
            try:
                return await round_page(request, who, plan_id, round_id, code,
                                        form_error=exc.text(lang), typed=typed,
                                        files_error=files_error)
            except DomainError as again:
                return pages.refusal(request, again, who)
        return RedirectResponse(f"/ui/rounds/{quote(plan_id)}/{quote(round_id)}?done={action}",
                                status_code=303)

    @ui.get("/rounds/{plan_id}/{round_id}/attachments/{sha256}")
    async def round_file(request: Request, plan_id: Annotated[str, _PLAN],
                         round_id: Annotated[str, _ROUND],
                         sha256: Annotated[str, _SHA256]) -> Response:
        """A file of a unit's report, for the plan's readers."""
        who = pages_who(request)
        try:
            readable(who, plan_id)
            if who.actor.role == "auditor":  # who looked, recorded before the answer
                await reads.record(who.actor, "web", "round_attachment",
                                   names.round_id(plan_id, round_id))
            found = await rounds.attachment(plan_id, round_id, sha256)
        except DomainError as exc:
            return pages.refusal(request, exc, who)
        return Response(found.content, media_type=found.media_type,
                        headers=file_headers(found.name))

    @ui.get("/rounds/{plan_id}/{round_id}/report.{fmt}")
    async def round_report(request: Request, plan_id: Annotated[str, _PLAN],
                           round_id: Annotated[str, _ROUND], fmt: str) -> Response:
        who = pages_who(request)
        try:
            plan = readable(who, plan_id)
            rnd = await rounds.definition(plan, round_id)
            if fmt not in ("docx", "csv"):
                raise ServiceError("round.not_found", f"no report.{fmt}",
                                   f"không có tệp report.{fmt}")
            table = await rounds.table(plan.id, rnd.id)
            if table is None:
                raise ServiceError("round.not_consolidated",
                                   "the round's reports are not consolidated yet",
                                   "báo cáo của kỳ chưa được tổng hợp")
        except DomainError as exc:
            return pages.refusal(request, exc, who)
        name = f"{plan.id}-{rnd.id}.{fmt}"
        headers = {"Content-Disposition": f'attachment; filename="{name}"',
                   "Cache-Control": "private, no-store"}
        if fmt == "csv":
            return Response(report_document.csv_text(table).encode("utf-8"),
                            media_type="text/csv; charset=utf-8", headers=headers)
        return Response(report_document.docx(plan, rnd, table), media_type=DOCX,
                        headers=headers)

    @ui.get("/programmes/{plan_id}")
    async def programme(request: Request, plan_id: Annotated[str, _PLAN]) -> Response:
        who = pages_who(request)
        lang = pages.lang_of(request)
        try:
            plan = readable(who, plan_id)
            status = await rounds.programme(plan)
        except DomainError as exc:
            return pages.refusal(request, exc, who)
        names = {u.id: pick(lang, u.name_vi, u.name_en) for u in reporting_units(plan)}
        return pages.render(request, "programme.html", who=who, plan=plan, p=status,
                            unit_name=lambda u: names.get(u, u),
                            num=lambda v: number(v, lang), met=lambda m: met_text(m, lang))

    async def inbox_rounds(who: Principal) -> list[RoundItem]:
        return await round_items(rounds, who.actor, clock_for)

    return inbox_rounds
