"""A case replayed on the plan version it ran on (tái hiện theo đúng phiên bản kế hoạch).

``domain.replay`` folds a case's events with a plan that names things (levels, deadlines,
criteria). Since ``case.opened`` v2 the events say which version the case opened under, and
each ``case.amended`` which version it moved to: when the store holds that version (every
published or catalogue version is stored; an amended plan is not), the fold is redone with it,
so an auditor sees the case under the rules it ran on, not under a later version's names.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import catalog
from domain.plan import Plan, plan_hash
from domain.replay import CaseAt, ReplayedEvent, replay
from eventstore.plan_versions import PlanVersions


@dataclass
class Replayed:
    """The fold, and the content hash of the plan version that named it."""

    case: CaseAt
    named_by: str


async def replay_on_its_plan(versions: PlanVersions | None, plan: Plan,
                             events: Sequence[ReplayedEvent],
                             at: datetime | None = None) -> Replayed:
    """Fold ``events`` up to ``at`` with the plan version the case was on then, when stored;
    otherwise with ``plan`` (the caller's: the newest version, or the catalogue's)."""
    first = replay(plan, events, at)
    ran_on = first.plan_hash
    if versions is None or ran_on is None or ran_on == plan_hash(plan):
        return Replayed(first, plan_hash(plan))
    document = await versions.document(plan.id, ran_on)
    if document is None:
        return Replayed(first, plan_hash(plan))
    stored = catalog.resolve(Plan.model_validate(json.loads(document)))
    return Replayed(replay(stored, events, at), ran_on)
