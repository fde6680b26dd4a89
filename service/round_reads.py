"""Reading reporting rounds for a person (the web pages): which plans they may read, where
each scheduled round stands, each unit's standing in a round, and what awaits them (a report
their unit owes, a round to consolidate, a round to approve).

Read only, over ``RoundService``: a round's state is its workflow's status query (a round not
started answers not found, read here as "not opened"); nothing here decides anything, the
workflow checks every command again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

import catalog
from domain.clock import PlanClock
from domain.errors import DomainError
from domain.reporting import ReportingPlan, ReportingUnit, Round, reporting_units
from domain.reporting_round import speaks_for
from domain.roles import NO_CASE_ACCESS, Actor
from service.rounds import RoundService
from workflows.messages import RoundStatus

UnitState = Literal["not_open", "on_time", "late", "returned", "owing", "missed"]
ItemKind = Literal["report", "consolidate", "approve"]


def readable_plans(actor: Actor) -> list[ReportingPlan]:
    """The shipped reporting plans ``actor`` may read: their province's (auditors: all)."""
    plans = [catalog.reporting_plan(p) for p in catalog.reporting_plan_ids()]
    if actor.role in NO_CASE_ACCESS:  # the system operator: the codec server only
        return []
    return [p for p in plans if actor.role == "auditor" or p.province_code == actor.province_code]


def own_units(actor: Actor, plan: ReportingPlan) -> list[ReportingUnit]:
    """The units of ``plan`` that ``actor`` reports for (``speaks_for``; usually one)."""
    out = []
    for unit in reporting_units(plan):
        try:
            speaks_for(actor, plan, unit)
        except DomainError:
            continue
        out.append(unit)
    return out


async def plan_rounds(rounds: RoundService, plan: ReportingPlan) -> list[Round]:
    """The plan's rounds: those it schedules, then the ad hoc ones opened so far (from the
    log: a round's stream is ``round:<plan>:<round>``), in the order they were opened."""
    out = list(plan.rounds)
    store = rounds.cases.store
    if store is None:
        return out
    known = {r.id for r in plan.rounds}
    for info in await store.streams(f"round:{plan.id}:"):
        round_id = info.stream.rsplit(":", 1)[-1]
        if round_id not in known:
            out.append(await rounds.definition(plan, round_id))
    return out


def next_adhoc_id(rounds: Sequence[Round]) -> str:
    """The id of the next ad hoc round: ``dot-xuat-<n>`` (báo cáo đột xuất)."""
    taken = {r.id for r in rounds}
    n = 1
    while f"dot-xuat-{n}" in taken:
        n += 1
    return f"dot-xuat-{n}"


async def standing(rounds: RoundService, plan_id: str, round_id: str) -> RoundStatus | None:
    """The round's status; None when it was never opened here (``RoundService.current``)."""
    return await rounds.current(plan_id, round_id)


@dataclass(frozen=True)
class UnitRow:
    unit: ReportingUnit
    state: UnitState
    reason: str = ""  # why its report was sent back (owed again)
    was_missed: bool = False  # recorded missed at the due day (it may have reported since)


def unit_rows(plan: ReportingPlan, status: RoundStatus | None) -> list[UnitRow]:
    """Every unit of the round with where its report stands."""
    rows = []
    for u in reporting_units(plan):
        missed = status is not None and u.id in status.missed
        if status is None:
            state: UnitState = "not_open"
        elif u.id in status.reported:
            state = "late" if u.id in status.late else "on_time"
        elif u.id in status.returned:
            state = "returned"
        elif missed:
            state = "missed"
        else:
            state = "owing"
        rows.append(UnitRow(u, state, status.returned.get(u.id, "") if status else "", missed))
    return rows


def due_instant(plan: ReportingPlan, rnd: Round, clock: PlanClock) -> datetime:
    """When the round's due day passes on ``clock`` (a rehearsal moves it)."""
    return clock.deadline(plan, rnd.due)


def calendar_due(plan: ReportingPlan, rnd: Round, clock: PlanClock) -> date:
    """The due day as ``clock`` runs it (the plan's own day unless rehearsed)."""
    return plan.local_date(due_instant(plan, rnd, clock) - timedelta(seconds=1))


@dataclass(frozen=True)
class RoundItem:
    """An inbox entry of a reporting round."""

    kind: ItemKind
    plan: ReportingPlan
    round: Round
    due: date  # on the round's calendar
    overdue: bool
    unit: ReportingUnit | None = None  # a report owed: by which unit
    reason: str = ""  # a report sent back: why


async def round_items(rounds: RoundService, actor: Actor,
                      clock_for: Callable[[ReportingPlan], PlanClock],
                      plans: Sequence[ReportingPlan] | None = None) -> list[RoundItem]:
    """What awaits ``actor`` in the scheduled rounds of their province's reporting plans: a
    report their unit owes in an open round; for the consolidating role, open rounds ready to
    consolidate (every unit reported, or the due day passed); for the approving role,
    consolidated rounds. Rounds never opened are skipped. Earliest due day first."""
    if actor.role == "auditor":
        return []
    now = await rounds.cases.clock()
    items: list[RoundItem] = []
    for plan in plans if plans is not None else readable_plans(actor):
        if plan.province_code != actor.province_code:
            continue
        mine = own_units(actor, plan)
        clock = clock_for(plan)
        for rnd in plan.rounds:
            if not (mine or actor.role in (plan.consolidator, plan.approver)):
                break
            status = await standing(rounds, plan.id, rnd.id)
            if status is None:
                continue
            past = now >= due_instant(plan, rnd, clock)
            due = calendar_due(plan, rnd, clock)
            if status.status == "open":
                for unit in mine:
                    if unit.id in status.owing:
                        items.append(RoundItem("report", plan, rnd, due, past, unit,
                                               status.returned.get(unit.id, "")))
                if actor.role == plan.consolidator and (past or not status.owing):
                    items.append(RoundItem("consolidate", plan, rnd, due, False))
            elif status.status == "consolidated" and actor.role == plan.approver:
                items.append(RoundItem("approve", plan, rnd, due, False))
    return sorted(items, key=lambda i: (i.due, i.plan.id, i.round.id))
