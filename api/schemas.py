"""What the HTTP API accepts and answers (request bodies; answers reuse the service's models).

Bounds are those of the workflows' messages (``workflows.messages``): a body the workflows
would refuse is refused here first, with the field named.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Path
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from workflows.messages import (
    MAX_ATTACHMENTS,
    MAX_COMMUNES,
    MAX_ID,
    CaseStatus,
    CommuneCode,
    Id,
    MetricsMap,
    RecognitionStatus,
    SubmissionKind,
    Text,
)

# The examples in /openapi.json: one commune of Trà Vinh (district 851) under its 2025 plan.
EXAMPLE_PLAN = "tra-vinh-2025"
EXAMPLE_COMMUNE = "29527"
EXAMPLE_CASE = f"conversion:{EXAMPLE_PLAN}:{EXAMPLE_COMMUNE}"
# A complete baseline (every metric the shipped rule sets read): a type III key area.
EXAMPLE_METRICS: dict[str, Any] = {
    "population": 9000, "on_trafficking_route": False,
    "addicts_total": 25, "addicts_with_records": 25, "addicts_in_treatment": 20,
    "addicts_in_community": 25, "addicts_negative_test_30d": 10,
    "users_total": 6, "users_with_records": 6, "users_negative_test_30d": 3,
    "psychosis_cases": 0, "suspects_total": 4, "suspects_tested": 4,
    "post_rehab_total": 5, "post_rehab_with_records": 5, "post_rehab_tested": 5,
    "baseline_addicts": 25, "baseline_users": 6,
    "hotspots": 1, "drug_rings": 0, "risk_points": 0, "drug_plants": 0, "drug_plant_area_m2": 0,
    "illicit_production_cases": 0, "drug_offenders": 0, "drug_crimes_by_residents": 0,
    "violators_detected": 1, "violators_handled": 1, "resident_offenders": 0,
    "resident_offenders_arrested": 0, "wanted_in_area": 0, "wanted_arrested": 0,
    "serious_incidents_by_users": 0, "relapse_crimes": 0,
    "households_total": 2100, "households_committed": 1500,
    "hamlets_total": 8, "hamlets_with_hotline_board": 8, "prevention_models": 1,
}


# A case's id as the paths take it: ``conversion:<plan>:<commune code>`` (its recognition
# chain's id, ``recognition:...``, names the same case).
CASE_ID_PATTERN = r"^(conversion|recognition):[^:\x00]+:[0-9]+$"
CaseIdPath = Annotated[str, Path(pattern=CASE_ID_PATTERN, max_length=MAX_ID + 32,
                                 examples=[EXAMPLE_CASE],
                                 description="conversion:<plan>:<commune code>")]
PlanIdPath = Annotated[str, Path(max_length=MAX_ID, examples=[EXAMPLE_PLAN])]


# Bodies are strict: what the schema says is what is accepted (no 0 for false, no 1 for "1").
def _examples(*examples: dict[str, Any]) -> ConfigDict:
    return ConfigDict(extra="forbid", strict=True,
                      json_schema_extra={"examples": list(examples)})


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class StartCase(_Body):
    """Mở hồ sơ chuyển hóa: a commune's case under a plan, with its baseline metrics."""

    model_config = _examples({"plan_id": EXAMPLE_PLAN, "commune_code": EXAMPLE_COMMUNE,
                              "baseline": EXAMPLE_METRICS})

    plan_id: Id
    commune_code: CommuneCode
    baseline: MetricsMap = Field(json_schema_extra={"examples": [EXAMPLE_METRICS]})


SHA256_PATTERN = r"^[0-9a-f]{64}$"
EXAMPLE_SHA256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


class AttachmentRef(_Body):
    """A file uploaded to the case (``POST /cases/{case_id}/attachments``), by its hash."""

    name: str = Field(min_length=1, max_length=255, examples=["bien-ban-hop-dan.pdf"])
    sha256: str = Field(pattern=SHA256_PATTERN, examples=[EXAMPLE_SHA256])


class Submission(_Body):
    """Nộp báo cáo / hồ sơ: a report due under the plan, or the dossier (with metrics).
    ``deadline_id`` names the deadline; or ``kind`` alone (implementation_plan, phase_report,
    forum, dossier): the case's earliest outstanding deadline of that kind. ``attachments``:
    files uploaded to the case first; the event records each one's name, hash and size."""

    model_config = _examples(
        {"deadline_id": "phase_1_report", "summary": "đã tổ chức 3 buổi tuyên truyền"},
        {"kind": "forum", "summary": "diễn đàn quý I",
         "attachments": [{"name": "bien-ban.pdf", "sha256": EXAMPLE_SHA256}]},
        {"deadline_id": "dossier", "metrics": EXAMPLE_METRICS, "summary": "hồ sơ đề nghị"})

    deadline_id: Id | None = Field(default=None, json_schema_extra={"examples": ["phase_1_report"]})
    kind: SubmissionKind | None = None
    metrics: MetricsMap | None = None
    summary: Text = ""
    attachments: list[AttachmentRef] = Field(default_factory=list, max_length=MAX_ATTACHMENTS)


class Uploaded(BaseModel):
    """A file stored for the case: its SHA-256 (name it in a submission), size and name."""

    sha256: str
    size: int
    name: str


DecisionKind = Literal["approve", "reject", "delegate", "resubmit", "select", "not_select"]


class Decision(_Body):
    """A decision on the case: selection (select / not_select) by the provincial police, or on
    the approval chain's pending level (approve / reject / delegate), or the commune's
    resubmission of a returned dossier."""

    model_config = _examples(
        {"kind": "select"},
        {"kind": "approve"},
        {"kind": "reject", "reason": "thiếu biên bản họp dân"},
        {"kind": "delegate", "to_person_id": "p-deputy"},
        {"kind": "resubmit"})
    kind: DecisionKind
    level: Id | None = None  # default: the level pending now
    reason: Text = ""
    to_person_id: Id | None = None  # delegate: a colleague of the same role and unit


class WithdrawalBody(_Body):
    """Rút hồ sơ: the case withdrawn, with the reason."""

    model_config = _examples({"reason": "sáp nhập đơn vị hành chính"})

    reason: str = Field(min_length=1, max_length=2000)


class ProposalBody(_Body):
    """Đề xuất: communes with their baseline metrics."""

    model_config = _examples({"communes": {EXAMPLE_COMMUNE: EXAMPLE_METRICS}})

    communes: dict[CommuneCode, MetricsMap] = Field(max_length=MAX_COMMUNES)


class SelectionBody(_Body):
    """Danh sách địa bàn chuyển hóa: the communes selected, or every proposed one."""

    model_config = _examples({"communes": [EXAMPLE_COMMUNE]}, {"all_proposed": True})

    communes: list[CommuneCode] = Field(default_factory=list, max_length=MAX_COMMUNES)
    all_proposed: bool = False
    reason: Text = ""


class RecognitionBody(_Body):
    """Danh sách công nhận: the communes recognised in one decision."""

    model_config = _examples({"communes": [EXAMPLE_COMMUNE], "reason": "đạt tiêu chí"})

    communes: list[CommuneCode] = Field(max_length=MAX_COMMUNES)
    reason: Text = ""


class CaseCreated(BaseModel):
    case_id: str


class CampaignOpened(BaseModel):
    campaign_id: str


class Page(BaseModel):
    """One page of a list: the rows (the read model's columns), how many there are in all."""

    items: list[dict[str, Any]]
    total: int
    limit: int
    offset: int


class PlanInfo(BaseModel):
    """One version of a plan (phiên bản kế hoạch)."""

    id: str
    title_vi: str
    title_en: str
    province_code: str
    district_code: str | None
    starts_on: str
    ends_on: str
    version: int | None = Field(description="1, 2, ...; null: a catalogue file not stored "
                                            "(no event store)")
    content_hash: str = Field(description="SHA-256 of the plan's canonical JSON (RFC 8785)")
    source: Literal["catalogue", "published"]
    published_by: dict[str, Any] | None = None
    published_at: str | None = None


class CaseView(BaseModel):
    """A case as a reader sees it: its own status and, once its dossier is in, its chain's."""

    case: CaseStatus
    chain: RecognitionStatus | None


class HistoryEvent(BaseModel):
    """One event of a case's stream; ``hash`` (hex) covers its stored bytes."""

    version: int
    type: str
    recorded_at: str
    payload: dict[str, Any]
    hash: str


class ChainCheck(BaseModel):
    """A case's hash chain re-derived from its stored bytes."""

    case_id: str
    events: int
    intact: bool
    broken: str | None = None


def _whole(value: Any) -> Any:
    """JSON Schema's ``integer`` admits 2.0: take it as 2 (strict models refuse floats)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


WholeNumber = Annotated[int, BeforeValidator(_whole)]


class CheckpointBody(_Body):
    """A checkpoint the auditor kept (the signed note's text), and optionally the verifier
    key to check it with (the deployment's by default)."""

    model_config = _examples({"checkpoint": "drugfree.local/events\n42\n...\n\n— ..."})

    checkpoint: str = Field(min_length=1, max_length=64 * 1024)
    key: str | None = Field(default=None, max_length=500)


class InclusionBody(CheckpointBody):
    model_config = _examples({"case_id": EXAMPLE_CASE, "version": 1,
                              "checkpoint": "drugfree.local/events\n42\n...\n\n— ..."})

    case_id: str = Field(pattern=CASE_ID_PATTERN, max_length=MAX_ID + 32)
    version: WholeNumber = Field(ge=1, le=1_000_000_000)


class ConsistencyAnswer(BaseModel):
    """Whether the log still holds exactly what the checkpoint covered, and the proof
    (base64 hashes, RFC 6962) from its tree to today's."""

    consistent: bool
    old_size: int
    new_size: int | None = None
    old_root: str
    new_root: str | None = None
    proof: list[str] = []
    code: str | None = None
    message_vi: str | None = None
    message_en: str | None = None


class InclusionAnswer(BaseModel):
    case_id: str
    version: int
    leaf_index: int
    tree_size: int
    root: str
    leaf_hash: str
    proof: list[str]


class Health(BaseModel):
    """``ok`` / ``ready``; ``degraded`` while the database's disk is full (``database``:
    ``disk_full``, and the message in both languages): reads are served, writes refused."""

    status: str
    database: str | None = None
    message_vi: str | None = None
    message_en: str | None = None
