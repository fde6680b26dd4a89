"""ReportingRoundWorkflow: one reporting round (kỳ báo cáo) of a reporting plan.

Orchestration only: every rule is ``domain.reporting_round.decide``. The round opens (the
consolidating role: provincial police) with every unit that owes a report; it waits on the
round's calendar (reminders before the due day, the due day itself: missed reports escalated)
and for people (updates: a unit's report, a report sent back, consolidate, approve), runs the
decider (a dry run in each validator, for real in each handler) and appends the events it
returns, with their notices, through the same activity and event ids as the case workflows.
It ends approved, or expired at the plan's end (at least 30 days after the due day).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.contracts import TableRequest
    from activities.persist import EventActivities
    from domain import reporting_round as rr
    from domain.errors import DomainError
    from domain.events import Event
    from domain.notices import round_notices
    from domain.reporting import Consolidation, reporting_units
    from workflows import names
    from workflows.admit import admit
    from workflows.errors import check_proof, refuse_domain
    from workflows.event_log import APPEND_RETRY, EventLog
    from workflows.messages import (
        Reply,
        ReportReturn,
        RoundDecision,
        RoundInput,
        RoundStatus,
        UnitReport,
    )
    from workflows.replies import ReplyMemory

GRACE = timedelta(days=30)  # a round stays open for its consolidation and approval


@workflow.defn
class ReportingRoundWorkflow:
    @workflow.init
    def __init__(self, inp: RoundInput) -> None:
        self.inp = inp
        self.plan, self.rnd = inp.plan, inp.round
        self.id = names.round_id(inp.plan.id, inp.round.id)
        self.units = reporting_units(inp.plan)
        self.s = rr.RoundState()
        self.replies: ReplyMemory[Reply] = ReplyMemory(None)
        self.log = EventLog(self.id, "round", 0, local=inp.local_appends)
        self._open_error: DomainError | None = None
        self._opening: list[Event] = []
        try:  # opened here, so an update with the first task meets an open round
            self.s, self._opening = self._decide(rr.Open(actor=inp.opened_by))
        except DomainError as exc:
            self._open_error = exc
        self._ready = False

    def _decide(self, command: rr.Command,
                previous: Consolidation | None = None) -> tuple[rr.RoundState, list[Event]]:
        return rr.decide(self.plan, self.rnd, self.units, self.s, command, workflow.now(),
                         self.inp.clock, previous)

    async def _run(self, command: rr.Command, previous: Consolidation | None = None) -> None:
        try:
            self.s, events = self._decide(command, previous)
        except DomainError as exc:  # the state moved between validation and now
            refuse_domain(exc)
        await self._emit(events)

    async def _emit(self, events: list[Event]) -> None:
        roles = {u.id: u.role for u in self.units}
        await self.log.emit(events, round_notices(self.plan.id, self.id, roles,
                                                  self.plan.consolidator, self.plan.approver,
                                                  events))

    # -- the round's calendar ---------------------------------------------------------------
    @workflow.run
    async def run(self, inp: RoundInput) -> rr.RoundState:
        if self._open_error is not None:
            refuse_domain(self._open_error)
        # the worker vouches for the start (its own id, the opener's proof, the catalogue's
        # plan and round) before anything is written; its answer is recorded, so a replay
        # under another id (a recorded history) follows the same path
        await admit(workflow.info().workflow_id, "round", inp)
        await self._emit(self._opening)
        self._ready = True
        for at, command in rr.reminder_points(self.plan, self.rnd, inp.clock):
            if not await self._until(at):
                break
            await self._run(command)
        end = max(inp.clock.deadline(self.plan, self.plan.ends_on),
                  inp.clock.deadline(self.plan, self.rnd.due) + inp.clock.days(GRACE.days))
        if await self._until(end):
            await self._run(rr.Expire())
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.s

    async def _until(self, at: datetime) -> bool:
        """Wait until ``at``; False when the round closed first."""
        remaining = at - workflow.now()
        if remaining > timedelta(0):
            try:
                await workflow.wait_condition(lambda: self.s.status == "closed",
                                              timeout=remaining)
            except TimeoutError:
                pass
        return self.s.status != "closed"

    async def _opened(self) -> None:
        await workflow.wait_condition(lambda: self._ready)

    def _dry_run(self, request: UnitReport | ReportReturn | RoundDecision,
                 command: rr.Command) -> None:
        check_proof(request)
        if request.request_id in self.replies:
            return
        try:
            self._decide(command)
        except DomainError as exc:
            refuse_domain(exc)

    # -- a unit's report (báo cáo của đơn vị) -------------------------------------------------
    @staticmethod
    def _submission(r: UnitReport) -> rr.Submit:
        return rr.Submit(actor=r.actor, unit=r.unit, values=r.values, sections=r.sections,
                         attachments=r.attachments)

    @workflow.update(name=names.SUBMIT_UNIT_REPORT)
    async def submit_unit_report(self, r: UnitReport) -> Reply:
        if (known := self.replies.get(r.request_id)) is not None:
            return known
        await self._opened()
        await self._run(self._submission(r))
        reply = Reply(request_id=r.request_id, late=r.unit in self.s.late)
        return self.replies.remember(r.request_id, reply)

    @submit_unit_report.validator
    def _check_report(self, r: UnitReport) -> None:
        self._dry_run(r, self._submission(r))

    @workflow.update(name=names.SEND_BACK)
    async def send_back(self, r: ReportReturn) -> Reply:
        if (known := self.replies.get(r.request_id)) is not None:
            return known
        await self._opened()
        await self._run(rr.SendBack(actor=r.actor, unit=r.unit, reason=r.reason))
        return self.replies.remember(r.request_id, Reply(request_id=r.request_id))

    @send_back.validator
    def _check_send_back(self, r: ReportReturn) -> None:
        self._dry_run(r, rr.SendBack(actor=r.actor, unit=r.unit, reason=r.reason))

    # -- consolidation and approval (tổng hợp, phê duyệt) ----------------------------------------
    def _decision(self, d: RoundDecision) -> rr.Consolidate | rr.Approve:
        if d.kind == "consolidate":
            return rr.Consolidate(actor=d.actor)
        return rr.Approve(actor=d.actor, reason=d.reason)

    @workflow.update(name=names.DECIDE_ROUND)
    async def decide(self, d: RoundDecision) -> Reply:
        if (known := self.replies.get(d.request_id)) is not None:
            return known
        await self._opened()
        command = self._decision(d)
        previous = None
        if isinstance(command, rr.Consolidate) and self.rnd.previous is not None:
            # the compared round's table, as it recorded it (an activity: recorded here)
            got = await workflow.execute_activity_method(
                EventActivities.round_table,
                TableRequest(stream=names.round_id(self.plan.id, self.rnd.previous)),
                start_to_close_timeout=timedelta(seconds=30), retry_policy=APPEND_RETRY)
            previous = Consolidation.model_validate(got.table) if got.table else None
        await self._run(command, previous)
        return self.replies.remember(d.request_id,
                                     Reply(request_id=d.request_id, detail=self.s.status))

    @decide.validator
    def _check_decision(self, d: RoundDecision) -> None:
        self._dry_run(d, self._decision(d))

    # -- queries ----------------------------------------------------------------------------
    @workflow.query(name=names.REPLY)
    def reply(self, request_id: str) -> Reply | None:
        """The reply remembered for ``request_id`` (None if unknown): a retry of the request
        that ended this run reads it here, since an ended run takes no update."""
        return self.replies.get(request_id)

    @workflow.query(name=names.STATUS)
    def status(self) -> RoundStatus:
        return RoundStatus(
            plan_id=self.plan.id, round=self.rnd.id, status=self.s.status,
            due=self.rnd.due.isoformat(), units=list(self.s.units),
            reported=sorted(self.s.reports), owing=self.s.owing(), late=list(self.s.late),
            returned=dict(self.s.returned), missed=list(self.s.missed),
            consolidation=(self.s.consolidation.model_dump(mode="json")
                           if self.s.consolidation else None),
            definition=self.rnd)
