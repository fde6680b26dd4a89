"""What clients send to and read from the case workflows (inputs, updates, queries).

Every submission and decision carries the acting ``Actor`` and a client-chosen ``request_id``:
a retried request with the same id is answered from memory, never applied twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
)

from catalog.shared import shared
from domain.amendment import Amendment
from domain.amendment_effect import SignatureKept
from domain.approval import ChainState, LevelStanding
from domain.case import CaseState
from domain.clock import PlanClock
from domain.events import Attachment
from domain.plan import Plan
from domain.reporting import ReportingPlan, Round
from domain.roles import Actor, CaseScope
from domain.units import UnitConversion

# Size bounds on everything a caller can send. An oversize message is refused as a whole when
# a workflow decodes it (code ``input.invalid``, runtime.temporal), before any validator runs,
# so a handler never meets it. A list decision's text fans out into per-case decisions, so
# both share one bound, and a list's request id leaves room for ":<commune>".
MAX_TEXT = 2000  # reasons, summaries
MAX_ID = 128  # request ids, deadline and level ids
MAX_CODE = 20  # a commune code
MAX_LIST_REQUEST_ID = MAX_ID - 1 - MAX_CODE  # "<list request id>:<commune code>" fits MAX_ID
MAX_COMMUNES = 2000  # communes in one proposal or list (a province has a few hundred)
MAX_METRIC_KEYS = 100  # keys of one metrics mapping (the contract has about 40 fields)
MAX_ATTACHMENTS = 20  # files with one submission
MAX_UNITS = 5000  # unit conversions with one amendment (a province has a few hundred communes)

Text = Annotated[str, Field(max_length=MAX_TEXT)]
Id = Annotated[str, Field(min_length=1, max_length=MAX_ID)]
CommuneCode = Annotated[str, Field(min_length=1, max_length=MAX_CODE)]
# A start's plan as decoded: the worker's one copy of it (catalog.shared), since the SDK keeps
# every cached run's decoded input, and 3,321 copies of one plan weighed 80 kB each.
SharedPlan = Annotated[Plan, AfterValidator(shared)]
MetricsMap = Annotated[dict[Annotated[str, Field(max_length=MAX_ID)], Any],
                       Field(max_length=MAX_METRIC_KEYS)]


class _Msg(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Start(_Msg):
    """The input of a workflow that appends events. ``local_appends``: append them (and ask
    for the admission) as local activities (README, "Local appends"); chosen by whoever starts
    the workflow and carried by its children, so a replay decides as the run did. Left out of
    the message while false: a start without it is the same message (and command digest) as
    before it existed."""

    local_appends: bool = False

    @model_serializer(mode="wrap")
    def _without_default_appends(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if not self.local_appends:
            data.pop("local_appends", None)
        return data


Proof = Annotated[str, Field(max_length=4096)]


class Request(_Msg):
    request_id: Id
    actor: Actor
    # The command proof (domain.identity): signed for this workflow, this request id and this
    # content. Left out of the digest it signs.
    proof: Proof | None = None


class ListRequest(Request):
    """A list decision: its request id is suffixed per commune when it fans out."""

    request_id: str = Field(min_length=1, max_length=MAX_LIST_REQUEST_ID)


# -- conversion case --------------------------------------------------------------------------


class CaseInput(_Start):
    """Start of a conversion case (mở hồ sơ chuyển hóa) by district UBND."""

    plan: SharedPlan
    scope: CaseScope
    opened_by: Actor
    baseline: MetricsMap
    clock: PlanClock = PlanClock()
    campaign_id: str | None = None  # the province campaign to tell when the case closes
    # Continue as new past this many history events even if the server does not suggest it
    # (the server's own suggestion comes much later; tests use a small limit).
    history_limit: int | None = Field(default=None, ge=50)
    identity_key: str | None = None  # recorded histories only: keys come from the worker now
    proof: Proof | None = None  # the opener's command proof, for request id "open"
    carried: CaseCarry | None = None  # set on continue-as-new (only the workflow itself may)


class SelectionDecision(Request):
    """Provincial police selects (or not) the commune for conversion."""

    selected: bool
    reason: Text = ""


SubmissionKind = Literal["implementation_plan", "phase_report", "forum", "dossier"]


class ReportSubmission(Request):
    """A report / document due under the plan; ``metrics`` for phase reports and the dossier.
    ``deadline_id`` names the deadline, or ``kind`` alone lets the case pick its earliest
    outstanding deadline of that kind (``domain.case.submission_deadline``); ``attachments``:
    files already stored by the front door, with their sizes."""

    deadline_id: Id | None = None
    kind: SubmissionKind | None = None
    metrics: MetricsMap | None = None
    summary: Text = ""
    attachments: list[Attachment] = Field(default_factory=list, max_length=MAX_ATTACHMENTS)

    @model_serializer(mode="wrap")
    def _as_before(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # The fields added later are left out while unused: a submission by deadline without
        # files is the same message (and command digest) as before they existed.
        data: dict[str, Any] = handler(self)
        if self.kind is None:
            data.pop("kind", None)
        if not self.attachments:
            data.pop("attachments", None)
        return data


class Withdrawal(Request):
    """District UBND withdraws the case (rút hồ sơ), with a reason."""

    reason: str = Field(min_length=1, max_length=MAX_TEXT)


class Reply(_Msg):
    """What an accepted request answers: the case's stream version after it."""

    request_id: str
    accepted: bool = True
    detail: str = ""
    late: bool | None = None
    criteria_met: bool | None = None
    deadline_id: str | None = None  # a submission: the deadline it answered


class AmendmentOrder(Request):
    """Áp dụng văn bản sửa đổi: the provincial People's Committee moves the case onto the
    amended plan, now or (a future effective date) when it takes effect. ``units``: the
    legacy -> 2025 conversion of the plan's communes, when the amendment switches the
    structure (from the official tables: ``catalog.units_2025``)."""

    amendment: Amendment
    units: dict[CommuneCode, UnitConversion] = Field(default_factory=dict,
                                                     max_length=MAX_UNITS)


class ChainAmendment(_Msg):
    """A case tells its running chain to move onto the amended plan (a signal); the chain
    records ``record`` (the ``case.amended`` payload) completed with its pending level."""

    amendment: Amendment
    plan: Plan
    scope: CaseScope
    record: dict[str, Any]


class CaseCarry(_Msg):
    """What a case carries across continue-as-new: the decider's state and the bookkeeping."""

    case: CaseState
    done_agenda: list[str] = []
    event_seq: int = 0
    replies: dict[str, Reply] = {}
    plan: Plan | None = None  # amended: the plan the case runs on now (None: its input's)
    scope: CaseScope | None = None
    scheduled: list[AmendmentOrder] = []  # amendments waiting for their effective date


class CaseStatus(_Msg):
    case_id: str
    plan_id: str
    commune_code: str
    status: str
    phase: int | None
    classification: str | None
    submitted: dict[str, bool]
    missed: list[str]
    criteria_met: bool | None
    outcome: str | None
    reasons: list[str]
    next_deadlines: list[dict[str, str]]
    plan_hash: str | None = None  # the content hash of the plan the case runs on
    amendments: list[str] = []  # amendments applied, in order
    scheduled: list[str] = []  # amendments waiting for their effective date


# -- recognition chain ------------------------------------------------------------------------


class RecognitionInput(_Start):
    case_id: str
    plan: SharedPlan
    scope: CaseScope
    clock: PlanClock
    submitted_by: Actor
    cutoff: datetime
    identity_key: str | None = None  # recorded histories only
    campaign_id: str | None = None  # whose relayed list decision the chain accepts
    carried: RecognitionCarry | None = None


class RecognitionCarry(_Msg):
    chain: ChainState
    level_since: datetime | None
    event_seq: int
    replies: dict[str, Reply]
    reminded: list[str]
    plan: Plan | None = None  # amended: the plan the chain runs on now (None: its input's)
    scope: CaseScope | None = None
    round_signed: list[SignatureKept] = []


class ChainDecision(Request):
    """A decision on the pending level (đồng ý / không đồng ý / ủy quyền) or a resubmission."""

    kind: Literal["approve", "reject", "delegate", "resubmit"]
    level: Annotated[str, Field(max_length=MAX_ID)] | None = None
    reason: Text = ""
    to: Actor | None = None


class RecognitionResult(_Msg):
    outcome: Literal["recognised", "not_recognised", "closed"]
    round: int
    reasons: list[str] = []


class RecognitionStatus(_Msg):
    case_id: str
    status: str
    round: int
    pending_level: str | None
    signed: dict[str, str]
    awaiting: list[str]
    last_rejection: str | None
    level_due: datetime | None
    standing: LevelStanding | None = None  # the level's rule, approvals and what it needs


# -- province campaign ------------------------------------------------------------------------


class CampaignInput(_Start):
    plan: Plan
    clock: PlanClock = PlanClock()
    commune_districts: dict[str, str | None]  # the plan's communes -> district (None: 2-level)
    identity_key: str | None = None  # recorded histories only
    opened_by: Actor | None = None  # who opens the campaign (its proof's actor)
    proof: Proof | None = None
    history_limit: int | None = Field(default=None, ge=50)  # as CaseInput's
    carried: CampaignCarry | None = None  # set on continue-as-new (only the workflow itself may)


class CampaignCarry(_Msg):
    """What a campaign carries across continue-as-new (bounded by the plan's communes)."""

    proposed: dict[str, str | None]
    selection_done: bool
    selected: list[str]
    closed: dict[str, str]
    replies: dict[str, ListReply]
    plan: Plan | None = None  # amended: the plan the campaign runs on now (None: its input's)
    amendments: list[str] = []
    new_units: dict[str, str] = {}  # legacy commune -> its 2025 commune (after the reform)
    merged: dict[str, str] | None = None  # domain.amendment.MergedCommunes: rule and target
    scheduled: list[AmendmentOrder] = []  # amendments waiting for their effective date


class Proposal(ListRequest):
    """District UBND proposes communes (with baseline metrics) for conversion."""

    # commune code -> baseline metrics
    communes: dict[CommuneCode, MetricsMap] = Field(max_length=MAX_COMMUNES)


class SelectionList(ListRequest):
    """Provincial police approves the list of communes selected for conversion."""

    selected: list[CommuneCode] = Field(max_length=MAX_COMMUNES)
    reason: Text = ""  # becomes each case's SelectionDecision.reason: the same bound


class RecognitionList(ListRequest):
    """Provincial UBND approves the list of recognised communes in one decision."""

    communes: list[CommuneCode] = Field(max_length=MAX_COMMUNES)
    reason: Text = ""  # becomes each chain's ChainDecision.reason: the same bound


class ListReply(_Msg):
    request_id: str
    results: dict[str, str]  # commune code -> "ok" or an error code with message


class CampaignStatus(_Msg):
    plan_id: str
    proposed: list[str]
    selected: list[str]
    recognised: list[str]
    not_recognised: list[str]
    total_communes: int
    target_share: float
    target_met: bool
    # after an amendment that merged communes (domain.merged): what the target counts
    amendments: list[str] = []
    target_unit: str = "communes"  # communes | new_communes | legacy_areas
    target_total: int | None = None  # communes the share is taken of
    target_need: int | None = None
    target_recognised: int | None = None
    new_communes_recognised: list[str] = []  # 2025 communes recognised by the plan's rule


# -- reporting rounds (kỳ báo cáo) ---------------------------------------------------------------

MAX_INDICATORS = 200  # values in one unit's report
MAX_SECTION = 20000  # characters of one narrative section


class RoundInput(_Start):
    """Start of a reporting round (mở kỳ báo cáo) by the consolidating role."""

    plan: ReportingPlan
    round: Round
    clock: PlanClock = PlanClock()
    opened_by: Actor
    proof: Proof | None = None


class UnitReport(Request):
    """A unit's report (báo cáo của đơn vị): its values by indicator id and its sections."""

    unit: Id
    values: dict[Annotated[str, Field(max_length=MAX_ID)], Any] = Field(
        max_length=MAX_INDICATORS)
    sections: dict[Annotated[str, Field(max_length=MAX_ID)],
                   Annotated[str, Field(max_length=MAX_SECTION)]] = Field(
        default_factory=dict, max_length=50)
    attachments: list[Attachment] = Field(default_factory=list, max_length=MAX_ATTACHMENTS)


class ReportReturn(Request):
    """The consolidating role sends a unit's report back (trả lại), with its reason."""

    unit: Id
    reason: Text


class RoundDecision(Request):
    """Tổng hợp (consolidate) or phê duyệt (approve) the round."""

    kind: Literal["consolidate", "approve"]
    reason: Text = ""


class RoundStatus(_Msg):
    plan_id: str
    round: str
    status: str
    due: str
    units: list[str]
    reported: list[str]
    owing: list[str]
    late: list[str]
    returned: dict[str, str]
    missed: list[str]
    consolidation: dict[str, Any] | None = None
    definition: Round | None = None  # the round as it was opened (an ad hoc one's only here)


CaseInput.model_rebuild()
RecognitionInput.model_rebuild()
CampaignInput.model_rebuild()
