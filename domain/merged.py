"""Merged communes (xã mới hình thành từ nhiều xã cũ): how the 2025 communes of a plan's former
territory count, from the outcomes of the legacy communes' own cases (pure).

After the 2025 reform several legacy communes (its constituent areas, each with its own case)
form one new commune. The plan's amendment says (``domain.amendment.MergedCommunes``):
- ``all_constituents``: the new commune is drug-free only when every constituent area's case
  was recognised (an area with no case, or one not recognised, keeps it from being);
- ``any_constituent``: when at least one was;
and whether the plan's target share counts ``new_communes`` or still ``legacy_areas``.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Literal

Rule = Literal["all_constituents", "any_constituent"]
TargetUnit = Literal["new_communes", "legacy_areas"]


@dataclass(frozen=True)
class NewCommune:
    code: str
    constituents: list[str]  # legacy commune codes, in order
    recognised: bool


def commune_recognised(rule: Rule, constituents: Collection[str],
                       recognised: Collection[str]) -> bool:
    """Whether a new commune counts as recognised under ``rule``, given which of its
    constituent legacy communes were (``recognised``)."""
    done = [c in recognised for c in constituents]
    return bool(done) and (all(done) if rule == "all_constituents" else any(done))


def need(share: float, total: int) -> int:
    """How many communes the target share asks for (20% of 41 new communes: 9)."""
    return math.ceil(share * total - 1e-9)


def new_communes(units: Mapping[str, str], outcomes: Mapping[str, str],
                 rule: Rule) -> list[NewCommune]:
    """Each new commune of ``units`` (legacy code -> new code, the whole former territory)
    with its constituents, recognised by ``rule`` from ``outcomes`` (legacy code -> outcome
    of its case; a legacy commune without a case is absent)."""
    groups: dict[str, list[str]] = {}
    for legacy, new in sorted(units.items()):
        groups.setdefault(new, []).append(legacy)
    recognised = {c for c, o in outcomes.items() if o == "recognised"}
    return [NewCommune(new, parts, commune_recognised(rule, parts, recognised))
            for new, parts in sorted(groups.items())]


@dataclass(frozen=True)
class TargetCount:
    unit: TargetUnit
    total: int  # communes the share is taken of
    need: int  # how many must be recognised
    recognised: int

    @property
    def met(self) -> bool:
        return self.recognised >= self.need


def target_count(share: float, units: Mapping[str, str], outcomes: Mapping[str, str],
                 rule: Rule, unit: TargetUnit) -> TargetCount:
    """The plan's target (``share`` of its communes) counted as the amendment says."""
    if unit == "legacy_areas":
        total = len(units)
        recognised = sum(1 for c in units if outcomes.get(c) == "recognised")
    else:
        merged = new_communes(units, outcomes, rule)
        total, recognised = len(merged), sum(1 for n in merged if n.recognised)
    return TargetCount(unit, total, need(share, total), recognised)
