"""What the HTTP API accepts and answers (request bodies; answers reuse the service's models).

Bounds are those of the workflows' messages (``workflows.messages``): a body the workflows
would refuse is refused here first, with the field named.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from workflows.messages import MAX_COMMUNES, CommuneCode, Id, MetricsMap, Text

EXAMPLE_METRICS: dict[str, Any] = {
    "population": 9000, "addicts_total": 25, "addicts_with_records": 25, "hotspots": 1,
}


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StartCase(_Body):
    """Mở hồ sơ chuyển hóa: a commune's case under a plan, with its baseline metrics."""

    plan_id: Id
    commune_code: CommuneCode
    baseline: MetricsMap = Field(json_schema_extra={"examples": [EXAMPLE_METRICS]})


class Submission(_Body):
    """Nộp báo cáo / hồ sơ: a report due under the plan, or the dossier (with metrics)."""

    deadline_id: Id = Field(json_schema_extra={"examples": ["phase_1_report"]})
    metrics: MetricsMap | None = None
    summary: Text = ""


DecisionKind = Literal["approve", "reject", "delegate", "resubmit", "select", "not_select"]


class Decision(_Body):
    """A decision on the case: selection (select / not_select) by the provincial police, or on
    the approval chain's pending level (approve / reject / delegate), or the commune's
    resubmission of a returned dossier."""

    kind: DecisionKind
    level: Id | None = None  # default: the level pending now
    reason: Text = ""
    to_person_id: Id | None = None  # delegate: a colleague of the same role and unit


class WithdrawalBody(_Body):
    reason: str = Field(min_length=1, max_length=2000)


class ProposalBody(_Body):
    """Đề xuất: communes with their baseline metrics."""

    communes: dict[CommuneCode, MetricsMap] = Field(max_length=MAX_COMMUNES)


class SelectionBody(_Body):
    """Danh sách địa bàn chuyển hóa: the communes selected, or every proposed one."""

    communes: list[CommuneCode] = Field(default_factory=list, max_length=MAX_COMMUNES)
    all_proposed: bool = False
    reason: Text = ""


class RecognitionBody(_Body):
    """Danh sách công nhận: the communes recognised in one decision."""

    communes: list[CommuneCode] = Field(max_length=MAX_COMMUNES)
    reason: Text = ""


class CaseCreated(BaseModel):
    case_id: str


class Page(BaseModel):
    items: list[dict[str, Any]]
    total: int
    limit: int
    offset: int
