"""Amendments (văn bản sửa đổi) applied to a plan's running cases: the dry run and the real run
that ``drugfree plans amend`` and ``POST /plans/{plan_id}/amendments`` answer.

The dry run folds each running case's events and says what would change (``case_effect``);
nothing is written. The real run sends each running case the amendment (a Temporal Update:
applied now, or on a timer in the case until its effective date) and reports, per case, what
it did, with the ``case.amended`` record as stored. Re-applying is a no-op: each case knows
the amendments it has (``already_applied``, ``already_scheduled``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from catalog.units_2025 import units_2025
from domain.amendment import Amendment, amend
from domain.amendment_effect import CaseEffect, case_effect
from domain.plan import Plan
from domain.replay import replay
from domain.roles import Actor
from domain.units import UnitConversion
from eventstore.amendments import Amendments
from eventstore.store import EventStore
from service.cases import CaseRef, CaseService
from service.errors import ServiceError
from workflows import names

Amended = tuple[Plan, Plan, dict[str, UnitConversion]]  # before, after, unit conversions
Result = Literal["applied", "scheduled", "already_applied", "already_scheduled", "refused"]

_RUNNING = """SELECT stream, plan_id FROM case_status
              WHERE plan_id = ANY($1::text[]) AND NOT closed ORDER BY stream"""
# cases sent the amendment at once: each is one Update; the workflow service queues the rest
APPLY_CONCURRENCY = 8


class CaseApplied(BaseModel):
    """What applying the amendment did to one case."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    case_id: str
    result: Result
    effect: CaseEffect  # what the dry run said would change, just before
    record: dict[str, Any] | None = None  # the case.amended payload as stored (applied)
    code: str | None = None  # refused: the code and message
    message: str | None = None


def amended(plan: Plan, amendment: Amendment) -> Amended:
    """``plan`` before and after ``amendment``, with the unit conversions it used."""
    units: dict[str, UnitConversion] = {}
    if amendment.changes.structure is not None and plan.structure == "legacy":
        table = units_2025()
        units = (table.convert_district(plan.district_code) if plan.district_code
                 else table.convert_province(plan.province_code))
    return plan, amend(plan, amendment, units), units


def amended_plans(amendment: Amendment, plan_of: Callable[[str], Plan]) -> dict[str, Amended]:
    return {pid: amended(plan_of(pid), amendment) for pid in amendment.amends}


async def preview(store: EventStore, amendment: Amendment,
                  plans: dict[str, Amended]) -> list[CaseEffect]:
    """Per running case of the amended plans (the read model, then each case's events), what
    the amendment would change; nothing is written."""
    rows = await store.pool.fetch(_RUNNING, list(amendment.amends))
    effects = []
    for row in rows:
        plan, new, units = plans[row["plan_id"]]
        case = replay(plan, await store.read(row["stream"]))
        effects.append(case_effect(plan, new, amendment, row["stream"], case, units))
    return effects


async def apply(cases: CaseService, store: EventStore, actor: Actor, amendment: Amendment,
                plans: dict[str, Amended]) -> list[CaseApplied]:
    """Keep the amendment (readers rebuild amended plans from it; a text reused under its id
    is refused before any case is sent it), then send every running case of the amended
    plans the amendment; per case, what it did."""
    await Amendments(store.pool).keep(amendment, {"person_id": actor.person_id,
                                                  "role": actor.role,
                                                  "province_code": actor.province_code})
    effects = await preview(store, amendment, plans)
    gate = asyncio.Semaphore(APPLY_CONCURRENCY)

    async def one(effect: CaseEffect) -> CaseApplied:
        plan_id, commune = names.parse_case_id(effect.case_id)
        async with gate:
            try:
                reply = await cases.amend(CaseRef(plan_id, commune), actor, amendment,
                                          plans[plan_id][2])
            except ServiceError as exc:
                return CaseApplied(case_id=effect.case_id, result="refused", effect=effect,
                                   code=exc.code, message=exc.message_vi or exc.message)
        result: Result = reply.detail  # type: ignore[assignment]  # the workflow's word
        record = await recorded(store, effect.case_id, amendment.id)
        return CaseApplied(case_id=effect.case_id, result=result, effect=effect,
                           record=record)

    return list(await asyncio.gather(*(one(e) for e in effects)))


async def apply_campaigns(cases: CaseService, actor: Actor, amendment: Amendment,
                          plans: dict[str, Amended]) -> dict[str, str]:
    """Each amended plan's province campaign follows the amendment too: plan id -> what it
    did (applied, scheduled, already_*), or the code it was refused with (e.g. no campaign)."""
    done: dict[str, str] = {}
    for plan_id, (_, _, units) in plans.items():
        try:
            done[plan_id] = await cases.amend_campaign(names.campaign_id(plan_id), actor,
                                                       amendment, units)
        except ServiceError as exc:
            done[plan_id] = exc.code
    return done


async def recorded(store: EventStore, case_id: str, amendment_id: str) -> dict[str, Any] | None:
    """The case's ``case.amended`` record of ``amendment_id``, as stored (None: not yet)."""
    for e in reversed(await store.read(case_id)):
        if e.type == "case.amended" and e.payload.get("amendment") == amendment_id:
            return dict(e.payload)
    return None


def chain_json(plan: Plan) -> dict[str, Any]:
    return {"structure": plan.structure, "province_code": plan.province_code,
            "approval_chain": [{"id": lv.id, "roles": list(lv.roles),
                                "escalate_to": lv.escalate_to} for lv in plan.approval_chain]}


def report(amendment: Amendment, plans: dict[str, Amended],
           effects: list[CaseEffect]) -> dict[str, Any]:
    """The dry run as JSON (the CLI's ``--json`` and the API's answer)."""
    return {"amendment": amendment.id, "effective_on": str(amendment.effective_on),
            "dry_run": True,
            "plans": {pid: chain_json(new) for pid, (_, new, _) in plans.items()},
            "cases": [e.model_dump(mode="json") for e in effects]}


def applied_report(amendment: Amendment, plans: dict[str, Amended], done: list[CaseApplied],
                   campaigns: dict[str, str] | None = None) -> dict[str, Any]:
    """The real run as JSON: per case what was done, counts by result, and the campaigns'."""
    counts: dict[str, int] = {}
    for d in done:
        counts[d.result] = counts.get(d.result, 0) + 1
    return {"amendment": amendment.id, "effective_on": str(amendment.effective_on),
            "dry_run": False, "counts": counts, "campaigns": campaigns or {},
            "plans": {pid: chain_json(new) for pid, (_, new, _) in plans.items()},
            "cases": [d.model_dump(mode="json") for d in done]}
