"""CommuneConversionWorkflow: one commune's conversion case (chuyển hóa địa bàn) in one plan.

Orchestration only: every rule is ``domain.case.decide``. The workflow waits on the plan's
calendar (the agenda's instants, as durable timers) and for people (updates), runs the decider
(a dry run in each validator, for real in each handler), appends the events it returns with
their notices through an activity, and starts the recognition chain as a child when the
decider says the dossier entered it. Started by district UBND (001 §III.2) with the plan and
baseline metrics; ends recognised, not recognised (with reasons), not selected, withdrawn, or
interrupted (the chain stopped without a decision).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import (
    ApplicationError,
    CancelledError,
    ChildWorkflowError,
    TerminatedError,
)
from temporalio.exceptions import TimeoutError as WorkflowTimeoutError

with workflow.unsafe.imports_passed_through():
    from catalog import resolve
    from catalog.shared import shared
    from domain import case
    from domain.agenda import (
        CASE_DEADLINE_KINDS,
        AgendaItem,
        case_agenda,
        cutoff,
        selection_agenda,
    )
    from domain.amendment import amend
    from domain.amendment_effect import (
        CodeChange,
        amended_event,
        amended_scope,
        code_change,
        deadline_effects,
        outstanding,
        require_amender,
    )
    from domain.errors import DomainError
    from domain.events import CriteriaEvaluated, Event
    from domain.notices import notices_for
    from domain.plan import Plan, plan_hash
    from domain.roles import Actor
    from workflows import names
    from workflows.admit import admit
    from workflows.errors import check_proof, refuse, refuse_domain
    from workflows.event_log import EventLog
    from workflows.messages import (
        AmendmentOrder,
        CaseCarry,
        CaseInput,
        CaseStatus,
        ChainAmendment,
        RecognitionInput,
        RecognitionResult,
        Reply,
        ReportSubmission,
        Request,
        SelectionDecision,
        Withdrawal,
    )
    from workflows.recognition import RecognitionWorkflow
    from workflows.replies import ReplyMemory

# Behaviour changes since the recorded histories (tests/histories/), kept replayable:
ONE_BATCH_CLOSE = "case-decider-one-batch-close"  # a denial and the closing in one append
CHAIN_INTERRUPTED = "chain-failure-is-interrupted"  # a failed child is not "criteria not met"
HALT = "domain-error-halts"  # a rule that cannot apply closes the case, not a failing task


@workflow.defn
class CommuneConversionWorkflow:
    @workflow.init
    def __init__(self, inp: CaseInput) -> None:
        self.inp = inp
        # Inputs recorded before plans embedded their criteria and rule sets name them by id
        # only: those resolve against the catalogue the worker loaded at start (no file read).
        self._open_error: DomainError | None = None
        try:
            self.plan = shared(resolve(inp.plan))  # an old input's resolved: one copy too
        except DomainError as exc:  # sets the catalogue lacks: run fails with the code, not
            self.plan, self._open_error = inp.plan, exc  # every workflow task, forever
        self.scope = inp.scope
        self._hash: str | None = None  # the plan's content hash, computed when first asked
        self.id = names.case_id(inp.plan.id, inp.scope.commune_code)
        carry = inp.carried
        self.s: case.CaseState = carry.case if carry else case.CaseState()
        self.done_agenda: list[str] = list(carry.done_agenda) if carry else []
        self.replies: ReplyMemory[Reply] = ReplyMemory(carry.replies if carry else None)
        self.log = EventLog(self.id, "case", carry.event_seq if carry else 0,
                            local=inp.local_appends)
        if carry is not None and carry.plan is not None:  # amended before continuing as new
            self.plan = carry.plan
        if carry is not None and carry.scope is not None:
            self.scope = carry.scope
        # amendments (văn bản sửa đổi) waiting for their effective date, each on its own timer
        self.scheduled: list[AmendmentOrder] = list(carry.scheduled) if carry else []
        self._amended = 0  # bumped when the plan changes: the agenda is recomputed
        self._amending = False
        self._chain_acks: set[str] = set()  # amendments the running chain has recorded
        self.cutoff = cutoff(inp.plan, inp.clock)
        self._child: workflow.ChildWorkflowHandle[RecognitionWorkflow, RecognitionResult] | None
        self._child = None
        self._child_result: RecognitionResult | None = None
        self._chain_failure: str | None = None  # the chain ended without a result: why
        self._failure_seen = False  # (old histories) a failure noticed but not acted on
        self._ready = carry is not None  # the opening events are stored
        # The case opens here, synchronously, so an update arriving with the first workflow
        # task is validated against an open case; the opening events are appended first thing
        # in run, and handlers wait for that (the stream starts with case.opened).
        self._opening: list[Event] = []
        if carry is None and self._open_error is None:
            try:
                plan_at_opening = (self._plan_hash() if workflow.patched(names.PLAN_AT_OPENING)
                                   else None)
                self.s, self._opening = self._decide(
                    case.Open(opened_by=inp.opened_by, baseline=inp.baseline,
                              plan_hash=plan_at_opening))
            except DomainError as exc:  # bad baseline: the run fails with the domain's code
                self._open_error = exc

    # -- the decider, and what it returns ---------------------------------------------------
    def _decide(self, command: case.Command) -> tuple[case.CaseState, list[Event]]:
        return case.decide(self.plan, self.scope, self.s, command, workflow.now(),
                           self.inp.clock)

    def _dry_run(self, request: Request, command: case.Command) -> None:
        """A validator: refuse (recording nothing) what the handler would refuse. The proof
        is checked even for a retry answered from memory: an old reply is not for anyone."""
        check_proof(request, via=self.inp.campaign_id)
        if request.request_id in self.replies:
            return
        try:
            self._decide(command)
        except DomainError as exc:
            refuse_domain(exc)

    async def _run(self, command: case.Command) -> list[Event]:
        """Apply ``command``, append its events, and carry out what the new state calls for."""
        before = self.s
        try:
            self.s, events = self._decide(command)
        except DomainError as exc:  # the state moved between validation and now
            refuse_domain(exc)
        if events and events[-1].TYPE == "case.closed" and len(events) > 1 and \
                events[0].TYPE == "recognition.denied" and not workflow.patched(ONE_BATCH_CLOSE):
            await self._emit(events[:1])
            await self._emit(events[1:])
        else:
            await self._emit(events)
        if self.s.recognition_running and not before.recognition_running:
            assert isinstance(command, case.Submit)
            await self._start_recognition(command.actor)
        await self._closed_since(before.closed)
        return events

    async def _closed_since(self, was_closed: bool) -> None:
        """Tell the campaign (if the case belongs to one) that the case has just closed."""
        if self.s.closed and not was_closed and self.inp.campaign_id:
            await workflow.get_external_workflow_handle(self.inp.campaign_id).signal(
                names.CASE_CLOSED, args=[self.scope.commune_code, self.s.outcome])

    async def _emit(self, events: list[Event]) -> None:
        await self.log.emit(events, notices_for(self.plan, self.scope, self.id, events))

    # -- main timeline ----------------------------------------------------------------------
    @workflow.run
    async def run(self, inp: CaseInput) -> case.CaseState:
        if self._open_error is not None:
            refuse_domain(self._open_error)
        if inp.carried is not None and workflow.info().continued_run_id is None:
            # only this workflow's own continue-as-new carries state: a start with it is forged
            refuse("case.forged_carry", "a case cannot be started with carried state",
                   "không được mở hồ sơ kèm trạng thái chuyển tiếp từ lượt chạy trước")
        if inp.carried is None:
            if workflow.patched(names.ADMISSION):
                # under its own id: the admission refuses a case run under another one
                await admit(workflow.info().workflow_id, "case", inp)
            await self._emit(self._opening)
            self._ready = True
        for order in self.scheduled:  # carried over a continue-as-new: armed again
            asyncio.ensure_future(self._when_due(order))
        try:
            await self._timeline(inp)
        except ApplicationError as exc:  # a rule of the plan could not be applied
            if self.s.closed or not workflow.patched(HALT):
                raise
            await self._run(case.Halt(code=exc.type or "unknown"))
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.s

    async def _timeline(self, inp: CaseInput) -> None:
        moments = workflow.patched(names.AGENDA_MOMENTS)

        async def agenda(selection: bool) -> None:
            """Pass the selection's or the case's agenda: one timer at a time (a point that
            records nothing gets no timer, the points of one instant are appended together),
            or, before that patch, one timer per point."""
            if moments:
                await self._moments(selection=selection)
            else:
                of = selection_agenda if selection else case_agenda
                await self._agenda(lambda: of(self.plan, inp.clock))

        if self.s.selected is None and not self.s.closed:
            await agenda(selection=True)
            await self._wait(lambda: self.s.selected is not None or self.s.closed, self.cutoff)
            if self.s.selected is None and not self.s.closed:
                await self._run(case.PlanEnded())
        if self.s.selected and not self.s.closed:
            await agenda(selection=False)
        if not self.s.closed:
            await self._wait(lambda: self._child_result is not None or self.s.closed,
                             self.cutoff)
            if self._child is not None and self._child_result is None and not self.s.closed:
                await workflow.wait_condition(lambda: self._child_result is not None)
            await self._settle()

    def _todo(self, selection: bool) -> tuple[list[AgendaItem], bool]:
        """The points still to pass, in the order ``_agenda`` passes them: the selection
        agenda's (during selection), then, once selected, the case agenda's, which the old
        loop began only after the selection agenda's last instant. True if the case agenda's
        are among them (its end may close the case)."""
        clock = self.inp.clock
        sel = [i for i in selection_agenda(self.plan, clock)
               if i.key not in self.done_agenda] if selection else []
        rest = [i for i in case_agenda(self.plan, clock)
                if i.key not in self.done_agenda] if self.s.selected else []
        return sel + rest, bool(rest)

    def _next_moment(self, todo: list[AgendaItem], case_points: bool) -> datetime | None:
        """The instant the loop over ``todo`` would reach the first point that records
        something (each point is passed once the instants of every point before it came), or
        the agenda's end when the chain has started (the case may close then); None if no
        point records anything. Pure on the workflow's state, so a condition may ask it."""
        k = case.first_effective(self.plan, self.s, todo)
        if k is None and case_points and self._child is not None:
            k = len(todo) - 1
        return max(i.at for i in todo[:k + 1]) if k is not None else None

    async def _moments(self, selection: bool) -> None:
        """Pass the agenda as ``_agenda`` does, one timer at a time: sleep until the next
        instant that records something, then pass every point reached by then, in order, and
        append their events in one call. A submission, a selection, a started chain or an
        amendment that changes which instant that is wakes the wait (the timer is replaced in
        the same workflow task). Points skipped record nothing (``case.first_effective``) and
        would record nothing when reached either: they are passed with the next instant that
        matters, or at once at the end when nothing after them matters."""
        while not self.s.closed:
            seen = self._amended
            todo, case_points = self._todo(selection)
            if not todo:
                return
            target = self._next_moment(todo, case_points)
            if target is None:  # nothing left records anything: done without a timer
                await self._pass_moment(todo, closing=False)
                return

            def moved(target: datetime = target, seen: int = seen) -> bool:
                return (self.s.closed or self._unhandled_failure() or self._amended != seen
                        or self._next_moment(*self._todo(selection)) != target)

            if await self._wait(moved, target):
                if self.s.closed:
                    return
                if self._amended == seen and self._unhandled_failure():
                    if workflow.patched(CHAIN_INTERRUPTED):  # a dead chain closes the case
                        await self._settle()
                        return
                    self._failure_seen = True
                continue  # what matters changed: the next instant again
            reached = max(workflow.now(), target)
            batch = list(itertools.takewhile(lambda i: i.at <= reached, todo))  # noqa: B023
            await self._pass_moment(batch, closing=case_points and len(batch) == len(todo))
            if not self.s.closed:
                await self._maybe_continue_as_new()

    async def _pass_moment(self, batch: list[AgendaItem], closing: bool) -> None:
        """Pass ``batch`` (the points of one instant, in order) and append all their events in
        one call; with ``closing`` (the agenda's last points) and the chain's outcome known,
        the case closes in the same append, as ``_settle`` would right after."""
        events: list[Event] = []
        passed: list[str] = []
        try:
            for item in batch:
                self.s, more = self._decide(case.Pass(item=item))
                events += more
                passed.append(item.key)
        except DomainError as exc:  # what came before it is recorded, then the case halts
            await self._emit(events)
            self.done_agenda.extend(passed)
            refuse_domain(exc)
        was_closed = self.s.closed
        if closing and not self.s.closed and (
                self._child_result is not None
                or (self._child is None and workflow.now() >= self.cutoff)):
            command = self._settle_command()
            if command is not None:
                try:
                    self.s, more = self._decide(command)
                    events += more
                except DomainError:  # not now: _timeline settles (or halts) as before
                    pass
        await self._emit(events)
        self.done_agenda.extend(passed)
        await self._closed_since(was_closed)

    async def _agenda(self, items_of: Callable[[], list[AgendaItem]]) -> None:
        """Pass the agenda's points in order. The agenda is the plan's: an amendment changes
        it, so it is recomputed after one (a case never amended passes the same points in the
        same order as when this was a loop over one list: recorded histories replay)."""
        while todo := [i for i in items_of() if i.key not in self.done_agenda]:
            item, seen = todo[0], self._amended
            while await self._wait(lambda: self.s.closed or self._unhandled_failure()  # noqa: B023
                                   or self._amended != seen, item.at):  # noqa: B023
                if self.s.closed:
                    return
                if self._amended != seen:
                    break
                if workflow.patched(CHAIN_INTERRUPTED):  # a dead chain closes the case now
                    await self._settle()
                    return
                self._failure_seen = True  # before the patch: waited for the plan's end
            else:
                await self._run(case.Pass(item=item))
                self.done_agenda.append(item.key)
                await self._maybe_continue_as_new()

    async def _wait(self, cond: Callable[[], bool], until: datetime) -> bool:
        """Wait for ``cond`` until the instant ``until``; True if it held."""
        remaining = until - workflow.now()
        if remaining <= timedelta(0):
            return cond()
        try:
            await workflow.wait_condition(cond, timeout=remaining)
            return True
        except TimeoutError:
            return cond()

    def _unhandled_failure(self) -> bool:
        return self._chain_failure is not None and not self._failure_seen

    async def _settle(self) -> None:
        """Close the case from the chain's outcome, or at the plan's end without one."""
        if (command := self._settle_command()) is not None:
            await self._run(command)

    def _settle_command(self) -> case.Command | None:
        if self.s.closed:
            return None
        r = self._child_result
        if self._chain_failure is not None:
            if workflow.patched(CHAIN_INTERRUPTED):
                return case.ChainEnded(outcome="interrupted", cause=self._chain_failure)
            # recorded before the fix: a failed chain read as criteria not met
            return case.ChainEnded(outcome="not_recognised", reasons=(
                self.s.criteria_reasons or [case.CRITERIA_NOT_MET]))
        if r is not None and r.outcome in ("recognised", "not_recognised"):
            return case.ChainEnded(outcome=r.outcome, reasons=r.reasons)
        return case.PlanEnded()

    async def _maybe_continue_as_new(self) -> None:
        info = workflow.info()
        limit = self.inp.history_limit
        if (
            (info.is_continue_as_new_suggested()
             or (limit is not None and info.get_current_history_length() > limit))
            and self._child is None
            and not self._amending
            and workflow.all_handlers_finished()
        ):
            amended = self.s.amendments
            carry = CaseCarry(case=self.s, done_agenda=self.done_agenda,
                              event_seq=self.log.seq, replies=self.replies.replies,
                              plan=self.plan if amended else None,
                              scope=self.scope if amended else None,
                              scheduled=self.scheduled)
            workflow.continue_as_new(self.inp.model_copy(update={"carried": carry}))

    async def _opened(self) -> None:
        """Handlers wait for the opening events: a stream always starts with case.opened."""
        await workflow.wait_condition(lambda: self._ready)

    # -- selection (lựa chọn địa bàn) -------------------------------------------------------
    @workflow.update(name=names.DECIDE_SELECTION)
    async def decide_selection(self, d: SelectionDecision) -> Reply:
        if (known := self.replies.get(d.request_id)) is not None:
            return known
        await self._opened()
        await self._run(case.Select(actor=d.actor, selected=d.selected, reason=d.reason))
        return self.replies.remember(d.request_id, Reply(request_id=d.request_id))

    @decide_selection.validator
    def _check_selection(self, d: SelectionDecision) -> None:
        self._dry_run(d, case.Select(actor=d.actor, selected=d.selected, reason=d.reason))

    # -- reports and the dossier (báo cáo, hồ sơ) ---------------------------------------------
    def _submission(self, r: ReportSubmission) -> case.Submit:
        # By kind alone: the earliest outstanding deadline of that kind, in this case's own
        # (pinned) plan and as the case stands now.
        deadline_id = case.submission_deadline(self.plan, self.s, r.deadline_id, r.kind)
        return case.Submit(actor=r.actor, deadline_id=deadline_id, metrics=r.metrics,
                           summary=r.summary, attachments=r.attachments)

    @workflow.update(name=names.SUBMIT_REPORT)
    async def submit_report(self, r: ReportSubmission) -> Reply:
        if (known := self.replies.get(r.request_id)) is not None:
            return known
        await self._opened()
        try:
            command = self._submission(r)
        except DomainError as exc:  # the state moved between validation and now
            refuse_domain(exc)
        events = await self._run(command)
        criteria = next((e for e in events if isinstance(e, CriteriaEvaluated)), None)
        reply = Reply(request_id=r.request_id, late=self.s.submitted[command.deadline_id],
                      criteria_met=criteria.met if criteria is not None else None,
                      deadline_id=command.deadline_id)
        return self.replies.remember(r.request_id, reply)

    @submit_report.validator
    def _check_report(self, r: ReportSubmission) -> None:
        # as _dry_run, but which deadline a kind means is itself part of the decision
        check_proof(r, via=self.inp.campaign_id)
        if r.request_id in self.replies:
            return
        try:
            self._decide(self._submission(r))
        except DomainError as exc:
            refuse_domain(exc)

    async def _start_recognition(self, submitted_by: Actor) -> None:
        self._child = await workflow.start_child_workflow(
            RecognitionWorkflow.run,
            RecognitionInput(case_id=self.id, plan=self.plan, scope=self.scope,
                             clock=self.inp.clock, submitted_by=submitted_by,
                             cutoff=self.cutoff, campaign_id=self.inp.campaign_id,
                             local_appends=self.inp.local_appends),
            # the case's own address (its legacy commune after a reform), not its new codes
            id=names.recognition_id(self.inp.plan.id, self.inp.scope.commune_code),
        )
        child = self._child

        async def collect() -> None:
            try:
                self._child_result = await child
            except ChildWorkflowError as err:
                if not self.s.closed:  # not our own cancellation on withdrawal
                    self._chain_failure = _cause(err.cause)
                self._child_result = RecognitionResult(outcome="closed", round=0)

        asyncio.ensure_future(collect())

    # -- withdrawal (rút hồ sơ) ---------------------------------------------------------------
    @workflow.update(name=names.WITHDRAW)
    async def withdraw(self, w: Withdrawal) -> Reply:
        if (known := self.replies.get(w.request_id)) is not None:
            return known
        await self._opened()
        command = case.Withdraw(actor=w.actor, reason=w.reason)
        self._decide(command)  # refuse before cancelling anything
        if self._child is not None and self._child_result is None:
            self._child.cancel()
        await self._run(command)
        return self.replies.remember(w.request_id, Reply(request_id=w.request_id))

    @withdraw.validator
    def _check_withdraw(self, w: Withdrawal) -> None:
        self._dry_run(w, case.Withdraw(actor=w.actor, reason=w.reason))

    # -- amendments (văn bản sửa đổi) -------------------------------------------------------
    def _amendment_known(self, amendment_id: str) -> str | None:
        if amendment_id in self.s.amendments:
            return "already_applied"
        if any(o.amendment.id == amendment_id for o in self.scheduled):
            return "already_scheduled"
        return None

    def _amended_plan(self, order: AmendmentOrder) -> tuple[Plan, CodeChange | None]:
        """The case's own plan (the version it runs on) as the amendment makes it, after
        checking who applies it; refused with the amendment's code if it does not apply."""
        amended = amend(self.plan, order.amendment, order.units)
        require_amender(order.actor, self.plan, amended)
        return amended, code_change(self.plan, amended, self.scope, order.units)

    def _effective_at(self, order: AmendmentOrder) -> datetime:
        return self.inp.clock.day_start(self.plan, order.amendment.effective_on)

    @workflow.update(name=names.AMEND)
    async def amend(self, order: AmendmentOrder) -> Reply:
        if (known := self.replies.get(order.request_id)) is not None:
            return known
        await self._opened()
        detail = self._amendment_known(order.amendment.id)
        if detail is None:
            workflow.patched(names.AMENDMENTS)
            try:
                self._amended_plan(order)
            except DomainError as exc:  # the state moved between validation and now
                refuse_domain(exc)
            if self.s.closed:
                refuse("case.closed", "the case closed before the amendment could apply",
                       "hồ sơ đã kết thúc trước khi áp dụng văn bản sửa đổi")
            if workflow.now() < self._effective_at(order):
                self.scheduled.append(order)
                asyncio.ensure_future(self._when_due(order))
                detail = "scheduled"
            else:
                await self._apply_amendment(order)
                detail = "applied"
        return self.replies.remember(order.request_id,
                                     Reply(request_id=order.request_id, detail=detail))

    @amend.validator
    def _check_amend(self, order: AmendmentOrder) -> None:
        check_proof(order)
        if order.request_id in self.replies:
            return
        try:
            if self._amendment_known(order.amendment.id) == "already_applied":  # a no-op
                require_amender(order.actor, self.plan, self.plan)  # for its issuer only
                return
            if self.s.closed and self._amendment_known(order.amendment.id) is None:
                refuse("case.closed", f"the case is closed ({self.s.outcome}); an amendment "
                       "applies to running cases only",
                       f"hồ sơ đã kết thúc ({self.s.outcome}); văn bản sửa đổi chỉ áp dụng "
                       "cho hồ sơ đang chạy")
            self._amended_plan(order)
        except DomainError as exc:
            refuse_domain(exc)

    async def _when_due(self, order: AmendmentOrder) -> None:
        """A scheduled amendment: applied at the start of its effective day."""
        remaining = self._effective_at(order) - workflow.now()
        if remaining > timedelta(0):
            await workflow.sleep(remaining)
        self.scheduled = [o for o in self.scheduled if o is not order]
        if not self.s.closed and order.amendment.id not in self.s.amendments:
            await self._apply_amendment(order)

    async def _apply_amendment(self, order: AmendmentOrder) -> None:
        """Move the case onto the amended plan and record ``case.amended``: by the case, or
        (a dossier in the chain) by the chain, which transfers its pending level and writes
        the record in order with its own decisions."""
        self._amending = True
        try:
            try:
                amended, codes = self._amended_plan(order)
            except DomainError as exc:  # a scheduled one no longer applies: said, not dropped
                workflow.logger.warning("amendment %s no longer applies: %s",
                                        order.amendment.id, exc.code)
                return
            waiting = outstanding(self.plan, self.s)
            deadlines = deadline_effects(self.plan, amended, order.amendment, waiting)
            chain = self._child if self._child_result is None else None
            record = amended_event(self.plan, amended, order.amendment, order.actor,
                                   deadlines, codes)
            self.plan, self.scope, self._hash = amended, amended_scope(self.scope, codes), None
            self.s = self.s.model_copy(
                update={"amendments": [*self.s.amendments, order.amendment.id]})
            self._amended += 1
            if chain is not None:
                try:
                    await chain.signal(names.AMEND_CHAIN, ChainAmendment(
                        amendment=order.amendment, plan=amended, scope=self.scope,
                        record=record.payload()))
                except ApplicationError:  # the chain ended meanwhile: the case records it
                    chain = None
            if chain is not None:
                await workflow.wait_condition(lambda: order.amendment.id in self._chain_acks
                                              or self._child_result is not None)
            if order.amendment.id not in self._chain_acks:
                await self._emit([record])
        finally:
            self._amending = False

    @workflow.signal(name=names.CHAIN_AMENDED)
    def chain_amended(self, amendment_id: str) -> None:
        self._chain_acks.add(amendment_id)

    # -- queries ----------------------------------------------------------------------------
    @workflow.query(name=names.REPLY)
    def reply(self, request_id: str) -> Reply | None:
        """The reply remembered for ``request_id`` (None if unknown): a retry of the request
        that ended this run reads it here, since an ended run takes no update."""
        return self.replies.get(request_id)

    @workflow.query(name=names.STATUS)
    def status(self) -> CaseStatus:
        now = workflow.now()
        upcoming = [
            {"deadline": d.id, "due": d.due.isoformat()}
            for d in sorted(self.plan.deadlines, key=lambda d: d.due)
            if d.kind in CASE_DEADLINE_KINDS and d.id not in self.s.submitted
            and self.inp.clock.deadline(self.plan, d.due) > now
        ][:3]
        return CaseStatus(
            case_id=self.id, plan_id=self.plan.id, commune_code=self.scope.commune_code,
            status=self.s.status, phase=self.s.phase, classification=self.s.classification,
            submitted=self.s.submitted, missed=self.s.missed, criteria_met=self.s.criteria_met,
            outcome=self.s.outcome, reasons=self.s.reasons, next_deadlines=upcoming,
            plan_hash=self._plan_hash(), amendments=list(self.s.amendments),
            scheduled=[o.amendment.id for o in self.scheduled],
        )

    def _plan_hash(self) -> str:
        # Which published version the case runs on: the opening records it, queries show it
        # (a pure function of the plan, so replays compute the same).
        if self._hash is None:
            self._hash = plan_hash(self.plan)
        return self._hash


def _cause(err: BaseException | None) -> str:
    """A short, stable word for why a child workflow ended without a result."""
    if isinstance(err, TerminatedError):
        return "terminated"
    if isinstance(err, WorkflowTimeoutError):
        return "timed_out"
    if isinstance(err, CancelledError):
        return "cancelled"
    return "failed"
