"""A commune's conversion case (hồ sơ chuyển hóa địa bàn) as a pure decider.

The twin of ``domain.approval``: ``decide(plan, scope, state, command, now) -> (state, events)``
applies one command to a frozen ``CaseState`` or raises ``CaseError`` with a stable ``case.*``
code (or the domain code of bad metrics / an unknown deadline) and changes nothing. The
workflow only orchestrates: it waits for the agenda's instants and for people, runs the decider
(as a dry run in its update validators, for real in its handlers) and appends what it returns.

The rules (001 §III.2, §III.4, §V.1; 003 §IV):
- the case opens with the commune's baseline metrics and their classification;
- the provincial police (the plan's selection role) selects the commune or not, once; a "not
  selected" needs a reason and closes the case;
- once selected, the commune submits the plan's reports; a report after its deadline is still
  accepted, marked late; a phase report or forum record is submitted once;
- the recognition dossier carries metrics; the preliminary review (sơ kết) evaluates the plan's
  criteria on them; when they are met the dossier enters the approval chain (the workflow starts
  it), otherwise the commune may fix and submit again;
- timeline points: phases start and end, reminders before deadlines, and a deadline passing
  while its submission is outstanding is recorded as missed and escalated;
- the district (the province after the 2025 reform) may withdraw the case with a reason;
- at the plan's end, or when the chain ends, the case closes with its outcome and reasons.
Reasons are bilingual ("vi / en") and produced here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.agenda import CASE_DEADLINE_KINDS, AgendaItem
from domain.classification import RuleSet, classify
from domain.clock import PlanClock
from domain.criteria import CriteriaSet, evaluate
from domain.errors import DomainError
from domain.events import (
    Attachment,
    CaseClosed,
    CaseHalted,
    CaseOpened,
    CaseWithdrawn,
    CriteriaEvaluated,
    DeadlineMissed,
    Escalated,
    Event,
    MetricsRecorded,
    Outcome,
    PhaseEnded,
    PhaseStarted,
    RecognitionDenied,
    RecognitionInterrupted,
    ReminderSent,
    ReportSubmitted,
    SelectionApproved,
    SelectionRejected,
)
from domain.metrics import parse_metrics
from domain.plan import Plan
from domain.roles import ROLE_NAMES_VI, Actor, CaseScope, Role, jurisdiction_problem

Status = Literal["opened", "selected", "in_phase", "in_recognition", "closed"]

NO_SELECTION = "không có quyết định lựa chọn / no selection"
NO_DOSSIER = "chưa nộp hồ sơ đề nghị công nhận / no recognition dossier submitted"
CRITERIA_NOT_MET = "chưa đạt tiêu chí / criteria not met"


class CaseError(DomainError):
    """A refused command. Codes are stable (``case.*``): clients and tests match on them."""


class CaseState(BaseModel):
    """Where a case stands. Frozen: ``decide`` returns a new state."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    opened: bool = False
    status: Status = "opened"
    phase: int | None = None
    selected: bool | None = None
    submitted: dict[str, bool] = {}  # deadline id -> submitted late
    missed: list[str] = []
    last_metrics: dict[str, Any] | None = None
    classification: str | None = None
    criteria_met: bool | None = None
    criteria_reasons: list[str] = []
    recognition_running: bool = False
    outcome: Outcome | None = None
    reasons: list[str] = []
    amendments: list[str] = []  # amendments (văn bản sửa đổi) applied, in order

    @property
    def closed(self) -> bool:
        return self.outcome is not None


class _Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Open(_Command):
    """Mở hồ sơ: the case opens with the commune's baseline metrics."""

    kind: Literal["open"] = "open"
    opened_by: Actor
    baseline: dict[str, Any]
    # the plan version's content hash, recorded in ``case.opened``; the caller computes it once
    # (a campaign dry-runs the opening of a thousand communes against one plan)
    plan_hash: str | None = None


class Select(_Command):
    """Lựa chọn địa bàn: the selection role selects the commune (or not, with a reason)."""

    kind: Literal["select"] = "select"
    actor: Actor
    selected: bool
    reason: str = Field(default="", max_length=2000)


class Submit(_Command):
    """Nộp báo cáo / hồ sơ: the commune submits a report or its recognition dossier."""

    kind: Literal["submit"] = "submit"
    actor: Actor
    deadline_id: str
    metrics: dict[str, Any] | None = None
    summary: str = Field(default="", max_length=2000)
    attachments: list[Attachment] = []


class Withdraw(_Command):
    """Rút hồ sơ: the opener's level withdraws the case, with a reason."""

    kind: Literal["withdraw"] = "withdraw"
    actor: Actor
    reason: str = Field(min_length=1, max_length=2000)


class Pass(_Command):
    """A point of the agenda is reached (phase start or end, a reminder, a deadline)."""

    kind: Literal["pass"] = "pass"
    item: AgendaItem


class ChainEnded(_Command):
    """The approval chain ended: recognised, not recognised (with reasons), or interrupted
    (terminated, timed out or failed: nobody decided, so nothing is recorded as a denial)."""

    kind: Literal["chain_ended"] = "chain_ended"
    outcome: Literal["recognised", "not_recognised", "interrupted"]
    reasons: list[str] = []
    cause: str = ""


class Halt(_Command):
    """A rule of the plan could not be applied inside the run (``code``): close, interrupted."""

    kind: Literal["halt"] = "halt"
    code: str = Field(min_length=1, max_length=128)


class PlanEnded(_Command):
    """The plan's last day passed with no chain outcome: the case closes."""

    kind: Literal["plan_ended"] = "plan_ended"


Command = Open | Select | Submit | Withdraw | Pass | ChainEnded | Halt | PlanEnded


def _rules(plan: Plan) -> RuleSet:
    if plan.rules is None:
        raise CaseError("case.plan_unresolved",
                        f"plan {plan.id} does not carry its rule set {plan.classification_rules}",
                        f"kế hoạch {plan.id} thiếu bộ quy tắc phân loại "
                        f"{plan.classification_rules}")
    return plan.rules


def _criteria(plan: Plan) -> CriteriaSet:
    if plan.criteria is None:
        raise CaseError("case.plan_unresolved",
                        f"plan {plan.id} does not carry its criteria set {plan.criteria_set}",
                        f"kế hoạch {plan.id} thiếu bộ tiêu chí {plan.criteria_set}")
    return plan.criteria


def selection_role(plan: Plan) -> Role:
    return plan.deadlines_of("selection")[0].role


def opener_role(plan: Plan) -> Role:
    """Who opens (and proposes) a commune's case: the district UBND, or after the 2025 reform
    the provincial police, which took the district's powers."""
    return "district_ubnd" if plan.has_districts else "province_police"


def campaign_opener_roles(plan: Plan) -> tuple[Role, ...]:
    """Who opens a plan's campaign: the province's People's Committee or police (and the
    district's People's Committee, for a district's own plan)."""
    return ("province_ubnd", "province_police") + (
        ("district_ubnd",) if plan.district_code else ())


def plan_issuer_roles(plan: Plan) -> tuple[Role, ...]:
    """Who issues (publishes) a plan: the province's People's Committee (and the district's,
    for a district's own plan)."""
    district: tuple[Role, ...] = ("district_ubnd",) if plan.district_code else ()
    return ("province_ubnd", *district)


def territory_scope(plan: Plan) -> CaseScope:
    """A campaign's scope: the plan's province (and district, for a district's plan)."""
    return CaseScope(province_code=plan.province_code, district_code=plan.district_code,
                     commune_code="")


def withdrawal_roles(plan: Plan) -> tuple[Role, ...]:
    """Who may withdraw: the district UBND, or after the 2025 reform the province."""
    return ("district_ubnd",) if plan.has_districts else ("province_ubnd", "province_police")


def require_actor(actor: Actor, scope: CaseScope, roles: tuple[Role, ...],
                  prefix: str = "case") -> None:
    """Refuse an actor outside ``roles`` or outside the case's jurisdiction."""
    if actor.role not in roles:
        raise CaseError(f"{prefix}.wrong_role",
                        f"role {actor.role} may not do this (allowed: {', '.join(roles)})",
                        f"vai trò {ROLE_NAMES_VI[actor.role]} không được thực hiện thao tác "
                        f"này (chỉ {', '.join(ROLE_NAMES_VI[r] for r in roles)})")
    where = jurisdiction_problem(actor, scope)
    if where is not None:
        raise CaseError(f"{prefix}.wrong_jurisdiction", *where)


def decide(
    plan: Plan, scope: CaseScope, state: CaseState, command: Command, now: datetime,
    clock: PlanClock | None = None,
) -> tuple[CaseState, list[Event]]:
    """Apply one command. Raises ``CaseError`` (or the metrics' ``InputError``) when refused."""
    clock = clock or PlanClock()
    if isinstance(command, Open):
        if state.opened:
            raise CaseError("case.already_open", "the case is already open",
                            "hồ sơ đã được mở")
        return _open(plan, scope, state, command)
    if not state.opened:
        raise CaseError("case.not_open", "the case has not been opened yet",
                        "hồ sơ chưa được mở")
    if state.closed:
        raise CaseError("case.closed",
                        f"the case is closed ({state.outcome}); nothing is accepted",
                        f"hồ sơ đã kết thúc ({state.outcome}); không tiếp nhận thêm")
    if isinstance(command, Select):
        return _select(plan, scope, state, command)
    if isinstance(command, Submit):
        return _submit(plan, scope, state, command, now, clock)
    if isinstance(command, Withdraw):
        require_actor(command.actor, scope, withdrawal_roles(plan))
        withdrawn = CaseWithdrawn(withdrawn_by=command.actor.person_id, role=command.actor.role,
                                  reason=command.reason)
        return _close(state, "withdrawn", [command.reason], [withdrawn])
    if isinstance(command, Pass):
        return _pass(plan, state, command.item)
    if isinstance(command, ChainEnded):
        return _chain_ended(state, command)
    if isinstance(command, Halt):
        reason = (f"quy tắc của kế hoạch không áp dụng được ({command.code}), hồ sơ dừng / "
                  f"a rule of the plan could not be applied ({command.code}); the case stops")
        return _close(state.model_copy(update={"recognition_running": False}), "interrupted",
                      [reason], [CaseHalted(code=command.code)])
    return _plan_ended(state)


def _open(plan: Plan, scope: CaseScope, state: CaseState,
          c: Open) -> tuple[CaseState, list[Event]]:
    metrics = parse_metrics(c.baseline)
    result = classify(metrics, _rules(plan))
    new = state.model_copy(update={"opened": True, "classification": result.classification,
                                   "last_metrics": metrics.summary()})
    return new, [
        CaseOpened(plan_id=plan.id, commune_code=scope.commune_code,
                   district_code=scope.district_code, province_code=scope.province_code,
                   opened_by=c.opened_by.person_id, opened_by_role=c.opened_by.role,
                   plan_hash=c.plan_hash),
        MetricsRecorded(purpose="baseline", metrics=metrics.model_dump(exclude_none=True),
                        classification=result.classification,
                        classification_reasons=result.reasons),
    ]


def _select(plan: Plan, scope: CaseScope, state: CaseState,
            c: Select) -> tuple[CaseState, list[Event]]:
    require_actor(c.actor, scope, (selection_role(plan),))
    if state.selected is not None:
        raise CaseError("case.already_decided", "the selection of this commune is already decided",
                        "việc lựa chọn xã này đã được quyết định")
    if not c.selected and not c.reason.strip():
        raise CaseError("case.reason_required", "a decision not to select must give its reason",
                        "quyết định không lựa chọn phải nêu rõ lý do")
    who = {"decided_by": c.actor.person_id, "role": c.actor.role}
    if c.selected:
        new = state.model_copy(update={"selected": True, "status": "selected"})
        return new, [SelectionApproved(**who, reason=c.reason)]
    rejected = SelectionRejected(**who, reason=c.reason)
    return _close(state.model_copy(update={"selected": False}), "not_selected",
                  [rejected.reason], [rejected])


def _submit(plan: Plan, scope: CaseScope, state: CaseState, c: Submit, now: datetime,
            clock: PlanClock) -> tuple[CaseState, list[Event]]:
    require_actor(c.actor, scope, ("commune_ubnd",))
    if not state.selected:
        raise CaseError("case.not_selected", "the commune has not been selected for conversion",
                        "xã chưa được chọn để chuyển hóa")
    d = plan.deadline(c.deadline_id)
    if d.kind not in CASE_DEADLINE_KINDS:
        raise CaseError("case.unknown_deadline", f"{d.id} is not a commune's submission",
                        f"{d.id} không phải là báo cáo do xã nộp")
    if d.kind == "dossier":
        if state.recognition_running:
            raise CaseError("case.recognition_running", "the dossier is in the approval chain; "
                            "resubmit it there after a rejection",
                            "hồ sơ đề nghị công nhận đang được xét duyệt; nếu bị trả lại, "
                            "hãy nộp lại trong quy trình xét duyệt")
        if c.metrics is None:
            raise CaseError("case.metrics_required", "a recognition dossier must carry its metrics",
                            "hồ sơ đề nghị công nhận phải kèm số liệu")
    elif d.id in state.submitted:
        raise CaseError("case.already_submitted", f"{d.id} was already submitted",
                        f"{d.id} đã được nộp")
    metrics = parse_metrics(c.metrics) if c.metrics is not None else None
    late = now >= clock.deadline(plan, d.due)
    update: dict[str, Any] = {"submitted": {**state.submitted, d.id: late}}
    events: list[Event] = [ReportSubmitted(deadline_id=d.id, submitted_by=c.actor.person_id,
                                           role=c.actor.role, late=late, summary=c.summary,
                                           attachments=c.attachments)]
    if metrics is not None:
        cls = classify(metrics, _rules(plan))
        update |= {"last_metrics": metrics.summary(), "classification": cls.classification}
        events.append(MetricsRecorded(
            purpose="self_assessment" if d.kind == "dossier" else "report",
            metrics=metrics.model_dump(exclude_none=True), classification=cls.classification,
            classification_reasons=cls.reasons))
        if d.kind == "dossier":
            report = evaluate(metrics, _criteria(plan))
            update |= {"criteria_met": report.met,
                       "criteria_reasons": [f"{x.id}. {x.reason_vi} / {x.reason_en}"
                                            for x in report.results if not x.met]}
            if report.met:  # the dossier enters the approval chain (the workflow starts it)
                update |= {"recognition_running": True, "status": "in_recognition"}
            events.append(CriteriaEvaluated(
                criteria_set=report.criteria_set, met=report.met,
                results=[x.model_dump(mode="json") for x in report.results]))
    return state.model_copy(update=update), events


def submission_deadline(plan: Plan, state: CaseState, deadline_id: str | None,
                        kind: str | None) -> str:
    """The deadline a submission answers: ``deadline_id`` as given (it must be of ``kind``
    when both are given), or the earliest-due deadline of ``kind`` not yet submitted (a
    dossier that did not meet the criteria may come again: its last deadline then)."""
    if kind is not None and kind not in CASE_DEADLINE_KINDS:
        raise CaseError("submission.unknown_kind",
                        f"{kind!r} is not a commune's submission (one of "
                        f"{', '.join(CASE_DEADLINE_KINDS)})",
                        f"{kind!r} không phải loại báo cáo của xã (một trong "
                        f"{', '.join(CASE_DEADLINE_KINDS)})")
    if deadline_id is not None:
        if kind is not None and plan.deadline(deadline_id).kind != kind:
            raise CaseError("submission.kind_mismatch",
                            f"deadline {deadline_id} is not of kind {kind}",
                            f"hạn {deadline_id} không thuộc loại {kind}")
        return deadline_id
    if kind is None:
        raise CaseError("submission.deadline_required", "name the deadline or the kind",
                        "cần nêu mã hạn nộp hoặc loại báo cáo")
    of_kind = sorted((d for d in plan.deadlines if d.kind == kind), key=lambda d: (d.due, d.id))
    for d in of_kind:
        if d.id not in state.submitted:
            return d.id
    if kind == "dossier" and of_kind:
        return of_kind[-1].id
    raise CaseError("submission.none_outstanding",
                    f"no {kind} is outstanding in plan {plan.id}",
                    f"không còn hạn nộp loại {kind} nào chưa nộp trong kế hoạch {plan.id}")


def outstanding(plan: Plan, state: CaseState, deadline_id: str) -> bool:
    """Is the submission due at ``deadline_id`` still awaited?"""
    if plan.deadline(deadline_id).kind == "selection":
        return state.selected is None
    return deadline_id not in state.submitted


def _pass(plan: Plan, state: CaseState, item: AgendaItem) -> tuple[CaseState, list[Event]]:
    d = item.deadline
    if item.kind == "phase_start" and item.phase is not None:
        ph = plan.phases[item.phase - 1]
        new = state.model_copy(update={"phase": ph.number, "status": "in_phase"})
        return new, [PhaseStarted(phase=ph.number, starts_on=ph.starts_on, ends_on=ph.ends_on)]
    if item.kind == "phase_end" and item.phase is not None:
        return state, [PhaseEnded(phase=item.phase)]
    if d is None or not outstanding(plan, state, d.id):
        return state, []
    if item.kind == "reminder":
        return state, [ReminderSent(deadline_id=d.id, due=d.due, days_before=item.days_before,
                                    to_role=d.role)]
    new = state.model_copy(update={"missed": [*state.missed, d.id]})
    return new, [DeadlineMissed(deadline_id=d.id, due=d.due),
                 Escalated(deadline_id=d.id, to_role=d.escalate_to)]


def first_effective(plan: Plan, state: CaseState, items: Sequence[AgendaItem]) -> int | None:
    """The index of the first of ``items`` whose passing, after those before it in order,
    records an event or changes the state (or is refused: that must happen at its instant
    too); None when passing them all changes nothing. Pure: the workflow waits for that
    point's instant only, and passes the points before it, which record nothing, with it.

    A point that records nothing now records nothing later either, as long as the plan is
    the same: a submission or a selection only ever takes points off (an outstanding
    deadline stops being outstanding), never adds one."""
    if state.closed:
        return 0 if items else None
    for i, item in enumerate(items):
        try:
            new, events = _pass(plan, state, item)
        except DomainError:
            return i
        if events or new != state:
            return i
    return None


def _chain_ended(state: CaseState, c: ChainEnded) -> tuple[CaseState, list[Event]]:
    state = state.model_copy(update={"recognition_running": False})
    if c.outcome == "recognised":
        return _close(state, "recognised", [])
    if c.outcome == "interrupted":
        cause = c.cause or "unknown"
        reason = (f"quy trình xét duyệt bị dừng ngoài ý muốn ({cause}), không ai ra quyết định / "
                  f"the approval chain stopped abnormally ({cause}); nobody decided")
        return _close(state, "interrupted", [reason], [RecognitionInterrupted(cause=cause)])
    return _deny(state, c.reasons)


def _plan_ended(state: CaseState) -> tuple[CaseState, list[Event]]:
    if state.recognition_running:  # the chain expires at the same instant and reports
        raise CaseError("case.recognition_running", "the approval chain has not ended yet",
                        "quy trình xét duyệt chưa kết thúc")
    if state.selected is None:
        return _close(state, "not_selected", [NO_SELECTION])
    if "dossier" not in state.submitted:
        return _deny(state, [NO_DOSSIER])
    return _deny(state, state.criteria_reasons or [CRITERIA_NOT_MET])


def _deny(state: CaseState, reasons: list[str]) -> tuple[CaseState, list[Event]]:
    return _close(state, "not_recognised", reasons, [RecognitionDenied(reasons=reasons)])


def _close(state: CaseState, outcome: Outcome, reasons: list[str],
           before: list[Event] | None = None) -> tuple[CaseState, list[Event]]:
    new = state.model_copy(update={"outcome": outcome, "status": "closed",
                                   "reasons": reasons or state.reasons})
    return new, [*(before or []), CaseClosed(outcome=outcome)]
