"""The case page (trang hồ sơ) as data: the case's events and its plan folded for reading by
``domain.replay`` (the same fold ``drugfree audit replay`` prints), with every event."""

from __future__ import annotations

from collections.abc import Sequence

from domain.plan import Plan
from domain.replay import (
    CaseAt,
    CriterionRow,
    DeadlineRow,
    Document,
    LevelRow,
    Rejection,
    ReplayedEvent,
    Signature,
    TimelineRow,
    replay,
)

CaseFacts = CaseAt

__all__ = ["CaseFacts", "CriterionRow", "DeadlineRow", "Document", "LevelRow", "Rejection",
           "Signature", "TimelineRow", "facts"]


def facts(plan: Plan, events: Sequence[ReplayedEvent]) -> CaseFacts:
    """Fold ``events`` (one case's stream, in order) against ``plan``. A deadline is missed
    when the case recorded it missed (on the case's own calendar, which a rehearsal shifts)."""
    return replay(plan, events)
