"""The read model's queries: case lists (``case_status``) and inboxes (``pending_decisions``).

Both tables are kept by the worker's projector (``eventstore.projector``) a moment behind the
log; these are plain indexed reads (see migration 0052 for the indexes they use).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from domain.roles import ROLE_SCOPE, Actor
from eventstore.pending import PENDING_COLUMNS
from eventstore.projection import COLUMNS as CASE_COLUMNS
from eventstore.projection import CaseStatus as CaseRow
from eventstore.store import EventStore
from service.errors import ServiceError


@dataclass(frozen=True)
class InboxItem:
    """One decision (or submission) awaited from the reader's role, with its deadline."""

    case_id: str
    kind: str  # selection | level | report | dossier
    subject: str  # the level id, or the plan's deadline id
    role: str
    plan_id: str
    province_code: str
    district_code: str | None
    commune_code: str
    round: int | None
    members: list[str]  # a council level: the members yet to vote
    since: date
    due: date
    overdue: bool  # due before today (Asia/Ho_Chi_Minh): its deadline has passed


@dataclass(frozen=True)
class Inbox:
    """A page of an inbox, oldest deadline first, and how many items there are in all."""

    items: list[InboxItem]
    total: int
    today: date
    limit: int
    offset: int


# Viet Nam keeps UTC+7 all year (domain.plan.UTC_OFFSETS).
_VN = timedelta(hours=7)


def today_in_vietnam(now: datetime | None = None) -> date:
    return ((now or datetime.now(UTC)).astimezone(UTC) + _VN).date()


async def read_cases(store: EventStore, plan_id: str, state: str | None = None, *,
                     province_code: str | None = None, district_code: str | None = None,
                     commune_code: str | None = None) -> list[CaseRow]:
    """The cases of a plan as their read-model rows (``case_status``), in stream order,
    optionally only those in ``state`` and in the given province / district / commune."""
    where, args = ["plan_id = $1"], [plan_id]
    for column, value in (("state", state), ("province_code", province_code),
                          ("district_code", district_code),
                          ("commune_code", commune_code)):
        if value is not None:
            args.append(value)
            where.append(f"{column} = ${len(args)}")
    sql = (f"SELECT {', '.join(CASE_COLUMNS)} FROM case_status "
           f"WHERE {' AND '.join(where)} ORDER BY stream")
    rows = await store.pool.fetch(sql, *args)
    return [CaseRow(**dict(r)) for r in rows]


async def read_inbox(store: EventStore, actor: Actor, overdue: bool = False, limit: int = 50,
                     offset: int = 0, today: date | None = None, *, plan_id: str | None = None,
                     subject: str | None = None) -> Inbox:
    """Decisions awaiting ``actor``'s role in their jurisdiction, oldest deadline first
    (then by case): a province role sees its province's, a district role its district's,
    the commune its own; a council member only the votes still theirs to cast; an auditor
    every pending decision of the province (read-only). ``overdue``: only those whose
    deadline has passed (due before ``today``, by default today in Viet Nam); ``plan_id``,
    ``subject``: only that plan's, only that level's (or deadline's)."""
    if not (1 <= limit <= 1000 and offset >= 0):
        raise ServiceError("inbox.bad_page", "limit is 1 to 1000, offset at least 0")
    today = today or today_in_vietnam()
    args: list[Any] = [actor.province_code]
    where = ["province_code = $1"]

    def bind(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if actor.role != "auditor":
        where.append(f"role = {bind(actor.role)}")
        scope = ROLE_SCOPE[actor.role]
        # a commune code names its district too; district roles exist in legacy plans only
        if scope == "district":
            where.append(f"district_code = {bind(actor.district_code)}")
        elif scope == "commune":
            where.append(f"commune_code = {bind(actor.commune_code)}")
        where.append(f"(cardinality(members) = 0 OR {bind(actor.person_id)} = ANY(members))")
    if overdue:
        where.append(f"due < {bind(today)}")
    if plan_id is not None:
        where.append(f"plan_id = {bind(plan_id)}")
    if subject is not None:
        where.append(f"subject = {bind(subject)}")
    cond = " AND ".join(where)
    columns = ", ".join(c for c in PENDING_COLUMNS if c != "position")
    page = (f"SELECT {columns} FROM pending_decisions WHERE {cond} "
            f"ORDER BY due, stream, kind, subject, role "
            f"LIMIT {bind(limit)} OFFSET {bind(offset)}")
    async with store.pool.acquire() as conn:
        rows = await conn.fetch(page, *args)
        # a short page tells the total by itself; otherwise count
        total = len(rows) + offset if len(rows) < limit and (rows or not offset) else None
        if total is None:
            total = await conn.fetchval(f"SELECT count(*) FROM pending_decisions "
                                        f"WHERE {cond}", *args[:-2])
    items = [InboxItem(case_id=r["stream"], overdue=r["due"] < today,
                       **{c: r[c] for c in PENDING_COLUMNS
                          if c not in ("stream", "position")}) for r in rows]
    return Inbox(items=items, total=total, today=today, limit=limit, offset=offset)
