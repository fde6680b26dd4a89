"""What an amendment (văn bản sửa đổi) would change for a plan's running cases: the dry run
that ``drugfree plans amend --dry-run`` and ``POST /plans/{plan_id}/amendments`` answer.
Applying it to running workflows is not built yet (issue 12)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from catalog.units_2025 import units_2025
from domain.amendment import Amendment, CaseEffect, amend, case_effect
from domain.plan import Plan
from domain.replay import replay
from domain.units import UnitConversion
from eventstore.store import EventStore

Amended = tuple[Plan, Plan, dict[str, UnitConversion]]  # before, after, unit conversions

_RUNNING = """SELECT stream, plan_id FROM case_status
              WHERE plan_id = ANY($1::text[]) AND NOT closed ORDER BY stream"""


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
