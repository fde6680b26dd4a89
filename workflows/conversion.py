"""CommuneConversionWorkflow: one commune's conversion case (chuyển hóa địa bàn) in one plan.

Started by district UBND (001 §III.2) with the plan and baseline metrics. It waits for the
provincial police's selection, then runs the plan's timeline on calendar dates: phases as
durable timers, reminders before every deadline, a ``deadline.missed`` event and an escalation
when one passes (a late submission is still accepted, marked late), the preliminary review
(sơ kết) that evaluates the plan's criteria on the dossier's metrics, then the recognition chain
as a child workflow. It ends recognised, not recognised (with reasons), not selected, or
withdrawn. Every change is an event appended by an activity; nothing here does I/O.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.contracts import Notice
    from catalog import resolve
    from domain.classification import classify
    from domain.criteria import evaluate
    from domain.errors import DomainError
    from domain.events import (
        CaseClosed,
        CaseOpened,
        CaseWithdrawn,
        CriteriaEvaluated,
        DeadlineMissed,
        Escalated,
        Event,
        MetricsRecorded,
        PhaseEnded,
        PhaseStarted,
        RecognitionDenied,
        ReminderSent,
        ReportSubmitted,
        SelectionApproved,
        SelectionRejected,
    )
    from domain.metrics import parse_metrics
    from workflows.agenda import (
        CASE_DEADLINE_KINDS,
        AgendaItem,
        case_agenda,
        cutoff,
        selection_agenda,
    )
    from workflows.errors import check_actor, refuse, refuse_domain
    from workflows.event_log import EventLog
    from workflows.messages import (
        CaseInput,
        CaseState,
        CaseStatus,
        RecognitionInput,
        RecognitionResult,
        Reply,
        ReportSubmission,
        SelectionDecision,
        Withdrawal,
    )
    from workflows.recognition import RecognitionWorkflow

MAX_REPLIES = 500  # remembered request ids (idempotency window carried across continue-as-new)


def case_id(plan_id: str, commune_code: str) -> str:
    return f"conversion:{plan_id}:{commune_code}"


def recognition_id(plan_id: str, commune_code: str) -> str:
    return f"recognition:{plan_id}:{commune_code}"


@workflow.defn
class CommuneConversionWorkflow:
    @workflow.init
    def __init__(self, inp: CaseInput) -> None:
        self.inp = inp
        self.plan = resolve(inp.plan)  # inputs recorded before plans carried their sets
        self.id = case_id(inp.plan.id, inp.scope.commune_code)
        self.s: CaseState = inp.carried or CaseState()
        self.log = EventLog(self.id, "case", self.s.event_seq)
        self.cutoff = cutoff(inp.plan, inp.clock)
        self._child: workflow.ChildWorkflowHandle[RecognitionWorkflow, RecognitionResult] | None
        self._child = None
        self._child_result: RecognitionResult | None = None
        self._opened = inp.carried is not None  # handlers wait: the stream starts with case.opened

    # -- main timeline ----------------------------------------------------------------------
    @workflow.run
    async def run(self, inp: CaseInput) -> CaseState:
        if inp.carried is None:
            await self._open()
            self._opened = True
        if self.s.selected is None and not self._closed():
            await self._agenda(selection_agenda(self.plan, inp.clock))
            await self._wait(lambda: self.s.selected is not None or self._closed(), self.cutoff)
            if self.s.selected is None and not self._closed():
                await self._close("not_selected", ["không có quyết định lựa chọn / no selection"])
        if self.s.selected and not self._closed():
            await self._agenda(case_agenda(self.plan, inp.clock))
        if not self._closed():
            await self._wait(lambda: self._child_result is not None or self._closed(), self.cutoff)
            if self._child is not None and self._child_result is None and not self._closed():
                await workflow.wait_condition(lambda: self._child_result is not None)
            await self._settle()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.s

    async def _open(self) -> None:
        inp = self.inp
        metrics = parse_metrics(inp.baseline)
        result = classify(metrics, self.plan.rules)
        self.s.classification = result.classification
        self.s.last_metrics = metrics.summary()
        await self.log.emit(
            [
                CaseOpened(
                    plan_id=self.plan.id,
                    commune_code=inp.scope.commune_code,
                    district_code=inp.scope.district_code,
                    province_code=inp.scope.province_code,
                    opened_by=inp.opened_by.person_id,
                    opened_by_role=inp.opened_by.role,
                ),
                MetricsRecorded(
                    purpose="baseline",
                    metrics=metrics.model_dump(exclude_none=True),
                    classification=result.classification,
                    classification_reasons=result.reasons,
                ),
            ],
            [self._notice("case_opened", "province_police")],
        )

    async def _agenda(self, items: list[AgendaItem]) -> None:
        for item in items:
            if item.key in self.s.done_agenda:
                continue
            if await self._wait(self._closed, item.at):
                return
            await self._do(item)
            self.s.done_agenda.append(item.key)
            await self._maybe_continue_as_new()

    async def _do(self, item: AgendaItem) -> None:
        d = item.deadline
        if item.kind == "phase_start" and item.phase is not None:
            ph = self.plan.phases[item.phase - 1]
            self.s.phase, self.s.status = ph.number, f"phase_{ph.number}"
            await self.log.emit(
                [PhaseStarted(phase=ph.number, starts_on=ph.starts_on, ends_on=ph.ends_on)]
            )
        elif item.kind == "phase_end" and item.phase is not None:
            await self.log.emit([PhaseEnded(phase=item.phase)])
        elif d is not None and self._outstanding(d.id):
            if item.kind == "reminder":
                await self.log.emit(
                    [ReminderSent(deadline_id=d.id, due=d.due, days_before=item.days_before,
                                  to_role=d.role)],
                    [self._notice("reminder", d.role, deadline=d.id, due=d.due.isoformat(),
                                  days_before=item.days_before)],
                )
            else:
                self.s.missed.append(d.id)
                await self.log.emit(
                    [DeadlineMissed(deadline_id=d.id, due=d.due),
                     Escalated(deadline_id=d.id, to_role=d.escalate_to)],
                    [self._notice("deadline_missed", d.role, deadline=d.id, due=d.due.isoformat()),
                     self._notice("escalation", d.escalate_to, deadline=d.id,
                                  due=d.due.isoformat())],
                )

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

    async def _settle(self) -> None:
        """Close the case from the recognition outcome, or deny it at the cutoff."""
        if self._closed():
            return
        r = self._child_result
        if r is not None and r.outcome == "recognised":
            await self._close("recognised", [])
            return
        if r is not None and r.outcome == "not_recognised":
            reasons = r.reasons
        elif "dossier" not in self.s.submitted:
            reasons = ["chưa nộp hồ sơ đề nghị công nhận / no recognition dossier submitted"]
        else:
            reasons = self.s.criteria_reasons or ["chưa đạt tiêu chí / criteria not met"]
        self.s.reasons = reasons
        await self.log.emit([RecognitionDenied(reasons=reasons)])
        await self._close("not_recognised", reasons)

    async def _close(self, outcome: str, reasons: list[str], extra: Sequence[Event] = ()) -> None:
        self.s.outcome, self.s.status = outcome, outcome
        self.s.reasons = reasons or self.s.reasons
        await self.log.emit(
            [*extra, CaseClosed(outcome=outcome)],  # type: ignore[arg-type]
            [self._notice(f"case_{outcome}", "district_ubnd"),
             self._notice(f"case_{outcome}", "commune_ubnd")],
        )
        if self.inp.campaign_id:
            await workflow.get_external_workflow_handle(self.inp.campaign_id).signal(
                "case_closed", args=[self.inp.scope.commune_code, outcome])

    def _outstanding(self, deadline_id: str) -> bool:
        if self.plan.deadline(deadline_id).kind == "selection":
            return self.s.selected is None
        return deadline_id not in self.s.submitted

    def _closed(self) -> bool:
        return self.s.outcome is not None

    async def _maybe_continue_as_new(self) -> None:
        info = workflow.info()
        limit = self.inp.history_limit
        if (
            (info.is_continue_as_new_suggested()
             or (limit is not None and info.get_current_history_length() > limit))
            and self._child is None
            and workflow.all_handlers_finished()
        ):
            self.s.event_seq = self.log.seq
            workflow.continue_as_new(self.inp.model_copy(update={"carried": self.s}))

    def _notice(self, template: str, to_role: str, **params: str | int | None) -> Notice:
        return Notice(template=template, to_role=to_role, case_id=self.id,
                      params={"commune": self.inp.scope.commune_code, "plan": self.plan.id,
                              **params})

    def _remember(self, reply: Reply) -> Reply:
        self.s.replies[reply.request_id] = reply
        while len(self.s.replies) > MAX_REPLIES:
            self.s.replies.pop(next(iter(self.s.replies)))
        return reply

    # -- selection (lựa chọn địa bàn) -------------------------------------------------------
    @workflow.update
    async def decide_selection(self, d: SelectionDecision) -> Reply:
        if d.request_id in self.s.replies:
            return self.s.replies[d.request_id]
        await workflow.wait_condition(lambda: self._opened)
        self.s.selected = d.selected
        if d.selected:
            self.s.status = "selected"
            await self.log.emit(
                [SelectionApproved(decided_by=d.actor.person_id, role=d.actor.role,
                                   reason=d.reason)],
                [self._notice("selected", "commune_ubnd"),
                 self._notice("selected", "district_ubnd")],
            )
        else:
            rejected = SelectionRejected(decided_by=d.actor.person_id, role=d.actor.role,
                                         reason=d.reason or "không được lựa chọn / not selected")
            await self._close("not_selected", [rejected.reason], [rejected])
        return self._remember(Reply(request_id=d.request_id))

    @decide_selection.validator
    def _check_selection(self, d: SelectionDecision) -> None:
        if d.request_id in self.s.replies:
            return
        self._check_open()
        selector = self.plan.deadlines_of("selection")[0].role
        check_actor(d.actor, self.inp.scope, (selector,), self.inp.identity_key)
        if self.s.selected is not None:
            refuse("case.already_decided", "the selection of this commune is already decided")
        if not d.selected and not d.reason.strip():
            refuse("case.reason_required", "a decision not to select must give its reason")

    # -- reports and the dossier (báo cáo, hồ sơ) ---------------------------------------------
    @workflow.update
    async def submit_report(self, r: ReportSubmission) -> Reply:
        if r.request_id in self.s.replies:
            return self.s.replies[r.request_id]
        await workflow.wait_condition(lambda: self._opened)
        d = self.plan.deadline(r.deadline_id)
        late = workflow.now() >= self.inp.clock.deadline(self.plan, d.due)
        self.s.submitted[d.id] = late
        events: list[Event] = [
            ReportSubmitted(deadline_id=d.id, submitted_by=r.actor.person_id, role=r.actor.role,
                            late=late, summary=r.summary)
        ]
        reply = Reply(request_id=r.request_id, late=late)
        if r.metrics is not None:
            metrics = parse_metrics(r.metrics)
            cls = classify(metrics, self.plan.rules)
            self.s.last_metrics, self.s.classification = metrics.summary(), cls.classification
            purpose = "self_assessment" if d.kind == "dossier" else "report"
            events.append(MetricsRecorded(purpose=purpose,
                                          metrics=metrics.model_dump(exclude_none=True),
                                          classification=cls.classification,
                                          classification_reasons=cls.reasons))
            if d.kind == "dossier":
                report = evaluate(metrics, self.plan.criteria)
                self.s.criteria_met = report.met
                self.s.criteria_reasons = [f"{x.id}. {x.reason_vi} / {x.reason_en}"
                                           for x in report.results if not x.met]
                events.append(CriteriaEvaluated(
                    criteria_set=report.criteria_set, met=report.met,
                    results=[x.model_dump(mode="json") for x in report.results]))
                reply.criteria_met = report.met
        notices = [self._notice("report_received", d.escalate_to, deadline=d.id, late=late)]
        await self.log.emit(events, notices)
        if d.kind == "dossier" and self.s.criteria_met:
            await self._start_recognition(r)
        return self._remember(reply)

    @submit_report.validator
    def _check_report(self, r: ReportSubmission) -> None:
        if r.request_id in self.s.replies:
            return
        self._check_open()
        check_actor(r.actor, self.inp.scope, ("commune_ubnd",), self.inp.identity_key)
        if not self.s.selected:
            refuse("case.not_selected", "the commune has not been selected for conversion")
        try:
            d = self.plan.deadline(r.deadline_id)
        except DomainError as exc:
            refuse_domain(exc)
        if d.kind not in CASE_DEADLINE_KINDS:
            refuse("case.unknown_deadline", f"{d.id} is not a commune's submission")
        if d.kind == "dossier":
            if self._child is not None:
                refuse("case.recognition_running",
                       "the dossier is in the approval chain; resubmit it there after a rejection")
            if r.metrics is None:
                refuse("case.metrics_required", "a recognition dossier must carry its metrics")
        elif d.id in self.s.submitted:
            refuse("case.already_submitted", f"{d.id} was already submitted")
        if r.metrics is not None:
            try:
                parse_metrics(r.metrics)
            except DomainError as exc:
                refuse_domain(exc)

    async def _start_recognition(self, r: ReportSubmission) -> None:
        self.s.recognition_running, self.s.status = True, "in_recognition"
        self._child = await workflow.start_child_workflow(
            RecognitionWorkflow.run,
            RecognitionInput(case_id=self.id, plan=self.plan, scope=self.inp.scope,
                             clock=self.inp.clock, submitted_by=r.actor, cutoff=self.cutoff,
                             identity_key=self.inp.identity_key),
            id=recognition_id(self.plan.id, self.inp.scope.commune_code),
        )
        child = self._child

        async def collect() -> None:
            try:
                self._child_result = await child
            except Exception:  # cancelled on withdrawal: the case is closed already
                self._child_result = RecognitionResult(outcome="closed", round=0)
            self.s.recognition_running = False

        asyncio.ensure_future(collect())

    # -- withdrawal (rút hồ sơ) ---------------------------------------------------------------
    @workflow.update
    async def withdraw(self, w: Withdrawal) -> Reply:
        if w.request_id in self.s.replies:
            return self.s.replies[w.request_id]
        await workflow.wait_condition(lambda: self._opened)
        if self._child is not None and self._child_result is None:
            self._child.cancel()
        await self._close("withdrawn", [w.reason], [
            CaseWithdrawn(withdrawn_by=w.actor.person_id, role=w.actor.role, reason=w.reason)])
        return self._remember(Reply(request_id=w.request_id))

    @withdraw.validator
    def _check_withdraw(self, w: Withdrawal) -> None:
        if w.request_id in self.s.replies:
            return
        self._check_open()
        check_actor(w.actor, self.inp.scope, ("district_ubnd",) if self.plan.has_districts
                    else ("province_ubnd", "province_police"), self.inp.identity_key)

    def _check_open(self) -> None:
        if self._closed():
            refuse("case.closed", f"the case is closed ({self.s.outcome}); nothing is accepted")

    # -- queries ----------------------------------------------------------------------------
    @workflow.query
    def status(self) -> CaseStatus:
        now = workflow.now()
        upcoming = [
            {"deadline": d.id, "due": d.due.isoformat()}
            for d in sorted(self.plan.deadlines, key=lambda d: d.due)
            if d.kind in CASE_DEADLINE_KINDS and d.id not in self.s.submitted
            and self.inp.clock.deadline(self.plan, d.due) > now
        ][:3]
        return CaseStatus(
            case_id=self.id, plan_id=self.plan.id, commune_code=self.inp.scope.commune_code,
            status=self.s.status, phase=self.s.phase, classification=self.s.classification,
            submitted=self.s.submitted, missed=self.s.missed, criteria_met=self.s.criteria_met,
            outcome=self.s.outcome, reasons=self.s.reasons, next_deadlines=upcoming,
        )


