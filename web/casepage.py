"""The case page (trang hồ sơ) as data: what one case's events and its plan say, folded for
reading. Pure: the route reads the events, the status and the plan, this arranges them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from domain.agenda import CASE_DEADLINE_KINDS
from domain.plan import Plan
from eventstore.records import RecordedEvent


@dataclass
class DeadlineRow:
    id: str
    kind: str
    title_vi: str
    title_en: str
    due: date
    state: str  # met | late | missed | pending
    source: str


@dataclass
class CriterionRow:
    id: int
    title_vi: str
    title_en: str
    met: bool
    reason_vi: str
    reason_en: str
    source: str


@dataclass
class Signature:
    person: str
    role: str
    at: datetime
    on_behalf_of: str | None = None


@dataclass
class LevelRow:
    id: str
    name_vi: str
    name_en: str
    roles: list[str]
    rule: str
    state: str  # waiting | pending | approved | returned
    signed: list[Signature] = field(default_factory=list)
    approved_at: datetime | None = None


@dataclass
class Document:
    title: str  # the deadline or dossier it was submitted for
    by: str
    at: datetime
    late: bool
    attachments: list[dict[str, Any]]


@dataclass
class Rejection:
    round: int
    level: str
    by: str
    role: str
    reason: str
    at: datetime


@dataclass
class TimelineRow:
    at: datetime
    type: str
    actor: str
    role: str
    details: str
    version: int


@dataclass
class CaseFacts:
    metrics: dict[str, Any] | None = None
    metrics_at: datetime | None = None
    classification: str | None = None
    classification_reasons: list[str] = field(default_factory=list)
    criteria: list[CriterionRow] = field(default_factory=list)
    criteria_met: bool | None = None
    deadlines: list[DeadlineRow] = field(default_factory=list)
    documents: list[Document] = field(default_factory=list)
    levels: list[LevelRow] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    timeline: list[TimelineRow] = field(default_factory=list)
    round: int = 0


# the payload field that names who acted, by event type
_ACTOR = ("submitted_by", "decided_by", "reviewer", "withdrawn_by", "opened_by", "from_person")
_SKIP_DETAILS = frozenset({"metrics", "results", "classification_reasons", *_ACTOR, "role",
                           "opened_by_role"})


def facts(plan: Plan, events: list[RecordedEvent]) -> CaseFacts:
    """Fold ``events`` (one case's stream, in order) against ``plan``. A deadline is missed
    when the case recorded it missed (on the case's own calendar, which a rehearsal shifts)."""
    out = CaseFacts()
    submitted: dict[str, bool] = {}  # deadline id -> late
    missed: set[str] = set()
    signed: dict[str, list[Signature]] = {}
    approved: dict[str, datetime] = {}
    returned: str | None = None
    for e in events:
        p = e.payload
        if e.type == "metrics.recorded":
            out.metrics, out.metrics_at = dict(p.get("metrics") or {}), e.recorded_at
            if p.get("classification"):
                out.classification = p["classification"]
                out.classification_reasons = list(p.get("classification_reasons") or [])
        elif e.type == "criteria.evaluated":
            out.criteria_met = bool(p.get("met"))
            out.criteria = _criteria(plan, p.get("results") or [])
        elif e.type == "report.submitted":
            submitted[p["deadline_id"]] = bool(p.get("late"))
            out.documents.append(Document(p["deadline_id"], p.get("submitted_by", ""),
                                          e.recorded_at, bool(p.get("late")),
                                          list(p.get("attachments") or [])))
        elif e.type == "deadline.missed":
            missed.add(p["deadline_id"])
        elif e.type in ("dossier.submitted", "dossier.resubmitted"):
            submitted.setdefault("dossier", False)
            out.round = int(p.get("round", 0))
            signed, approved, returned = {}, {}, None  # a new round starts at the first level
            out.documents.append(Document("dossier", p.get("submitted_by", ""), e.recorded_at,
                                          False, list(p.get("attachments") or [])))
        elif e.type == "level.signed":
            signed.setdefault(p["level"], []).append(Signature(
                p["reviewer"], p["role"], e.recorded_at, p.get("on_behalf_of")))
        elif e.type == "level.voted" and p.get("vote") == "approve":
            signed.setdefault(p["level"], []).append(Signature(
                p["reviewer"], p["role"], e.recorded_at))
        elif e.type == "level.approved":
            approved[p["level"]] = e.recorded_at
        elif e.type == "level.rejected":
            returned = p["level"]
            out.rejections.append(Rejection(int(p.get("round", 0)), p["level"], p["reviewer"],
                                            p["role"], p.get("reason", ""), e.recorded_at))
        out.timeline.append(_row(e))
    out.deadlines = _deadlines(plan, submitted, missed)
    out.levels = _levels(plan, signed, approved, returned, bool(out.round))
    return out


def _criteria(plan: Plan, results: list[dict[str, Any]]) -> list[CriterionRow]:
    known = {c.id: c for c in (plan.criteria.criteria if plan.criteria else [])}
    rows = []
    for r in results:
        c = known.get(int(r.get("id", 0)))
        rows.append(CriterionRow(
            id=int(r.get("id", 0)), title_vi=c.title_vi if c else "", title_en=c.title_en if c
            else "", met=bool(r.get("met")), reason_vi=str(r.get("reason_vi", "")),
            reason_en=str(r.get("reason_en", "")), source=c.source if c else ""))
    return rows


def _deadlines(plan: Plan, submitted: dict[str, bool], missed: set[str]) -> list[DeadlineRow]:
    rows = []
    for d in sorted(plan.deadlines, key=lambda d: d.due):
        if d.kind not in CASE_DEADLINE_KINDS:
            continue
        if d.id in submitted:
            state = "late" if submitted[d.id] else "met"
        elif d.id in missed:
            state = "missed"
        else:
            state = "pending"
        rows.append(DeadlineRow(d.id, d.kind, d.title_vi, d.title_en, d.due, state, d.source))
    return rows


def _levels(plan: Plan, signed: dict[str, list[Signature]], approved: dict[str, datetime],
            returned: str | None, in_chain: bool) -> list[LevelRow]:
    rows, pending_found = [], False
    for lv in plan.approval_chain:
        if lv.id in approved:
            state = "approved"
        elif lv.id == returned:
            state = "returned"
        elif in_chain and returned is None and not pending_found:
            state, pending_found = "pending", True  # levels pass in order
        else:
            state = "waiting"
        rows.append(LevelRow(lv.id, lv.name_vi, lv.name_en, list(lv.roles), lv.rule, state,
                             signed.get(lv.id, []), approved.get(lv.id)))
    return rows


def _row(e: RecordedEvent) -> TimelineRow:
    p = e.payload
    actor = next((str(p[k]) for k in _ACTOR if p.get(k)), "")
    role = str(p.get("role") or p.get("opened_by_role") or "")
    details = "; ".join(f"{k}: {_short(v)}" for k, v in p.items()
                        if k not in _SKIP_DETAILS and v not in (None, "", [], {}))
    return TimelineRow(e.recorded_at, e.type, actor, role, details, e.version)


def _short(value: Any) -> str:
    text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
    return text if len(text) <= 160 else text[:157] + "..."
