"""The pages under ``/ui``: sign-in, the inbox, the case page with its decision form, for
the people who decide, on the same front door as the API (``service.frontdoor``).

Every page checks the session's identity token and then role and jurisdiction exactly as
the API does (``FrontDoor.allowed``): another province's case is a 403 page. Every form is a
POST with a CSRF token and, where it sends a command, an idempotency key of its own (a
double click is the same request, answered once). Pages work without JavaScript; htmx, when
it loads, only boosts links and forms.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path as FilePath
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import FastAPI, Form, Path, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import status_for
from domain.admin_units import AdminRegistry
from domain.errors import DomainError
from domain.metric_labels import label as metric_label
from domain.plan import Plan, plan_hash
from domain.roles import Actor
from service.access import Principal
from service.audit_reads import ReadLog
from service.cases import CaseRef
from service.errors import ServiceError
from service.frontdoor import FrontDoor
from service.readmodel import InboxItem, today_in_vietnam
from service.round_reads import readable_plans
from web import dashboard, labels
from web.casepage import facts
from web.commune import Pages, add_commune_routes
from web.i18n import LANG_COOKIE, Lang, day, moment, pick
from web.rounds import add_round_pages
from web.session import Sessions
from workflows import names

HERE = FilePath(__file__).parent
VENDOR = {  # what the pages load from npm packages (web/package.json), by the name served
    "htmx.min.js": HERE / "node_modules" / "htmx.org" / "dist" / "htmx.min.js",
}
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")


@dataclass(frozen=True)
class DemoPerson:
    """A person the dev stack's sign-in page offers (``drugfree dev`` only)."""

    key: str
    name: str
    actor: Actor
    token: str


class SecurityHeaders:
    """Content-Security-Policy and friends on every page (scripts and styles from here only)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                if not any(k.lower() == b"content-security-policy" for k, _ in headers):
                    headers.append((b"content-security-policy", CSP.encode()))
                headers += [(b"x-content-type-options", b"nosniff"),
                            (b"referrer-policy", b"same-origin"),
                            (b"x-frame-options", b"DENY")]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


def create_ui(door: FrontDoor, sessions: Sessions, *,
              people: Sequence[DemoPerson] = (),
              verify: Callable[[str], Awaitable[Any]] | None = None,
              max_attachment: int | None = None) -> FastAPI:
    """The pages over ``door``. ``people``: the demo people the sign-in page lists (dev stack
    only); ``verify``: checks a stream's hash chain (the auditor's view); ``max_attachment``:
    a submitted file's bound (the API's)."""
    ui = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    ui.add_middleware(SecurityHeaders)
    templates = Jinja2Templates(directory=HERE / "templates")
    env = templates.env
    env.globals.update(day=day, moment=moment, labels=labels)
    ui.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    demo = {p.key: p for p in people}
    reads = ReadLog(door.service.store)

    def lang_of(request: Request) -> Lang:
        return "en" if request.cookies.get(LANG_COOKIE) == "en" else "vi"

    def render(request: Request, name: str, status: int = 200, who: Principal | None = None,
               **context: Any) -> HTMLResponse:
        lang = lang_of(request)
        token = request.cookies.get("drugfree_session")
        return templates.TemplateResponse(request, name, {
            "lang": lang, "t": lambda vi, en: pick(lang, vi, en), "who": who,
            "metric_label": lambda field: metric_label(field, lang),
            "csrf": sessions.csrf(token) if token and who else "", "demo": bool(demo),
            "path": request.url.path,
            "here": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
            **context}, status_code=status)

    def refusal_page(request: Request, exc: DomainError, who: Principal | None) -> Response:
        if exc.code.startswith("identity."):
            return RedirectResponse(f"/ui/signin?why={quote(exc.code)}", status_code=303)
        return render(request, "error.html", status_for(exc.code), who=who, error=exc)

    @ui.exception_handler(DomainError)
    async def on_refusal(request: Request, exc: DomainError) -> Response:
        return refusal_page(request, exc, None)

    def signed_in(request: Request) -> Principal:
        return sessions.principal(request)

    def new_key() -> str:
        return uuid.uuid4().hex

    # -- sign-in ----------------------------------------------------------------------------
    @ui.get("/", include_in_schema=False)
    async def home(request: Request) -> Response:
        return RedirectResponse("/ui/inbox", status_code=303)

    @ui.get("/signin", response_class=HTMLResponse)
    async def signin_page(request: Request, why: str | None = None) -> Response:
        value = sessions.signin_value()  # in the form and in its cookie (double submit)
        response = render(request, "signin.html", people=list(demo.values()), why=why,
                          form_csrf=value, error=None)
        sessions.remember_signin(response, value)
        return response

    @ui.post("/signin")
    async def signin(request: Request, csrf: Annotated[str, Form(max_length=200)] = "",
                     token: Annotated[str, Form(max_length=8000)] = "",
                     person: Annotated[str, Form(max_length=200)] = "") -> Response:
        if not sessions.signin_ok(request, csrf):
            return render(request, "error.html", 403, error=ServiceError(
                "ui.csrf", "the form is stale or was not sent from this site; reload it",
                "biểu mẫu đã cũ hoặc không được gửi từ trang này; hãy tải lại trang"))
        if person:
            chosen = demo.get(person)
            if chosen is None:
                return render(request, "signin.html", 422, people=list(demo.values()),
                              why=None, form_csrf=csrf, error=pick(
                                  lang_of(request), "không có người dùng thử này",
                                  "no such demo person"))
            token = chosen.token
        try:
            who = sessions.authenticator.authenticate(token.strip())
        except DomainError as exc:
            return render(request, "signin.html", 401, people=list(demo.values()), why=None,
                          form_csrf=csrf, error=exc.text(lang_of(request)))
        response = RedirectResponse("/ui/inbox", status_code=303)
        sessions.sign_in(response, who.token, max_age=8 * 3600)
        return response

    @ui.post("/signout")
    async def signout(request: Request,
                      csrf: Annotated[str, Form(max_length=200)] = "") -> Response:
        if not sessions.csrf_ok(request, csrf):
            return render(request, "error.html", 403, error=_csrf_error())
        response = RedirectResponse("/ui/signin", status_code=303)
        sessions.sign_out(response)
        return response

    @ui.get("/lang/{to}")
    async def switch_language(request: Request, to: str, next: str = "/ui/inbox") -> Response:
        target = next if next.startswith("/ui") and "//" not in next else "/ui/inbox"
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(LANG_COOKIE, "en" if to == "en" else "vi", max_age=365 * 86400,
                            path="/ui", samesite="strict", httponly=True,
                            secure=sessions.secure)
        return response

    @ui.get("/static/vendor/{name}")
    async def vendor(name: str) -> Response:
        path = VENDOR.get(name)
        if path is None or not path.is_file():
            return Response(status_code=404)
        return FileResponse(path, media_type="text/javascript",
                            headers={"Cache-Control": "public, max-age=86400"})

    # -- inbox ------------------------------------------------------------------------------
    @ui.get("/inbox", response_class=HTMLResponse)
    async def inbox(request: Request, plan: Annotated[str, Query(max_length=64)] = "",
                    level: Annotated[str, Query(max_length=64)] = "",
                    overdue: bool = False,
                    page: Annotated[int, Query(ge=1, le=10_000)] = 1) -> Response:
        who = signed_in(request)
        size = 50
        box = await door.service.inbox(who.actor, overdue=overdue, limit=size,
                                       offset=(page - 1) * size, plan_id=plan or None,
                                       subject=level or None)
        overdue_count = (await door.service.inbox(
            who.actor, overdue=True, limit=1, plan_id=plan or None,
            subject=level or None)).total
        plans = [p.plan for p in await door.plans.listing()]
        levels = sorted({lv.id for p in plans for lv in p.approval_chain})
        rows = [(item, *_named(item, {p.id: p for p in plans}, lang_of(request)))
                for item in box.items]
        query = {"plan": plan, "level": level, "overdue": "1" if overdue else ""}
        try:  # the reporting rounds' entries; the case entries stand without them
            round_rows = await inbox_rounds(who)
        except DomainError:
            round_rows = None
        return render(request, "inbox.html", who=who, box=box, rows=rows, plans=plans,
                      levels=levels, round_rows=round_rows,
                      plan=plan, level=level, overdue=overdue, overdue_count=overdue_count,
                      page=page, pages=max(1, -(-box.total // size)),
                      query=urlencode({k: v for k, v in query.items() if v}))

    # -- the case page ------------------------------------------------------------------------
    async def case_page(request: Request, who: Principal, case_id: str, status: int = 200,
                        form_error: str | None = None, done: str | None = None) -> Response:
        ref, plan, scope = await door.allowed_case(who.actor, "read", case_id)
        view = await door.service.status(ref)
        events = await door.service.history(ref)
        version = await door.plans.find(plan.id, view.case.plan_hash) \
            if view.case.plan_hash else None
        # the case's events are read against the plan it started on (an amended case's page
        # still shows the levels the amendment took away); its place, as it stands now
        base = await door.plan_of(ref.plan_id)
        own_plan = version.plan if version is not None else base
        # who decides: the amended plan's chain once amendments moved the case, else its own
        runs_on = own_plan if plan is base or plan_hash(plan) == plan_hash(base) else plan
        from domain.admin_units import registry

        units = registry(plan.structure)
        commune = units.commune(scope.commune_code)
        verified = await verify(ref.case_id) if verify is not None else None
        chain_roles = {r for lv in runs_on.approval_chain for r in lv.roles}
        return render(request, "case.html", status, who=who, case_id=case_id, plan=own_plan,
                      version=version, view=view, facts=facts(own_plan, events),
                      commune=commune, district=units.districts.get(scope.district_code or ""),
                      verified=verified, can_decide=who.actor.role in chain_roles,
                      form_error=form_error, done=done, idem=new_key(),
                      today=today_in_vietnam())

    @ui.get("/cases/{case_id}", response_class=HTMLResponse)
    async def case(request: Request, case_id: Annotated[str, _CASE_ID],
                   done: str | None = None) -> Response:
        who = signed_in(request)
        try:
            page = await case_page(request, who, case_id, done=done)  # access checked there
            if who.actor.role == "auditor":  # who looked, recorded before the answer
                await reads.record(who.actor, "web", "case_page",
                                   CaseRef.parse(case_id).case_id)
            return page
        except DomainError as exc:
            return refusal_page(request, exc, who)

    @ui.post("/cases/{case_id}/decision")
    async def decide(request: Request, case_id: Annotated[str, _CASE_ID],
                     csrf: Annotated[str, Form(max_length=200)] = "",
                     idem: Annotated[str, Form(max_length=64)] = "",
                     action: Annotated[str, Form(max_length=20)] = "",
                     reason: Annotated[str, Form(max_length=2000)] = "",
                     to_person: Annotated[str, Form(max_length=200)] = "") -> Response:
        who = signed_in(request)
        if not sessions.csrf_ok(request, csrf):
            return render(request, "error.html", 403, who=who, error=_csrf_error())
        lang = lang_of(request)
        try:
            ref, _ = await door.allowed(who.actor, "decide", case_id)
            rid = door.request_id(f"ui-{action}", who.actor, idem or None)
            if action == "approve":
                await door.service.approve(ref, who.actor, request_id=rid)
            elif action == "reject":
                if not reason.strip():
                    raise ServiceError("decision.reason_required", "a rejection needs a reason",
                                       "trả lại hồ sơ phải nêu lý do")
                await door.service.reject(ref, who.actor, reason.strip(), request_id=rid)
            elif action == "delegate":
                if not to_person.strip():
                    raise ServiceError("decision.delegate_to_required",
                                       "name the colleague to delegate to",
                                       "phải nêu người được ủy quyền")
                to = who.actor.model_copy(update={"person_id": to_person.strip()})
                await door.service.delegate(ref, who.actor, to, request_id=rid)
            else:
                raise ServiceError("decision.unknown_action", f"unknown action {action!r}",
                                   "thao tác không hợp lệ")
        except DomainError as exc:
            if exc.code.startswith("identity.") or status_for(exc.code) in (403, 404):
                return refusal_page(request, exc, who)
            return await case_page(request, who, case_id, status=status_for(exc.code),
                                   form_error=exc.text(lang))
        return RedirectResponse(f"/ui/cases/{quote(case_id, safe=':')}?done={action}",
                                status_code=303)

    add_commune_routes(ui, door, sessions, Pages(render, refusal_page, case_page, lang_of),
                       max_attachment=max_attachment)
    inbox_rounds = add_round_pages(ui, door, sessions,
                                   Pages(render, refusal_page, case_page, lang_of), _csrf_error,
                                   reads, max_attachment=max_attachment)

    # -- the province dashboard and the recognition list (web/dashboard.py) ------------------
    async def dashboard_of(who: Principal, plan: str) -> dashboard.Dashboard:
        dashboard.may_see(who.actor)
        plan_id = plan or await dashboard.default_plan(door, who.actor)
        if plan_id is None:
            raise ServiceError("plan.not_found", "no plan of your province is published",
                               "chưa có kế hoạch nào của tỉnh bạn")
        return await dashboard.build(door, who.actor, plan_id)

    def may_approve_list(who: Principal, plan: Plan) -> bool:
        return who.actor.role in plan.approval_chain[-1].roles

    @ui.get("/dashboard", response_class=HTMLResponse)
    async def dashboard_page(request: Request,
                             plan: Annotated[str, Query(max_length=64)] = "") -> Response:
        who = signed_in(request)
        try:
            d = await dashboard_of(who, plan)
        except DomainError as exc:
            return refusal_page(request, exc, who)
        lang = lang_of(request)
        header, rows = dashboard.table(d, lang)
        plans = await dashboard.own_plans(door, who.actor)
        merged = None
        if d.merged is not None:  # by former district, then by new commune, with the rule
            merged = {"districts": dashboard.district_table(d, lang),
                      "rule": dashboard.rule_text(d.merged, lang),
                      "target": dashboard.target_text(d, lang)}
        # the province's reporting programmes (issue 13), each with its indicators' page
        programmes = [p for p in readable_plans(who.actor)
                      if p.province_code == d.plan.province_code]
        return render(request, "dashboard.html", who=who, d=d, plans=plans, header=header,
                      rows=rows, merged=merged, programmes=programmes,
                      name_of=lambda c: dashboard.category_name(c, lang),
                      can_approve=may_approve_list(who, d.plan),
                      q=urlencode({"plan": d.plan.id}))

    @ui.get("/dashboard/chart.svg")
    async def dashboard_chart(request: Request,
                              plan: Annotated[str, Query(max_length=64)] = "") -> Response:
        who = signed_in(request)
        try:
            d = await dashboard_of(who, plan)
        except DomainError as exc:
            return Response(status_code=status_for(exc.code))
        # pygal styles its SVG with an inline <style>. Shown by the page's <img>, Chromium
        # draws it styled under either policy; opened on its own (open image in a new tab),
        # the SVG is a document, and the pages' policy (style-src 'self') strips that style:
        # black shapes in Times (checked in Chromium 2026-11). So this response has a policy
        # of its own (nothing loads, nothing runs, inline style only); SecurityHeaders keeps
        # a policy a response already has.
        return Response(dashboard.chart_svg(d, lang_of(request)), media_type="image/svg+xml",
                        headers={"Content-Security-Policy": SVG_CSP,
                                 "Cache-Control": "private, no-store"})

    @ui.get("/dashboard.csv")
    async def dashboard_csv(request: Request,
                            plan: Annotated[str, Query(max_length=64)] = "") -> Response:
        who = signed_in(request)
        try:
            d = await dashboard_of(who, plan)
        except DomainError as exc:
            return refusal_page(request, exc, who)
        name = f"tong-quan-{d.plan.id}-{d.today.isoformat()}.csv"
        return Response(dashboard.csv_bytes(d, lang_of(request)),
                        media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"',
                                 "Cache-Control": "private, no-store"})

    async def recognition_page(request: Request, who: Principal, plan_id: str,
                               status: int = 200, results: dict[str, str] | None = None,
                               form_error: str | None = None) -> Response:
        plan = await door.campaign_allowed(who.actor, "approve_recognition", plan_id)
        last = plan.approval_chain[-1]
        box = await door.service.inbox(who.actor, limit=1000, plan_id=plan.id,
                                       subject=last.id)
        from domain.admin_units import registry

        units = registry(plan.structure)
        waiting = sorted({i.commune_code: i for i in box.items if i.kind == "level"}.values(),
                         key=lambda i: i.commune_code)
        lang = lang_of(request)
        return render(request, "recognition.html", status, who=who, plan=plan, level=last,
                      waiting=waiting, commune_name=lambda c: _commune_name(units, c),
                      results=results, form_error=form_error, idem=new_key(),
                      refusal=lambda r: dashboard.refusal_text(r, lang))

    @ui.get("/campaigns/{plan_id}/recognition", response_class=HTMLResponse)
    async def recognition_list(request: Request, plan_id: Annotated[str, _PLAN_ID]) -> Response:
        who = signed_in(request)
        try:
            return await recognition_page(request, who, plan_id)
        except DomainError as exc:
            return refusal_page(request, exc, who)

    @ui.post("/campaigns/{plan_id}/recognition")
    async def approve_recognition_list(
            request: Request, plan_id: Annotated[str, _PLAN_ID],
            csrf: Annotated[str, Form(max_length=200)] = "",
            idem: Annotated[str, Form(max_length=64)] = "",
            communes: Annotated[list[str] | None, Form()] = None,
            reason: Annotated[str, Form(max_length=2000)] = "") -> Response:
        who = signed_in(request)
        if not sessions.csrf_ok(request, csrf):
            return render(request, "error.html", 403, who=who, error=_csrf_error())
        lang = lang_of(request)
        chosen = sorted({c for c in (communes or [])[:2000] if c.isdigit() and len(c) <= 10})
        try:
            await door.campaign_allowed(who.actor, "approve_recognition", plan_id)
            if not chosen:
                return await recognition_page(request, who, plan_id, 422, form_error=pick(
                    lang, "hãy chọn ít nhất một xã", "choose at least one commune"))
            rid = door.request_id("ui-recognition", who.actor, idem or None)
            reply = await door.service.approve_recognition(
                names.campaign_id(plan_id), who.actor, chosen, reason.strip(), request_id=rid)
        except DomainError as exc:
            if exc.code.startswith("identity.") or status_for(exc.code) == 403:
                return refusal_page(request, exc, who)
            return await recognition_page(request, who, plan_id, status_for(exc.code),
                                          form_error=dashboard.refusal_text(exc.code, lang))
        return await recognition_page(request, who, plan_id, results=reply.results)
    return ui


_CASE_ID = Path(pattern=r"^(conversion|recognition):[a-z0-9-]{1,64}:[0-9]{1,10}$")
_PLAN_ID = Path(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")
# The chart's own policy (see dashboard_chart): nothing loads, nothing runs, inline style.
SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self'"


def _commune_name(units: AdminRegistry, code: str) -> str:
    try:
        return units.commune(code).name
    except DomainError:
        return code


def _named(item: InboxItem, plans: dict[str, Plan], lang: Lang) -> tuple[str, str]:
    """An inbox item's commune name and what is awaited, as a reader says them."""
    from domain.admin_units import registry

    plan = plans.get(item.plan_id)
    if plan is None:
        return item.commune_code, item.subject
    try:
        commune = registry(plan.structure).commune(item.commune_code).name
    except DomainError:
        commune = item.commune_code
    what = item.subject
    if item.kind == "level":
        what = next((pick(lang, lv.name_vi, lv.name_en) for lv in plan.approval_chain
                     if lv.id == item.subject), what)
    else:
        what = next((pick(lang, d.title_vi, d.title_en) for d in plan.deadlines
                     if d.id == item.subject), what)
    return commune, what


def _csrf_error() -> ServiceError:
    return ServiceError("ui.csrf", "the form is stale or was not sent from this site; reload it",
                        "biểu mẫu đã cũ hoặc không được gửi từ trang này; hãy tải lại trang")
