"""A case replayed (tái hiện hồ sơ): one case's recorded events folded, with its plan, into the
case as it stood at any instant. Pure: the caller reads the events and the plan.

``replay(plan, events, at)`` keeps the events recorded at or before ``at`` (the stream's
prefix up to the first later one: a case's state at an instant is a prefix of its history)
and folds them into a ``CaseAt``: phase, status and outcome with its reasons, the metrics last
submitted with their classification and reasons, the criteria verdicts, each deadline met,
late, missed or pending, the documents, every approval round with who signed which level, the
pending level, the rejections with their reasons, and the timeline (who, in which role and
jurisdiction, did what, on time or late).

The pending level comes from the events themselves (``first_level`` of a dossier,
``next_level`` of an approved level), so a replay shows the chain the case ran on; the plan's
first level stands in only for payloads written before ``first_level`` existed. The plan
gives names, titles and the deadlines' order. Optional payload fields may be missing (older
writers, upcast payloads): missing means unknown, never an error.

The web case page (``web.casepage``) is this fold with ``at`` left out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal, Protocol

from domain.agenda import CASE_DEADLINE_KINDS
from domain.plan import Plan

CaseStatus = Literal["none", "opened", "selected", "in_phase", "in_recognition", "closed"]
ChainStatus = Literal["draft", "pending", "returned", "recognised", "closed"]
Timing = Literal["on_time", "late", "missed"]


class ReplayedEvent(Protocol):
    """What the fold reads from a recorded event (``eventstore.RecordedEvent`` has it)."""

    @property
    def version(self) -> int: ...
    @property
    def type(self) -> str: ...
    @property
    def recorded_at(self) -> datetime: ...
    @property
    def payload(self) -> dict[str, Any]: ...


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
    state: str  # waiting | pending | approved | returned | transferred (amended away)
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
class Round:
    """One pass of the dossier through the chain: who signed (or voted for) which level."""

    round: int
    submitted_at: datetime
    submitted_by: str
    signed: dict[str, list[Signature]] = field(default_factory=dict)  # level -> signers
    approved: dict[str, datetime] = field(default_factory=dict)  # level -> when it passed
    rejected: Rejection | None = None


@dataclass
class TimelineRow:
    at: datetime
    type: str
    actor: str
    role: str
    details: str
    version: int
    jurisdiction: str = ""  # province/district/commune codes, when the payload names them
    timing: Timing | None = None  # report.submitted: on time or late; deadline.missed


@dataclass
class AmendmentRow:
    """A ``case.amended`` event: the amendment that moved the case onto new rules."""

    id: str
    title_vi: str
    effective_on: str
    at: datetime
    by: str
    sources: list[str]
    level_before: str | None = None  # the pending level it moved (transferred) ...
    level_after: str | None = None  # ... to
    transferred: bool = False
    commune_after: str | None = None  # 2025 codes, when it switched the structure
    commune_name_after: str | None = None
    province_after: str | None = None
    plan_before: str | None = None  # the plan versions' content hashes it moved between
    plan_after: str | None = None


@dataclass
class CaseAt:
    """The case as it stood after its first ``version`` events (``at``: the instant asked)."""

    at: datetime | None = None
    version: int = 0  # the last event folded (0: nothing recorded yet at ``at``)
    total: int = 0  # events given, including those after ``at``
    plan_id: str | None = None
    # the plan version's content hash the case opened under (None: not recorded, before
    # case.opened v2), and the one it runs on after its amendments
    plan_at_opening: str | None = None
    plan_hash: str | None = None
    # every amendment took the case from the version it was on (its plan_before is the hash
    # before it); None when the opening's version is unknown, False names a break
    plan_versions_follow: bool | None = None
    commune_code: str | None = None
    district_code: str | None = None
    province_code: str | None = None
    status: CaseStatus = "none"
    selected: bool | None = None
    phase: int | None = None
    outcome: str | None = None
    reasons: list[str] = field(default_factory=list)
    metrics: dict[str, Any] | None = None
    metrics_at: datetime | None = None
    metrics_purpose: str | None = None
    classification: str | None = None
    classification_reasons: list[str] = field(default_factory=list)
    criteria: list[CriterionRow] = field(default_factory=list)
    criteria_met: bool | None = None
    deadlines: list[DeadlineRow] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)  # deadline ids, in the order missed
    documents: list[Document] = field(default_factory=list)
    chain: ChainStatus = "draft"
    round: int = 0
    pending_level: str | None = None
    rounds: list[Round] = field(default_factory=list)
    levels: list[LevelRow] = field(default_factory=list)  # the current round, in plan order
    rejections: list[Rejection] = field(default_factory=list)
    timeline: list[TimelineRow] = field(default_factory=list)
    amendments: list[AmendmentRow] = field(default_factory=list)
    # the chain after the last amendment (its levels as the event names them); None: the plan's
    chain_after: list[dict[str, Any]] | None = None
    due_after: dict[str, date] = field(default_factory=dict)  # deadline id -> amended due day

    @property
    def amended_by(self) -> list[str]:
        """The ids of the amendments applied to the case, in order."""
        return [a.id for a in self.amendments]

    @property
    def signed(self) -> list[Signature]:
        """Who had signed the pending level in the current round."""
        if self.pending_level is None or not self.rounds:
            return []
        return list(self.rounds[-1].signed.get(self.pending_level, []))


# the payload field that names who acted, by event type
_ACTOR = ("submitted_by", "decided_by", "reviewer", "withdrawn_by", "opened_by", "from_person")
_WHERE = ("province_code", "district_code", "commune_code")
_SKIP_DETAILS = frozenset({"metrics", "results", "classification_reasons", *_ACTOR, "role", "late",
                           "opened_by_role", *_WHERE})


def replay(plan: Plan, events: Iterable[ReplayedEvent], at: datetime | None = None) -> CaseAt:
    """Fold one case's events (its stream, in version order) against ``plan``, up to ``at``
    (every event when None). ``at`` must carry a time zone."""
    if at is not None and at.utcoffset() is None:
        raise ValueError("replay: the instant has no time zone")
    out = CaseAt(at=at)
    submitted: dict[str, bool] = {}  # deadline id -> late
    stopped = False
    for e in events:
        out.total += 1
        if stopped or (at is not None and e.recorded_at > at):
            stopped = True
            continue
        _apply(plan, out, submitted, e)
    out.deadlines = _deadlines(plan, submitted, set(out.missed), out.due_after)
    out.levels = _levels(plan, out)
    return out


def _apply(plan: Plan, out: CaseAt, submitted: dict[str, bool], e: ReplayedEvent) -> None:
    p, t, when = e.payload, e.type, e.recorded_at
    out.version = e.version
    if t == "case.opened":
        out.status = "opened"
        out.plan_id = _text(p.get("plan_id")) or None
        out.plan_at_opening = out.plan_hash = _text(p.get("plan_hash")) or None
        out.plan_versions_follow = True if out.plan_hash else None
        out.commune_code = _text(p.get("commune_code")) or None
        out.district_code = _text(p.get("district_code")) or None
        out.province_code = _text(p.get("province_code")) or None
    elif t == "metrics.recorded":
        out.metrics, out.metrics_at = dict(p.get("metrics") or {}), when
        out.metrics_purpose = _text(p.get("purpose")) or None
        if p.get("classification"):
            out.classification = str(p["classification"])
            out.classification_reasons = [str(r) for r in p.get("classification_reasons") or []]
    elif t == "selection.approved":
        out.selected, out.status = True, "selected"
    elif t == "selection.rejected":
        out.selected = False
        out.reasons = [_text(p.get("reason"))]
    elif t == "phase.started":
        out.phase, out.status = int(p.get("phase", 0)) or None, "in_phase"
    elif t == "criteria.evaluated":
        out.criteria_met = bool(p.get("met"))
        out.criteria = _criteria(plan, p.get("results") or [])
        if out.criteria_met:
            out.status = "in_recognition"
    elif t == "report.submitted":
        deadline = _text(p.get("deadline_id"))
        submitted[deadline] = bool(p.get("late"))
        out.documents.append(Document(deadline, _text(p.get("submitted_by")), when,
                                      bool(p.get("late")), list(p.get("attachments") or [])))
    elif t == "deadline.missed":
        deadline = _text(p.get("deadline_id"))
        if deadline not in out.missed:
            out.missed.append(deadline)
    elif t in ("dossier.submitted", "dossier.resubmitted"):
        _new_round(plan, out, submitted, p, when)
    elif t in ("level.signed", "level.voted"):
        if t == "level.signed" or p.get("vote") == "approve":
            _round(out, p, when).signed.setdefault(_text(p.get("level")), []).append(Signature(
                _text(p.get("reviewer")), _text(p.get("role")), when, p.get("on_behalf_of")))
    elif t == "level.approved":
        _round(out, p, when).approved[_text(p.get("level"))] = when
        following = p.get("next_level")
        out.pending_level = str(following) if following else None
    elif t == "level.rejected":
        rejection = Rejection(int(p.get("round", out.round) or 0), _text(p.get("level")),
                              _text(p.get("reviewer")), _text(p.get("role")),
                              _text(p.get("reason")), when)
        out.rejections.append(rejection)
        _round(out, p, when).rejected = rejection
        out.chain, out.pending_level = "returned", None
    elif t == "recognition.granted":
        out.chain, out.pending_level = "recognised", None
    elif t == "recognition.denied":
        out.reasons = [str(r) for r in p.get("reasons") or []]
    elif t == "recognition.interrupted":
        out.reasons = [f"interrupted: {_text(p.get('cause'))}"]
    elif t == "case.halted":
        out.reasons = [f"halted: {_text(p.get('code'))}"]
    elif t == "case.withdrawn":
        out.reasons = [_text(p.get("reason"))]
    elif t == "case.amended":
        _amended(out, p, when)
    elif t == "case.closed":
        out.status, out.outcome = "closed", _text(p.get("outcome")) or None
        if out.chain == "pending":
            out.chain = "closed"
        out.pending_level = None
    out.timeline.append(_row(e))


def _amended(out: CaseAt, p: dict[str, Any], when: datetime) -> None:
    pending: dict[str, Any] = p["pending"] if isinstance(p.get("pending"), dict) else {}
    codes: dict[str, Any] = p["codes"] if isinstance(p.get("codes"), dict) else {}
    row = AmendmentRow(
        _text(p.get("amendment")), _text(p.get("title_vi")), _text(p.get("effective_on")), when,
        _text(p.get("decided_by")), [str(x) for x in p.get("sources") or []],
        _text(pending.get("level_before")) or None, _text(pending.get("level_after")) or None,
        bool(pending.get("transferred")), _text(codes.get("commune_after")) or None,
        _text(codes.get("commune_name_after")) or None,
        _text(codes.get("province_after")) or None,
        _text(p.get("plan_before")) or None, _text(p.get("plan_after")) or None)
    out.amendments.append(row)
    if out.plan_versions_follow is not None and row.plan_before != out.plan_hash:
        out.plan_versions_follow = False
    out.plan_hash = row.plan_after
    if isinstance(p.get("chain_after"), list):
        out.chain_after = [dict(lv) for lv in p["chain_after"] if isinstance(lv, dict)]
    for d in p.get("deadlines") or []:
        if isinstance(d, dict) and d.get("deadline") and d.get("due_after"):
            out.due_after[str(d["deadline"])] = date.fromisoformat(str(d["due_after"]))
    if out.chain == "pending" and row.level_after:  # a transferred sign-off: pending there now
        out.pending_level = row.level_after


def _new_round(plan: Plan, out: CaseAt, submitted: dict[str, bool], p: dict[str, Any],
               when: datetime) -> None:
    submitted.setdefault("dossier", False)
    out.round = int(p.get("round", out.round + 1) or 0)
    first = p.get("first_level") or (plan.approval_chain[0].id if plan.approval_chain else None)
    out.chain, out.pending_level = "pending", str(first) if first else None
    out.status = "in_recognition" if out.status != "closed" else out.status
    out.rounds.append(Round(out.round, when, _text(p.get("submitted_by"))))
    out.documents.append(Document("dossier", _text(p.get("submitted_by")), when, False,
                                  list(p.get("attachments") or [])))


def _round(out: CaseAt, p: dict[str, Any], when: datetime) -> Round:
    """The round a chain event belongs to (a round is opened if its dossier event is
    missing, so a partial history still folds)."""
    number = int(p.get("round", out.round) or 0)
    if not out.rounds or out.rounds[-1].round != number:
        out.rounds.append(Round(number, when, ""))
        out.round = max(out.round, number)
    return out.rounds[-1]


def _criteria(plan: Plan, results: list[dict[str, Any]]) -> list[CriterionRow]:
    known = {c.id: c for c in (plan.criteria.criteria if plan.criteria else [])}
    rows = []
    for r in results:
        c = known.get(int(r.get("id", 0)))
        rows.append(CriterionRow(
            id=int(r.get("id", 0)), title_vi=c.title_vi if c else "",
            title_en=c.title_en if c else "", met=bool(r.get("met")),
            reason_vi=str(r.get("reason_vi", "")), reason_en=str(r.get("reason_en", "")),
            source=c.source if c else ""))
    return rows


def _deadlines(plan: Plan, submitted: dict[str, bool], missed: set[str],
               due_after: dict[str, date]) -> list[DeadlineRow]:
    rows = []
    for d in sorted(plan.deadlines, key=lambda d: due_after.get(d.id, d.due)):
        if d.kind not in CASE_DEADLINE_KINDS:
            continue
        if d.id in submitted:
            state = "late" if submitted[d.id] else "met"
        elif d.id in missed:
            state = "missed"
        else:
            state = "pending"
        rows.append(DeadlineRow(d.id, d.kind, d.title_vi, d.title_en, due_after.get(d.id, d.due),
                                state, d.source))
    return rows


def _levels(plan: Plan, out: CaseAt) -> list[LevelRow]:
    current = out.rounds[-1] if out.rounds else Round(0, datetime.min, "")
    returned = current.rejected.level if current.rejected else None
    rows = []
    chain: list[tuple[str, str, str, list[str], str]] = [
        (lv.id, lv.name_vi, lv.name_en, [str(r) for r in lv.roles], str(lv.rule))
        for lv in plan.approval_chain]
    if out.chain_after is not None:  # amended: the chain the case runs on now
        chain = [(_text(lv.get("id")), _text(lv.get("name_vi")), _text(lv.get("name_en")),
                  [str(r) for r in lv.get("roles") or []], _text(lv.get("rule")))
                 for lv in out.chain_after]
    if out.chain_after is not None:
        # levels of this round the amendment took away: still shown with their signatures,
        # approved, or "transferred" (their pending sign-off moved on)
        now = {c[0] for c in chain}
        gone = [(lv.id, lv.name_vi, lv.name_en, [str(r) for r in lv.roles], str(lv.rule))
                for lv in plan.approval_chain if lv.id not in now
                and (lv.id in current.approved or lv.id in current.signed)]
        chain = gone + chain
    for lv_id, name_vi, name_en, roles, rule in chain:
        if lv_id in current.approved:
            state = "approved"
        elif lv_id == returned:
            state = "returned"
        elif lv_id == out.pending_level:
            state = "pending"
        elif out.chain_after is not None and lv_id not in {
                _text(x.get("id")) for x in out.chain_after}:
            state = "transferred"
        else:
            state = "waiting"
        rows.append(LevelRow(lv_id, name_vi, name_en, roles, rule, state,
                             list(current.signed.get(lv_id, [])), current.approved.get(lv_id)))
    return rows


def _row(e: ReplayedEvent) -> TimelineRow:
    p = e.payload
    actor = next((str(p[k]) for k in _ACTOR if p.get(k)), "")
    role = str(p.get("role") or p.get("opened_by_role") or "")
    where = "/".join(str(p[k]) for k in _WHERE if p.get(k))
    details = "; ".join(f"{k}: {_short(v)}" for k, v in p.items()
                        if k not in _SKIP_DETAILS and v not in (None, "", [], {}))
    timing: Timing | None = None
    if e.type == "report.submitted":
        timing = "late" if p.get("late") else "on_time"
    elif e.type == "deadline.missed":
        timing = "missed"
    return TimelineRow(e.recorded_at, e.type, actor, role, details, e.version, where, timing)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _short(value: Any) -> str:
    text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
    return text if len(text) <= 160 else text[:157] + "..."
