"""Admission (tiếp nhận): a case or campaign starts only on terms the worker vouches for.

Anyone who reaches the workflow service can start a workflow with any input. Before a case or
campaign writes anything, this activity checks its start against the worker's trust and the
published catalogue: the opener's command proof (signed by a trusted key, for this workflow,
for exactly this input, still valid when the workflow started), the plan (the catalogue's
plan of that id, byte for byte: its content hash), the clock (the plan's own dates, unless the
worker accepts rehearsals), the commune (in the plan's territory, in its own district) and a
campaign's commune list (the catalogue's communes of the plan's territory, exactly).

It is an activity, not a check in the workflow, so that its answer is recorded in the history:
a replay next year, with rotated keys, follows the same path.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.case import campaign_opener_roles, require_actor, territory_scope
from domain.clock import PlanClock
from domain.errors import DomainError
from domain.identity import command_digest, verify_proof
from domain.plan import Plan, plan_hash
from eventstore.plan_versions import PlanVersions
from runtime.trust import Trust
from workflows.errors import vi_details

OPEN_REQUEST = "open"  # the request id an opening proof is bound to


class AdmissionRequest(BaseModel):
    """A workflow's start, as it was given: its id, when it started, and its input."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["case", "campaign", "round"]
    workflow_id: str
    started_at: datetime
    start: dict[str, Any]


def _refuse(code: str, message: str, message_vi: str | None) -> ApplicationError:
    return ApplicationError(message, *vi_details(message_vi), type=code, non_retryable=True)


class Admission:
    def __init__(self, trust: Trust, versions: PlanVersions | None = None) -> None:
        """``versions``: the plan versions people published (``drugfree plans publish``),
        admitted beside the catalogue's files."""
        self.trust = trust
        self.versions = versions

    @activity.defn(name="admit")
    async def admit(self, req: AdmissionRequest) -> None:
        """Return if the start may proceed; raise a non-retryable refusal (its code) if not."""
        try:
            if req.kind == "round":
                self._admit_round(req)
            else:
                self._admit(req, await self._known(req))
        except DomainError as exc:
            raise _refuse(exc.code, exc.message, exc.message_vi) from None

    async def _known(self, req: AdmissionRequest) -> Plan | None:
        """The start's plan when it is the catalogue's or a stored version of its id (same
        content hash, each hashed once); None leaves ``_published`` to name the refusal."""
        import catalog

        try:
            plan = Plan.model_validate(req.start.get("plan"))
        except ValidationError:
            return None  # _admit names what is wrong with the input
        if plan.criteria is None or plan.rules is None:
            return None  # an input from before plans embedded their sets: resolved there
        digest = plan_hash(plan)
        try:
            published = catalog.get_plan(plan.id)
        except DomainError:
            published = None
        if published is not None and plan_hash(published) == digest:
            return published  # the catalogue's own plan: no need to ask the database
        if self.versions is not None and await self.versions.find(plan.id, digest):
            return plan
        return None

    def _admit(self, req: AdmissionRequest, known: Plan | None = None) -> None:
        from workflows import names
        from workflows.messages import CampaignInput, CaseInput

        inp: CaseInput | CampaignInput
        if req.kind == "case":
            inp = CaseInput.model_validate(req.start)
            opener, via = inp.opened_by, inp.campaign_id
            # The input names the stream: a case runs under that id only, or the same start
            # (proof and all, lifted from the started event) run under another workflow id
            # would be a second writer of the case's stream.
            own_id = names.case_id(inp.plan.id, inp.scope.commune_code)
            if req.workflow_id != own_id:
                raise _refuse("case.wrong_id",
                              f"the case of this plan and commune runs as {own_id} only",
                              f"hồ sơ của kế hoạch và xã này chỉ chạy với mã {own_id}")
        else:
            inp = CampaignInput.model_validate(req.start)
            if inp.opened_by is None:
                raise _refuse("identity.missing_token", "the campaign names no opener",
                              "chiến dịch không ghi người mở")
            opener, via = inp.opened_by, None
            require_actor(opener, territory_scope(inp.plan), campaign_opener_roles(inp.plan),
                          prefix="campaign")
        if not self.trust.insecure:
            verify_proof(self.trust.ring, inp.proof, opener, target=req.workflow_id,
                         request_id=OPEN_REQUEST, digest=command_digest(req.start),
                         now=req.started_at, via=via)
        published = known if known is not None else self._published(inp.plan)
        if inp.clock != PlanClock() and not self.trust.rehearsals:
            raise _refuse("clock.not_allowed", "this deployment runs plans on their own dates "
                          "only (rehearsal clocks are for the demo, tests and benchmarks)",
                          "hệ thống này chỉ chạy kế hoạch theo đúng ngày của kế hoạch (đồng hồ "
                          "diễn tập chỉ dùng để trình diễn, kiểm thử và đo hiệu năng)")
        if isinstance(inp, CaseInput):
            self._check_scope(published, inp.scope.commune_code, inp.scope.district_code,
                              inp.scope.province_code)
        else:
            expected = territory(published)
            if inp.commune_districts != expected:
                raise _refuse("campaign.communes_mismatch",
                              f"the commune list is not the catalogue's {len(expected)} "
                              f"communes of plan {published.id}",
                              f"danh sách xã không khớp {len(expected)} xã của kế hoạch "
                              f"{published.id} trong danh mục")

    def _admit_round(self, req: AdmissionRequest) -> None:
        """A reporting round: under its own id, opened by a proof-bearing person, on the
        catalogue's reporting plan exactly, and a round that plan schedules (or an ad hoc
        one on its ad hoc form)."""
        import catalog
        from workflows import names
        from workflows.messages import RoundInput

        inp = RoundInput.model_validate(req.start)
        own_id = names.round_id(inp.plan.id, inp.round.id)
        if req.workflow_id != own_id:
            raise _refuse("round.wrong_id", f"this round runs as {own_id} only",
                          f"kỳ báo cáo này chỉ chạy với mã {own_id}")
        if not self.trust.insecure:
            verify_proof(self.trust.ring, inp.proof, inp.opened_by, target=req.workflow_id,
                         request_id=OPEN_REQUEST, digest=command_digest(req.start),
                         now=req.started_at)
        try:
            published = catalog.reporting_plan(inp.plan.id)
        except DomainError:
            raise _refuse("plan.not_published",
                          f"reporting plan {inp.plan.id} is not in this worker's catalogue",
                          f"kế hoạch báo cáo {inp.plan.id} không có trong danh mục") from None
        if published != inp.plan:
            raise _refuse("plan.mismatch",
                          f"reporting plan {inp.plan.id} differs from the catalogue's",
                          f"kế hoạch báo cáo {inp.plan.id} khác với kế hoạch trong danh mục")
        scheduled = next((r for r in published.rounds if r.id == inp.round.id), None)
        if scheduled is not None and scheduled != inp.round:
            raise _refuse("round.mismatch", f"round {inp.round.id} differs from the plan's",
                          f"kỳ báo cáo {inp.round.id} khác với kỳ trong kế hoạch")
        if scheduled is None and (inp.round.kind != "adhoc"
                                  or inp.round.form != published.adhoc_form):
            raise _refuse("round.not_scheduled",
                          f"round {inp.round.id} is not one of the plan's, nor an ad hoc "
                          "round on its ad hoc form",
                          f"kỳ {inp.round.id} không thuộc kế hoạch và không phải kỳ báo cáo "
                          "đột xuất theo biểu mẫu đột xuất của kế hoạch")
        if inp.clock != PlanClock() and not self.trust.rehearsals:
            raise _refuse("clock.not_allowed", "this deployment runs plans on their own dates "
                          "only (rehearsal clocks are for the demo, tests and benchmarks)",
                          "hệ thống này chỉ chạy kế hoạch theo đúng ngày của kế hoạch (đồng hồ "
                          "diễn tập chỉ dùng để trình diễn, kiểm thử và đo hiệu năng)")

    def _published(self, plan: Plan) -> Plan:
        import catalog

        try:
            published = catalog.get_plan(plan.id)
        except DomainError:
            raise _refuse("plan.not_published",
                          f"plan {plan.id} is neither in this worker's catalogue nor a "
                          "published version",
                          f"kế hoạch {plan.id} không có trong danh mục của hệ thống và cũng "
                          "không phải một phiên bản đã công bố") from None
        if plan_hash(catalog.resolve(plan)) != plan_hash(published):
            raise _refuse("plan.mismatch", f"plan {plan.id} differs from the catalogue's plan "
                          f"(content hash {plan_hash(published)[:16]}) and from every "
                          "published version",
                          f"kế hoạch {plan.id} khác với kế hoạch trong danh mục (mã băm nội "
                          f"dung {plan_hash(published)[:16]}) và với mọi phiên bản đã công bố")
        return published

    @staticmethod
    def _check_scope(plan: Plan, commune: str, district: str | None, province: str) -> None:
        where = territory(plan)
        if commune not in where or where[commune] != district or \
                province != plan.province_code:
            raise _refuse("scope.mismatch", f"commune {commune} with district {district} is "
                          f"not a commune of plan {plan.id}'s territory in the catalogue",
                          f"xã {commune}{f' (huyện {district})' if district else ''} không "
                          f"thuộc địa bàn của kế hoạch "
                          f"{plan.id} trong danh mục")


def territory(plan: Plan) -> dict[str, str | None]:
    """The catalogue's communes of a plan's territory -> their district (None after 2025)."""
    from domain.admin_units import registry

    units = registry(plan.structure)
    communes = units.communes_of_province(plan.province_code)
    return {c.code: c.district_code for c in communes
            if plan.district_code is None or c.district_code == plan.district_code}
