"""ProvinceCampaignWorkflow: one province's campaign under one plan (001 §III.2, §III.4).

Districts propose communes (each proposal starts the communes' conversion cases, district UBND
being the opener); the provincial police approves the list of communes selected for
conversion in one decision, which answers every proposed case; the provincial UBND approves
the recognition list in one decision that reaches every listed commune's approval chain. The
campaign tracks progress toward the plan's target (e.g. at least 20% of Trà Vinh's 104
communes, 001 §II.2.4). Fan-outs go through an activity that holds a Temporal client.
"""

from __future__ import annotations

import asyncio
import math
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.contracts import CaseCommand, FanoutResult, OutcomesRequest
    from activities.fanout import CaseOps
    from activities.persist import EventActivities
    from domain import case as case_decider
    from domain.agenda import cutoff
    from domain.amendment import amend
    from domain.amendment_effect import require_amender
    from domain.case import (
        CaseState,
        opener_role,
        require_actor,
        selection_role,
        territory_scope,
    )
    from domain.errors import DomainError
    from domain.merged import Rule, TargetUnit, new_communes, target_count
    from domain.plan import Plan
    from domain.roles import ROLE_NAMES_VI, CaseScope, Role
    from workflows import names
    from workflows.admit import admit
    from workflows.errors import check_proof, refuse, refuse_domain
    from workflows.messages import (
        AmendmentOrder,
        CampaignCarry,
        CampaignInput,
        CampaignStatus,
        CaseInput,
        ChainDecision,
        ListReply,
        Proposal,
        RecognitionList,
        Request,
        SelectionDecision,
        SelectionList,
    )
    from workflows.replies import ReplyMemory

FANOUT_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=30))
FAN_OUT_PART_BYTES = 512 * 1024  # well under the server's 2 MB per payload


def fan_out_parts(commands: list[CaseCommand],
                  limit: int = FAN_OUT_PART_BYTES) -> list[list[CaseCommand]]:
    """``commands`` in order, cut into parts whose JSON stays under ``limit`` bytes (a command
    larger than the limit alone goes in a part of its own)."""
    parts: list[list[CaseCommand]] = []
    size = 0
    for cmd in commands:
        n = len(cmd.model_dump_json())
        if not parts or (size + n > limit and parts[-1]):
            parts.append([])
            size = 0
        parts[-1].append(cmd)
        size += n
    return parts


@workflow.defn
class ProvinceCampaignWorkflow:
    @workflow.init
    def __init__(self, inp: CampaignInput) -> None:
        self.inp = inp
        self.plan = inp.plan
        carry = inp.carried
        if carry is not None and carry.plan is not None:  # amended before continuing as new
            self.plan = carry.plan
        self.amendments: list[str] = list(carry.amendments) if carry else []
        self.new_units: dict[str, str] = dict(carry.new_units) if carry else {}
        self.merged: dict[str, str] | None = carry.merged if carry else None
        self.scheduled: list[AmendmentOrder] = list(carry.scheduled) if carry else []
        # commune -> district (None: two-level)
        self.proposed: dict[str, str | None] = dict(carry.proposed) if carry else {}
        self.selection_done = carry.selection_done if carry else False
        self.selected: list[str] = list(carry.selected) if carry else []
        self.closed: dict[str, str] = dict(carry.closed) if carry else {}  # commune -> outcome
        self.replies: ReplyMemory[ListReply] = ReplyMemory(carry.replies if carry else None)
        self._prompt = False  # a case said it closed: read the outcomes from the record
        self._admitted = carry is not None  # the worker admitted the start (handlers wait)

    @workflow.run
    async def run(self, inp: CampaignInput) -> CampaignStatus:
        if inp.carried is not None and workflow.info().continued_run_id is None:
            refuse("campaign.forged_carry", "a campaign cannot be started with carried state",
                   "không được mở chiến dịch kèm trạng thái chuyển tiếp từ lượt chạy trước")
        if inp.carried is None and workflow.patched(names.ADMISSION):
            await admit(workflow.info().workflow_id, "campaign", inp)
        self._admitted = True
        for order in self.scheduled:  # carried over a continue-as-new: armed again
            asyncio.ensure_future(self._when_due(order))
        end = cutoff(inp.plan, inp.clock)
        # During the year a case's word (a signal anyone could send) only prompts a look at
        # the record: counts come from the outcomes the cases wrote to the event store.
        while (remaining := end - workflow.now()) > timedelta(0):
            if not await self._prompted(remaining):
                break
            await self._read_outcomes()
            self._maybe_continue_as_new()
        # After the plan ends every selected case closes itself; read until all have.
        while not self._all_closed():
            await self._read_outcomes()
            if not self._all_closed():
                await self._prompted(inp.clock.days(1))
            self._maybe_continue_as_new()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.status()

    def _maybe_continue_as_new(self) -> None:
        """Start afresh when the history grows long (a year of prompts, or a flood of forged
        ones): what the campaign keeps is bounded by the plan's communes and ReplyMemory."""
        info = workflow.info()
        limit = self.inp.history_limit
        if (info.is_continue_as_new_suggested()
                or (limit is not None and info.get_current_history_length() > limit)) \
                and workflow.all_handlers_finished():
            carry = CampaignCarry(proposed=self.proposed, selection_done=self.selection_done,
                                  selected=self.selected, closed=self.closed,
                                  replies=self.replies.replies,
                                  plan=self.plan if self.amendments else None,
                                  amendments=self.amendments, new_units=self.new_units,
                                  merged=self.merged, scheduled=self.scheduled)
            workflow.continue_as_new(self.inp.model_copy(update={"carried": carry}))

    async def _prompted(self, within: timedelta) -> bool:
        try:
            await workflow.wait_condition(lambda: self._prompt, timeout=within)
            return True
        except TimeoutError:
            return False

    def _all_closed(self) -> bool:
        return all(c in self.closed for c in self.selected)

    async def _read_outcomes(self) -> None:
        self._prompt = False
        open_cases = [c for c in self.selected if c not in self.closed]
        if not open_cases:
            return
        facts = await workflow.execute_activity_method(
            EventActivities.case_outcomes,
            OutcomesRequest(streams=[names.case_id(self.plan.id, c) for c in open_cases]),
            start_to_close_timeout=timedelta(minutes=1), retry_policy=FANOUT_RETRY)
        for c in open_cases:
            outcome = facts.outcomes.get(names.case_id(self.plan.id, c))
            if outcome is not None:
                self.closed[c] = outcome

    # -- proposals (đề xuất địa bàn) ----------------------------------------------------------
    @workflow.update(name=names.PROPOSE)
    async def propose(self, p: Proposal) -> ListReply:
        if (known := self.replies.get(p.request_id)) is not None:
            return known
        await workflow.wait_condition(lambda: self._admitted)
        starts = []
        for code, baseline in sorted(p.communes.items()):
            district = p.actor.district_code if self.plan.has_districts else None
            self.proposed[code] = district
            scope = CaseScope(province_code=self.plan.province_code, district_code=district,
                              commune_code=code)
            case = CaseInput(plan=self.plan, scope=scope, opened_by=p.actor, baseline=baseline,
                             clock=self.inp.clock, campaign_id=workflow.info().workflow_id,
                             local_appends=self.inp.local_appends)
            starts.append(CaseCommand(key=code, workflow_id=names.case_id(self.plan.id, code),
                                      update="", payload={}, start=case.model_dump(mode="json"),
                                      via=workflow.info().workflow_id))
        result = await self._fan_out(starts)
        return self._remember(ListReply(request_id=p.request_id, results=result.results))

    @propose.validator
    def _check_propose(self, p: Proposal) -> None:
        check_proof(p)  # a retry too: an old reply is for no one
        if p.request_id in self.replies:
            return
        self._check_request(p, opener_role(self.plan))
        if self.selection_done:
            refuse("campaign.selection_done", "the selection list is already approved",
                   "danh sách địa bàn chuyển hóa đã được phê duyệt")
        if not p.communes:
            refuse("campaign.empty", "a proposal must name at least one commune",
                   "văn bản đề xuất phải nêu ít nhất một xã")
        for code in p.communes:
            if code in self.proposed:
                refuse("campaign.already_proposed", f"commune {code} is already proposed",
                       f"xã {code} đã được đề xuất")
            if self.plan.has_districts and self.inp.commune_districts.get(code) != (
                p.actor.district_code
            ):
                refuse("campaign.wrong_jurisdiction",
                       f"commune {code} is not in district {p.actor.district_code}",
                       f"xã {code} không thuộc huyện {p.actor.district_code}")
            if not self.plan.has_districts and code not in self.inp.commune_districts:
                refuse("campaign.wrong_jurisdiction",
                       f"commune {code} is not in province {self.plan.province_code}",
                       f"xã {code} không thuộc tỉnh {self.plan.province_code}")
        # A bad baseline is refused here, naming the commune and the field, rather than
        # answered "ok" and left to fail the case it would start.
        # The opening is dry-run as the case will decide it (metrics and their classification).
        for code, baseline in sorted(p.communes.items()):
            district = p.actor.district_code if self.plan.has_districts else None
            scope = CaseScope(province_code=self.plan.province_code, district_code=district,
                              commune_code=code)
            try:
                case_decider.decide(self.plan, scope, CaseState(), case_decider.Open(
                    opened_by=p.actor, baseline=baseline), workflow.now(), self.inp.clock)
            except DomainError as exc:
                refuse(exc.code, f"commune {code}: {exc.message}",
                       f"xã {code}: {exc.text('vi')}")

    # -- the selection list (danh sách địa bàn chuyển hóa) -----------------------------------
    @workflow.update(name=names.APPROVE_SELECTION)
    async def approve_selection(self, s: SelectionList) -> ListReply:
        if (known := self.replies.get(s.request_id)) is not None:
            return known
        await workflow.wait_condition(lambda: self._admitted)
        self.selection_done = True
        chosen = set(s.selected)
        commands = []
        for code in sorted(self.proposed):
            d = SelectionDecision(
                request_id=f"{s.request_id}:{code}", actor=s.actor, selected=code in chosen,
                reason=s.reason or ("" if code in chosen else
                                    "không nằm trong danh sách được phê duyệt / not on the list"))
            commands.append(CaseCommand(key=code, workflow_id=names.case_id(self.plan.id, code),
                                        update=names.DECIDE_SELECTION,
                                        payload=d.model_dump(mode="json"),
                                        via=workflow.info().workflow_id))
        result = await self._fan_out(commands)
        self.selected = sorted(c for c in chosen if result.results.get(c) == "ok")
        for code in self.proposed:
            if code not in chosen:
                self.closed[code] = "not_selected"
        return self._remember(ListReply(request_id=s.request_id, results=result.results))

    @approve_selection.validator
    def _check_selection(self, s: SelectionList) -> None:
        check_proof(s)  # a retry too: an old reply is for no one
        if s.request_id in self.replies:
            return
        self._check_request(s, selection_role(self.plan))
        if self.selection_done:
            refuse("campaign.selection_done", "the selection list is already approved",
                   "danh sách địa bàn chuyển hóa đã được phê duyệt")
        unknown = sorted(set(s.selected) - set(self.proposed))
        if unknown:
            refuse("campaign.not_proposed", f"communes not proposed: {', '.join(unknown)}",
                   f"các xã chưa được đề xuất: {', '.join(unknown)}")

    # -- the recognition list (danh sách công nhận) -----------------------------------------
    @workflow.update(name=names.APPROVE_RECOGNITION)
    async def approve_recognition(self, r: RecognitionList) -> ListReply:
        if (known := self.replies.get(r.request_id)) is not None:
            return known
        await workflow.wait_condition(lambda: self._admitted)
        last = self.plan.approval_chain[-1]
        commands = [
            CaseCommand(
                key=code, workflow_id=names.recognition_id(self.plan.id, code),
                update=names.DECIDE,
                payload=ChainDecision(request_id=f"{r.request_id}:{code}", actor=r.actor,
                                      kind="approve", level=last.id,
                                      reason=r.reason).model_dump(mode="json"),
                via=workflow.info().workflow_id)
            for code in sorted(set(r.communes))
        ]
        result = await self._fan_out(commands)
        return self._remember(ListReply(request_id=r.request_id, results=result.results))

    @approve_recognition.validator
    def _check_recognition(self, r: RecognitionList) -> None:
        check_proof(r)  # a retry too: an old reply is for no one
        if r.request_id in self.replies:
            return
        last = self.plan.approval_chain[-1]
        if r.actor.role not in last.roles:
            refuse("campaign.wrong_role",
                   f"the recognition list is approved by {', '.join(last.roles)}",
                   "danh sách công nhận do "
                   f"{', '.join(ROLE_NAMES_VI[r] for r in last.roles)} phê duyệt")
        self._check_request(r, r.actor.role)
        unknown = sorted(set(r.communes) - set(self.selected))
        if unknown:
            refuse("campaign.not_selected", f"communes not selected: {', '.join(unknown)}",
                   f"các xã chưa được chọn chuyển hóa: {', '.join(unknown)}")

    # -- cases report back --------------------------------------------------------------------
    @workflow.signal(name=names.CASE_CLOSED)
    def case_closed(self, commune_code: str, outcome: str) -> None:
        """A prompt, not a fact: signals are unauthenticated, so the campaign reads what the
        case recorded instead of believing the sender (forged signals change no count)."""
        del commune_code, outcome
        self._prompt = True

    # -- amendments (văn bản sửa đổi) -------------------------------------------------------
    @workflow.update(name=names.AMEND)
    async def amend(self, order: AmendmentOrder) -> ListReply:
        """The campaign follows its plan's amendment: list decisions are checked against the
        amended plan (e.g. the new province's People's Committee approves the recognition
        list) and, when communes merged, the target counts as the amendment says. Applied at
        once (a list decision before the effective date is the old plan's business)."""
        if (known := self.replies.get(order.request_id)) is not None:
            return known
        await workflow.wait_condition(lambda: self._admitted)
        if order.amendment.id in self.amendments:
            detail = "already_applied"
        elif any(o.amendment.id == order.amendment.id for o in self.scheduled):
            detail = "already_scheduled"
        else:
            workflow.patched(names.AMENDMENTS)
            self._amended(order)
            if workflow.now() < self._effective_at(order):
                self.scheduled.append(order)
                asyncio.ensure_future(self._when_due(order))
                detail = "scheduled"
            else:
                self._apply(order)
                detail = "applied"
        return self._remember(ListReply(request_id=order.request_id, results={"": detail}))

    def _effective_at(self, order: AmendmentOrder) -> datetime:
        return self.inp.clock.day_start(self.plan, order.amendment.effective_on)

    async def _when_due(self, order: AmendmentOrder) -> None:
        remaining = self._effective_at(order) - workflow.now()
        if remaining > timedelta(0):
            await workflow.sleep(remaining)
        self.scheduled = [o for o in self.scheduled if o is not order]
        if order.amendment.id not in self.amendments:
            try:
                self._apply(order)
            except DomainError as exc:  # another amendment came first: said, not dropped
                workflow.logger.warning("amendment %s no longer applies: %s",
                                        order.amendment.id, exc.code)

    def _apply(self, order: AmendmentOrder) -> None:
        self.plan = self._amended(order)
        self.amendments.append(order.amendment.id)
        if order.units and order.amendment.changes.merged_communes is not None:
            rule = order.amendment.changes.merged_communes
            self.new_units = {c: order.units[c].commune_code
                              for c in self.inp.commune_districts if c in order.units}
            self.merged = {"recognition": rule.recognition, "target": rule.target}

    @amend.validator
    def _check_amend(self, order: AmendmentOrder) -> None:
        check_proof(order)
        if order.request_id in self.replies:
            return
        try:
            if order.amendment.id in self.amendments:  # a no-op, for its issuer only
                require_amender(order.actor, self.plan, self.plan)
            else:
                self._amended(order)
        except DomainError as exc:
            refuse_domain(exc)

    def _amended(self, order: AmendmentOrder) -> Plan:
        new = amend(self.plan, order.amendment, order.units)
        require_amender(order.actor, self.plan, new)
        return new

    @workflow.query(name=names.REPLY)
    def reply(self, request_id: str) -> ListReply | None:
        """The reply remembered for ``request_id`` (None if unknown): a retry of the request
        that ended this run reads it here, since an ended run takes no update."""
        return self.replies.get(request_id)

    @workflow.query(name=names.STATUS)
    def status(self) -> CampaignStatus:
        recognised = sorted(c for c, o in self.closed.items() if o == "recognised")
        total = len(self.inp.commune_districts)
        need = math.ceil(self.plan.target.share * total - 1e-9)
        status = CampaignStatus(
            plan_id=self.plan.id, proposed=sorted(self.proposed), selected=self.selected,
            recognised=recognised,
            not_recognised=sorted(c for c, o in self.closed.items()
                                  if o in ("not_recognised", "withdrawn")),
            total_communes=total, target_share=self.plan.target.share,
            target_met=len(recognised) >= need, amendments=list(self.amendments),
        )
        if self.merged is None or not self.new_units:
            return status
        rule: Rule = ("any_constituent" if self.merged["recognition"] == "any_constituent"
                      else "all_constituents")
        unit: TargetUnit = ("legacy_areas" if self.merged["target"] == "legacy_areas"
                            else "new_communes")
        count = target_count(self.plan.target.share, self.new_units, self.closed, rule, unit)
        merged = new_communes(self.new_units, self.closed, rule)
        return status.model_copy(update={
            "target_unit": unit, "target_total": count.total, "target_need": count.need,
            "target_recognised": count.recognised, "target_met": count.met,
            "new_communes_recognised": [n.code for n in merged if n.recognised]})

    # -- helpers ----------------------------------------------------------------------------
    def _check_request(self, request: Request, role: Role) -> None:
        check_proof(request)
        actor = request.actor
        try:
            require_actor(actor, territory_scope(self.plan), (role,), prefix="campaign")
        except DomainError as exc:
            refuse_domain(exc)

    async def _fan_out(self, commands: list[CaseCommand]) -> FanoutResult:
        if not workflow.patched(names.FAN_OUT_PARTS):  # before: one call, whatever its size
            return await self._fan_out_part(commands)
        # One call per part, one after another: a whole province's starts carry a plan each
        # (~15 kB) and together passed the server's 2 MB payload limit, failing every attempt.
        results: dict[str, str] = {}
        for part in fan_out_parts(commands):
            results.update((await self._fan_out_part(part)).results)
        return FanoutResult(results=results)

    async def _fan_out_part(self, commands: list[CaseCommand]) -> FanoutResult:
        return await workflow.execute_activity_method(
            CaseOps.fan_out, commands, start_to_close_timeout=timedelta(minutes=10),
            retry_policy=FANOUT_RETRY)

    def _remember(self, reply: ListReply) -> ListReply:
        return self.replies.remember(reply.request_id, reply)
