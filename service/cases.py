"""The service layer: the one typed facade over the case workflows and the event store.

Every caller goes through ``CaseService``: the command line and HTTP API of the next issues,
the web pages, the demo, the tests and the benchmarks. An operation takes the acting person
(``Actor``, whom the interface has authenticated), sets a request id (a retry with the same id
is answered from the workflow's memory, never applied twice), signs a command proof bound to
the workflow, the request id and the command's content (``domain.identity``; the person's own
token never reaches the workflow service), calls the workflow by its typed handler, and turns
every Temporal failure into a ``ServiceError`` with the domain's code. Interfaces never hold a
Temporal handle of their own.

Operations, by who does them:
- district UBND (the province after the 2025 reform): ``start_case``, ``propose``, ``withdraw``;
- provincial police: ``select``, ``approve_selection``;
- commune UBND: ``submit`` (reports and the dossier), ``resubmit``;
- reviewers of each level: ``approve``, ``reject``, ``delegate``;
- provincial UBND: ``approve_recognition`` (the list);
- everyone (read): ``status``, ``list_cases``, ``history``, ``campaign_status``;
- reviewers, the police and the commune (read): ``inbox``, the decisions awaiting their role
  in their jurisdiction.

Lists and the inbox read the read model (``case_status``, ``pending_decisions``), which the
worker's projector keeps up with the log a moment after each append: they are not
read-your-writes (a status read through the workflow is).
"""

from __future__ import annotations

import asyncio
import re
import unicodedata
import uuid
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal, TypeVar

import rfc8785
from pydantic import BaseModel
from temporalio.client import Client, WorkflowHandle

from activities.admission import OPEN_REQUEST, territory
from domain import case as case_decider
from domain.amendment import Amendment
from domain.case import CaseState
from domain.clock import PlanClock
from domain.events import Attachment
from domain.identity import Signer, command_digest, prove
from domain.plan import Plan
from domain.roles import Actor, CaseScope
from domain.units import UnitConversion
from eventstore import attachments as files
from eventstore.amendments import Amendments
from eventstore.projection import CaseStatus as CaseRow
from eventstore.records import RecordedEvent
from eventstore.store import EventStore
from service.errors import ServiceError, guarded, refuses_bad_input
from service.readmodel import Inbox, read_cases, read_inbox
from workflows import names
from workflows.campaign import ProvinceCampaignWorkflow
from workflows.conversion import CommuneConversionWorkflow
from workflows.messages import (
    AmendmentOrder,
    CampaignInput,
    CampaignStatus,
    CaseInput,
    CaseStatus,
    ChainDecision,
    ListReply,
    Proposal,
    RecognitionList,
    RecognitionStatus,
    Reply,
    ReportSubmission,
    Request,
    SelectionDecision,
    SelectionList,
    SubmissionKind,
    Withdrawal,
)
from workflows.recognition import RecognitionWorkflow

ChainKind = Literal["approve", "reject", "delegate", "resubmit"]
# The identity token the current request came with (set by the interface that verified it):
# its hash goes into each command proof (claim ``tok``), linking the record to the sign-in.
SIGNED_IN: ContextVar[str | None] = ContextVar("signed_in", default=None)
M = TypeVar("M", bound=BaseModel)
R = TypeVar("R", bound=BaseModel)


async def wall_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class CaseRef:
    """A case's address: one commune (mã xã) in one plan (kế hoạch)."""

    plan_id: str
    commune_code: str

    @property
    def case_id(self) -> str:
        return names.case_id(self.plan_id, self.commune_code)

    @property
    def recognition_id(self) -> str:
        return names.recognition_id(self.plan_id, self.commune_code)

    @classmethod
    def parse(cls, workflow_id: str) -> CaseRef:
        try:
            return cls(*names.parse_case_id(workflow_id))
        except ValueError as exc:
            raise ServiceError("case.bad_id", str(exc),
                               f"mã hồ sơ không hợp lệ: {workflow_id!r}") from None


@dataclass(frozen=True)
class CaseView:
    """A case as a reader sees it: the case's own status and, while it runs, its chain's."""

    case: CaseStatus
    chain: RecognitionStatus | None


def new_request_id(op: str) -> str:
    return f"{op}-{uuid.uuid4().hex}"


MAX_NAME = 255
_TOKEN = r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,62}"
_MEDIA_TYPE = re.compile(f"^{_TOKEN}/{_TOKEN}$")
# The workflows refuse these by code only (their messages are English): the Vietnamese here.
async def attached(store: EventStore, stream: str, named: list[tuple[str, str]],
                   what_vi: str) -> list[Attachment]:
    """The files named (name, SHA-256), each checked to be uploaded to ``stream`` (a case, a
    round: ``what_vi`` in the refusal), with its size; ``attachment.unknown`` otherwise."""
    known = await files.sizes(store, stream, sorted({sha for _, sha in named}))
    out = []
    for name, sha in named:
        if sha not in known:
            raise ServiceError("attachment.unknown", f"no file {sha} was uploaded to {stream}",
                               f"chưa tải lên tệp {sha} cho {what_vi} {stream}")
        out.append(Attachment(name=clean_name(name), sha256=sha, size=known[sha]))
    return out


def clean_name(name: str) -> str:
    """A file name as recorded: its last path part, without control characters, trimmed,
    at most 255 characters (refused when nothing is left)."""
    base = re.split(r"[/\\]", unicodedata.normalize("NFC", name))[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip()
    if base in ("", ".", "..") or len(base) > MAX_NAME:
        raise ServiceError("attachment.bad_name",
                           f"a file name of 1 to {MAX_NAME} characters is needed, not a path",
                           f"cần tên tệp từ 1 đến {MAX_NAME} ký tự, không phải đường dẫn")
    return base


def clean_media_type(value: str | None) -> str:
    """The declared media type without parameters, or application/octet-stream."""
    kind = (value or "").split(";", 1)[0].strip().lower()
    return kind if _MEDIA_TYPE.match(kind) else "application/octet-stream"


class CaseService:
    """The facade. ``store`` (the application role's event store) serves history and lists."""

    def __init__(self, client: Client, task_queue: str, store: EventStore | None = None, *,
                 signer: Signer | None = None,
                 clock: Callable[[], Awaitable[datetime]] = wall_clock,
                 local_appends: bool = False) -> None:
        """``signer``: the front door's key for command proofs (None: an insecure deployment,
        whose workers check no identity); ``clock``: the workflow service's time (a test
        server's skipped clock; the wall clock otherwise); ``local_appends``: the workflows
        this service starts append their events by local activities (``DRUGFREE_LOCAL_APPENDS``;
        off for the time-skipping test server: README, "Local appends")."""
        self.client = client
        self.task_queue = task_queue
        self.local_appends = local_appends
        self.store = store
        self.signer = signer
        self.clock = clock
        # Handles of the workflows this service started: awaiting their result keeps what the
        # client does for its own starts (the time-skipping test server skips time only then).
        self._started: dict[str, WorkflowHandle[Any, Any]] = {}

    # -- handles ------------------------------------------------------------------------------
    def _case(self, ref: CaseRef) -> WorkflowHandle[CommuneConversionWorkflow, CaseState]:
        return self.client.get_workflow_handle_for(CommuneConversionWorkflow.run, ref.case_id)

    def _chain(self, ref: CaseRef) -> WorkflowHandle[RecognitionWorkflow, Any]:
        return self.client.get_workflow_handle_for(RecognitionWorkflow.run, ref.recognition_id)

    def _campaign(self, campaign_id: str) -> WorkflowHandle[ProvinceCampaignWorkflow,
                                                            CampaignStatus]:
        return self.client.get_workflow_handle_for(ProvinceCampaignWorkflow.run, campaign_id)

    # -- proofs -----------------------------------------------------------------------------
    async def command(self, handle: WorkflowHandle[Any, Any], update: str, message: M,
                      answer: type[R]) -> R:
        """Send ``message`` (signed for the handle's workflow) as ``update``: its reply, or a
        ``ServiceError``. A retry of the request whose answer ended the run (the last
        signature, a withdrawal) gets that answer again, read from the ended run."""
        sent = await self.signed(handle.id, message)
        request_id = getattr(sent, "request_id", None)
        return await guarded(handle.execute_update(update, sent, result_type=answer),
                             handle.id, self.client,
                             retry_of=(request_id, answer) if request_id else None)

    async def signed(self, target: str, message: M, actor_field: str = "actor",
                      request_id: str | None = None) -> M:
        """``message`` as sent: the actor without any token of theirs, and a proof signed for
        ``target``, its request id and its content."""
        actor = getattr(message, actor_field)
        message = message.model_copy(update={actor_field: actor.model_copy(
            update={"token": None})})
        if self.signer is None:
            return message
        rid = request_id if request_id is not None else (
            message.request_id if isinstance(message, Request) else OPEN_REQUEST)
        try:
            digest = command_digest(message.model_dump(mode="json"))
        except rfc8785.CanonicalizationError:  # e.g. an integer beyond 2**53 in the metrics
            raise ServiceError(
                "input.invalid", "a number in the request cannot be carried exactly by JSON "
                "(integers up to 2**53 - 1)", "dữ liệu có số vượt quá giới hạn của JSON "
                "(số nguyên tối đa 2**53 - 1)") from None
        proof = prove(self.signer, getattr(message, actor_field), target=target,
                      request_id=rid, digest=digest, now=await self.clock(),
                      token=SIGNED_IN.get())
        return message.model_copy(update={"proof": proof})

    # -- the province campaign ----------------------------------------------------------------
    @refuses_bad_input
    async def start_campaign(
        self, plan: Plan, opened_by: Actor, *, clock: PlanClock | None = None,
        campaign_id: str | None = None, history_limit: int | None = None,
    ) -> str:
        """Open a province's campaign under ``plan``, over the catalogue's communes of its
        territory (the worker refuses any other list)."""
        wid = campaign_id or names.campaign_id(plan.id)
        inp = await self.signed(wid, CampaignInput(
            plan=plan, clock=clock or PlanClock(), commune_districts=territory(plan),
            opened_by=opened_by, history_limit=history_limit,
            local_appends=self.local_appends), "opened_by", OPEN_REQUEST)
        self._started[wid] = await guarded(self.client.start_workflow(
            ProvinceCampaignWorkflow.run, inp, id=wid, task_queue=self.task_queue), wid)
        return wid

    @refuses_bad_input
    async def propose(self, campaign_id: str, actor: Actor,
                      communes: Mapping[str, dict[str, Any]],
                      request_id: str | None = None) -> ListReply:
        """Đề xuất: propose communes with their baseline metrics; starts their cases."""
        return await self.command(
            self._campaign(campaign_id), names.PROPOSE, Proposal(
                request_id=request_id or new_request_id("propose"), actor=actor,
                communes=dict(communes)),
            ListReply)

    @refuses_bad_input
    async def approve_selection(self, campaign_id: str, actor: Actor, selected: list[str],
                                reason: str = "", request_id: str | None = None) -> ListReply:
        """Phê duyệt danh sách địa bàn chuyển hóa: one decision answers every proposed case."""
        return await self.command(
            self._campaign(campaign_id), names.APPROVE_SELECTION, SelectionList(
                request_id=request_id or new_request_id("selection"), actor=actor,
                selected=selected, reason=reason),
            ListReply)

    @refuses_bad_input
    async def approve_recognition(self, campaign_id: str, actor: Actor, communes: list[str],
                                  reason: str = "",
                                  request_id: str | None = None) -> ListReply:
        """Phê duyệt danh sách công nhận: the last level signed for many communes at once."""
        return await self.command(
            self._campaign(campaign_id), names.APPROVE_RECOGNITION, RecognitionList(
                request_id=request_id or new_request_id("recognition-list"), actor=actor,
                communes=communes, reason=reason),
            ListReply)

    async def campaign_status(self, campaign_id: str) -> CampaignStatus:
        return await guarded(self._campaign(campaign_id).query(ProvinceCampaignWorkflow.status),
                             campaign_id)

    async def campaign_result(self, campaign_id: str) -> CampaignStatus:
        """Wait for the campaign to end (every selected case closed) and return its status."""
        handle = await self.handle_for_result(campaign_id)
        status: CampaignStatus = await guarded(handle.result(), campaign_id)
        return status

    async def handle_for_result(self, workflow_id: str) -> WorkflowHandle[Any, Any]:
        """A handle to await ``workflow_id``'s result with: the one this service started it
        with, else one bound to the current run."""
        started = self._started.get(workflow_id)
        if started is not None:
            return started
        return self.client.get_workflow_handle(workflow_id,
                                               run_id=await self._run_id(workflow_id))

    async def _run_id(self, workflow_id: str) -> str:
        # A handle without a run id gives up on an empty long poll (the time-skipping server
        # answers one while it skips); with the current run id the SDK keeps waiting.
        desc = await guarded(self.client.get_workflow_handle(workflow_id).describe(),
                             workflow_id)
        return desc.run_id

    # -- one case -----------------------------------------------------------------------------
    @refuses_bad_input
    async def start_case(
        self, plan: Plan, scope: CaseScope, opened_by: Actor, baseline: dict[str, Any], *,
        clock: PlanClock | None = None, history_limit: int | None = None,
    ) -> CaseRef:
        """Mở hồ sơ chuyển hóa: start a commune's case with its baseline metrics."""
        ref = CaseRef(plan.id, scope.commune_code)
        # The opening as the workflow will decide it (role, jurisdiction, baseline metrics and
        # their classification): refused here, before anything starts.
        case_decider.decide(plan, scope, CaseState(), case_decider.Open(
            opened_by=opened_by, baseline=baseline), datetime.now(UTC), clock)
        inp = await self.signed(ref.case_id, CaseInput(
            plan=plan, scope=scope, opened_by=opened_by, baseline=baseline,
            clock=clock or PlanClock(), history_limit=history_limit,
            local_appends=self.local_appends), "opened_by", OPEN_REQUEST)
        self._started[ref.case_id] = await guarded(self.client.start_workflow(
            CommuneConversionWorkflow.run, inp, id=ref.case_id, task_queue=self.task_queue),
            ref.case_id)
        return ref

    @refuses_bad_input
    async def select(self, ref: CaseRef, actor: Actor, selected: bool = True, reason: str = "",
                     request_id: str | None = None) -> Reply:
        """Lựa chọn: the provincial police selects one commune (or not, with a reason)."""
        return await self.command(
            self._case(ref), names.DECIDE_SELECTION, SelectionDecision(
                request_id=request_id or new_request_id("select"), actor=actor,
                selected=selected, reason=reason),
            Reply)

    @refuses_bad_input
    async def submit(self, ref: CaseRef, actor: Actor, deadline_id: str | None,
                     metrics: dict[str, Any] | None = None, summary: str = "",
                     request_id: str | None = None, *, kind: SubmissionKind | None = None,
                     attachments: list[tuple[str, str]] | None = None) -> Reply:
        """Nộp báo cáo / hồ sơ: a report due under the plan, or the recognition dossier.
        ``deadline_id``, or ``kind`` alone: the case's earliest outstanding deadline of that
        kind. ``attachments``: (name, sha256) of files uploaded to this case (``upload``);
        the event records each with its size."""
        if deadline_id is None and kind is None:
            raise ServiceError("submission.deadline_required", "name the deadline or the kind",
                               "cần nêu mã hạn nộp hoặc loại báo cáo")
        attached = await self._attached(ref, attachments or [])
        # the workflow's refusals (submission.*) bring their Vietnamese wording (domain.case)
        return await self.command(
            self._case(ref), names.SUBMIT_REPORT, ReportSubmission(
                request_id=request_id or new_request_id(f"submit-{deadline_id or kind}"),
                actor=actor, deadline_id=deadline_id, kind=kind, metrics=metrics,
                summary=summary, attachments=attached),
            Reply)

    async def _attached(self, ref: CaseRef, named: list[tuple[str, str]]) -> list[Attachment]:
        """The files named, each checked to be uploaded to this case, with its size."""
        if not named:
            return []
        return await attached(self._require_store(), ref.case_id, named, "hồ sơ")

    async def upload(self, ref: CaseRef, actor: Actor, content: bytes, name: str,
                     media_type: str | None = None) -> files.StoredFile:
        """Tải tệp lên: store a file for a submission of this case (by its SHA-256; the same
        bytes again change nothing). The interface checks the size bound and who may."""
        clean = clean_name(name)
        if not content:
            raise ServiceError("attachment.empty", "the file is empty", "tệp rỗng")
        await self.require_case(ref)
        return await files.add(self._require_store(), ref.case_id, content, clean,
                               clean_media_type(media_type), actor.person_id)

    async def attachment(self, ref: CaseRef, sha256: str) -> files.StoredFile:
        """A file uploaded to this case, with its bytes."""
        found = await files.read(self._require_store(), ref.case_id, sha256.lower())
        if found is None:
            raise ServiceError("attachment.not_found", f"{ref.case_id} has no file {sha256}",
                               f"hồ sơ {ref.case_id} không có tệp {sha256}")
        return found

    @refuses_bad_input
    async def withdraw(self, ref: CaseRef, actor: Actor, reason: str,
                       request_id: str | None = None) -> Reply:
        """Rút hồ sơ: the district (the province after 2025) withdraws the case."""
        return await self.command(
            self._case(ref), names.WITHDRAW, Withdrawal(
                request_id=request_id or new_request_id("withdraw"), actor=actor,
                reason=reason),
            Reply)

    @refuses_bad_input
    async def amend(self, ref: CaseRef, actor: Actor, amendment: Amendment,
                    units: dict[str, UnitConversion], request_id: str | None = None) -> Reply:
        """Áp dụng văn bản sửa đổi: move a running case onto the amended plan (now, or at its
        effective date); the reply's detail says which (applied, scheduled, already_applied,
        already_scheduled). The amendment is kept first: every ``case.amended`` names a text
        the readers can load (``eventstore.amendments``)."""
        await self._keep(amendment, actor)
        return await self.command(
            self._case(ref), names.AMEND, AmendmentOrder(
                request_id=request_id or new_request_id("amend"), actor=actor,
                amendment=amendment, units=units),
            Reply)

    @refuses_bad_input
    async def amend_campaign(self, campaign_id: str, actor: Actor, amendment: Amendment,
                             units: dict[str, UnitConversion],
                             request_id: str | None = None) -> str:
        """The campaign follows the amendment (its list decisions and target); its word:
        applied, scheduled, already_applied or already_scheduled."""
        await self._keep(amendment, actor)
        reply = await self.command(self._campaign(campaign_id), names.AMEND, AmendmentOrder(
                request_id=request_id or new_request_id("amend"), actor=actor,
                amendment=amendment, units=units),
            ListReply)
        return str(reply.results.get("", ""))

    async def _keep(self, amendment: Amendment, actor: Actor) -> None:
        if self.store is not None:
            await Amendments(self.store.pool).keep(amendment, {
                "person_id": actor.person_id, "role": actor.role,
                "province_code": actor.province_code})

    # -- the recognition chain ----------------------------------------------------------------
    @refuses_bad_input
    async def decide(self, ref: CaseRef, actor: Actor, kind: ChainKind, level: str | None = None,
                     reason: str = "", to: Actor | None = None,
                     request_id: str | None = None) -> Reply:
        """A decision on the pending level. ``level`` defaults to the level pending now (the
        workflow still refuses it if another level is pending when the decision arrives)."""
        if level is None and kind != "resubmit":
            chain = await self.chain_status(ref)
            if chain is None or chain.pending_level is None:
                raise ServiceError("chain.not_pending",
                                   f"{ref.case_id}: no level is waiting for a decision",
                                   f"{ref.case_id}: không có cấp nào đang chờ quyết định")
            level = chain.pending_level
        return await self.command(
            self._chain(ref), names.DECIDE, ChainDecision(
                request_id=request_id or new_request_id(kind), actor=actor, kind=kind,
                level=level, reason=reason, to=to),
            Reply)

    async def approve(self, ref: CaseRef, actor: Actor, level: str | None = None,
                      reason: str = "", request_id: str | None = None) -> Reply:
        """Đồng ý: sign the pending level."""
        return await self.decide(ref, actor, "approve", level, reason, request_id=request_id)

    async def reject(self, ref: CaseRef, actor: Actor, reason: str, level: str | None = None,
                     request_id: str | None = None) -> Reply:
        """Không đồng ý: return the dossier to the commune with the reason."""
        return await self.decide(ref, actor, "reject", level, reason, request_id=request_id)

    async def delegate(self, ref: CaseRef, actor: Actor, to: Actor, level: str | None = None,
                       request_id: str | None = None) -> Reply:
        """Ủy quyền: hand one's pending sign-off to a colleague of the same role and unit."""
        return await self.decide(ref, actor, "delegate", level, to=to, request_id=request_id)

    async def resubmit(self, ref: CaseRef, actor: Actor, request_id: str | None = None) -> Reply:
        """Nộp lại: the commune resubmits its returned dossier (a new round)."""
        return await self.decide(ref, actor, "resubmit", request_id=request_id)

    # -- reading ------------------------------------------------------------------------------
    async def chain_status(self, ref: CaseRef) -> RecognitionStatus | None:
        """The chain's status, or None when the dossier never entered it."""
        try:
            return await guarded(self._chain(ref).query(RecognitionWorkflow.status),
                                 ref.recognition_id)
        except ServiceError as exc:
            if exc.code == "case.not_found":
                return None
            raise

    async def status(self, ref: CaseRef) -> CaseView:
        case = await guarded(self._case(ref).query(CommuneConversionWorkflow.status),
                             ref.case_id)
        chain = await self.chain_status(ref) if case.criteria_met else None
        return CaseView(case=case, chain=chain)

    async def result(self, ref: CaseRef) -> CaseState:
        """Wait until the case closes; its final state."""
        handle = await self.handle_for_result(ref.case_id)
        state: CaseState = await guarded(handle.result(), ref.case_id)
        return state

    def _require_store(self) -> EventStore:
        if self.store is None:
            raise ServiceError("service.no_store", "this service was built without an event "
                               "store; history and lists need one (DATABASE_URL)")
        return self.store

    async def history(self, ref: CaseRef) -> list[RecordedEvent]:
        """The case's events in order (its stream), upcast to today's schema versions."""
        from eventstore.errors import StreamNotFoundError

        try:
            return await self._require_store().read(ref.case_id)
        except StreamNotFoundError:
            raise ServiceError("case.not_found", f"no such case: {ref.case_id}",
                               f"không có hồ sơ {ref.case_id}") from None

    async def require_case(self, ref: CaseRef) -> None:
        """Refuse (``case.not_found``) a case with nothing recorded yet."""
        from eventstore.errors import StreamNotFoundError

        try:
            await self._require_store().read(ref.case_id, limit=1)
        except StreamNotFoundError:
            raise ServiceError("case.not_found", f"no such case: {ref.case_id}",
                               f"không có hồ sơ {ref.case_id}") from None

    async def list_cases(self, plan_id: str, state: str | None = None, *,
                         province_code: str | None = None, district_code: str | None = None,
                         commune_code: str | None = None) -> list[CaseRow]:
        """The cases of a plan as their read-model rows (``case_status``), in stream order,
        optionally only those in ``state`` and in the given province / district / commune."""
        return await read_cases(self._require_store(), plan_id, state,
                                province_code=province_code, district_code=district_code,
                                commune_code=commune_code)

    async def opened_by(self, ref: CaseRef, person_id: str) -> bool:
        """Whether ``person_id`` opened this case (its first event says so; False when the
        opening is not recorded yet or the case is unknown)."""
        from eventstore.errors import StreamNotFoundError

        for _ in range(50):  # the opening is appended moments after the start
            try:
                first = await self._require_store().read(ref.case_id, limit=1)
            except StreamNotFoundError:
                await asyncio.sleep(0.1)
                continue
            return bool(first) and first[0].payload.get("opened_by") == person_id
        return False

    async def inbox(self, actor: Actor, overdue: bool = False, limit: int = 50,
                    offset: int = 0, today: date | None = None, *, plan_id: str | None = None,
                    subject: str | None = None) -> Inbox:
        """Decisions awaiting ``actor``'s role in their jurisdiction, oldest deadline first
        (``service.readmodel.read_inbox``); ``overdue``: only those past their deadline;
        ``plan_id`` / ``subject``: one plan's, one level's (or deadline's)."""
        return await read_inbox(self._require_store(), actor, overdue, limit, offset, today,
                                plan_id=plan_id, subject=subject)
