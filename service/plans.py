"""Plans for the front door (sổ kế hoạch, the plan book): which version of a plan new cases
start with, every version published, and publishing a new one.

The catalogue's files (``catalog``) are where plans come from on a fresh install; when the
front door starts, ``register_catalogue`` stores each file's plan as a version (once per
content). People publish further versions (``drugfree plans publish``, ``POST /plans``): a
provincial People's Committee for its province's plans (and a district's for its own, while
districts existed). New cases and campaigns start with a plan's newest version; a running
case keeps the plan it started with (its start carries the whole plan), and the workers
admit a start whose plan is any stored version of that id (``activities.admission``).

Without an event store (tests of the interface alone) the book is the catalogue's files,
each as an unnumbered version.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

import catalog
from domain.admin_units import registry
from domain.case import territory_scope
from domain.documents import validation_problems
from domain.errors import DomainError
from domain.plan import Plan, plan_document, plan_hash
from domain.roles import Actor
from eventstore.plan_versions import PlanVersion, PlanVersions, Source
from service.access import check
from service.errors import ServiceError

MAX_PLAN_ID = 64  # a plan id is part of every case's workflow id


@dataclass(frozen=True)
class PublishedPlan:
    """A plan as one of its versions: the plan with its sets, and where it came from."""

    plan: Plan
    content_hash: str
    version: int | None  # None: a catalogue file not stored as a version (no event store)
    source: Source
    published_by: dict[str, Any] | None = None
    published_at: datetime | None = None


class PlanBook:
    def __init__(self, versions: PlanVersions | None) -> None:
        self.versions = versions
        self._plans: dict[str, Plan] = {}  # by content hash: a version never changes
        self._registered = False
        self._registering = asyncio.Lock()

    async def register_catalogue(self) -> list[PlanVersion]:
        """Store every catalogue plan whose content is not a version yet; return those added.
        Done once per book, before its first answer (so a plan file that changed becomes the
        plan's next version, and an unchanged one adds nothing)."""
        async with self._registering:
            if self._registered or self.versions is None:
                return []
            added = await self._register()
            self._registered = True
            return added

    async def _register(self) -> list[PlanVersion]:
        assert self.versions is not None
        added = []
        for plan_id in catalog.plan_ids():
            plan = catalog.get_plan(plan_id)
            version, created = await self.versions.add(
                plan.id, self._keep(plan), plan_document(plan), "catalogue")
            if created:
                added.append(version)
        return added

    async def current(self, plan_id: str) -> PublishedPlan:
        """The version new cases of ``plan_id`` start with (``plan.not_found`` if none)."""
        await self.register_catalogue()
        if self.versions is not None:
            found = await self.versions.latest(plan_id)
            if found is not None:
                return await self._published(found)
        try:
            plan = catalog.get_plan(plan_id)
        except DomainError:
            raise ServiceError("plan.not_found", f"no such plan: {plan_id}",
                               f"không có kế hoạch {plan_id}") from None
        return PublishedPlan(plan=plan, content_hash=self._keep(plan), version=None,
                             source="catalogue")

    async def find(self, plan_id: str, content_hash: str) -> PublishedPlan | None:
        """The stored version of ``plan_id`` with this content (None: not a stored version)."""
        await self.register_catalogue()
        if self.versions is None:
            return None
        row = await self.versions.find(plan_id, content_hash)
        return None if row is None else await self._published(row)

    async def listing(self, all_versions: bool = False) -> list[PublishedPlan]:
        """Each plan's newest version (``all_versions``: every version), by plan id."""
        await self.register_catalogue()
        if self.versions is None:
            return [await self.current(pid) for pid in catalog.plan_ids()]
        rows = await self.versions.all()
        if not all_versions:
            newest: dict[str, PlanVersion] = {}
            for row in rows:
                newest[row.plan_id] = row  # rows come by version: the last one wins
            rows = list(newest.values())
        return [await self._published(row) for row in rows]

    async def publish(self, actor: Actor, document: dict[str, Any]) -> tuple[PublishedPlan,
                                                                             bool]:
        """Publish ``document`` (a plan; its criteria and rule sets embedded, or named from the
        catalogue) as the plan's next version. ``(version, False)`` when that exact content is
        already a version: nothing is written."""
        if self.versions is None:
            raise ServiceError("service.no_store", "publishing plans needs the event store "
                               "(DATABASE_URL)", "cần cơ sở dữ liệu để ban hành kế hoạch")
        plan = _validated(document)
        check(actor, "publish", plan, territory_scope(plan))
        await self._same_territory(plan)
        version, created = await self.versions.add(
            plan.id, self._keep(plan), plan_document(plan), "published",
            {"person_id": actor.person_id, "role": actor.role,
             "province_code": actor.province_code, "district_code": actor.district_code})
        return await self._published(version), created

    async def _same_territory(self, plan: Plan) -> None:
        """A new version keeps the territory of the old: cases are named by plan and commune,
        and access to them follows the plan's province (and district)."""
        try:
            before = (await self.current(plan.id)).plan
        except ServiceError:
            return  # a new plan id
        was = (before.structure, before.province_code, before.district_code)
        now = (plan.structure, plan.province_code, plan.district_code)
        if was != now:
            raise ServiceError(
                "plan.territory_changed",
                f"plan {plan.id} covers {_where(*was)}; a new version cannot cover "
                f"{_where(*now)} (publish it under a new id)",
                f"kế hoạch {plan.id} áp dụng cho {_where(*was)}; phiên bản mới không thể áp "
                f"dụng cho {_where(*now)} (hãy ban hành với mã kế hoạch mới)")

    async def _published(self, row: PlanVersion) -> PublishedPlan:
        plan = self._plans.get(row.content_hash)
        if plan is None:
            assert self.versions is not None
            document = await self.versions.document(row.plan_id, row.content_hash)
            assert document is not None  # rows are never removed
            plan = Plan.model_validate(json.loads(document))
            self._plans[row.content_hash] = plan
        return PublishedPlan(plan=plan, content_hash=row.content_hash, version=row.version,
                             source=row.source, published_by=row.published_by,
                             published_at=row.published_at)

    def _keep(self, plan: Plan) -> str:
        digest = plan_hash(plan)
        self._plans[digest] = plan
        return digest


def _where(structure: str, province: str, district: str | None) -> str:
    return f"{structure} {province}" + (f"/{district}" if district else "")


def _validated(document: dict[str, Any]) -> Plan:
    """The plan of a publish request, with its sets; every problem named (``plan.invalid``)."""
    try:
        plan = Plan.model_validate(document)
    except ValidationError as exc:
        listed = "; ".join(f"{field}: {msg}" if field else msg
                           for field, msg in validation_problems(exc))
        raise ServiceError("plan.invalid", listed, f"kế hoạch không hợp lệ: {listed}") from None
    if len(plan.id) > MAX_PLAN_ID:
        raise ServiceError("plan.invalid", f"id: at most {MAX_PLAN_ID} characters",
                           f"id: tối đa {MAX_PLAN_ID} ký tự")
    try:
        plan = catalog.resolve(plan)
        communes = registry(plan.structure).communes_of_province(plan.province_code)
    except DomainError as exc:
        raise ServiceError("plan.invalid", exc.message, exc.message_vi) from None
    if plan.district_code is not None:
        communes = [c for c in communes if c.district_code == plan.district_code]
    if not communes:
        where = plan.district_code or plan.province_code
        raise ServiceError("plan.invalid", f"territory: no communes in {where} ({plan.structure})",
                           f"địa bàn: không có xã nào thuộc {where} ({plan.structure})")
    return plan
