"""A case's agenda: the dated points of its timeline, computed from the plan (pure).

Each item has a stable key (kept in workflow state so a continued case skips what it did):
phase starts and ends, reminders before each deadline (offsets from the plan), and the
instants deadlines pass. Deadlines of the whole district list are the campaign's, not a case's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from domain.clock import PlanClock
from domain.plan import Deadline, Plan

ItemKind = Literal["phase_start", "phase_end", "reminder", "due"]

# A case's own deadlines: the commune's submissions after selection.
CASE_DEADLINE_KINDS = ("implementation_plan", "phase_report", "forum", "dossier")
_ORDER = {"phase_start": 0, "reminder": 1, "due": 2, "phase_end": 3}


@dataclass(frozen=True)
class AgendaItem:
    key: str
    at: datetime
    kind: ItemKind
    phase: int | None = None
    deadline: Deadline | None = None
    days_before: int = 0


def deadline_items(plan: Plan, clock: PlanClock, d: Deadline) -> list[AgendaItem]:
    due_at = clock.deadline(plan, d.due)
    items = [
        AgendaItem(f"remind:{d.id}:{n}", due_at - clock.days(n), "reminder", d.phase, d, n)
        for n in plan.reminder_days_before
    ]
    items.append(AgendaItem(f"due:{d.id}", due_at, "due", d.phase, d))
    return items


def case_agenda(plan: Plan, clock: PlanClock) -> list[AgendaItem]:
    """The timeline after selection, in order of time."""
    items: list[AgendaItem] = []
    for ph in plan.phases:
        items.append(AgendaItem(f"phase_start:{ph.number}", clock.day_start(plan, ph.starts_on),
                                "phase_start", ph.number))
        items.append(AgendaItem(f"phase_end:{ph.number}", clock.deadline(plan, ph.ends_on),
                                "phase_end", ph.number))
    for d in plan.deadlines:
        if d.kind in CASE_DEADLINE_KINDS:
            items.extend(deadline_items(plan, clock, d))
    return sorted(items, key=lambda i: (i.at, _ORDER[i.kind], i.key))


def selection_agenda(plan: Plan, clock: PlanClock) -> list[AgendaItem]:
    return deadline_items(plan, clock, plan.deadlines_of("selection")[0])


def cutoff(plan: Plan, clock: PlanClock) -> datetime:
    """After the plan's last day nothing more is accepted: the case closes."""
    return clock.deadline(plan, plan.ends_on)
