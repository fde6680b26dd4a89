"""The commune's pages (biểu mẫu của UBND xã): submit a report or the dossier with its metrics
and attachments, resubmit a returned dossier, download a case's files.

The metrics form is generated from the contract (``domain.metrics.Metrics``): one input per
field, labelled in Vietnamese (``domain.metric_labels``), grouped as a commune's report groups
them; an empty input is "not reported". The values are read strictly: a count is digits only,
a part may not exceed its whole, and a field the plan's rule set needs to classify a report
must be there. Every problem is shown next to the input that caused it, the whole form comes
back with what the officer typed (422) and nothing is stored or recorded. Files are checked
against the attachment bound (``DRUGFREE_MAX_ATTACHMENT_BYTES``, as the API) before any is
stored, then stored by SHA-256 and named in the submission. Role and jurisdiction are checked
by the front door exactly as the API checks them.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Protocol, cast
from urllib.parse import quote

from fastapi import FastAPI, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from api.errors import status_for
from domain.agenda import CASE_DEADLINE_KINDS
from domain.classification import classify
from domain.errors import DomainError
from domain.metric_labels import label as metric_label
from domain.metrics import FIELD_KINDS, MAX_COUNT, PART_OF, Metrics, parse_metrics
from domain.plan import Plan
from runtime.limits import attachment_limit
from service.access import Principal
from service.cases import CaseRef
from service.errors import ServiceError
from service.frontdoor import FrontDoor
from web import labels
from web.i18n import Lang, day, pick
from web.session import Sessions
from web.uploads import read_uploads
from workflows.messages import MAX_ATTACHMENTS, MAX_TEXT, CaseStatus, SubmissionKind

# How the form groups the contract's fields (a field not named here lands in the last group).
GROUPS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("Dân số và địa bàn", "Population and location", ("population", "on_trafficking_route")),
    ("Người nghiện ma túy", "Drug addicts", (
        "addicts_total", "addicts_with_records", "addicts_in_treatment", "addicts_in_community",
        "addicts_negative_test_30d")),
    ("Người sử dụng trái phép chất ma túy", "Illicit users", (
        "users_total", "users_with_records", "users_negative_test_30d", "psychosis_cases")),
    ("Người có căn cứ nghi sử dụng", "Suspected users", ("suspects_total", "suspects_tested")),
    ("Người sau cai nghiện", "Post-rehabilitation persons", (
        "post_rehab_total", "post_rehab_with_records", "post_rehab_tested")),
    ("Khi đưa vào xây dựng", "At programme entry", ("baseline_addicts", "baseline_users")),
    ("Tụ điểm, ổ nhóm và nguồn cung", "Hotspots, rings and supply", (
        "hotspots", "drug_rings", "risk_points", "drug_plants", "drug_plant_area_m2",
        "illicit_production_cases")),
    ("Tội phạm và xử lý vi phạm", "Crime and enforcement", (
        "drug_offenders", "drug_crimes_by_residents", "violators_detected",
        "violators_handled", "resident_offenders", "resident_offenders_arrested",
        "wanted_in_area", "wanted_arrested", "serious_incidents_by_users", "relapse_crimes")),
    ("Cộng đồng", "Community", (
        "households_total", "households_committed", "hamlets_total",
        "hamlets_with_hotline_board", "prevention_models")),
)
_DIGITS = re.compile(r"[0-9]{1,20}")
_DECIMAL = re.compile(r"[0-9]{1,15}([.,][0-9]{1,6})?")
_MESSAGE = re.compile(r"^metrics\.([a-z0-9_]+)(?:, metrics\.[a-z0-9_]+)*: (.*)$")
_SHA256 = Path(pattern=r"^[0-9a-f]{64}$")
_CASE_ID = Path(pattern=r"^conversion:[a-z0-9-]{1,64}:[0-9]{1,10}$")
# Plain Vietnamese for the workflow's refusals of a submission (its messages are English).
REFUSALS_VI: dict[str, str] = {
    "case.already_submitted": "báo cáo của hạn nộp này đã được nộp; mỗi hạn chỉ nộp một lần",
    "case.not_selected": "xã chưa được lựa chọn xây dựng nên chưa nộp báo cáo được",
    "case.recognition_running": "hồ sơ đang được xét duyệt; nếu bị trả lại, hãy dùng nút "
                                "“Nộp lại hồ sơ” trên trang hồ sơ",
    "case.metrics_required": "hồ sơ đề nghị công nhận phải kèm số liệu",
    "case.unknown_deadline": "hạn nộp này không phải của xã",
    "case.closed": "hồ sơ đã đóng, không nộp thêm được",
    "chain.already_submitted": "hồ sơ đang được xét duyệt, chưa bị trả lại",
    "chain.not_returned": "hồ sơ chưa bị trả lại nên không cần nộp lại",
    "metrics.missing": "thiếu số liệu bắt buộc để phân loại",
    "rules.incomplete": "số liệu không khớp loại nào của bộ quy tắc phân loại",
}


class RenderFn(Protocol):
    def __call__(self, request: Request, name: str, status: int = 200,
                 who: Principal | None = None, **context: Any) -> HTMLResponse: ...


@dataclass(frozen=True)
class Pages:
    """What ``web.app.create_ui`` lends these routes: its renderer, refusal page, case page
    and the reader's language."""

    render: RenderFn
    refusal: Callable[[Request, DomainError, Principal | None], Response]
    case_page: Callable[..., Awaitable[Response]]
    lang_of: Callable[[Request], Lang]


@dataclass
class FieldInput:
    name: str
    kind: str  # count | population | area | flag
    vi: str
    en: str
    value: str = ""
    error: str | None = None


@dataclass
class Group:
    vi: str
    en: str
    fields: list[FieldInput]


@dataclass
class Choice:
    value: str
    text: str


@dataclass
class SubmitForm:
    """What the form shows: its choices, the officer's values and the problems found."""

    choices: list[Choice]
    kinds: list[Choice]
    groups: list[Group]
    what: str = ""
    note: str = ""
    what_error: str | None = None
    files_error: str | None = None
    note_error: str | None = None
    refusal: str | None = None
    fields: dict[str, FieldInput] = field(default_factory=dict)

    @property
    def has_errors(self) -> bool:
        return bool(self.what_error or self.files_error or self.note_error or any(
            f.error for f in self.fields.values()))


def metric_groups() -> list[Group]:
    """The contract's fields (``Metrics.model_fields``, in its order) in the form's groups."""
    placed = {name for _, _, names in GROUPS for name in names}
    groups = []
    for vi, en, names in GROUPS:
        fields = [_input(n) for n in Metrics.model_fields if n in names]
        if fields:
            groups.append(Group(vi, en, fields))
    others = [_input(n) for n in Metrics.model_fields if n not in placed]
    if others:
        groups.append(Group("Số liệu khác", "Other metrics", others))
    return groups


def _input(name: str) -> FieldInput:
    return FieldInput(name, FIELD_KINDS[name], metric_label(name, "vi"), metric_label(name, "en"))


def read_metrics(form: SubmitForm, data: FormData, plan: Plan,
                 lang: Lang) -> dict[str, Any] | None:
    """The metrics the officer typed (None when every input is empty), each problem set on
    its field; the domain's own rules (``parse_metrics``, the rule set's required fields) after
    the form's."""
    values: dict[str, Any] = {}
    for name, f in form.fields.items():
        raw = str(data.get(f"m_{name}") or "").strip()
        f.value = raw[:40]
        if raw == "":
            continue
        if f.kind == "flag":
            if raw in ("yes", "no"):
                values[name] = raw == "yes"
            else:
                f.error = pick(lang, "Chọn Có, Không hoặc Chưa báo cáo",
                               "Choose yes, no or not reported")
        elif f.kind == "area":
            if _DECIMAL.fullmatch(raw):
                values[name] = float(raw.replace(",", "."))
            else:
                f.error = pick(lang, "Phải là số không âm, ví dụ 12 hoặc 0,5",
                               "Must be a number of 0 or more, e.g. 12 or 0.5")
        elif _DIGITS.fullmatch(raw):
            values[name] = int(raw)
        else:
            f.error = _rule_text(f.kind, lang)
    if not values and not any(f.error for f in form.fields.values()):
        return None
    for part, whole in PART_OF:  # the contract's table, checked even beside other problems
        p, w = values.get(part), values.get(whole)
        if isinstance(p, int) and isinstance(w, int) and p > w:
            form.fields[part].error = pick(lang, "Không được lớn hơn “{}”",
                                           "Must not exceed “{}”").format(
                                               metric_label(whole, lang))
    try:  # the contract's own rules on what was readable (parts within wholes, bounds)
        metrics = parse_metrics(values)
        if plan.rules is not None:  # a report is classified: the rule set's fields needed
            classify(metrics, plan.rules)
    except DomainError as exc:
        if not attach_errors(form, exc, lang) and not form.has_errors:
            form.refusal = plain(exc, lang)
    return values


def _rule_text(kind: str, lang: Lang) -> str:
    if kind == "population":
        return pick(lang, "Phải là số nguyên dương (chỉ gồm chữ số)",
                    "Must be a whole number above 0 (digits only)")
    return pick(lang, "Phải là số nguyên không âm (chỉ gồm chữ số, không dấu chấm, dấu phẩy)",
                "Must be a whole number of 0 or more (digits only)")


def attach_errors(form: SubmitForm, exc: DomainError, lang: Lang) -> bool:
    """Put each ``metrics.<field>: ...`` part of ``exc``'s message next to its field (in
    plain words); False when it names no field of the form."""
    found = False
    wholes = dict(PART_OF)
    for part in exc.message.split("; "):
        names = re.findall(r"metrics\.([a-z0-9_]+)", part)
        if not names or not _MESSAGE.match(part):
            continue
        rule = part.split(": ", 1)[1] if ": " in part else ""
        for name in names if exc.code == "metrics.missing" else names[:1]:
            f = form.fields.get(name)
            if f is None or f.error:  # the form's own finding on it stands
                found = found or f is not None
                continue
            found = True
            if exc.code == "metrics.missing":
                f.error = pick(lang, "Bắt buộc để phân loại xã theo bộ quy tắc của kế hoạch",
                               "Required to classify the commune under the plan's rules")
            elif "must not exceed" in rule and name in wholes:
                f.error = pick(lang, "Không được lớn hơn “{}”", "Must not exceed “{}”").format(
                    metric_label(wholes[name], lang))
            elif "must be at most" in rule:
                f.error = pick(lang, f"Không được vượt quá {MAX_COUNT}",
                               f"Must be at most {MAX_COUNT}")
            elif "positive" in rule or "non-negative" in rule:
                f.error = _rule_text(f.kind, lang)
            else:
                f.error = rule or exc.text(lang)
    return found


def choices(plan: Plan, status: CaseStatus, lang: Lang) -> tuple[list[Choice], list[Choice]]:
    """What may be submitted now: each of the case's deadlines not yet submitted (a missed one
    is still accepted, marked late), the dossier unless it is under review; and each kind."""
    in_review = status.status == "in_recognition"
    out = []
    for d in sorted(plan.deadlines, key=lambda d: (d.due, d.id)):
        if d.kind not in CASE_DEADLINE_KINDS:
            continue
        if d.kind == "dossier":
            if in_review:
                continue
        elif d.id in status.submitted:
            continue
        title = d.title_vi if lang == "vi" else d.title_en
        late = pick(lang, " (quá hạn, nộp trễ)", " (missed, late)") \
            if d.id in status.missed else ""
        out.append(Choice(f"deadline:{d.id}",
                          f"{title} · {pick(lang, 'hạn', 'due')} {day(d.due)}{late}"))
    kinds = [Choice(f"kind:{k}", pick(lang, "{} (hạn sớm nhất chưa nộp)",
                                      "{} (earliest outstanding)").format(labels.kind(k, lang)))
             for k in CASE_DEADLINE_KINDS if not (k == "dossier" and in_review)]
    return out, kinds


def add_commune_routes(ui: FastAPI, door: FrontDoor, sessions: Sessions, pages: Pages,
                       max_attachment: int | None = None) -> None:
    """The commune's routes on ``ui`` (mounted under ``/ui``); ``max_attachment``: a file's
    bound (default ``attachment_limit()``, read on each request, as the API's default)."""

    def limit() -> int:
        return max_attachment if max_attachment is not None else attachment_limit()

    async def own_plan(plan: Plan, status: CaseStatus) -> Plan:
        version = await door.plans.find(plan.id, status.plan_hash) if status.plan_hash else None
        return version.plan if version is not None else plan

    async def form_page(request: Request, who: Principal, case_id: str, ref: CaseRef,
                        plan: Plan, form: SubmitForm | None = None, status: int = 200,
                        idem: str | None = None) -> Response:
        lang = pages.lang_of(request)
        view = await door.service.status(ref)
        if form is None:
            form = await new_form(plan, view.case, lang)
        from domain.admin_units import registry

        commune = registry(plan.structure).commune(ref.commune_code)
        return pages.render(request, "commune_submit.html", status, who=who, case_id=case_id,
                            commune=commune, form=form, idem=idem or _new_key(),
                            limit=limit(), max_files=MAX_ATTACHMENTS,
                            max_text=MAX_TEXT)

    async def new_form(plan: Plan, status: CaseStatus, lang: Lang) -> SubmitForm:
        own = await own_plan(plan, status)
        listed, kinds = choices(own, status, lang)
        groups = metric_groups()
        return SubmitForm(listed, kinds, groups,
                          fields={f.name: f for g in groups for f in g.fields})

    @ui.get("/cases/{case_id}/submit", response_class=HTMLResponse)
    async def submit_page(request: Request, case_id: Annotated[str, _CASE_ID]) -> Response:
        who = sessions.principal(request)
        try:
            ref, plan = await door.allowed(who.actor, "submit", case_id)
            return await form_page(request, who, case_id, ref, plan)
        except DomainError as exc:
            return pages.refusal(request, exc, who)

    @ui.post("/cases/{case_id}/submit")
    async def submit(request: Request, case_id: Annotated[str, _CASE_ID]) -> Response:
        who = sessions.principal(request)
        lang = pages.lang_of(request)
        async with request.form(max_files=MAX_ATTACHMENTS + 1, max_fields=200) as data:
            if not sessions.csrf_ok(request, str(data.get("csrf") or "")):
                return pages.render(request, "error.html", 403, who=who, error=csrf_error())
            idem = str(data.get("idem") or "")[:64]
            try:
                ref, plan = await door.allowed(who.actor, "submit", case_id)
                view = await door.service.status(ref)
                own = await own_plan(plan, view.case)
                form = await new_form(plan, view.case, lang)
                what, deadline_id, kind = read_choice(form, data, own, lang)
                form.note = str(data.get("note") or "")
                if len(form.note) > MAX_TEXT:
                    form.note_error = pick(lang, f"Ghi chú tối đa {MAX_TEXT} ký tự",
                                           f"At most {MAX_TEXT} characters")
                metrics = read_metrics(form, data, own, lang)
                files = await read_files(form, data, limit(), lang)
                if form.has_errors or form.refusal:
                    return await form_page(request, who, case_id, ref, plan, form, 422, idem)
            except DomainError as exc:
                return pages.refusal(request, exc, who)
            try:
                named = []
                for name, content, media_type in files:
                    stored = await door.service.upload(ref, who.actor, content, name,
                                                       media_type)
                    named.append((name, stored.sha256))
                await door.service.submit(
                    ref, who.actor, deadline_id, metrics, form.note.strip(),
                    request_id=door.request_id(f"ui-submit-{what}", who.actor, idem or None),
                    kind=kind, attachments=named)
            except DomainError as exc:
                if exc.code.startswith("identity.") or status_for(exc.code) in (403, 404):
                    return pages.refusal(request, exc, who)
                if not attach_errors(form, exc, lang):
                    form.refusal = plain(exc, lang)
                return await form_page(request, who, case_id, ref, plan, form,
                                       status_for(exc.code), idem)
        sent = deadline_id or kind or ""
        return RedirectResponse(f"/ui/cases/{quote(case_id, safe=':')}?submitted="
                                f"{quote(sent)}#submitted", status_code=303)

    @ui.post("/cases/{case_id}/resubmit")
    async def resubmit(request: Request, case_id: Annotated[str, _CASE_ID],
                       csrf: Annotated[str, Form(max_length=200)] = "",
                       idem: Annotated[str, Form(max_length=64)] = "") -> Response:
        who = sessions.principal(request)
        if not sessions.csrf_ok(request, csrf):
            return pages.render(request, "error.html", 403, who=who, error=csrf_error())
        try:
            ref, _ = await door.allowed(who.actor, "resubmit", case_id)
            await door.service.resubmit(
                ref, who.actor, request_id=door.request_id("ui-resubmit", who.actor,
                                                           idem or None))
        except DomainError as exc:
            if exc.code.startswith("identity.") or status_for(exc.code) in (403, 404):
                return pages.refusal(request, exc, who)
            return await pages.case_page(request, who, case_id, status=status_for(exc.code),
                                         form_error=plain(exc, pages.lang_of(request)))
        return RedirectResponse(f"/ui/cases/{quote(case_id, safe=':')}?resubmitted=1",
                                status_code=303)

    @ui.get("/cases/{case_id}/attachments/{sha256}")
    async def download(request: Request, case_id: Annotated[str, _CASE_ID],
                       sha256: Annotated[str, _SHA256]) -> Response:
        who = sessions.principal(request)
        try:
            ref, _ = await door.allowed(who.actor, "read", case_id)
            found = await door.service.attachment(ref, sha256)
        except DomainError as exc:
            return pages.refusal(request, exc, who)
        ascii_name = found.name.encode("ascii", "replace").decode().replace('"', "_")
        # a download, never rendered on the pages' origin (SecurityHeaders adds nosniff)
        return Response(found.content, media_type=found.media_type, headers={
            "Content-Disposition": f'attachment; filename="{ascii_name}"; '
                                   f"filename*=UTF-8''{quote(found.name, safe='')}",
            "Cache-Control": "private, no-store"})


def read_choice(form: SubmitForm, data: FormData, plan: Plan,
                lang: Lang) -> tuple[str, str | None, SubmissionKind | None]:
    """The deadline or kind chosen (one of the form's own choices)."""
    form.what = str(data.get("what") or "")[:100]
    # any of the plan's case deadlines: one submitted meanwhile (a stale form, another tab) is
    # the workflow's to refuse, in its words
    allowed = {c.value for c in (*form.choices, *form.kinds)} | {
        f"deadline:{d.id}" for d in plan.deadlines if d.kind in CASE_DEADLINE_KINDS}
    if form.what not in allowed:
        form.what_error = pick(lang, "Chọn báo cáo hoặc hồ sơ cần nộp",
                               "Choose what to submit")
        return form.what, None, None
    how, _, value = form.what.partition(":")
    if how == "deadline":
        return value, value, None
    return value, None, cast(SubmissionKind, value)  # one of CASE_DEADLINE_KINDS (the choices)


async def read_files(form: SubmitForm, data: FormData, limit: int,
                     lang: Lang) -> list[tuple[str, bytes, str | None]]:
    """The files chosen (none chosen: an empty part, skipped), each within ``limit`` bytes."""
    out, problem = await read_uploads(data, limit, lang, ("mỗi lần nộp", "per submission"))
    if problem:
        form.files_error = problem
    return out


def plain(exc: DomainError, lang: Lang) -> str:
    """A refusal in plain words: the Vietnamese of its code when the message has none."""
    if lang == "vi" and not exc.message_vi and exc.code in REFUSALS_VI:
        return REFUSALS_VI[exc.code]
    return exc.text(lang)


def csrf_error() -> ServiceError:
    return ServiceError("ui.csrf", "the form is stale or was not sent from this site; reload it",
                        "biểu mẫu đã cũ hoặc không được gửi từ trang này; hãy tải lại trang")


def _new_key() -> str:
    import uuid

    return uuid.uuid4().hex
