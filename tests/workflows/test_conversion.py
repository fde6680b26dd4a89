"""Full-year conversion scenarios on the time-skipping server against real PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from tests.workflows.support import CLEAN, Case

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def refused(coro, code: str) -> ApplicationError:  # type: ignore[no-untyped-def]
    with pytest.raises(WorkflowUpdateFailedError) as info:
        await coro
    cause = info.value.cause
    assert isinstance(cause, ApplicationError), cause
    assert cause.type == code, f"{cause.type}: {cause.message}"
    return cause


async def types_of(store, stream: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [e.type for e in await store.read(stream)]


async def test_happy_path_tra_vinh(make_case, store) -> None:  # type: ignore[no-untyped-def]
    case: Case = await make_case("tra-vinh-2025", "29236")
    handle = await case.start()
    status = await handle.query("status")
    assert status.status == "opened" and status.classification == "type_iii"
    await case.select()
    await case.on_time_reports(case.plan.deadline("phase_2_report").due)
    dossier = case.plan.deadline("dossier")
    await case.advance_to(dossier.due - timedelta(days=2))
    reply = await case.submit("dossier", CLEAN)
    assert reply.criteria_met is True and reply.late is False
    await case.approve_all()
    await case.advance_to(case.plan.deadline("phase_3_report").due - timedelta(days=1))
    await case.submit("phase_3_report", CLEAN)
    final = await handle.result()
    assert final.outcome == "recognised"
    assert final.missed == []
    types = await types_of(store, case.id)
    assert types[:3] == ["case.opened", "metrics.recorded", "selection.approved"]
    assert "recognition.granted" in types and types[-1] == "case.closed"
    assert types.count("phase.started") == 3 and types.count("phase.ended") == 3
    assert "deadline.missed" not in types
    signed = [e for e in await store.read(case.id) if e.type == "level.signed"]
    assert {(e.payload["level"], e.payload["role"]) for e in signed} == {
        (lv.id, r) for lv in case.plan.approval_chain for r in lv.roles}
    assert (await store.verify(case.id)).ok
