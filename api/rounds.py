"""The reporting rounds' HTTP API (kỳ báo cáo, issue 13), on ``service.rounds``.

- ``GET /reporting-plans``: the shipped reporting plans, their rounds and units;
- ``POST /rounds/{plan}/{round}``: open a round of the plan (the consolidating role); with a
  body ``{"adhoc": {...}}`` an ad hoc round on the plan's ad hoc form;
- ``GET /rounds/{plan}/{round}``: where it stands (reported, owing, late, sent back, missed,
  the consolidated table); ``/history``: its events;
- ``POST .../reports`` (a unit's report), ``.../returns`` (send one back, with the reason),
  ``.../decisions`` (``consolidate`` or ``approve``);
- ``GET .../report.docx`` and ``.../report.csv``: the consolidated report as a document;
- ``POST .../attachments?name=`` (a file for a unit's report, its raw bytes as the body;
  bounded as a case's) and ``GET .../attachments/{sha256}`` (its download, readers of the plan).

The workflow checks every rule (role, unit, form, timing) in its validators; the front door
only keeps readers inside their province (auditors everywhere).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import date
from enum import Enum
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import FastAPI, Path, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from api.errors import documented
from api.files import FILE_ANSWER, RAW_FILE, FileName, Sha256Path
from api.identity import IdemKey, Who
from api.schemas import AttachmentRef, Uploaded
from domain.clock import PlanClock
from domain.errors import DomainError
from domain.reporting import ReportingPlan, Round, reporting_units
from domain.reporting_round import speaks_for
from domain.roles import NO_CASE_ACCESS, Actor
from service import report_document
from service.audit_reads import ReadLog
from service.cases import clean_name
from service.errors import ServiceError
from service.rounds import RoundService
from workflows import names
from workflows.messages import MAX_ATTACHMENTS, MAX_INDICATORS, MAX_SECTION, Reply, RoundStatus

READS = documented(401, 403, 404, 413)
WRITES = documented(401, 403, 404, 409, 413, 422)
PlanPath = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=64)]
RoundPath = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=64)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AdhocRound(_Body):
    """An ad hoc round (báo cáo đột xuất): its title, year and due day."""

    title_vi: str = Field(min_length=3, max_length=300)
    title_en: str = Field(default="Ad hoc report", max_length=300)
    year: int = Field(ge=2000, le=2100)
    due: date
    source: str = Field(default="Công an tỉnh yêu cầu / requested by the provincial police",
                        min_length=3, max_length=300)


class OpenRound(_Body):
    adhoc: AdhocRound | None = None


class UnitReportBody(_Body):
    unit: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=64)
    values: dict[Annotated[str, Field(max_length=128)], Any] = Field(max_length=MAX_INDICATORS)
    sections: dict[Annotated[str, Field(max_length=128)],
                   Annotated[str, Field(max_length=MAX_SECTION)]] = Field(
        default_factory=dict, max_length=50)
    # files uploaded to the round first (``.../attachments``); the event adds each one's size
    attachments: list[AttachmentRef] = Field(default_factory=list, max_length=MAX_ATTACHMENTS)


class ReturnBody(_Body):
    unit: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=64)
    reason: str = Field(min_length=1, max_length=2000)


class RoundDecisionBody(_Body):
    kind: Literal["consolidate", "approve"]
    reason: str = Field(default="", max_length=2000)


class RoundOpened(BaseModel):
    round_id: str
    workflow_id: str


class ReportingPlanInfo(BaseModel):
    id: str
    title_vi: str
    title_en: str
    province_code: str
    rounds: list[dict[str, Any]]
    units: list[dict[str, str]]


def plan_summary(plan: ReportingPlan) -> ReportingPlanInfo:
    return ReportingPlanInfo(
        id=plan.id, title_vi=plan.title_vi, title_en=plan.title_en,
        province_code=plan.province_code,
        rounds=[{"id": r.id, "kind": r.kind, "year": r.year, "opens_on": r.opens_on.isoformat(),
                 "due": r.due.isoformat(), "title_vi": r.title_vi} for r in plan.rounds],
        units=[{"id": u.id, "name_vi": u.name_vi, "role": u.role}
               for u in reporting_units(plan)])


def may_read(actor: Actor, plan: ReportingPlan) -> None:
    """Readers of a plan's rounds: its province's people (not the system operator), and
    auditors."""
    if actor.role in NO_CASE_ACCESS:
        raise ServiceError("round.wrong_role", "system operators read no rounds",
                           "người vận hành hệ thống không xem kỳ báo cáo")
    if actor.role != "auditor" and actor.province_code != plan.province_code:
        raise ServiceError("round.wrong_jurisdiction",
                           f"plan {plan.id} is of province {plan.province_code}",
                           f"kế hoạch {plan.id} thuộc tỉnh {plan.province_code}, không thuộc "
                           f"địa bàn của bạn")


def may_upload(actor: Actor, plan: ReportingPlan) -> None:
    """Who may add a file to a round: the people of one of its units, or the consolidating
    role (of the plan's province)."""
    if actor.role == plan.consolidator and actor.province_code == plan.province_code:
        return
    for unit in reporting_units(plan):
        try:
            speaks_for(actor, plan, unit)
            return
        except DomainError:
            continue
    raise ServiceError("round.wrong_unit", f"{actor.person_id} reports for no unit of {plan.id}",
                       f"bạn không báo cáo cho đơn vị nào của kế hoạch {plan.id}")


def file_headers(name: str) -> dict[str, str]:
    """A download's headers: served as a file, never rendered on the serving origin."""
    ascii_name = name.encode("ascii", "replace").decode().replace('"', "_")
    return {"Content-Disposition": f'attachment; filename="{ascii_name}"; '
                                   f"filename*=UTF-8''{quote(name, safe='')}",
            "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"}


def add_round_routes(app: FastAPI, rounds: RoundService,
                     plan_of: Callable[[str], ReportingPlan],
                     plan_ids: Callable[[], Sequence[str]],
                     clock_for: Callable[[ReportingPlan], PlanClock],
                     request_id: Callable[[str, Actor, str | None], str],
                     reads: ReadLog) -> None:
    """The routes above, on ``app``; an auditor's reads are recorded (``reads``)."""
    tags: list[str | Enum] = ["báo cáo / reporting"]

    def known(plan_id: str) -> ReportingPlan:
        try:
            return plan_of(plan_id)
        except ServiceError:
            raise
        except Exception as exc:  # the catalogue's own error, with its code
            code = getattr(exc, "code", "reporting.unknown_plan")
            raise ServiceError(code, f"no reporting plan {plan_id!r}",
                               f"không có kế hoạch báo cáo {plan_id!r}") from None

    async def audited(actor: Actor, operation: str, plan_id: str, round_id: str) -> None:
        """An auditor's read is recorded before its answer (service.audit_reads)."""
        if actor.role == "auditor":
            await reads.record(actor, "api", operation, names.round_id(plan_id, round_id))

    def round_of(plan: ReportingPlan, round_id: str) -> Round:
        return plan.round(round_id)

    @app.get("/reporting-plans", tags=tags, responses=READS)
    async def reporting_plans(who: Who) -> list[ReportingPlanInfo]:
        """Kế hoạch báo cáo: the shipped reporting plans, their rounds and units."""
        del who
        return [plan_summary(known(p)) for p in plan_ids()]

    @app.post("/rounds/{plan_id}/{round_id}", status_code=201, tags=tags, responses=WRITES)
    async def open_round(plan_id: PlanPath, round_id: RoundPath, who: Who,
                         body: OpenRound | None = None) -> RoundOpened:
        """Mở kỳ báo cáo (the consolidating role). An ad hoc round takes its id from the path
        and its title, year and due day from the body."""
        plan = known(plan_id)
        if body is not None and body.adhoc is not None:
            if plan.adhoc_form is None:
                raise ServiceError("round.no_adhoc", f"plan {plan_id} has no ad hoc form",
                                   f"kế hoạch {plan_id} không có biểu mẫu báo cáo đột xuất")
            if any(r.id == round_id for r in plan.rounds):
                raise ServiceError("round.adhoc_id_taken",
                                   f"{round_id} is a scheduled round of plan {plan_id}",
                                   f"{round_id} là kỳ báo cáo định kỳ của kế hoạch {plan_id}")
            a = body.adhoc
            # today on the plan's calendar (a rehearsal's, where the workers accept one)
            today = clock_for(plan).plan_date(plan, await rounds.cases.clock())
            rnd = Round(id=round_id, kind="adhoc", title_vi=a.title_vi, title_en=a.title_en,
                        year=a.year, opens_on=min(today, a.due), due=a.due,
                        form=plan.adhoc_form, source=a.source)
        else:
            rnd = round_of(plan, round_id)
        wid = await rounds.open(plan, rnd, who.actor, clock=clock_for(plan))
        return RoundOpened(round_id=rnd.id, workflow_id=wid)

    @app.get("/rounds/{plan_id}/{round_id}", tags=tags, responses=READS)
    async def round_status(plan_id: PlanPath, round_id: RoundPath, who: Who) -> RoundStatus:
        may_read(who.actor, known(plan_id))
        await audited(who.actor, "round_status", plan_id, round_id)
        return await rounds.status(plan_id, round_id)

    @app.get("/rounds/{plan_id}/{round_id}/history", tags=tags, responses=READS)
    async def round_history(plan_id: PlanPath, round_id: RoundPath,
                            who: Who) -> list[dict[str, Any]]:
        may_read(who.actor, known(plan_id))
        await audited(who.actor, "round_history", plan_id, round_id)
        return [{"version": e.version, "type": e.type, "recorded_at": e.recorded_at.isoformat(),
                 "payload": e.payload} for e in await rounds.history(plan_id, round_id)]

    @app.post("/rounds/{plan_id}/{round_id}/reports", tags=tags, responses=WRITES)
    async def submit_report(plan_id: PlanPath, round_id: RoundPath, body: UnitReportBody,
                            who: Who, idempotency_key: IdemKey = None) -> Reply:
        """Báo cáo của đơn vị: a unit's report (its people only), checked against the form."""
        known(plan_id)
        return await rounds.submit(plan_id, round_id, who.actor, body.unit, body.values,
                                   body.sections,
                                   [(a.name, a.sha256) for a in body.attachments],
                                   request_id=request_id("report", who.actor, idempotency_key))

    @app.post("/rounds/{plan_id}/{round_id}/attachments", status_code=201, tags=tags,
              responses=WRITES, openapi_extra=RAW_FILE)
    async def upload(plan_id: PlanPath, round_id: RoundPath, name: FileName, request: Request,
                     who: Who) -> Uploaded:
        """Tải tệp lên: a file for a unit's report (its people, or the consolidating role):
        the bytes as the body (Content-Type: its type); answers its SHA-256, to name it in
        the report. The same bytes again change nothing. Bounded (413)."""
        may_upload(who.actor, known(plan_id))
        content = bytearray()
        async for chunk in request.stream():  # BodyLimit stops it past the bound
            content += chunk
        stored = await rounds.upload(plan_id, round_id, who.actor, bytes(content), name,
                                     request.headers.get("content-type"))
        return Uploaded(sha256=stored.sha256, size=stored.size, name=clean_name(name))

    @app.get("/rounds/{plan_id}/{round_id}/attachments/{sha256}", tags=tags,
             response_class=Response, responses={**FILE_ANSWER, **READS})
    async def download(plan_id: PlanPath, round_id: RoundPath, sha256: Sha256Path,
                       who: Who) -> Response:
        """Tải tệp về: a file of the round's reports, for the plan's readers."""
        may_read(who.actor, known(plan_id))
        await audited(who.actor, "round_attachment", plan_id, round_id)
        found = await rounds.attachment(plan_id, round_id, sha256)
        return Response(found.content, media_type=found.media_type,
                        headers=file_headers(found.name))

    @app.post("/rounds/{plan_id}/{round_id}/returns", tags=tags, responses=WRITES)
    async def send_back(plan_id: PlanPath, round_id: RoundPath, body: ReturnBody, who: Who,
                        idempotency_key: IdemKey = None) -> Reply:
        """Trả lại báo cáo: the consolidating role sends a unit's report back."""
        known(plan_id)
        return await rounds.send_back(plan_id, round_id, who.actor, body.unit, body.reason,
                                      request_id=request_id("send-back", who.actor,
                                                            idempotency_key))

    @app.post("/rounds/{plan_id}/{round_id}/decisions", tags=tags, responses=WRITES)
    async def decide(plan_id: PlanPath, round_id: RoundPath, body: RoundDecisionBody,
                     who: Who, idempotency_key: IdemKey = None) -> Reply:
        """Tổng hợp (consolidate) or phê duyệt (approve) the round."""
        known(plan_id)
        return await rounds.decide(plan_id, round_id, who.actor, body.kind, body.reason,
                                   request_id=request_id(body.kind, who.actor,
                                                         idempotency_key))

    @app.get("/programmes/{plan_id}", tags=tags, responses=READS)
    async def programme(plan_id: PlanPath, who: Who) -> dict[str, Any]:
        """Chỉ tiêu qua các năm: each indicator's value year by year against its target, and
        the units behind in the latest consolidated round."""
        plan = known(plan_id)
        may_read(who.actor, plan)
        status = await rounds.programme(plan)
        out: dict[str, Any] = jsonable_encoder(dataclasses.asdict(status))
        return out

    @app.get("/rounds/{plan_id}/{round_id}/report.{fmt}", tags=tags, responses=READS)
    async def report_file(plan_id: PlanPath, round_id: RoundPath,
                              fmt: Literal["docx", "csv"], who: Who) -> Response:
        """Báo cáo tổng hợp: the consolidated report as a Word document or a CSV."""
        plan = known(plan_id)
        may_read(who.actor, plan)
        await audited(who.actor, f"round_report_{fmt}", plan_id, round_id)
        table = await rounds.table(plan_id, round_id)
        if table is None:
            raise ServiceError("round.not_consolidated",
                               "the round's reports are not consolidated yet",
                               "báo cáo của kỳ chưa được tổng hợp")
        rnd = await rounds.definition(plan, round_id)
        if fmt == "csv":
            return Response(report_document.csv_text(table).encode("utf-8"),
                            media_type="text/csv; charset=utf-8", headers={
                                "Content-Disposition":
                                    f'attachment; filename="{plan_id}-{round_id}.csv"'})
        return Response(report_document.docx(plan, rnd, table), media_type=(
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
            headers={"Content-Disposition":
                     f'attachment; filename="{plan_id}-{round_id}.docx"'})
