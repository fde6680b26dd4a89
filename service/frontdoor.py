"""What every interface asks before it acts (cửa tiếp nhận, the front door): which case or plan a
request names, whether this person may do this there, and the request id of a retried form.

The HTTP API (``api.app``) and the web pages (``web``) share it, so a page refuses exactly what
the API refuses, with the same codes and reasons.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

from domain.admin_units import registry
from domain.case import territory_scope
from domain.classification import classify
from domain.clock import PlanClock
from domain.errors import DomainError
from domain.metrics import parse_metrics
from domain.plan import Plan, plan_hash
from domain.roles import ROLE_SCOPE, Actor, CaseScope, jurisdiction_error
from eventstore.amendments import Amendments
from eventstore.projection import CaseStatus
from eventstore.projector import read_status
from service.access import Operation, check
from service.amendments import amended
from service.cases import CaseRef, CaseService, new_request_id
from service.errors import ServiceError
from service.plans import PlanBook


class FrontDoor:
    def __init__(self, service: CaseService, plans: PlanBook,
                 clock_for: Callable[[Plan], PlanClock] = lambda _: PlanClock()) -> None:
        """``clock_for``: the calendar a plan's new cases and campaigns run on (the plan's own
        dates; a rehearsal clock only where the workers accept one, as in tests)."""
        self.service = service
        self.plans = plans
        self.clock_for = clock_for
        # (plan hash, amendment ids) -> the plan as amended: both name fixed contents
        self._as_run: dict[tuple[str, tuple[str, ...]], Plan] = {}

    async def plan_of(self, plan_id: str) -> Plan:
        """The plan's newest version: what new cases start with, and whose roles and
        territory the front door checks (the workflows check a case's own plan again)."""
        return (await self.plans.current(plan_id)).plan

    async def as_run(self, plan: Plan, amendments: Sequence[str]) -> Plan:
        """``plan`` as a case runs it after ``amendments`` (ids, in the order applied): each
        amended in turn with its stored text (migration 0055) and the unit conversions."""
        if not amendments:
            return plan
        key = (plan_hash(plan), tuple(amendments))
        if key in self._as_run:
            return self._as_run[key]
        store = self.service.store
        docs = await Amendments(store.pool).load(list(amendments)) if store else {}
        out = plan
        for amendment_id in amendments:
            doc = docs.get(amendment_id)
            if doc is None:  # every case.amended names a kept amendment (service.amendments)
                raise ServiceError("amendment.not_found",
                                   f"amendment {amendment_id} applied to the case is not stored",
                                   f"không tìm thấy văn bản sửa đổi {amendment_id} đã áp dụng "
                                   f"cho hồ sơ")
            _, out, _ = amended(out, doc)
        self._as_run[key] = out
        return out

    async def row_of(self, ref: CaseRef) -> CaseStatus | None:
        """The case's read-model row (None: no store, or not projected yet)."""
        store = self.service.store
        return await read_status(store, ref.case_id) if store is not None else None

    async def case_of(self, case_id: str) -> tuple[CaseRef, Plan, CaseScope]:
        """The case, the plan it runs on and where it stands. A case that amendments moved
        (its row lists them) runs on the amended plan, at its codes after them (after the
        2025 reform: the new province and commune, no district)."""
        ref = CaseRef.parse(case_id)
        plan = await self.plan_of(ref.plan_id)
        row = await self.row_of(ref)
        if row is not None and row.amendments and row.province_code and row.commune_code:
            return ref, await self.as_run(plan, row.amendments), CaseScope(
                province_code=row.province_code, district_code=row.district_code,
                commune_code=row.commune_code)
        try:
            unit = registry(plan.structure).commune(ref.commune_code)
        except DomainError:
            raise ServiceError("case.not_found", f"no such case: {case_id}",
                               f"không có hồ sơ {case_id}") from None
        return ref, plan, CaseScope(province_code=unit.province_code,
                                    district_code=unit.district_code, commune_code=unit.code)

    async def allowed(self, actor: Actor, op: Operation, case_id: str) -> tuple[CaseRef, Plan]:
        """The case, if ``actor`` may do ``op`` on it (403 ``*.wrong_role`` /
        ``*.wrong_jurisdiction`` / ``access.read_only`` otherwise; 404 for no such case)."""
        ref, plan, _ = await self.allowed_case(actor, op, case_id)
        return ref, plan

    async def allowed_case(self, actor: Actor, op: Operation,
                           case_id: str) -> tuple[CaseRef, Plan, CaseScope]:
        """``allowed``, with the case's scope (its commune, district and province)."""
        ref, plan, scope = await self.case_of(case_id)
        check(actor, op, plan, scope)
        return ref, plan, scope

    async def campaign_allowed(self, actor: Actor, op: Operation, plan_id: str) -> Plan:
        plan = await self.plan_of(plan_id)
        check(actor, op, plan, territory_scope(plan))
        return plan

    @staticmethod
    def check_baseline(plan: Plan, baseline: dict[str, Any], commune: str = "") -> None:
        """Refuse (422, naming the field) a baseline the case could not open with: besides its
        own rules (``parse_metrics``), the case classifies it when it opens, and a metric the
        plan's rule set reads but the baseline lacks would fail the case just started."""
        try:
            metrics = parse_metrics(baseline)
            if plan.rules is not None:
                classify(metrics, plan.rules)
        except DomainError as exc:
            where = f"commune {commune}: " if commune else ""
            raise ServiceError(exc.code, where + exc.message,
                               where + exc.message_vi if exc.message_vi else None) from None

    @staticmethod
    def request_id(op: str, actor: Actor, key: str | None) -> str:
        """The command's request id: from the caller's idempotency key (the same key from the
        same person is the same request, answered once), else a new one."""
        if key is None:
            return new_request_id(op)
        digest = hashlib.sha256(f"{actor.person_id}\x00{key}".encode()).hexdigest()
        return f"{op}-{digest[:40]}"

    async def cases(self, actor: Actor, plan_id: str | None = None,
                    state: str | None = None) -> list[dict[str, Any]]:
        """The read model's rows of the cases ``actor`` may read (one plan, or every plan), in
        stream order."""
        plan_ids = [(await self.plan_of(plan_id)).id] if plan_id else \
            [p.plan.id for p in await self.plans.listing()]
        reach = ROLE_SCOPE[actor.role]
        rows = []
        for pid in plan_ids:
            for row in await self.service.list_cases(
                    pid, state, province_code=actor.province_code,
                    district_code=actor.district_code if reach != "province" else None,
                    commune_code=actor.commune_code if reach == "commune" else None):
                if row.province_code is None or row.commune_code is None:
                    continue
                where = CaseScope(province_code=row.province_code,
                                  district_code=row.district_code,
                                  commune_code=row.commune_code)
                if jurisdiction_error(actor, where) is None:
                    rows.append(asdict(row))
        rows.sort(key=lambda r: str(r["stream"]))
        return rows
