"""The catalogue of events: everything that can happen to a conversion case.

A case (hồ sơ chuyển hóa, one commune in one plan year) is an append-only stream of these.
Each event class has a stable ``TYPE`` name (never renamed: stored histories use it) and a
``SCHEMA_VERSION``. When a payload's shape changes, bump the version and register an
upcaster that lifts the old payload; stored rows are never rewritten (see ``upcast``).

Payloads carry aggregates and codes only, never names of people (Decree 13/2023/NĐ-CP):
a reviewer is identified by an opaque person id and a role.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.errors import DomainError

Outcome = Literal["recognised", "not_recognised", "not_selected", "withdrawn", "interrupted"]


class Event(BaseModel):
    """Base of every case event: frozen, no unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    TYPE: ClassVar[str] = ""
    SCHEMA_VERSION: ClassVar[int] = 1

    @property
    def type(self) -> str:
        return self.TYPE

    def payload(self) -> dict[str, Any]:
        """The JSON-ready payload stored in the event store."""
        return self.model_dump(mode="json")


class CaseOpened(Event):
    """Mở hồ sơ chuyển hóa: district UBND starts a commune's conversion case.

    v2: ``plan_hash``, the content hash of the plan version the case opened under (the
    published version's, ``domain.plan.plan_hash``), so an auditor knows the rules a case began
    with and can follow them through its ``case.amended`` events (``plan_before`` ->
    ``plan_after``). None: unknown (v1, or a case opened before the workflow recorded it)."""

    TYPE = "case.opened"
    SCHEMA_VERSION = 2
    plan_id: str
    commune_code: str
    district_code: str | None
    province_code: str
    opened_by: str
    opened_by_role: str
    plan_hash: str | None = None


class MetricsRecorded(Event):
    """Số liệu: aggregate metrics recorded (baseline, phase report, self-assessment)."""

    TYPE = "metrics.recorded"
    purpose: Literal["baseline", "report", "self_assessment"]
    metrics: dict[str, Any]
    classification: str | None = None
    classification_reasons: list[str] = []


class SelectionApproved(Event):
    """Phê duyệt địa bàn chuyển hóa: provincial police selects the commune (001 §III.2)."""

    TYPE = "selection.approved"
    decided_by: str
    role: str
    reason: str = ""


class SelectionRejected(Event):
    """Không lựa chọn: the commune is not selected for conversion this year."""

    TYPE = "selection.rejected"
    decided_by: str
    role: str
    reason: str


class PhaseStarted(Event):
    """Bắt đầu giai đoạn (phase) n of the plan."""

    TYPE = "phase.started"
    phase: int
    starts_on: date
    ends_on: date


class PhaseEnded(Event):
    """Kết thúc giai đoạn n."""

    TYPE = "phase.ended"
    phase: int


class Attachment(BaseModel):
    """Tệp đính kèm: a file submitted with a report or the dossier, by its SHA-256 (the bytes
    are kept by the front door's attachment store, keyed by this hash)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=255)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=1)


class ReportSubmitted(Event):
    """Báo cáo: a report or document due under the plan (implementation plan, phase report,
    quarterly forum record, the recognition dossier). ``late`` marks a submission after its
    deadline; ``attachments`` the files submitted with it (name, SHA-256, size).

    Schema v2 added ``late``; v1 payloads are upcast with ``late = False``. ``attachments``
    came later with an empty default and is left out of the payload when empty, so a
    submission without files is stored exactly as before (no new schema version).
    """

    TYPE = "report.submitted"
    SCHEMA_VERSION = 2
    deadline_id: str
    submitted_by: str
    role: str
    late: bool
    summary: str = ""
    attachments: list[Attachment] = []

    def payload(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude={"attachments"} if not self.attachments
                               else None)


class DeadlineMissed(Event):
    """Quá hạn: a deadline passed without its submission."""

    TYPE = "deadline.missed"
    deadline_id: str
    due: date


class ReminderSent(Event):
    """Nhắc hạn: a reminder before a deadline (offset in days from the plan)."""

    TYPE = "reminder.sent"
    deadline_id: str
    due: date
    days_before: int
    to_role: str


class Escalated(Event):
    """Báo cáo cấp trên: a missed deadline escalated to the level above."""

    TYPE = "case.escalated"
    deadline_id: str
    to_role: str


class CriteriaEvaluated(Event):
    """Sơ kết: the plan's criteria set evaluated on the submitted metrics."""

    TYPE = "criteria.evaluated"
    criteria_set: str
    met: bool
    results: list[dict[str, Any]]


class DossierSubmitted(Event):
    """Nộp hồ sơ đề nghị công nhận: the commune submits its recognition dossier.

    ``first_level`` is the level that becomes pending (the chain's first), so a reader knows
    it without the plan. Schema v2 added it; v1 payloads are upcast with ``first_level = None``
    (unknown).
    """

    TYPE = "dossier.submitted"
    SCHEMA_VERSION = 2
    round: int
    submitted_by: str
    role: str
    first_level: str | None


class SignoffRecorded(Event):
    """Ký duyệt: one role of the pending level approved in this round."""

    TYPE = "level.signed"
    round: int
    level: str
    reviewer: str
    role: str
    reason: str = ""
    on_behalf_of: str | None = None


class LevelApproved(Event):
    """Thông qua cấp: the level's rule is satisfied (every role, any one role, or k council
    members approved); the dossier moves up."""

    TYPE = "level.approved"
    round: int
    level: str
    next_level: str | None


class LevelRejected(Event):
    """Trả hồ sơ: a reviewer rejected; the dossier goes back to the commune with reasons.

    At a council level (rule ``quorum``) ``reviewer`` is the member whose vote made k
    approvals unreachable and ``reason`` joins every objection of the round ("; ").
    """

    TYPE = "level.rejected"
    round: int
    level: str
    reviewer: str
    role: str
    reason: str
    on_behalf_of: str | None = None


class VoteCast(Event):
    """Biểu quyết (vote): one member of a council level (rule ``quorum``, e.g. the provincial
    review council, Hội đồng xét duyệt) votes in this round.

    ``reviewer`` is the member's person id, named by the council's founding decision; a vote
    is personal and never cast on someone's behalf. The level's outcome follows in the same
    batch as ``level.approved`` (the k-th approval) or ``level.rejected`` (the rejection after
    which k approvals can no longer be reached).
    """

    TYPE = "level.voted"
    round: int
    level: str
    reviewer: str
    role: str
    vote: Literal["approve", "reject"]
    reason: str = ""


class SignoffDelegated(Event):
    """Ủy quyền: a pending sign-off handed to another person of the same role and jurisdiction."""

    TYPE = "signoff.delegated"
    round: int
    level: str
    role: str
    from_person: str
    to_person: str


class DossierResubmitted(Event):
    """Nộp lại hồ sơ: a new round from the first level after a rejection.

    Schema v2 added ``first_level`` (as ``DossierSubmitted``); v1 is upcast with ``None``.
    """

    TYPE = "dossier.resubmitted"
    SCHEMA_VERSION = 2
    round: int
    submitted_by: str
    role: str
    first_level: str | None


class RecognitionGranted(Event):
    """Công nhận: the commune is recognised drug-free (provincial UBND decision)."""

    TYPE = "recognition.granted"
    round: int
    decided_by: str


class RecognitionDenied(Event):
    """Không công nhận: the case closes without recognition, with the reasons."""

    TYPE = "recognition.denied"
    reasons: list[str]


class RecognitionInterrupted(Event):
    """Xét duyệt bị dừng: the approval chain stopped without a decision (terminated, timed out
    or failed in the workflow service); the case closes "interrupted", never "denied"."""

    TYPE = "recognition.interrupted"
    cause: str


class CaseWithdrawn(Event):
    """Rút hồ sơ: district UBND withdraws the case, with a reason."""

    TYPE = "case.withdrawn"
    withdrawn_by: str
    role: str
    reason: str


class CaseHalted(Event):
    """Dừng hồ sơ: a rule of the plan could not be applied during the run (a data error that
    no decision can fix); the case closes "interrupted" with the rule's code, instead of its
    workflow failing forever."""

    TYPE = "case.halted"
    code: str


class CaseClosed(Event):
    """Kết thúc hồ sơ: the case's final outcome; nothing is accepted after it."""

    TYPE = "case.closed"
    outcome: Outcome


class CaseAmended(Event):
    """Sửa đổi kế hoạch: an amendment (văn bản sửa đổi) moved the running case onto new rules.

    Self-describing, so a reader needs neither the amendment file nor the plan: the
    amendment, its legal sources and effective date, who applied it, the plan's content hash
    before and after, the chain before (ids) and after (levels with names and signers), and
    for this case the pending level before -> after (``transferred`` when the level that was
    pending is gone: its sign-off moved, never dropped), the deadlines, escalation targets
    and unit codes before -> after. Signatures given before stay valid and are listed.
    """

    TYPE = "case.amended"
    amendment: str
    title_vi: str
    effective_on: date
    sources: list[str]
    decided_by: str
    role: str
    plan_before: str  # content hashes (RFC 8785 JSON, SHA-256)
    plan_after: str
    structure_before: str
    structure_after: str
    roles: dict[str, str] = {}  # role reassigned -> its successor
    chain_before: list[str]
    chain_after: list[dict[str, Any]]  # {id, name_vi, name_en, roles, rule, deadline_days, members}
    pending: dict[str, Any] | None = None  # domain.amendment.PendingChange
    deadlines: list[dict[str, Any]] = []  # domain.amendment.DeadlineEffect
    escalations: list[dict[str, Any]] = []  # domain.amendment.LevelEscalation
    codes: dict[str, Any] | None = None  # domain.amendment.CodeChange
    # merged communes (domain.amendment.MergedCommunes): recognition rule and target unit
    merged: dict[str, str] | None = None


# -- reporting rounds (kỳ báo cáo: domain.reporting_round) -------------------------------------


class RoundOpened(Event):
    """Mở kỳ báo cáo: a reporting round opens; every unit listed owes its report by ``due``."""

    TYPE = "round.opened"
    plan_id: str
    round: str
    kind: str
    year: int
    due: date
    form: str
    province_code: str
    opened_by: str
    role: str
    units: list[str]
    title_vi: str = ""  # the round's title (an ad hoc round's is only here)


class UnitReportSubmitted(Event):
    """Báo cáo của đơn vị: one unit's report (values typed by the form), on time or late;
    ``resubmission``: after it was sent back."""

    TYPE = "unit_report.submitted"
    unit: str
    submitted_by: str
    role: str
    late: bool
    values: dict[str, Any]
    sections: dict[str, str] = {}
    attachments: list[Attachment] = []
    resubmission: bool = False


class UnitReportReturned(Event):
    """Trả lại báo cáo: the consolidating role sends a unit's report back, with the reason;
    the unit reports again."""

    TYPE = "unit_report.returned"
    unit: str
    reviewer: str
    role: str
    reason: str


class UnitReportReminded(Event):
    """Nhắc hạn: a unit whose report is still owed is reminded ``days_before`` its due day."""

    TYPE = "unit_report.reminded"
    unit: str
    due: date
    days_before: int
    to_role: str


class UnitReportMissed(Event):
    """Quá hạn: a unit's report was not in by its due day; escalated to ``escalated_to``."""

    TYPE = "unit_report.missed"
    unit: str
    due: date
    escalated_to: str


class RoundConsolidated(Event):
    """Tổng hợp: the consolidating role's table of the round (``domain.reporting``'s
    ``Consolidation``: per indicator the value, the change on the previous round, the target
    met or not; units reported, missing and late)."""

    TYPE = "round.consolidated"
    consolidated_by: str
    role: str
    table: dict[str, Any]


class RoundApproved(Event):
    """Phê duyệt báo cáo: the approving role (provincial People's Committee) approves the
    province's report of the round."""

    TYPE = "round.approved"
    approved_by: str
    role: str
    reason: str = ""


class RoundClosed(Event):
    """Kết thúc kỳ báo cáo: approved, or expired at the plan's end without an approval."""

    TYPE = "round.closed"
    outcome: Literal["approved", "expired"]


class AuditRead(Event):
    """Lượt xem kiểm toán: someone read a case's record (or the log) for audit; kept in the
    reader's own stream (``audit-reads:<province>:<person>``), hash-chained like any other."""

    TYPE = "audit.read"
    reader: str
    role: str
    province_code: str
    interface: Literal["api", "web", "cli"]
    operation: str  # history | status | case_page | verify | consistency | inclusion | ...
    target: str  # the case id, or "log" for the whole log


EVENT_TYPES: dict[str, type[Event]] = {
    cls.TYPE: cls
    for cls in (
        CaseOpened,
        CaseHalted,
        MetricsRecorded,
        SelectionApproved,
        SelectionRejected,
        PhaseStarted,
        PhaseEnded,
        ReportSubmitted,
        DeadlineMissed,
        ReminderSent,
        Escalated,
        CriteriaEvaluated,
        DossierSubmitted,
        SignoffRecorded,
        LevelApproved,
        LevelRejected,
        SignoffDelegated,
        DossierResubmitted,
        VoteCast,
        RecognitionGranted,
        RecognitionDenied,
        CaseWithdrawn,
        CaseClosed,
        RecognitionInterrupted,
        CaseAmended,
        RoundOpened,
        UnitReportSubmitted,
        UnitReportReturned,
        UnitReportReminded,
        UnitReportMissed,
        RoundConsolidated,
        RoundApproved,
        RoundClosed,
        AuditRead,
    )
}

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

# (type, from_version) -> function lifting a payload to from_version + 1.
UPCASTERS: dict[tuple[str, int], Upcaster] = {
    ("report.submitted", 1): lambda p: {**p, "late": False},
    # v1 never said which level became pending: unknown, not guessed from today's plan
    ("dossier.submitted", 1): lambda p: {**p, "first_level": None},
    ("dossier.resubmitted", 1): lambda p: {**p, "first_level": None},
    # v1 never said which plan version the case opened under: unknown
    ("case.opened", 1): lambda p: {**p, "plan_hash": None},
}


def upcast(
    type_name: str, schema_version: int, payload: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    """Lift a stored payload to the current schema version of its type, step by step.

    Unknown types pass through unchanged (a reader may be older than the writer).
    """
    cls = EVENT_TYPES.get(type_name)
    if cls is None:
        return schema_version, payload
    while schema_version < cls.SCHEMA_VERSION:
        step = UPCASTERS.get((type_name, schema_version))
        if step is None:
            raise DomainError(
                "events.no_upcaster",
                f"no upcaster for {type_name} v{schema_version} -> v{schema_version + 1}",
            )
        payload = step(payload)
        schema_version += 1
    return schema_version, payload


def parse_event(type_name: str, schema_version: int, payload: dict[str, Any]) -> Event:
    """Rebuild a typed event from a stored row, upcasting old versions first."""
    cls = EVENT_TYPES.get(type_name)
    if cls is None:
        raise DomainError("events.unknown_type", f"unknown event type: {type_name}")
    _, current = upcast(type_name, schema_version, payload)
    return cls.model_validate(current)
