"""Reporting rounds (kỳ báo cáo) for every interface: open a round, a unit's report, send a
report back, consolidate, approve, and read a round (its status, its record, its table).

The twin of ``service.cases`` for ``ReportingRoundWorkflow``: every command carries a proof
signed by the front door (``CaseService.signed``) and a request id (a retry is answered from
the workflow's memory); Temporal failures become ``ServiceError`` with the domain's codes.
"""

from __future__ import annotations

from typing import Any

from temporalio.client import WorkflowExecutionStatus, WorkflowHandle
from temporalio.service import RPCError

from activities.admission import OPEN_REQUEST
from domain import reporting_round as rr
from domain.clock import PlanClock
from domain.events import Attachment
from domain.programme import ProgrammeStatus, programme_status
from domain.reporting import Consolidation, ReportingPlan, Round, Value, reporting_units
from domain.roles import Actor
from eventstore import attachments as files
from eventstore.errors import StreamNotFoundError
from eventstore.records import RecordedEvent
from eventstore.store import EventStore
from service.cases import CaseService, attached, clean_media_type, clean_name, new_request_id
from service.errors import ServiceError, guarded, refuses_bad_input
from workflows import names
from workflows.messages import (
    Reply,
    ReportReturn,
    RoundDecision,
    RoundInput,
    RoundStatus,
    UnitReport,
)
from workflows.reporting import ReportingRoundWorkflow


class RoundService:
    def __init__(self, cases: CaseService) -> None:
        self.cases = cases

    def _round(self, plan_id: str, round_id: str) -> WorkflowHandle[ReportingRoundWorkflow,
                                                                    rr.RoundState]:
        return self.cases.client.get_workflow_handle_for(
            ReportingRoundWorkflow.run, names.round_id(plan_id, round_id))

    @refuses_bad_input
    async def open(self, plan: ReportingPlan, rnd: Round, actor: Actor,
                   clock: PlanClock | None = None) -> str:
        """Mở kỳ báo cáo: the consolidating role opens a round of ``plan`` (one of its rounds,
        or an ad hoc one on the plan's ad hoc form)."""
        wid = names.round_id(plan.id, rnd.id)
        # refused here, with the decider's code, rather than by a run that fails at once
        rr.decide(plan, rnd, reporting_units(plan), rr.RoundState(), rr.Open(actor=actor),
                  await self.cases.clock(), clock)
        inp = await self.cases.signed(wid, RoundInput(
            plan=plan, round=rnd, clock=clock or PlanClock(), opened_by=actor,
            local_appends=self.cases.local_appends),
            "opened_by", OPEN_REQUEST)
        handle = await guarded(self.cases.client.start_workflow(
            ReportingRoundWorkflow.run, inp, id=wid, task_queue=self.cases.task_queue), wid)
        self.cases._started[wid] = handle
        return wid

    @refuses_bad_input
    async def submit(self, plan_id: str, round_id: str, actor: Actor, unit: str,
                     values: dict[str, Any], sections: dict[str, str] | None = None,
                     attachments: list[tuple[str, str]] | None = None,
                     request_id: str | None = None) -> Reply:
        """Báo cáo của đơn vị: a unit's report, checked against the round's form.
        ``attachments``: (name, sha256) of files uploaded to this round (``upload``); the
        event records each with its size."""
        wid = names.round_id(plan_id, round_id)
        attached = await self._attached(wid, attachments or [])
        return await self.cases.command(
            self._round(plan_id, round_id), names.SUBMIT_UNIT_REPORT, UnitReport(
                request_id=request_id or new_request_id("report"), actor=actor, unit=unit,
                values=values, sections=sections or {}, attachments=attached),
            Reply)

    async def _attached(self, wid: str, named: list[tuple[str, str]]) -> list[Attachment]:
        """The files named, each checked to be uploaded to this round, with its size."""
        if not named:
            return []
        return await attached(self._store(), wid, named, "kỳ báo cáo")

    async def upload(self, plan_id: str, round_id: str, actor: Actor, content: bytes,
                     name: str, media_type: str | None = None) -> files.StoredFile:
        """Tải tệp lên: store a file for a unit's report in this round (by its SHA-256; the
        same bytes again change nothing). The interface checks the size bound and who may."""
        clean = clean_name(name)
        if not content:
            raise ServiceError("attachment.empty", "the file is empty", "tệp rỗng")
        wid = names.round_id(plan_id, round_id)
        # only a round that has been opened takes files: its stream, or (its opening not
        # appended yet) its workflow
        if await self.current(plan_id, round_id) is None:
            raise ServiceError("round.not_found", f"no round {round_id} of plan {plan_id}",
                               f"không có kỳ báo cáo {round_id} của kế hoạch {plan_id}")
        return await files.add(self._store(), wid, content, clean,
                               clean_media_type(media_type), actor.person_id)

    async def attachment(self, plan_id: str, round_id: str,
                         sha256: str) -> files.StoredFile:
        """A file uploaded to this round, with its bytes."""
        wid = names.round_id(plan_id, round_id)
        found = await files.read(self._store(), wid, sha256.lower())
        if found is None:
            raise ServiceError("attachment.not_found", f"{wid} has no file {sha256}",
                               f"kỳ báo cáo {wid} không có tệp {sha256}")
        return found

    def _store(self) -> EventStore:
        store = self.cases.store
        if store is None:
            raise ServiceError("service.no_store", "round files need the event store",
                               "cần cơ sở dữ liệu để lưu tệp của kỳ báo cáo")
        return store

    @refuses_bad_input
    async def send_back(self, plan_id: str, round_id: str, actor: Actor, unit: str,
                        reason: str, request_id: str | None = None) -> Reply:
        """Trả lại: the consolidating role sends a unit's report back, with its reason."""
        return await self.cases.command(
            self._round(plan_id, round_id), names.SEND_BACK, ReportReturn(
                request_id=request_id or new_request_id("send-back"), actor=actor, unit=unit,
                reason=reason),
            Reply)

    @refuses_bad_input
    async def decide(self, plan_id: str, round_id: str, actor: Actor, kind: str,
                     reason: str = "", request_id: str | None = None) -> Reply:
        """Tổng hợp (``consolidate``) or phê duyệt (``approve``) the round."""
        if kind not in ("consolidate", "approve"):
            raise ServiceError("round.bad_decision", f"{kind!r}: consolidate or approve",
                               f"{kind!r}: chỉ tổng hợp (consolidate) hoặc phê duyệt (approve)")
        return await self.cases.command(
            self._round(plan_id, round_id), names.DECIDE_ROUND, RoundDecision(
                request_id=request_id or new_request_id(kind), actor=actor,
                kind="consolidate" if kind == "consolidate" else "approve", reason=reason),
            Reply)

    async def current(self, plan_id: str, round_id: str) -> RoundStatus | None:
        """The round's status when it is this deployment's: recorded in its event store, or
        just started on its task queue (its opening not appended yet); None otherwise, never
        opened here. A finished workflow of the same id without a record here (another
        deployment sharing the workflow service, as test modules share one) is not asked:
        a query to a finished workflow waits for a worker of its own task queue."""
        wid = names.round_id(plan_id, round_id)
        store = self.cases.store
        if store is not None and not await store.version(wid):
            try:
                desc = await self.cases.client.get_workflow_handle(wid).describe()
            except RPCError:
                return None
            if desc.status != WorkflowExecutionStatus.RUNNING or \
                    desc.task_queue != self.cases.task_queue:
                return None
        try:
            return await self.status(plan_id, round_id)
        except ServiceError as exc:
            if exc.code.endswith("not_found"):
                return None
            raise

    async def status(self, plan_id: str, round_id: str) -> RoundStatus:
        wid = names.round_id(plan_id, round_id)
        return await guarded(self._round(plan_id, round_id).query(
            ReportingRoundWorkflow.status), wid, self.cases.client)

    async def history(self, plan_id: str, round_id: str) -> list[RecordedEvent]:
        store = self.cases.store
        if store is None:
            raise ServiceError("service.no_store", "reading a round needs the event store",
                               "cần cơ sở dữ liệu để đọc kỳ báo cáo")
        return await store.read(names.round_id(plan_id, round_id))

    async def definition(self, plan: ReportingPlan, round_id: str) -> Round:
        """A round of ``plan``: one it schedules, or an ad hoc one as its opening recorded."""
        if any(r.id == round_id for r in plan.rounds):
            return plan.round(round_id)
        try:
            opened = [e.payload for e in await self.history(plan.id, round_id)
                      if e.type == "round.opened"]
        except StreamNotFoundError:
            opened = []
        if not opened:  # just started, its opening not appended yet: the workflow knows it
            now = await self.current(plan.id, round_id)
            if now is not None and now.definition is not None:
                return now.definition
            raise ServiceError("round.not_found", f"no round {round_id} of plan {plan.id}",
                               f"không có kỳ báo cáo {round_id} của kế hoạch {plan.id}")
        p = opened[0]
        return Round(id=round_id, kind="adhoc",
                     title_vi=str(p.get("title_vi") or "Báo cáo đột xuất"),
                     title_en="Ad hoc report", year=int(p["year"]), opens_on=p["due"],
                     due=p["due"], form=str(p["form"]), source="round.opened")

    async def table(self, plan_id: str, round_id: str) -> Consolidation | None:
        """The round's consolidated table as recorded (None: not consolidated yet)."""
        tables = [e.payload["table"] for e in await self.history(plan_id, round_id)
                  if e.type == "round.consolidated"]
        return Consolidation.model_validate(tables[-1]) if tables else None

    async def programme(self, plan: ReportingPlan) -> ProgrammeStatus:
        """Chỉ tiêu qua các năm: each indicator's path over the plan's consolidated rounds and
        the units behind in the latest (from the rounds' records)."""
        tables: dict[str, Consolidation] = {}
        given: dict[str, dict[str, dict[str, Value]]] = {}
        for rnd in plan.rounds:
            try:
                events = await self.history(plan.id, rnd.id)
            except StreamNotFoundError:
                continue
            reports: dict[str, dict[str, Value]] = {}
            for e in events:
                if e.type == "unit_report.submitted":
                    reports[str(e.payload["unit"])] = dict(e.payload.get("values") or {})
                elif e.type == "unit_report.returned":
                    reports.pop(str(e.payload["unit"]), None)
                elif e.type == "round.consolidated":
                    tables[rnd.id] = Consolidation.model_validate(e.payload["table"])
            given[rnd.id] = reports
        return programme_status(plan, tables, given)
