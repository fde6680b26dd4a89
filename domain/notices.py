"""Who is told what (thông báo): the notices a case's events call for, as a pure function.

One place maps events to notices for both writers of a case's stream (the case and its
recognition chain), so the rule "a missed deadline goes to the late role and, escalated, to the
level above" is written once. A ``Notice`` names a template and the role to reach in the case's
jurisdiction; ``params`` hold codes, dates and counts only (templates render the words, and no
metric ever rides along: sensitive data stays in the event store).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pydantic import BaseModel, ConfigDict, Field

from domain.events import (
    CaseAmended,
    CaseClosed,
    CaseOpened,
    DeadlineMissed,
    DossierResubmitted,
    DossierSubmitted,
    Escalated,
    Event,
    LevelApproved,
    LevelRejected,
    RecognitionGranted,
    ReminderSent,
    ReportSubmitted,
    RoundApproved,
    RoundConsolidated,
    RoundOpened,
    SelectionApproved,
    UnitReportMissed,
    UnitReportReminded,
    UnitReportReturned,
    UnitReportSubmitted,
)
from domain.plan import Plan
from domain.roles import CaseScope

LEVEL_PREFIX = "level:"


class Notice(BaseModel):
    """A notification to the people holding ``to_role`` in the case's jurisdiction."""

    model_config = ConfigDict(extra="forbid")
    template: str
    to_role: str
    case_id: str
    params: dict[str, str | int | float | bool | None] = Field(default_factory=dict)


def level_deadline_id(level_id: str, round_: int) -> str:
    """The deadline id of an approval level in one round (``level:<level>:r<round>``)."""
    return f"{LEVEL_PREFIX}{level_id}:r{round_}"


def parse_level_deadline_id(deadline_id: str) -> tuple[str, int] | None:
    """Inverse of :func:`level_deadline_id`; None for a plan deadline id."""
    if not deadline_id.startswith(LEVEL_PREFIX):
        return None
    level_id, _, round_ = deadline_id[len(LEVEL_PREFIX):].rpartition(":r")
    if not level_id or not round_.isdigit():
        return None
    return level_id, int(round_)


def notices_for(
    plan: Plan, scope: CaseScope, case_id: str, events: Sequence[Event],
    awaiting: Sequence[str] = (),
) -> list[Notice]:
    """The notices ``events`` call for. ``awaiting``: who a level still waits for (overdue)."""
    base: dict[str, str | int | float | bool | None] = {
        "commune": scope.commune_code, "plan": plan.id}

    def notice(template: str, to_role: str, **params: str | int | None) -> Notice:
        return Notice(template=template, to_role=to_role, case_id=case_id,
                      params={**base, **params})

    out: list[Notice] = []
    for e in events:
        if isinstance(e, CaseOpened):
            out.append(notice("case_opened", "province_police"))
        elif isinstance(e, SelectionApproved):
            out += [notice("selected", "commune_ubnd"), notice("selected", "district_ubnd")]
        elif isinstance(e, ReportSubmitted):
            d = plan.deadline(e.deadline_id)
            out.append(notice("report_received", d.escalate_to, deadline=d.id, late=e.late))
        elif isinstance(e, ReminderSent):
            level = parse_level_deadline_id(e.deadline_id)
            if level is not None:
                out.append(notice("level_reminder", e.to_role, level=level[0],
                                  days_before=e.days_before))
            else:
                out.append(notice("reminder", e.to_role, deadline=e.deadline_id,
                                  due=e.due.isoformat(), days_before=e.days_before))
        elif isinstance(e, DeadlineMissed):
            if parse_level_deadline_id(e.deadline_id) is None:
                d = plan.deadline(e.deadline_id)
                out.append(notice("deadline_missed", d.role, deadline=d.id,
                                  due=e.due.isoformat()))
        elif isinstance(e, Escalated):
            level = parse_level_deadline_id(e.deadline_id)
            if level is not None:
                out.append(notice("level_overdue", e.to_role, level=level[0],
                                  unsigned=",".join(awaiting)))
            else:
                d = plan.deadline(e.deadline_id)
                out.append(notice("escalation", e.to_role, deadline=d.id,
                                  due=d.due.isoformat()))
        elif isinstance(e, DossierSubmitted | DossierResubmitted):
            first = plan.approval_chain[0]
            out += [notice("decision_needed", r, level=first.id) for r in first.roles]
        elif isinstance(e, LevelApproved) and e.next_level is not None:
            nxt = plan.level(e.next_level)
            out += [notice("decision_needed", r, level=nxt.id) for r in nxt.roles]
        elif isinstance(e, LevelRejected):
            out.append(notice("dossier_returned", "commune_ubnd", level=e.level))
        elif isinstance(e, RecognitionGranted):
            out.append(notice("recognised", "commune_ubnd"))
        elif isinstance(e, CaseAmended):
            # the commune learns its new rules; a transferred sign-off goes to its new signers
            out.append(notice("case_amended", "commune_ubnd", amendment=e.amendment,
                              effective_on=e.effective_on.isoformat()))
            pending = e.pending or {}
            if pending.get("transferred") and pending.get("level_after"):
                nxt = plan.level(str(pending["level_after"]))
                out += [notice("decision_needed", r, level=nxt.id) for r in nxt.roles]
        elif isinstance(e, CaseClosed):
            out += [notice(f"case_{e.outcome}", "district_ubnd"),
                    notice(f"case_{e.outcome}", "commune_ubnd")]
    return out


def round_notices(plan_id: str, stream: str, units: Mapping[str, str], consolidator: str,
                  approver: str, events: Sequence[Event]) -> list[Notice]:
    """The notices a reporting round's events call for (``units``: unit id -> its role)."""
    out: list[Notice] = []

    def notice(template: str, to_role: str, **params: str | int | None) -> Notice:
        return Notice(template=template, to_role=to_role, case_id=stream,
                      params={"plan": plan_id, **params})

    for e in events:
        if isinstance(e, RoundOpened):
            out += [notice("round_opened", role, unit=u, round=e.round, due=e.due.isoformat())
                    for u, role in units.items() if u in e.units]
        elif isinstance(e, UnitReportReminded):
            out.append(notice("unit_report_reminder", e.to_role, unit=e.unit,
                              due=e.due.isoformat(), days_before=e.days_before))
        elif isinstance(e, UnitReportMissed):
            out += [notice("unit_report_missed", units.get(e.unit, e.escalated_to), unit=e.unit,
                           due=e.due.isoformat()),
                    notice("unit_report_escalated", e.escalated_to, unit=e.unit,
                           due=e.due.isoformat())]
        elif isinstance(e, UnitReportSubmitted):
            out.append(notice("unit_report_received", consolidator, unit=e.unit, late=e.late))
        elif isinstance(e, UnitReportReturned):
            out.append(notice("unit_report_returned", units.get(e.unit, consolidator),
                              unit=e.unit))
        elif isinstance(e, RoundConsolidated):
            out.append(notice("round_consolidated", approver,
                              round=str(e.table.get("round", ""))))
        elif isinstance(e, RoundApproved):
            out.append(notice("round_approved", consolidator))
    return out
