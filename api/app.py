"""The HTTP API (FastAPI): the service layer's operations as resources, for every user group.

Every route but ``/healthz`` and ``/readyz`` needs ``Authorization: Bearer <identity token>``
(401 otherwise); the person's role and jurisdiction are checked here (403 with the reason)
and again by the workflows, which receive a command proof, never the token. ``Idempotency-Key``
on a POST becomes the command's request id, so a retried request is answered from the
workflow's memory and changes nothing. Bodies are bounded (413 past ``max_body`` bytes; an
attachment's upload past ``max_attachment``, by default ``DRUGFREE_MAX_ATTACHMENT_BYTES``).
"""

from __future__ import annotations

import base64
import dataclasses
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime, timedelta, timezone
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, quote

from fastapi import Body, FastAPI, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import catalog
from api import errors
from api.errors import documented
from api.files import FILE_ANSWER, RAW_FILE, FileName, Sha256Path
from api.identity import IdemKey, Who, bearer, principal
from api.rounds import add_round_routes
from api.schemas import (
    CampaignOpened,
    CaseCreated,
    CaseIdPath,
    CaseView,
    ChainCheck,
    CheckpointBody,
    ConsistencyAnswer,
    Decision,
    Health,
    HistoryEvent,
    InclusionAnswer,
    InclusionBody,
    Page,
    PlanIdPath,
    PlanInfo,
    ProposalBody,
    RecognitionBody,
    SelectionBody,
    StartCase,
    Submission,
    Uploaded,
    WithdrawalBody,
)
from domain.amendment import Amendment
from domain.amendment_effect import require_amender
from domain.clock import PlanClock
from domain.documents import validation_problems
from domain.errors import DomainError
from domain.plan import Plan
from eventstore import disk
from eventstore.plan_versions import PlanVersions
from runtime.limits import attachment_limit
from service import CaseRef, CaseService, ServiceError
from service import export as exports
from service.access import Authenticator, Operation, Principal
from service.amendments import amended
from service.amendments import applied_report as amendments_applied
from service.amendments import apply as amendments_apply
from service.amendments import apply_campaigns as amendments_campaigns
from service.amendments import preview as amendments_preview
from service.amendments import report as amendments_report
from service.audit import Audit, signing_key
from service.audit_reads import ReadLog
from service.cases import clean_name
from service.crosscheck import crosscheck
from service.frontdoor import FrontDoor
from service.plans import PlanBook, PublishedPlan
from service.replay import replay_on_its_plan
from service.rounds import RoundService
from web.app import DemoPerson, create_ui
from web.session import Sessions
from workflows import names
from workflows.messages import MAX_ATTACHMENTS, CampaignStatus, ListReply, Reply

VN_TIME = timezone(timedelta(hours=7), "ICT")  # Asia/Ho_Chi_Minh: no daylight saving
MAX_BODY = 1 << 20  # 1 MiB: a proposal of a few hundred communes with metrics fits easily
# The routes whose body may be larger than MAX_BODY: an attachment's upload (raw bytes), and
# the commune's submission form (its files, each checked again by the page).
UPLOAD_PATH = re.compile(r"^/(cases/[^/]+|rounds/[^/]+/[^/]+)/attachments$")
FORM_UPLOAD_PATH = re.compile(r"^/ui/(cases/[^/]+/submit|rounds/[^/]+/[^/]+)$")
# The refusals each kind of route may answer, documented with their body (``ErrorBody``).
# 503: the workflow service or the database did not answer.
READS = documented(401, 403, 404, 413, 422, 503)
WRITES = documented(401, 403, 404, 409, 413, 422, 503)
OPEN_PATHS = frozenset({"/healthz", "/readyz"})  # all else needs a token


class BodyLimit:
    """Refuse bodies over ``limit`` bytes (declared or streamed) before any route reads them;
    an attachment's upload (``POST /cases/{case_id}/attachments``, a round's
    ``/rounds/{plan}/{round}/attachments``) over ``upload_limit``; a page's form with files
    (the commune's submission, a unit's report on the round page) over the files' bound."""

    def __init__(self, app: ASGIApp, limit: int, upload_limit: int | None = None) -> None:
        self.app, self.limit = app, limit
        self.upload_limit = limit if upload_limit is None else upload_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path, post = scope.get("path", ""), scope.get("method") == "POST"
        upload = post and bool(UPLOAD_PATH.match(path))
        limit = self.upload_limit if upload else self.limit
        if post and FORM_UPLOAD_PATH.match(path):
            limit = self.upload_limit * MAX_ATTACHMENTS + self.limit
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _too_large(scope, receive, send, limit, upload)
            return
        seen = 0

        async def bounded() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, bounded, send)
        except _TooLarge:
            await _too_large(scope, receive, send, limit, upload)


class _TooLarge(Exception):
    pass


class NoNul:
    """Refuse a request whose path or query holds a NUL character, naming where, before any
    route: PostgreSQL text cannot hold one, so a parameter carrying it would otherwise reach
    a query and fail there as a server error (found by tests/workflows/test_api_schema.py)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        where = _nul_in(scope) if scope["type"] == "http" else None
        if where is None or scope.get("path") in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        if str(scope.get("path", "")).startswith("/ui/"):  # a person at a page: a page
            answer: Response = _bare_page(400, "Địa chỉ không hợp lệ", "Địa chỉ có ký tự NUL.",
                                          "The address holds a NUL character.")
        else:
            answer = await _refused_stranger(Request(scope)) or JSONResponse(errors.body(
                "input.invalid", f"{where}: holds a NUL character",
                f"dữ liệu không hợp lệ: {where} có ký tự NUL"), status_code=422)
        await answer(scope, receive, send)


NO_NUL = "^[^\\u0000]*$"  # JSON Schema pattern: text without a NUL character


def say_text_has_no_nul(app: FastAPI) -> None:
    """Write ``NoNul``'s rule into /openapi.json: every text parameter (path, query, header)
    without a pattern of its own carries ``NO_NUL``, so a client reading the schema knows."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            for operations in schema.get("paths", {}).values():
                for operation in operations.values():
                    for parameter in operation.get("parameters", []):
                        _no_nul(parameter.get("schema", {}))
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]


def _no_nul(schema: dict[str, Any]) -> None:
    for option in schema.get("anyOf", []):
        _no_nul(option)
    if schema.get("type") == "string" and not {"pattern", "enum", "const", "format"} & set(schema):
        schema["pattern"] = NO_NUL


def _nul_in(scope: Scope) -> str | None:
    """Where a NUL character is in the request's address (``path``, ``query.<name>``)."""
    if "\x00" in str(scope.get("path", "")):
        return "path"
    query = bytes(scope.get("query_string") or b"")
    if b"\x00" not in query and b"%00" not in query:
        return None
    for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if "\x00" in name:
            return "query"
        if "\x00" in value:
            return f"query.{name[:40]}"
    return None


def _bare_page(status: int, heading: str, vi: str, en: str) -> HTMLResponse:
    """The page a person gets when a request is refused before any route (no session, no
    template): the reason in Vietnamese and English, and the way back to the inbox."""
    return HTMLResponse(
        f"<!doctype html><html lang=vi><title>{status}</title><h1>{heading}</h1><p>{vi}</p>"
        f"<p lang=en>{en}</p><p><a href=/ui/inbox>Hộp công việc</a></p></html>",
        status_code=status)


async def _too_large(scope: Scope, receive: Receive, send: Send, limit: int,
                     upload: bool = False) -> None:
    if str(scope.get("path", "")).startswith("/ui/"):  # a person at a page: a page
        await _bare_page(413, "Nội dung quá lớn", f"Biểu mẫu gửi vượt quá {limit} byte; hãy "
                         "gửi ít tệp hơn hoặc tệp nhỏ hơn.",
                         f"The form exceeds {limit} bytes.")(scope, receive, send)
        return
    if upload:
        body = errors.body("attachment.too_large", f"the file exceeds {limit} bytes",
                           f"tệp vượt quá {limit} byte")
    else:
        body = errors.body("input.too_large", f"the body exceeds {limit} bytes",
                           f"nội dung vượt quá {limit} byte")
    await JSONResponse(body, status_code=413)(scope, receive, send)


async def _refused_stranger(request: Request) -> JSONResponse | None:
    """The 401 a caller without a valid token gets instead of learning what its input lacks
    (``None`` for a signed-in caller or an open path)."""
    if request.url.path in OPEN_PATHS:
        return None
    try:
        await principal(request, await bearer(request))
    except DomainError as refused:
        return errors.refusal(refused)
    return None


async def refuse_input(request: Request, exc: Exception) -> JSONResponse:
    """Bad input (an undecodable body: 400 from FastAPI, a body or parameter out of its schema)
    is named only to a caller with a valid token: FastAPI reads a body before it runs the
    routes' dependencies, so without this a stranger would learn what a body lacks."""
    bad_input = isinstance(exc, RequestValidationError) or (
        isinstance(exc, HTTPException) and exc.status_code == 400)
    if bad_input and (refused := await _refused_stranger(request)) is not None:
        return refused
    if isinstance(exc, RequestValidationError):
        return await errors.on_validation_error(request, exc)
    return await errors.on_http_error(request, exc)




def create_app(service: CaseService, authenticator: Authenticator,
               ready: Callable[[], Awaitable[None]] | None = None,
               max_body: int = MAX_BODY,
               clock_for: Callable[[Plan], PlanClock] = lambda _: PlanClock(),
               people: Sequence[DemoPerson] = (), secure_cookies: bool = False,
               max_attachment: int | None = None) -> FastAPI:
    """The API over ``service``, with the web pages under ``/ui``; ``ready`` raises when a
    dependency is down (``/readyz``, which also answers 503 while the database's disk is full:
    eventstore/disk.py); ``clock_for``: the calendar a plan's new cases and
    campaigns run on (the plan's own dates; a rehearsal clock only where the workers accept
    one, as in tests); ``people``: the demo people the pages' sign-in offers (dev stack);
    ``secure_cookies``: the pages' cookies over HTTPS only; ``max_attachment``: an uploaded
    file's bound (default ``attachment_limit()``)."""
    app = FastAPI(
        title="drugfree",
        version="1",
        description="Xã, phường, thị trấn không ma túy: hồ sơ chuyển hóa, phê duyệt, kiểm tra. "
                    "Drug-free communes: conversion cases, approvals, audit.",
    )
    app.add_exception_handler(DomainError, errors.on_domain_error)
    for unavailable in errors.DATABASE_UNAVAILABLE:
        app.add_exception_handler(unavailable, errors.on_database_unavailable)
    app.add_exception_handler(HTTPException, refuse_input)
    app.add_exception_handler(RequestValidationError, refuse_input)
    app.add_middleware(BodyLimit, limit=max_body, upload_limit=max_attachment
                       if max_attachment is not None else attachment_limit())
    app.add_middleware(NoNul)

    app.state.authenticator = authenticator
    plans = PlanBook(None if service.store is None else PlanVersions(service.store.pool))

    door = FrontDoor(service, plans, clock_for)
    app.state.door = door
    store = service.store
    app.mount("/ui", create_ui(door, Sessions(authenticator, secure=secure_cookies),
                               people=people, max_attachment=max_attachment,
                               verify=None if store is None else store.verify))
    check_baseline = door.check_baseline
    reads = ReadLog(store)

    def request_id(op: str, who: Principal, key: str | None) -> str:
        return door.request_id(op, who.actor, key)

    async def allowed(who: Principal, op: Operation, case_id: str) -> tuple[CaseRef, Plan]:
        return await door.allowed(who.actor, op, case_id)

    # -- health -----------------------------------------------------------------------------
    @app.get("/healthz", tags=["vận hành / operations"], responses=documented(413))
    async def healthz() -> Health:
        return Health(status="ok")

    @app.get("/readyz", tags=["vận hành / operations"], response_model=Health,
             responses=documented(413, 503))
    async def readyz() -> JSONResponse:
        """Sẵn sàng: 200 ``{"status": "ready"}``; 503 ``service.unavailable`` when a
        dependency does not answer. While the database's disk is full (eventstore/disk.py:
        this process's writes failed) it stays 200, ``{"status": "degraded", "database":
        "disk_full", ...}``: the API still serves every read and refuses writes with 503
        ``service.disk_full``, so a load balancer must not take it out of service."""
        try:
            if ready is not None:
                await ready()
            disk.check()
        except disk.DiskFull:
            return JSONResponse({
                "status": "degraded", "database": "disk_full",
                "message_vi": "cơ sở dữ liệu hết dung lượng đĩa: vẫn đọc được, tạm dừng ghi, "
                              "tự tiếp tục khi có chỗ",
                "message_en": "database: disk full; reads are served, writes pause and resume "
                              "by themselves when space is freed"})
        except Exception as exc:  # noqa: BLE001 - any failure means not ready
            return JSONResponse(errors.body("service.unavailable",
                                            f"not ready: {type(exc).__name__}",
                                            "chưa sẵn sàng"), status_code=503)
        return JSONResponse({"status": "ready"})

    # -- plans ------------------------------------------------------------------------------
    @app.get("/plans", tags=["kế hoạch / plans"], responses=READS)
    async def list_plans(who: Who, all_versions: bool = False) -> list[PlanInfo]:
        """Kế hoạch: each plan's newest version (new cases start with it), or every version."""
        del who
        return [plan_info(p) for p in await plans.listing(all_versions)]

    @app.post("/plans", status_code=201, tags=["kế hoạch / plans"], responses=WRITES,
              response_model=PlanInfo)
    async def publish_plan(body: Annotated[dict[str, Any], Body(
            description="The plan (YAML or JSON document as in domain/plans/), its criteria "
                        "and rule sets embedded (`criteria`, `rules`) or named from the "
                        "catalogue", examples=[{"id": "ninh-binh-2027", "...": "..."}])],
            who: Who) -> JSONResponse:
        """Ban hành kế hoạch: store the plan as its next version (201); the same content again
        answers the version it already is (200). Running cases keep the version they began
        with; new cases start with the newest."""
        published, created = await plans.publish(who.actor, body)
        return JSONResponse(jsonable_encoder(plan_info(published)),
                            status_code=201 if created else 200)

    @app.post("/plans/{plan_id}/amendments", tags=["kế hoạch / plans"], responses=WRITES)
    async def amend_plan(plan_id: PlanIdPath, body: Annotated[dict[str, Any], Body(
            description="An amendment document (as domain/amendments/*.yaml)")],
            who: Who, dry_run: bool = False) -> dict[str, Any]:
        """Văn bản sửa đổi, for the plan's issuer (the provincial People's Committee, of the
        plan's province or of the province it became). With ``dry_run=true``: what the
        amendment would change for each running case of the plan (pending level and who signs
        next, deadlines, escalations, codes), changing nothing. Without: the amendment is kept
        and sent to every running case (applied now, or at its effective date on a timer in
        the case); the answer says per case what was done, with the ``case.amended`` record.
        Applying the same amendment again changes nothing."""
        plan = await door.plan_of(plan_id)
        amendment = validated_amendment(body)
        if plan_id not in amendment.amends:
            raise ServiceError("amendment.other_plan",
                               f"amends: the amendment does not amend plan {plan_id}",
                               f"amends: văn bản sửa đổi không sửa kế hoạch {plan_id}")
        if store is None:
            raise ServiceError("service.no_store", "amendments need the event store",
                               "cần cơ sở dữ liệu để áp dụng văn bản sửa đổi")
        try:
            plans_ = {pid: amended(plan if pid == plan_id else await door.plan_of(pid),
                                   amendment) for pid in amendment.amends}
            for before, after, _ in plans_.values():
                require_amender(who.actor, before, after)
        except DomainError as exc:
            raise ServiceError(exc.code, exc.message, exc.message_vi) from None
        if dry_run:
            answer: dict[str, Any] = jsonable_encoder(amendments_report(
                amendment, plans_, await amendments_preview(store, amendment, plans_)))
            return answer
        done = await amendments_apply(service, store, who.actor, amendment, plans_)
        campaigns = await amendments_campaigns(service, who.actor, amendment, plans_)
        applied: dict[str, Any] = jsonable_encoder(
            amendments_applied(amendment, plans_, done, campaigns))
        return applied

    # -- cases ------------------------------------------------------------------------------
    @app.post("/cases", status_code=201, tags=["hồ sơ / cases"], responses=WRITES)
    async def start_case(body: StartCase, who: Who,
                         idempotency_key: IdemKey = None) -> CaseCreated:
        ref, plan, scope = await door.allowed_case(
            who.actor, "start", names.case_id(body.plan_id, body.commune_code))
        try:  # the service dry-runs the opening first (baseline and its classification)
            await service.start_case(plan, scope, who.actor, body.baseline,
                                     clock=clock_for(plan))
        except ServiceError as exc:
            # A retried start (same Idempotency-Key) finds its case already opened by the
            # same person: the first answer again. Anyone else meets the conflict.
            if exc.code != "case.already_exists" or idempotency_key is None or \
                    not await service.opened_by(ref, who.actor.person_id):
                raise
        return CaseCreated(case_id=ref.case_id)

    @app.get("/cases", tags=["hồ sơ / cases"], responses=READS)
    async def list_cases(who: Who, plan: str | None = None, state: str | None = None,
                         limit: Annotated[int, Query(ge=1, le=500)] = 50,
                         offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> Page:
        rows = await door.cases(who.actor, plan, state)
        return Page(items=_jsonable(rows[offset:offset + limit]), total=len(rows), limit=limit,
                    offset=offset)

    @app.get("/inbox", tags=["hộp việc / inbox"], responses=READS)
    async def inbox(who: Who, overdue: bool = False,
                    limit: Annotated[int, Query(ge=1, le=500)] = 50,
                    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> Page:
        """Hộp công việc: decisions awaiting my role in my jurisdiction, oldest due first."""
        box = await service.inbox(who.actor, overdue=overdue, limit=limit, offset=offset)
        return Page(items=_jsonable([asdict(i) for i in box.items]), total=box.total,
                    limit=limit, offset=offset)

    @app.get("/cases/{case_id}", tags=["hồ sơ / cases"], responses=READS)
    async def case_status(case_id: CaseIdPath, who: Who) -> CaseView:
        ref, _ = await allowed(who, "read", case_id)
        if who.actor.role == "auditor":
            await reads.record(who.actor, "api", "status", ref.case_id)
        view = await service.status(ref)
        return CaseView(case=view.case, chain=view.chain)

    @app.get("/cases/{case_id}/history", tags=["hồ sơ / cases"], responses=READS)
    async def case_history(case_id: CaseIdPath, who: Who) -> list[HistoryEvent]:
        ref, _ = await allowed(who, "read", case_id)
        if who.actor.role == "auditor":
            await reads.record(who.actor, "api", "history", ref.case_id)
        return [HistoryEvent(version=e.version, type=e.type,
                             recorded_at=e.recorded_at.isoformat(), payload=e.payload,
                             hash=e.hash.hex())
                for e in await service.history(ref)]

    @app.post("/cases/{case_id}/submissions", tags=["hồ sơ / cases"], responses=WRITES)
    async def submit(case_id: CaseIdPath, body: Submission, who: Who,
                     idempotency_key: IdemKey = None) -> Reply:
        ref, _ = await allowed(who, "submit", case_id)
        what = body.deadline_id or body.kind
        return await service.submit(
            ref, who.actor, body.deadline_id, body.metrics, body.summary,
            request_id=request_id(f"submit-{what}", who, idempotency_key), kind=body.kind,
            attachments=[(a.name, a.sha256) for a in body.attachments])

    @app.post("/cases/{case_id}/attachments", tags=["hồ sơ / cases"], responses=WRITES,
              openapi_extra=RAW_FILE)
    async def upload(case_id: CaseIdPath, name: FileName, request: Request,
                     who: Who) -> Uploaded:
        """Tải tệp lên: the file's bytes as the body (Content-Type: its type), for the
        commune's submissions; answers its SHA-256, to name it in a submission. The same
        bytes again change nothing (so no Idempotency-Key is needed). Bounded (413)."""
        ref, _ = await allowed(who, "submit", case_id)
        content = bytearray()
        async for chunk in request.stream():  # BodyLimit stops it past the bound
            content += chunk
        stored = await service.upload(ref, who.actor, bytes(content), name,
                                      request.headers.get("content-type"))
        return Uploaded(sha256=stored.sha256, size=stored.size, name=clean_name(name))

    @app.get("/cases/{case_id}/attachments/{sha256}", tags=["hồ sơ / cases"],
             response_class=Response, responses={**FILE_ANSWER, **READS})
    async def download(case_id: CaseIdPath, sha256: Sha256Path, who: Who) -> Response:
        """Tải tệp về: a file uploaded to the case, for anyone who may read the case."""
        ref, _ = await allowed(who, "read", case_id)
        found = await service.attachment(ref, sha256)
        ascii_name = found.name.encode("ascii", "replace").decode().replace('"', "_")
        # served as a download, never rendered by the browser on the API's origin
        return Response(found.content, media_type=found.media_type, headers={
            "Content-Disposition": f'attachment; filename="{ascii_name}"; '
                                   f"filename*=UTF-8''{quote(found.name, safe='')}",
            "X-Content-Type-Options": "nosniff"})

    @app.post("/cases/{case_id}/decisions", tags=["hồ sơ / cases"], responses=WRITES)
    async def decide(case_id: CaseIdPath, body: Decision, who: Who,
                     idempotency_key: IdemKey = None) -> Reply:
        rid = request_id(body.kind, who, idempotency_key)
        if body.kind in ("select", "not_select"):
            ref, _ = await allowed(who, "select", case_id)
            return await service.select(ref, who.actor, body.kind == "select", body.reason,
                                        request_id=rid)
        if body.kind == "resubmit":
            ref, _ = await allowed(who, "resubmit", case_id)
            return await service.resubmit(ref, who.actor, request_id=rid)
        ref, _ = await allowed(who, "decide", case_id)
        assert body.kind in ("approve", "reject", "delegate")
        if body.kind == "reject" and not body.reason.strip():
            raise ServiceError("decision.reason_required", "a rejection needs a reason",
                               "trả lại hồ sơ phải nêu lý do")
        to = None
        if body.kind == "delegate":
            if body.to_person_id is None:
                raise ServiceError("decision.delegate_to_required",
                                   "a delegation names to_person_id",
                                   "ủy quyền phải nêu người được ủy quyền (to_person_id)")
            to = who.actor.model_copy(update={"person_id": body.to_person_id})
        return await service.decide(ref, who.actor, body.kind, body.level, body.reason, to,
                                    request_id=rid)

    @app.post("/cases/{case_id}/withdrawal", tags=["hồ sơ / cases"], responses=WRITES)
    async def withdraw(case_id: CaseIdPath, body: WithdrawalBody, who: Who,
                       idempotency_key: IdemKey = None) -> Reply:
        ref, _ = await allowed(who, "withdraw", case_id)
        return await service.withdraw(ref, who.actor, body.reason,
                                      request_id=request_id("withdraw", who, idempotency_key))

    # -- audit (auditors only; every read recorded) ----------------------------------------
    def auditor(who: Principal) -> None:
        if who.actor.role != "auditor":
            raise ServiceError("audit.auditors_only", "audit reads are for auditors",
                               "chỉ cán bộ thanh tra, kiểm tra được dùng chức năng kiểm toán")

    def audit_of() -> Audit:
        if store is None:
            raise ServiceError("service.no_store", "the audit needs the event store",
                               "chức năng kiểm toán cần cơ sở dữ liệu")
        return Audit(store)

    @app.get("/audit/cases/{case_id}/verify", tags=["kiểm toán / audit"], responses=READS)
    async def audit_verify(case_id: CaseIdPath, who: Who) -> ChainCheck:
        """Kiểm tra chuỗi băm của hồ sơ: every hash and link re-derived."""
        auditor(who)
        ref, _ = await allowed(who, "read", case_id)
        await reads.record(who.actor, "api", "verify", ref.case_id)
        report = await audit_of().store.verify(ref.case_id, deep=True)  # one case: cheap
        return ChainCheck(case_id=ref.case_id, events=report.events, intact=report.ok,
                          broken=None if report.broken is None else str(report.broken))

    @app.post("/audit/consistency", tags=["kiểm toán / audit"], responses=READS)
    async def audit_consistency(body: CheckpointBody, who: Who) -> ConsistencyAnswer:
        """Đối chiếu mốc kiểm toán: does the log still hold exactly what a kept checkpoint
        covered? (a rewritten history answers ``consistent: false`` with the reason)"""
        auditor(who)
        await reads.record(who.actor, "api", "consistency", "log")
        audit = audit_of()
        try:
            c = await audit.consistency(body.checkpoint, body.key)
        except ServiceError as exc:
            if exc.code != "audit.rewritten":
                raise
            head = audit.opened(body.checkpoint, body.key)
            return ConsistencyAnswer(consistent=False, old_size=head.size,
                                     old_root=_b64(head.root), code=exc.code,
                                     message_vi=exc.message_vi, message_en=exc.message)
        return ConsistencyAnswer(consistent=True, old_size=c.old_size, new_size=c.new_size,
                                 old_root=_b64(c.old_root), new_root=_b64(c.new_root),
                                 proof=[_b64(h) for h in c.proof])

    @app.post("/audit/inclusion", tags=["kiểm toán / audit"], responses=READS)
    async def audit_inclusion(body: InclusionBody, who: Who) -> InclusionAnswer:
        """Chứng minh một sự kiện nằm trong mốc kiểm toán (RFC 6962 inclusion proof)."""
        auditor(who)
        ref, _ = await allowed(who, "read", body.case_id)
        await reads.record(who.actor, "api", "inclusion", ref.case_id)
        p = await audit_of().inclusion(ref.case_id, body.version, body.checkpoint, body.key)
        return InclusionAnswer(case_id=p.stream, version=p.version, leaf_index=p.index,
                               tree_size=p.size, root=_b64(p.root), leaf_hash=_b64(p.leaf),
                               proof=[_b64(h) for h in p.proof])

    @app.get("/audit/cases/{case_id}/replay", tags=["kiểm toán / audit"], responses=READS)
    async def audit_replay(case_id: CaseIdPath, who: Who,
                           at: Annotated[str | None, Query(
                               pattern=r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}[^\x00]{0,30}$",
                               description="ISO 8601 instant; without a zone, Viet Nam's "
                                           "time", examples=["2025-06-30T17:00:00+07:00"])]
                           = None) -> dict[str, Any]:
        """Tái hiện hồ sơ: the case as it stood at ``at`` (now when omitted), and its
        timeline, folded from its events."""
        auditor(who)
        instant = None
        if at is not None:
            try:
                instant = datetime.fromisoformat(at)
            except ValueError:
                raise ServiceError("audit.bad_instant", f"at: {at!r} is not an ISO 8601 instant",
                                   f"at: {at!r} không phải thời điểm ISO 8601") from None
            if instant.tzinfo is None:
                instant = instant.replace(tzinfo=VN_TIME)
        ref, plan = await allowed(who, "read", case_id)
        await reads.record(who.actor, "api", "replay", ref.case_id)
        # on the plan version the case ran on when stored (service.replay); named_by says which
        done = await replay_on_its_plan(plans.versions, plan, await service.history(ref),
                                        instant)
        return {"case": ref.case_id, **jsonable_encoder(dataclasses.asdict(done.case)),
                "named_by": done.named_by}

    @app.get("/audit/cases/{case_id}/crosscheck", tags=["kiểm toán / audit"],
             responses=READS)
    async def audit_crosscheck(case_id: CaseIdPath, who: Who) -> dict[str, Any]:
        """Đối chiếu hai bản ghi: the workflow service's histories of the case against its
        stream (``agrees``, and every difference named)."""
        auditor(who)
        ref, _ = await allowed(who, "read", case_id)
        await reads.record(who.actor, "api", "crosscheck", ref.case_id)
        return (await crosscheck(service.client, audit_of().store, ref.case_id)).as_dict()

    @app.get("/audit/cases/{case_id}/export", tags=["kiểm toán / audit"], responses=READS,
             response_class=StreamingResponse)
    async def audit_export(case_id: CaseIdPath, who: Who,
                           format: Literal["jsonl", "csv"] = "jsonl") -> StreamingResponse:
        """Xuất hồ sơ tự kiểm chứng: every event with its hashes and inclusion proof, ending
        with the signed checkpoint it was cut against (``drugfree audit verify --file``)."""
        auditor(who)
        ref, _ = await allowed(who, "read", case_id)
        signer = signing_key()
        await reads.record(who.actor, "api", "export", ref.case_id)
        store_ = audit_of().store

        async def lines() -> AsyncIterator[str]:
            if format == "csv":
                yield exports.csv_header()
            async for record in exports.export(store_, [ref.case_id], signer,
                                               datetime.now(UTC), {"case": ref.case_id}):
                yield exports.csv_row(record) if format == "csv" else exports.jsonl(record)

        name = ref.case_id.replace(":", "_")
        return StreamingResponse(lines(), media_type="text/csv; charset=utf-8"
                                 if format == "csv" else "application/jsonl; charset=utf-8",
                                 headers={"Content-Disposition":
                                          f'attachment; filename="{name}.{format}"'})

    # -- campaigns --------------------------------------------------------------------------
    async def campaign_allowed(who: Principal, op: Operation, plan_id: str) -> Plan:
        return await door.campaign_allowed(who.actor, op, plan_id)

    @app.post("/campaigns/{plan_id}", status_code=201, tags=["chiến dịch / campaigns"],
              responses=WRITES)
    async def open_campaign(plan_id: PlanIdPath, who: Who) -> CampaignOpened:
        plan = await campaign_allowed(who, "open_campaign", plan_id)
        return CampaignOpened(campaign_id=await service.start_campaign(
            plan, who.actor, clock=clock_for(plan)))

    @app.get("/campaigns/{plan_id}", tags=["chiến dịch / campaigns"], responses=READS)
    async def campaign_status(plan_id: PlanIdPath, who: Who) -> CampaignStatus:
        await campaign_allowed(who, "read", plan_id)
        return await service.campaign_status(names.campaign_id(plan_id))

    @app.post("/campaigns/{plan_id}/proposals", tags=["chiến dịch / campaigns"],
              responses=WRITES)
    async def propose(plan_id: PlanIdPath, body: ProposalBody, who: Who,
                      idempotency_key: IdemKey = None) -> ListReply:
        plan = await campaign_allowed(who, "propose", plan_id)
        for code, baseline in sorted(body.communes.items()):
            check_baseline(plan, baseline, code)
        return await service.propose(names.campaign_id(plan_id), who.actor, body.communes,
                                     request_id=request_id("propose", who, idempotency_key))

    @app.post("/campaigns/{plan_id}/selection", tags=["chiến dịch / campaigns"],
              responses=WRITES)
    async def approve_selection(plan_id: PlanIdPath, body: SelectionBody, who: Who,
                                idempotency_key: IdemKey = None) -> ListReply:
        await campaign_allowed(who, "approve_selection", plan_id)
        wid = names.campaign_id(plan_id)
        chosen = body.communes
        if body.all_proposed:
            chosen = (await service.campaign_status(wid)).proposed
        return await service.approve_selection(
            wid, who.actor, chosen, body.reason,
            request_id=request_id("selection", who, idempotency_key))

    @app.post("/campaigns/{plan_id}/recognition", tags=["chiến dịch / campaigns"],
              responses=WRITES)
    async def approve_recognition(plan_id: PlanIdPath, body: RecognitionBody, who: Who,
                                  idempotency_key: IdemKey = None) -> ListReply:
        await campaign_allowed(who, "approve_recognition", plan_id)
        return await service.approve_recognition(
            names.campaign_id(plan_id), who.actor, body.communes, body.reason,
            request_id=request_id("recognition", who, idempotency_key))

    add_round_routes(app, RoundService(service), plan_of=catalog.reporting_plan,
                     plan_ids=catalog.reporting_plan_ids,
                     clock_for=lambda p: clock_for(p),  # type: ignore[arg-type]
                     request_id=door.request_id, reads=reads)
    say_text_has_no_nul(app)
    return app


def plan_info(p: PublishedPlan) -> PlanInfo:
    plan = p.plan
    return PlanInfo(id=plan.id, title_vi=plan.title_vi, title_en=plan.title_en,
                    province_code=plan.province_code, district_code=plan.district_code,
                    starts_on=plan.starts_on.isoformat(), ends_on=plan.ends_on.isoformat(),
                    version=p.version, content_hash=p.content_hash, source=p.source,
                    published_by=p.published_by,
                    published_at=None if p.published_at is None else p.published_at.isoformat())


def validated_amendment(body: dict[str, Any]) -> Amendment:
    """The amendment of a request body; every problem named (``amendment.invalid``)."""
    try:
        return Amendment.model_validate(body)
    except ValidationError as exc:
        listed = "; ".join(f"{field}: {msg}" if field else msg
                           for field, msg in validation_problems(exc))
        raise ServiceError("amendment.invalid", listed,
                           f"văn bản sửa đổi không hợp lệ: {listed}") from None


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


def _jsonable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from fastapi.encoders import jsonable_encoder

    encoded: list[dict[str, Any]] = jsonable_encoder(rows)
    return encoded
