"""RecognitionWorkflow: a dossier's way up the plan's approval chain (xét, công nhận).

A child of the conversion case. Decisions are Temporal Updates whose validators run the
domain's state machine (``domain.approval.decide``) on the current state, so a wrong role,
wrong jurisdiction, a level that is not pending, a second signature or a closed case is refused
synchronously with the domain's code, and nothing is recorded. Each level has a deadline
(days from the plan) with reminders before it and one escalation when it passes. It writes to
the case's own stream (event ids ``<case>/recognition/<n>``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.amendment_effect import SignatureKept, chain_transfer, escalations
    from domain.approval import (
        Approve,
        ChainError,
        ChainState,
        Close,
        Delegate,
        Reject,
        Submit,
        awaiting,
        pending_level,
        standing,
    )
    from domain.approval import decide as chain_decide
    from domain.events import (
        CaseAmended,
        DeadlineMissed,
        DossierResubmitted,
        DossierSubmitted,
        Escalated,
        Event,
        ReminderSent,
        SignoffRecorded,
        VoteCast,
    )
    from domain.notices import level_deadline_id, notices_for
    from domain.plan import Plan
    from domain.roles import CaseScope
    from workflows import names
    from workflows.errors import check_proof, refuse, refuse_domain
    from workflows.event_log import EventLog
    from workflows.messages import (
        ChainAmendment,
        ChainDecision,
        RecognitionCarry,
        RecognitionInput,
        RecognitionResult,
        RecognitionStatus,
        Reply,
    )
    from workflows.replies import ReplyMemory


@workflow.defn
class RecognitionWorkflow:
    @workflow.init
    def __init__(self, inp: RecognitionInput) -> None:
        self.inp = inp
        carry = inp.carried
        self.chain: ChainState = carry.chain if carry else ChainState()
        self.level_since: datetime | None = carry.level_since if carry else None
        self.replies: ReplyMemory[Reply] = ReplyMemory(carry.replies if carry else None)
        self.reminded: list[str] = list(carry.reminded) if carry else []
        self.log = EventLog(inp.case_id, "recognition", carry.event_seq if carry else 0,
                            local=inp.local_appends)
        # the plan and scope the chain runs on: its input's, or an amendment's (văn bản sửa đổi)
        self.plan: Plan = carry.plan if carry and carry.plan else inp.plan
        self.scope: CaseScope = carry.scope if carry and carry.scope else inp.scope
        self.round_signed: list[SignatureKept] = list(carry.round_signed) if carry else []
        self._changes = 0  # bumped by every accepted decision: wakes the timeline loop
        # The submission is applied here, synchronously, so that a reviewer's update arriving
        # with the first task is validated against the pending chain; its events are appended
        # first thing in run, and handlers wait for that so the stream keeps cause before effect.
        self._opening: list[Event] = []
        if carry is None:  # pure: nothing is written before run checks the parent
            self.chain, self._opening = chain_decide(
                inp.plan.approval_chain, inp.scope, self.chain, Submit(actor=inp.submitted_by))
            self._keep_signatures(self._opening)
        self._opened = carry is not None

    @workflow.run
    async def run(self, inp: RecognitionInput) -> RecognitionResult:
        if (orphan := _not_a_child(inp)) is not None:
            refuse("chain.not_a_child", orphan, NOT_A_CHILD_VI)  # fails the run; nothing written
        if inp.carried is not None and workflow.info().continued_run_id is None:
            refuse("chain.forged_carry", "a chain cannot be started with carried state",
                   "không được mở quy trình xét duyệt kèm trạng thái chuyển tiếp")
        if not self._opened:
            self.level_since = workflow.now()
            await self._emit(self._opening)
            self._opened = True
        while self.chain.status not in ("recognised", "closed"):
            item = self._next_item()
            wake_at = min(item[1], inp.cutoff) if item else inp.cutoff
            seen = self._changes
            remaining = wake_at - workflow.now()
            if remaining > timedelta(0):
                # A decision that leaves the next point where it was (a second signature at
                # the same level) keeps the timer: no TIMER_CANCELED, no new TIMER_STARTED.
                keep = workflow.patched(names.CHAIN_TIMER_KEPT)

                def moved(item: tuple[str, datetime, int | None] | None = item,
                          seen: int = seen, keep: bool = keep) -> bool:
                    if self._changes == seen:
                        return False
                    return not keep or self.chain.status in ("recognised", "closed") \
                        or self._next_item() != item
                try:
                    await workflow.wait_condition(moved, timeout=remaining)
                    continue
                except TimeoutError:
                    pass
            if self._changes != seen:
                continue
            if workflow.now() >= inp.cutoff:
                return await self._expire()
            if item is not None:
                await self._deadline_point(item)
            self._maybe_continue_as_new()
        await workflow.wait_condition(workflow.all_handlers_finished)
        if self.chain.status == "recognised":
            return RecognitionResult(outcome="recognised", round=self.chain.round)
        return RecognitionResult(outcome="closed", round=self.chain.round)

    # -- level deadlines ----------------------------------------------------------------------
    def _next_item(self) -> tuple[str, datetime, int | None] | None:
        """The next level deadline point: (key, instant, days before due or None for due)."""
        lv = pending_level(self.plan.approval_chain, self.chain)
        if lv is None or self.level_since is None:
            return None
        clock, base = self.inp.clock, f"r{self.chain.round}:{lv.id}"
        due = self.level_since + clock.days(lv.deadline_days)
        points: list[tuple[str, datetime, int | None]] = [
            (f"{base}:remind:{n}", due - clock.days(n), n)
            for n in self.plan.reminder_days_before if n < lv.deadline_days]
        points.append((f"{base}:due", due, None))
        todo = [p for p in points if p[0] not in self.reminded]
        return min(todo, key=lambda p: p[1]) if todo else None

    async def _deadline_point(self, point: tuple[str, datetime, int | None]) -> None:
        key, _, days_before = point
        lv = pending_level(self.plan.approval_chain, self.chain)
        assert lv is not None and self.level_since is not None
        self.reminded.append(key)
        due_day = self.inp.clock.plan_date(
            self.plan, self.level_since + self.inp.clock.days(lv.deadline_days))
        now = standing(self.plan.approval_chain, self.chain)
        assert now is not None
        deadline_id = level_deadline_id(lv.id, self.chain.round)
        if days_before is not None:
            await self._emit([ReminderSent(deadline_id=deadline_id, due=due_day,
                                           days_before=days_before, to_role=r)
                              for r in now.awaiting_roles])
        else:
            await self._emit([DeadlineMissed(deadline_id=deadline_id, due=due_day),
                              Escalated(deadline_id=deadline_id, to_role=lv.escalate_to)],
                             awaiting=now.awaiting)

    async def _expire(self) -> RecognitionResult:
        """The plan's last day passed before recognition: the chain closes unfinished."""
        lv = pending_level(self.plan.approval_chain, self.chain)
        if self.chain.status == "returned" and self.chain.last_rejection:
            reasons = [f"hồ sơ bị trả lại / dossier returned: {self.chain.last_rejection}"]
        elif lv is not None:
            reasons = [f"hết thời hạn kế hoạch khi chờ cấp {lv.id} / plan ended pending {lv.id}"]
        else:
            reasons = ["hết thời hạn kế hoạch / plan ended"]
        self.chain, _ = chain_decide(
            self.plan.approval_chain, self.scope, self.chain, Close())
        await workflow.wait_condition(workflow.all_handlers_finished)
        return RecognitionResult(outcome="not_recognised", round=self.chain.round, reasons=reasons)

    def _maybe_continue_as_new(self) -> None:
        if workflow.info().is_continue_as_new_suggested() and workflow.all_handlers_finished():
            amended = self.plan is not self.inp.plan
            carry = RecognitionCarry(chain=self.chain, level_since=self.level_since,
                                     event_seq=self.log.seq, replies=self.replies.replies,
                                     reminded=self.reminded,
                                     plan=self.plan if amended else None,
                                     scope=self.scope if amended else None,
                                     round_signed=self.round_signed)
            workflow.continue_as_new(self.inp.model_copy(update={"carried": carry}))

    # -- decisions --------------------------------------------------------------------------
    def _domain_decision(self, d: ChainDecision) -> Submit | Approve | Reject | Delegate:
        if d.kind == "resubmit":
            return Submit(actor=d.actor)
        if d.level is None:
            refuse("chain.level_required", f"a {d.kind} decision must name the level",
                   "quyết định phải ghi rõ cấp xét duyệt")
        if d.kind == "approve":
            return Approve(actor=d.actor, level=d.level, reason=d.reason)
        if d.kind == "reject":
            return Reject(actor=d.actor, level=d.level, reason=d.reason)
        if d.to is None:
            refuse("chain.bad_delegate", "a delegation must name the person it goes to",
                   "việc ủy quyền phải ghi rõ người được ủy quyền")
        return Delegate(actor=d.actor, level=d.level, to=d.to)

    @workflow.update(name=names.DECIDE)
    async def decide(self, d: ChainDecision) -> Reply:
        if (known := self.replies.get(d.request_id)) is not None:
            return known
        await workflow.wait_condition(lambda: self._opened)
        try:
            await self._apply(self._domain_decision(d))
        except ChainError as exc:  # the state moved between validation and now
            refuse_domain(exc)
        return self.replies.remember(d.request_id,
                                     Reply(request_id=d.request_id, detail=self.chain.status))

    @decide.validator
    def _check(self, d: ChainDecision) -> None:
        if (orphan := _not_a_child(self.inp)) is not None:
            refuse("chain.not_a_child", orphan, NOT_A_CHILD_VI)
        check_proof(d, via=self.inp.campaign_id)  # a retry too: an old reply is for no one
        if d.request_id in self.replies:
            return
        try:
            chain_decide(self.plan.approval_chain, self.scope, self.chain,
                   self._domain_decision(d))
        except ChainError as exc:
            refuse_domain(exc)

    async def _apply(self, decision: Submit | Approve | Reject | Delegate) -> None:
        chain = self.plan.approval_chain
        before = self.chain
        self.chain, events = chain_decide(chain, self.scope, before, decision)
        if self.chain.level_index != before.level_index or self.chain.round != before.round:
            self.level_since = workflow.now()
        self._changes += 1
        self._keep_signatures(events)
        await self._emit(events)

    def _keep_signatures(self, events: list[Event]) -> None:
        """The round's signatures (and approving votes): an amendment lists them as kept."""
        for e in events:
            if isinstance(e, DossierSubmitted | DossierResubmitted):
                self.round_signed = []
            elif isinstance(e, SignoffRecorded) or (isinstance(e, VoteCast)
                                                    and e.vote == "approve"):
                self.round_signed.append(SignatureKept(level=e.level, role=e.role,
                                                       person=e.reviewer))

    # -- amendments (văn bản sửa đổi) -------------------------------------------------------
    @workflow.signal(name=names.AMEND_CHAIN)
    async def amend_chain(self, order: ChainAmendment) -> None:
        """The case moved onto an amended plan: the pending level moves with it (transferred
        to the level that inherits it, never dropped) and this chain records ``case.amended``
        in order with its own decisions; then it tells the case."""
        await workflow.wait_condition(lambda: self._opened)
        workflow.patched(names.AMENDMENTS)
        before, before_status = self.plan, self.chain.status
        self.chain, pending = chain_transfer(before, order.plan, order.amendment, self.chain,
                                             self.round_signed)
        if pending is not None and pending.transferred:
            self.level_since = workflow.now()  # the inheriting level's days start now
        record = CaseAmended.model_validate(order.record)
        record = record.model_copy(update={
            "pending": pending.model_dump(mode="json") if pending else None,
            "escalations": [e.model_dump(mode="json") for e in escalations(
                before, order.plan, before_status, pending.level_after if pending else None)]})
        self.plan, self.scope = order.plan, order.scope
        self._changes += 1
        await self._emit([record])
        parent = workflow.info().parent
        if parent is not None:
            await workflow.get_external_workflow_handle(parent.workflow_id).signal(
                names.CHAIN_AMENDED, order.amendment.id)

    async def _emit(self, events: list[Event], awaiting: Sequence[str] = ()) -> None:
        notices = notices_for(self.plan, self.scope, self.inp.case_id, events,
                              awaiting)
        await self.log.emit(events, notices)

    # -- queries ----------------------------------------------------------------------------
    @workflow.query(name=names.REPLY)
    def reply(self, request_id: str) -> Reply | None:
        """The reply remembered for ``request_id`` (None if unknown): a retry of the request
        that ended this run reads it here, since an ended run takes no update."""
        return self.replies.get(request_id)

    @workflow.query(name=names.STATUS)
    def status(self) -> RecognitionStatus:
        lv = pending_level(self.plan.approval_chain, self.chain)
        due = None
        if lv is not None and self.level_since is not None:
            due = self.level_since + self.inp.clock.days(lv.deadline_days)
        return RecognitionStatus(
            case_id=self.inp.case_id, status=self.chain.status, round=self.chain.round,
            pending_level=lv.id if lv else None, signed=dict(self.chain.signatures),
            awaiting=awaiting(self.plan.approval_chain, self.chain),
            standing=standing(self.plan.approval_chain, self.chain),
            last_rejection=self.chain.last_rejection, level_due=due,
        )


# A chain runs only as the child of its own case, and writes to that case's stream only: a
# chain started on its own (by any client that reaches the workflow service) against an
# existing case would otherwise write a forged chain into its record.
NOT_A_CHILD_VI = "quy trình xét duyệt chỉ chạy trong hồ sơ của chính xã đó"


def _not_a_child(inp: RecognitionInput) -> str | None:
    """Why this run is not the chain of its case (None when it is): it must be the child of
    the case workflow whose stream it writes (only that case's own code starts it)."""
    info = workflow.info()
    # by its own address: after a reform the scope carries the commune's new code, while the
    # case (and so its chain) keeps the address it was opened under
    try:
        plan_id, commune = names.parse_case_id(info.workflow_id)
    except ValueError:
        plan_id, commune = inp.plan.id, inp.scope.commune_code
    case_id = names.case_id(plan_id, commune)
    if plan_id != inp.plan.id:
        return f"this chain's plan {inp.plan.id} is not its case's {plan_id}"
    parent = info.parent
    if parent is None or parent.workflow_id != case_id:
        return f"a recognition chain runs only as the child of its case {case_id}"
    if inp.case_id != case_id:  # the stream written is the parent's own
        return f"this chain's stream {inp.case_id} is not its case's {case_id}"
    return None
