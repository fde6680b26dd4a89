"""The case-status read model as a pure function of a case's events.

The live follower (``projector``) and the full rebuild both fold events through ``apply``,
so they cannot disagree. Only streams that start with ``case.opened`` get a row. Optional
payload fields may be missing (older writers, upcast payloads): missing means "unchanged"
or "unknown", never an error.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime
from typing import Any, Protocol


class ProjectedEvent(Protocol):
    """What the projection reads from a ``RecordedEvent``."""

    @property
    def position(self) -> int: ...
    @property
    def stream(self) -> str: ...
    @property
    def version(self) -> int: ...
    @property
    def type(self) -> str: ...
    @property
    def recorded_at(self) -> datetime: ...
    @property
    def payload(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class CaseStatus:
    """One row of ``case_status`` (field order = column order)."""

    stream: str
    state: str
    version: int
    last_position: int
    updated_at: datetime
    plan_id: str | None = None
    province_code: str | None = None
    district_code: str | None = None
    commune_code: str | None = None
    phase: int | None = None
    phase_starts_on: date | None = None
    phase_ends_on: date | None = None
    round: int | None = None
    pending_level: str | None = None
    last_rejection_reason: str | None = None
    last_metrics: dict[str, Any] | None = None
    last_classification: str | None = None
    missed_deadlines: int = 0
    late_reports: int = 0
    closed: bool = False
    outcome: str | None = None
    # after an amendment that switched the structure (migration 0056): the codes the case
    # was opened with, kept because the codes above are then the 2025 ones
    legacy_district_code: str | None = None
    legacy_commune_code: str | None = None
    amendments: list[str] = field(default_factory=list)  # ids applied, in order


COLUMNS = tuple(f.name for f in fields(CaseStatus))

# Events that only move the state: type -> new state (pending level cleared when final).
_STATES = {
    "selection.approved": "selected",
    "selection.rejected": "not_selected",
    "recognition.granted": "recognised",
    "recognition.denied": "not_recognised",
    "case.withdrawn": "withdrawn",
}


def apply(status: CaseStatus | None, event: ProjectedEvent) -> CaseStatus | None:
    """The row after ``event``; None while the stream is not a case."""
    p = event.payload
    kind = event.type
    if kind == "case.opened":
        base = status or CaseStatus(event.stream, "opened", 0, 0, event.recorded_at)
        status = replace(
            base, state="opened", plan_id=p.get("plan_id"),
            province_code=p.get("province_code"), district_code=p.get("district_code"),
            commune_code=p.get("commune_code"),
        )
    elif status is None:
        return None
    elif kind in _STATES:
        status = replace(status, state=_STATES[kind])
        if kind != "selection.approved":
            status = replace(status, pending_level=None)
    elif kind == "phase.started":
        phase = p.get("phase")
        status = replace(
            status, state=f"phase_{phase}", phase=phase,
            phase_starts_on=_date(p.get("starts_on")), phase_ends_on=_date(p.get("ends_on")),
        )
    elif kind == "metrics.recorded":
        status = replace(status, last_metrics=p.get("metrics"),
                         last_classification=p.get("classification"))
    elif kind in ("dossier.submitted", "dossier.resubmitted"):
        # first_level: carried since schema v2; None (unknown) when upcast from v1
        status = replace(status, state="in_recognition", round=p.get("round", status.round),
                         pending_level=p.get("first_level"))
    elif kind == "level.approved":
        status = replace(status, pending_level=p.get("next_level"))
    elif kind == "level.rejected":
        status = replace(status, state="returned", pending_level=None,
                         last_rejection_reason=p.get("reason"))
    elif kind == "case.amended":
        status = amended(status, p)
    elif kind == "case.closed":
        status = replace(status, closed=True, outcome=p.get("outcome"))
    elif kind == "deadline.missed":
        status = replace(status, missed_deadlines=status.missed_deadlines + 1)
    elif kind == "report.submitted" and p.get("late"):
        status = replace(status, late_reports=status.late_reports + 1)
    return replace(status, version=event.version, last_position=event.position,
                   updated_at=event.recorded_at)


def amended(status: CaseStatus, p: dict[str, Any]) -> CaseStatus:
    """The row after ``case.amended``: the amendment listed, the 2025 codes when it switched
    the structure (the opening codes kept as legacy), and a transferred pending level."""
    amendment = p.get("amendment")
    if isinstance(amendment, str) and amendment not in status.amendments:
        status = replace(status, amendments=[*status.amendments, amendment])
    codes = p.get("codes")
    if isinstance(codes, dict) and codes.get("commune_after"):
        status = replace(
            status,
            # a second switch (none is foreseen) keeps the codes the case was opened with
            legacy_commune_code=status.legacy_commune_code or codes.get("commune_before")
            or status.commune_code,
            legacy_district_code=status.legacy_district_code or codes.get("district_before")
            or status.district_code,
            province_code=codes.get("province_after") or status.province_code,
            district_code=None, commune_code=codes.get("commune_after"))
    pending = p.get("pending")
    if isinstance(pending, dict) and pending.get("transferred") and pending.get("level_after"):
        status = replace(status, pending_level=str(pending["level_after"]))
    return status


def project(events: Iterable[ProjectedEvent]) -> CaseStatus | None:
    """Fold one stream's events, in version order, into its row."""
    status: CaseStatus | None = None
    for event in events:
        status = apply(status, event)
    return status


def _date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None
