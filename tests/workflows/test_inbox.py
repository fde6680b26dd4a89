"""The inbox through a real case: the worker's projector keeps pending_decisions current, so
each decision shows in the inbox of the role it awaits, in that role's jurisdiction only, and
leaves it once taken; nothing is left when the case is recognised."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from domain.roles import Actor
from service import CaseService
from service.readmodel import Inbox
from tests.workflows.support import CLEAN, Case, eventually

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_the_inbox_follows_a_case_to_recognition(make_case: Any, store: Any) -> None:
    case: Case = await make_case("tra-vinh-2025", "29536")  # Đông Hải, district 850
    reads = CaseService(case.client, case.tq, store)
    # the same roles one district over (Hiệp Thạnh, 29539, district 851)
    other = {"district_code": "851"}

    async def mine(actor: Actor) -> list[tuple[str, str]]:
        box: Inbox = await reads.inbox(actor, limit=1000)
        return sorted((i.kind, i.subject) for i in box.items if i.case_id == case.id)

    async def shows(actor: Actor, expected: list[tuple[str, str]]) -> None:
        async def check() -> bool:
            return await mine(actor) == sorted(expected)
        check.__doc__ = f"{actor.role} sees {expected}"
        await eventually(check)

    await case.start()
    police = case.actor("province_police")
    await shows(police, [("selection", "selection")])
    assert await mine(case.actor("district_police")) == []

    await case.select()
    await shows(police, [])
    commune = case.actor("commune_ubnd")
    owed = [("dossier", "dossier")] + [
        ("report", d.id) for d in case.plan.deadlines
        if d.kind in ("implementation_plan", "phase_report", "forum")]
    await shows(commune, owed)

    await case.on_time_reports(case.plan.deadline("phase_2_report").due)
    await case.advance_to(case.plan.deadline("dossier").due - timedelta(days=2))
    assert (await case.submit("dossier", CLEAN)).criteria_met
    await shows(commune, [("report", "phase_3_report")])

    for level in case.plan.approval_chain:
        for role in level.roles:
            await shows(case.actor(role), [("level", level.id)])
            # not for the same role in another district (district roles), nor other roles
            if role.startswith("district_"):
                assert await mine(case.actor(role, **other)) == []
        for role in {"district_ubnd", "province_ubnd"} - set(level.roles):
            assert await mine(case.actor(role)) == []
        first, *rest = level.roles
        await case.decide("approve", case.actor(first), level.id)
        await shows(case.actor(first), [])
        for role in rest:  # an all_of level still awaits the roles that have not signed
            await shows(case.actor(role), [("level", level.id)])
        for role in rest:
            await case.decide("approve", case.actor(role), level.id)
        await shows(case.actor(level.roles[-1]), [])

    await case.advance_to(case.plan.deadline("phase_3_report").due - timedelta(days=1))
    await case.submit("phase_3_report", CLEAN)
    assert (await case.service.result(case.ref)).outcome == "recognised"
    await shows(case.actor("auditor"), [])

    async def closed() -> bool:  # the read model follows the record within moments
        [row] = await reads.list_cases("tra-vinh-2025", commune_code="29536")
        return (row.state, row.closed, row.pending_level) == ("recognised", True, None)
    closed.__doc__ = "the case list shows the case recognised and closed"
    await eventually(closed)
