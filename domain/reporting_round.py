"""A reporting round (kỳ báo cáo) as a pure decider: open, report, send back, consolidate,
approve.

``decide(plan, rnd, units, state, command, now, clock) -> (state, events)`` applies one
command or raises ``RoundError`` with a stable ``round.*`` code (or the form's
``report.*`` code) and changes nothing. The rules (000 §VI.2-3, 004 §IV, 002 §IV):
- the round opens (by the consolidating role: the provincial police) with every unit that
  owes a report;
- a unit reports once, through a person of its role and jurisdiction (a department's people
  carry its id: ``Actor.unit``); its values are checked against the round's form; a report
  after the due day is accepted, marked late;
- the consolidating role may send a report back with its reason; the unit reports again;
- points of the calendar: a reminder to each unit still owing, ``days_before`` the due day;
  at the due day each unit still owing is recorded as missed and escalated;
- the consolidating role consolidates once every unit has reported, or after the due day
  (the missing units listed); no report is taken or sent back after it;
- the approving role (provincial People's Committee) approves the consolidated report, and
  the round closes; at the plan's end a round not approved closes as expired.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.clock import PlanClock
from domain.errors import DomainError
from domain.events import (
    Attachment,
    Event,
    RoundApproved,
    RoundClosed,
    RoundConsolidated,
    RoundOpened,
    UnitReportMissed,
    UnitReportReminded,
    UnitReportReturned,
    UnitReportSubmitted,
)
from domain.reporting import (
    Consolidation,
    ReportingPlan,
    ReportingUnit,
    Round,
    Value,
    consolidate,
    validate_report,
)
from domain.roles import ROLE_NAMES_VI, Actor, Role

Status = Literal["draft", "open", "consolidated", "approved", "closed"]


class RoundError(DomainError):
    """A refused command. Codes are stable (``round.*``)."""


class RoundState(BaseModel):
    """Where a round stands. Frozen: ``decide`` returns a new state."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    status: Status = "draft"
    units: list[str] = []
    reports: dict[str, dict[str, Value]] = {}  # unit -> its typed values (current report)
    late: list[str] = []  # units whose (current) report came after the due day
    returned: dict[str, str] = {}  # unit -> why its report was sent back (owed again)
    missed: list[str] = []  # units recorded as missed at the due day
    reminded: list[str] = []  # "<unit>:<days before>" reminders given
    consolidation: Consolidation | None = None

    def owing(self) -> list[str]:
        """Units whose report is still owed, in the round's order."""
        return [u for u in self.units if u not in self.reports]


class _Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Open(_Command):
    kind: Literal["open"] = "open"
    actor: Actor


class Submit(_Command):
    kind: Literal["submit"] = "submit"
    actor: Actor
    unit: str
    values: dict[str, Any]
    sections: dict[str, str] = {}
    attachments: list[Attachment] = []


class SendBack(_Command):
    kind: Literal["send_back"] = "send_back"
    actor: Actor
    unit: str
    reason: str = Field(max_length=2000)


class Consolidate(_Command):
    kind: Literal["consolidate"] = "consolidate"
    actor: Actor


class Approve(_Command):
    kind: Literal["approve"] = "approve"
    actor: Actor
    reason: str = Field(default="", max_length=2000)


class Remind(_Command):
    """``days_before`` the due day: remind every unit still owing."""

    kind: Literal["remind"] = "remind"
    days_before: int


class Due(_Command):
    """The due day passed: every unit still owing is missed and escalated."""

    kind: Literal["due"] = "due"


class Expire(_Command):
    """The plan ended with the round not approved."""

    kind: Literal["expire"] = "expire"


Command = Open | Submit | SendBack | Consolidate | Approve | Remind | Due | Expire


def _unit(units: Sequence[ReportingUnit], unit_id: str) -> ReportingUnit:
    for u in units:
        if u.id == unit_id:
            return u
    raise RoundError("round.unknown_unit", f"{unit_id!r} is not a reporting unit of this round",
                     f"{unit_id!r} không phải đơn vị báo cáo của kỳ này")


def _require_role(actor: Actor, plan: ReportingPlan, role: Role) -> None:
    if actor.role != role:
        raise RoundError("round.wrong_role",
                         f"role {actor.role} may not do this (only {role})",
                         f"{ROLE_NAMES_VI[actor.role]} không được thực hiện thao tác này "
                         f"(chỉ {ROLE_NAMES_VI[role]})")
    _require_province(actor, plan)


def _require_province(actor: Actor, plan: ReportingPlan) -> None:
    if actor.province_code != plan.province_code:
        raise RoundError("round.wrong_jurisdiction",
                         f"actor's province {actor.province_code} is not the plan's "
                         f"{plan.province_code}",
                         f"kỳ báo cáo không thuộc địa bàn của bạn: bạn thuộc tỉnh "
                         f"{actor.province_code}, kế hoạch thuộc tỉnh {plan.province_code}")


def speaks_for(actor: Actor, plan: ReportingPlan, unit: ReportingUnit) -> None:
    """Refuse unless ``actor`` is one of ``unit``'s people: its role, its province, and its
    district / commune / department."""
    if actor.role != unit.role:
        raise RoundError("round.wrong_role",
                         f"{unit.id} reports through {unit.role}, not {actor.role}",
                         f"{unit.name_vi} báo cáo qua {ROLE_NAMES_VI[unit.role]}, không phải "
                         f"{ROLE_NAMES_VI[actor.role]}")
    _require_province(actor, plan)
    mine = ((unit.kind == "district" and actor.district_code == unit.district_code)
            or (unit.kind == "commune" and actor.commune_code == unit.commune_code)
            or (unit.kind in ("department", "province")
                and (actor.unit == unit.id or (actor.unit is None
                                               and actor.role != "province_department"))))
    if not mine:
        raise RoundError("round.wrong_unit", f"you do not report for {unit.id}",
                         f"bạn không báo cáo thay cho {unit.name_vi}")


def decide(plan: ReportingPlan, rnd: Round, units: Sequence[ReportingUnit], state: RoundState,
           command: Command, now: datetime, clock: PlanClock | None = None,
           previous: Consolidation | None = None) -> tuple[RoundState, list[Event]]:
    """Apply one command. Raises ``RoundError`` (or the form's ``InputError``) when refused.
    ``previous``: the compared round's consolidation (for year-on-year changes)."""
    clock = clock or PlanClock()
    if isinstance(command, Open):
        if state.status != "draft":
            raise RoundError("round.already_open", f"round {rnd.id} is already open",
                             f"kỳ báo cáo {rnd.id} đã được mở")
        _require_role(command.actor, plan, plan.consolidator)
        ids = [u.id for u in units]
        return state.model_copy(update={"status": "open", "units": ids}), [RoundOpened(
            plan_id=plan.id, round=rnd.id, kind=rnd.kind, year=rnd.year, due=rnd.due,
            form=rnd.form, province_code=plan.province_code,
            opened_by=command.actor.person_id, role=command.actor.role, units=ids,
            title_vi=rnd.title_vi)]
    if state.status == "draft":
        raise RoundError("round.not_open", f"round {rnd.id} is not open",
                         f"kỳ báo cáo {rnd.id} chưa mở")
    if state.status in ("approved", "closed"):
        raise RoundError("round.closed", f"round {rnd.id} is closed; nothing is accepted",
                         f"kỳ báo cáo {rnd.id} đã kết thúc; không tiếp nhận thêm")
    if isinstance(command, Submit):
        return _submit(plan, rnd, units, state, command, now, clock)
    if isinstance(command, SendBack):
        return _send_back(plan, units, state, command)
    if isinstance(command, Consolidate):
        return _consolidate(plan, rnd, units, state, command, now, clock, previous)
    if isinstance(command, Approve):
        _require_role(command.actor, plan, plan.approver)
        if state.status != "consolidated":
            raise RoundError("round.not_consolidated",
                             "the round's reports are not consolidated yet",
                             "báo cáo của kỳ chưa được tổng hợp")
        new = state.model_copy(update={"status": "closed"})
        return new, [RoundApproved(approved_by=command.actor.person_id,
                                   role=command.actor.role, reason=command.reason.strip()),
                     RoundClosed(outcome="approved")]
    if isinstance(command, Remind):
        if state.status != "open":
            return state, []
        owing = [u for u in state.owing() if f"{u}:{command.days_before}" not in state.reminded]
        by_id = {u.id: u for u in units}
        return state.model_copy(update={"reminded": [
            *state.reminded, *(f"{u}:{command.days_before}" for u in owing)]}), [
            UnitReportReminded(unit=u, due=rnd.due, days_before=command.days_before,
                               to_role=by_id[u].role) for u in owing if u in by_id]
    if isinstance(command, Due):
        if state.status != "open":
            return state, []
        owing = [u for u in state.owing() if u not in state.missed]
        return state.model_copy(update={"missed": [*state.missed, *owing]}), [
            UnitReportMissed(unit=u, due=rnd.due, escalated_to=plan.escalate_to)
            for u in owing]
    return state.model_copy(update={"status": "closed"}), [RoundClosed(outcome="expired")]


def _submit(plan: ReportingPlan, rnd: Round, units: Sequence[ReportingUnit], state: RoundState,
            c: Submit, now: datetime, clock: PlanClock) -> tuple[RoundState, list[Event]]:
    unit = _unit(units, c.unit)
    speaks_for(c.actor, plan, unit)
    if state.status != "open":
        raise RoundError("round.consolidated",
                         "the round's reports are consolidated; no report is taken now",
                         "báo cáo của kỳ đã được tổng hợp; không nhận thêm báo cáo")
    if unit.id in state.reports:
        raise RoundError("round.already_reported", f"{unit.id} has already reported",
                         f"{unit.name_vi} đã gửi báo cáo")
    values = validate_report(plan.form(rnd.form), unit, c.values, c.sections)
    late = now >= clock.deadline(plan, rnd.due)
    again = unit.id in state.returned
    returned = {u: r for u, r in state.returned.items() if u != unit.id}
    new = state.model_copy(update={
        "reports": {**state.reports, unit.id: values}, "returned": returned,
        "late": [u for u in state.late if u != unit.id] + ([unit.id] if late else [])})
    return new, [UnitReportSubmitted(
        unit=unit.id, submitted_by=c.actor.person_id, role=c.actor.role, late=late,
        values=dict(values), sections=dict(c.sections), attachments=c.attachments,
        resubmission=again)]


def _send_back(plan: ReportingPlan, units: Sequence[ReportingUnit], state: RoundState,
               c: SendBack) -> tuple[RoundState, list[Event]]:
    _require_role(c.actor, plan, plan.consolidator)
    unit = _unit(units, c.unit)
    if state.status != "open":
        raise RoundError("round.consolidated",
                         "the round's reports are consolidated; none is sent back now",
                         "báo cáo của kỳ đã được tổng hợp; không trả lại báo cáo nữa")
    if unit.id not in state.reports:
        raise RoundError("round.not_reported", f"{unit.id} has no report to send back",
                         f"{unit.name_vi} chưa có báo cáo để trả lại")
    reason = c.reason.strip()
    if not reason:
        raise RoundError("round.reason_required", "sending a report back needs its reason",
                         "trả lại báo cáo phải nêu rõ lý do")
    reports = {u: v for u, v in state.reports.items() if u != unit.id}
    new = state.model_copy(update={"reports": reports,
                                   "returned": {**state.returned, unit.id: reason},
                                   "late": [u for u in state.late if u != unit.id]})
    return new, [UnitReportReturned(unit=unit.id, reviewer=c.actor.person_id,
                                    role=c.actor.role, reason=reason)]


def _consolidate(plan: ReportingPlan, rnd: Round, units: Sequence[ReportingUnit],
                 state: RoundState, c: Consolidate, now: datetime, clock: PlanClock,
                 previous: Consolidation | None) -> tuple[RoundState, list[Event]]:
    _require_role(c.actor, plan, plan.consolidator)
    if state.status != "open":
        raise RoundError("round.already_consolidated", "the round is already consolidated",
                         "kỳ báo cáo đã được tổng hợp")
    owing = state.owing()
    if owing and now < clock.deadline(plan, rnd.due):
        raise RoundError("round.reports_owed",
                         f"{len(owing)} units have not reported and the due day "
                         f"{rnd.due} has not passed: {', '.join(owing[:5])}",
                         f"còn {len(owing)} đơn vị chưa báo cáo và chưa hết hạn "
                         f"{rnd.due:%d/%m/%Y}: {', '.join(owing[:5])}")
    table = consolidate(plan, rnd, units, state.reports, state.late, previous)
    new = state.model_copy(update={"status": "consolidated", "consolidation": table})
    return new, [RoundConsolidated(consolidated_by=c.actor.person_id, role=c.actor.role,
                                   table=table.model_dump(mode="json"))]


def reminder_points(plan: ReportingPlan, rnd: Round, clock: PlanClock) -> list[
        tuple[datetime, Command]]:
    """The round's calendar: reminders before the due day, then the due day, in order."""
    due = clock.deadline(plan, rnd.due)
    points: list[tuple[datetime, Command]] = [
        (due - clock.days(n), Remind(days_before=n))
        for n in sorted(plan.reminder_days_before, reverse=True)]
    points.append((due, Due()))
    return points
