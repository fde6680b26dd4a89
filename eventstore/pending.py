"""Pending decisions (the inbox's read model) as a pure function of a case's events.

A row is one decision (or submission) that one role owes on one case now:

- ``selection``: from ``case.opened`` until the selection is decided, awaited from the plan's
  selection role, due on the plan's selection deadline;
- ``level``: the approval chain's pending level, one row per role not yet signed (``all_of``),
  every listed role (``any_of``), or the council role with the members yet to vote
  (``quorum``); since the event that made it pending, due ``deadline_days`` later;
- ``report``: each submission the commune owes after selection (implementation plan, phase
  reports, forum records), due on its plan date, until submitted (a missed one stays, overdue);
- ``dossier``: the recognition dossier, from selection until it enters the chain (due on the
  plan's dossier deadline), and again after a rejection until it is resubmitted (due on the
  plan's last day, when the chain expires).

Nothing is pending once the case closes. Roles and dates come from the plan the case names
(``catalog.get_plan``, read on the plain calendar ``PlanClock()``): a case rehearsed on a
shifted or compressed clock shows the plan's own dates; a case whose plan the catalogue does
not know gets no rows (its roles cannot be known). ``since`` is the plan-calendar date of the
event's ``recorded_at``; a level's due date is therefore what the chain computes from its own
clock (``workflows.recognition``) except in the milliseconds around local midnight.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields, replace
from datetime import date, timedelta

from domain.agenda import CASE_DEADLINE_KINDS
from domain.clock import PlanClock
from domain.plan import ApprovalLevel, Plan
from eventstore.projection import CaseStatus, ProjectedEvent

PlanLookup = Callable[[str], Plan | None]

_CLOCK = PlanClock()
# Every way a case ends (each is followed by case.closed, which clears too).
_ENDS = frozenset({"case.closed", "case.withdrawn", "case.halted", "selection.rejected",
                   "recognition.granted", "recognition.denied", "recognition.interrupted"})


@dataclass(frozen=True)
class PendingDecision:
    """One row of ``pending_decisions`` (field order = column order)."""

    stream: str
    kind: str
    subject: str
    role: str
    plan_id: str
    province_code: str
    district_code: str | None
    commune_code: str
    round: int | None
    members: list[str] = field(default_factory=list)
    since: date = date.min
    due: date = date.min
    position: int = 0

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.kind, self.subject, self.role)


PENDING_COLUMNS = tuple(f.name for f in fields(PendingDecision))

Rows = dict[tuple[str, str, str], PendingDecision]


def catalog_plans() -> PlanLookup:
    """Plans from the catalogue, None for an id it does not know."""
    import catalog
    from domain.errors import DomainError

    def lookup(plan_id: str) -> Plan | None:
        try:
            return catalog.get_plan(plan_id)
        except DomainError:
            return None

    return lookup


def apply_pending(rows: Rows, status: CaseStatus | None, event: ProjectedEvent,
                  plan: Plan | None) -> Rows:
    """The case's pending rows after ``event``; ``status`` is its case_status row *after*
    the event (None: not a case). Returns a new dict; ``rows`` is not changed."""
    if status is None or plan is None or status.plan_id is None \
            or status.province_code is None or status.commune_code is None:
        return {}
    kind, p = event.type, event.payload
    if kind in _ENDS or status.closed:
        return {}
    since = _CLOCK.plan_date(plan, event.recorded_at)
    out = dict(rows)

    def add(kind: str, subject: str, role: str, due: date, rnd: int | None = None,
            members: Iterable[str] = ()) -> None:
        assert status is not None and status.plan_id is not None
        assert status.province_code is not None and status.commune_code is not None
        row = PendingDecision(
            stream=status.stream, kind=kind, subject=subject, role=role,
            plan_id=status.plan_id, province_code=status.province_code,
            district_code=status.district_code, commune_code=status.commune_code,
            round=rnd, members=list(members), since=since, due=due,
            position=event.position)
        out[row.key] = row

    def drop(kind: str, subject: str | None = None, role: str | None = None) -> None:
        for key in [k for k in out if k[0] == kind and subject in (None, k[1])
                    and role in (None, k[2])]:
            del out[key]

    def open_level(level: ApprovalLevel | None, rnd: int | None) -> None:
        drop("level")
        if level is None:
            return
        due = since + timedelta(days=level.deadline_days)
        if level.rule == "quorum":
            for role in level.roles:
                add("level", level.id, role, due, rnd, level.members)
        else:
            for role in level.roles:
                add("level", level.id, role, due, rnd)

    if kind == "case.opened":
        out.clear()
        for d in plan.deadlines_of("selection"):
            add("selection", d.id, d.role, d.due)
    elif kind == "selection.approved":
        drop("selection")
        for d in plan.deadlines:
            if d.kind in CASE_DEADLINE_KINDS:
                add("dossier" if d.kind == "dossier" else "report", d.id, d.role, d.due)
    elif kind == "report.submitted":
        deadline = _deadline_kind(plan, p.get("deadline_id"))
        if deadline is not None and deadline != "dossier":
            drop("report", str(p.get("deadline_id")))
        # a dossier stays owed until it enters the chain (criteria not met: submit again)
    elif kind in ("dossier.submitted", "dossier.resubmitted"):
        drop("dossier")
        # v1 submissions did not name the level: a round always starts at the chain's first
        first = p.get("first_level") or plan.approval_chain[0].id
        open_level(_level(plan, first), p.get("round", status.round))
    elif kind == "level.signed":
        drop("level", p.get("level"), p.get("role"))
    elif kind == "level.voted":
        member = p.get("reviewer")
        for key, row in list(out.items()):
            if key[0] == "level" and key[1] == p.get("level"):
                out[key] = replace(row, members=[m for m in row.members if m != member])
    elif kind == "level.approved":
        nxt = p.get("next_level")
        open_level(_level(plan, nxt) if nxt else None, p.get("round", status.round))
    elif kind == "case.amended":
        _amended(out, status, event, plan, since)
    elif kind == "level.rejected":
        drop("level")
        # the commune may resubmit until the plan ends (the chain expires then)
        for d in plan.deadlines_of("dossier"):
            add("dossier", d.id, d.role, plan.ends_on, p.get("round", status.round))
    return out


def _amended(out: Rows, status: CaseStatus, event: ProjectedEvent, plan: Plan,
             since: date) -> None:
    """``case.amended``: every row follows the case to its 2025 codes; a transferred level's
    rows become the inheriting level's (its roles as the event names them, less those counted
    as signed), due its days from now; amended deadlines take their new role and date."""
    p = event.payload
    for key, row in list(out.items()):
        out[key] = replace(row, province_code=status.province_code or row.province_code,
                           district_code=status.district_code,
                           commune_code=status.commune_code or row.commune_code)
    for d in p.get("deadlines") or []:
        if not isinstance(d, dict):
            continue
        for key, row in list(out.items()):
            if key[0] in ("report", "dossier") and key[1] == d.get("deadline"):
                del out[key]
                moved = replace(row, role=str(d.get("role_after") or row.role),
                                due=_day(d.get("due_after")) or row.due)
                out[moved.key] = moved
    pending = p.get("pending")
    if not (isinstance(pending, dict) and pending.get("transferred")
            and pending.get("level_after")):
        return
    level_id = str(pending["level_after"])
    old = [row for key, row in out.items() if key[0] == "level"]
    for key in [k for k in out if k[0] == "level"]:
        del out[key]
    named = next((lv for lv in p.get("chain_after") or []
                  if isinstance(lv, dict) and lv.get("id") == level_id), None)
    known = _level(plan, level_id)  # the plan's own level of that id: days, council members
    roles = [str(r) for r in named.get("roles") or []] if named is not None else (
        list(known.roles) if known is not None else [])
    rule = str(named.get("rule")) if named is not None else (known.rule if known else "")
    signed = {str(x) for x in pending.get("signed_after") or []}
    # the inheriting level's days start at the transfer (workflows.recognition.amend_chain);
    # the event does not carry them: the plan's level of that id, else the old level's due
    days = (named or {}).get("deadline_days") or (known.deadline_days if known else None)
    due = since + timedelta(days=int(days)) if days else max(
        (row.due for row in old), default=since)
    members = (named or {}).get("members") or (known.members if known else [])
    rnd = pending.get("round", status.round)
    left = [str(m) for m in members if str(m) not in signed]  # council: yet to vote
    for role in roles:
        if rule != "quorum" and role in signed:
            continue
        row = PendingDecision(
            stream=status.stream, kind="level", subject=level_id, role=role,
            plan_id=str(status.plan_id), province_code=str(status.province_code),
            district_code=status.district_code, commune_code=str(status.commune_code),
            round=rnd, members=left if rule == "quorum" else [], since=since, due=due,
            position=event.position)
        out[row.key] = row


def _day(value: object) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def _deadline_kind(plan: Plan, deadline_id: object) -> str | None:
    for d in plan.deadlines:
        if d.id == deadline_id:
            return d.kind
    return None


def _level(plan: Plan, level_id: object) -> ApprovalLevel | None:
    for lv in plan.approval_chain:
        if lv.id == level_id:
            return lv
    return None
