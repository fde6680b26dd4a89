"""The same role x jurisdiction table, one level down (issue 9): a person outside their role
or jurisdiction who goes around the front door and sends a correctly signed command straight
to the workflow is refused by the workflow itself with the same reason; a command with a
forged proof is refused before that. Nothing is recorded by any of it."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from domain.identity import Signer
from domain.roles import ROLE_SCOPE, ROLES, Actor
from service import ServiceError
from service.access import check
from tests.workflows.support import Case, rid
from workflows import names
from workflows.messages import ReportSubmission, SelectionDecision, Withdrawal

pytestmark = pytest.mark.asyncio(loop_scope="session")
COMMUNE = "29425"  # district 848; used by no other test
WHERE = {"own": ("84", "848", "29425"), "same_district": ("84", "848", "29428"),
         "other_district": ("84", "849", "29461"), "other_province": ("38", "402", "16174")}


def person(role: str, where: str) -> Actor:
    province, district, commune = WHERE[where]
    scope = ROLE_SCOPE[role]  # type: ignore[index]
    return Actor(person_id=f"p-{role}-{where}", role=role,  # type: ignore[arg-type]
                 province_code=province,
                 district_code=district if scope != "province" else None,
                 commune_code=commune if scope == "commune" else None)


async def test_the_workflow_refuses_what_the_front_door_refuses(
        make_case: Any, store: Any) -> None:
    case: Case = await make_case("tra-vinh-2025", COMMUNE)
    await case.start()
    await case.select(selected=True)  # as the provincial police (the handler waits for the
    opened = [(e.version, e.type) for e in await store.read(case.id)]  # opening events)
    report = sorted(case.plan.deadlines_of("phase_report"), key=lambda d: d.due)[0].id
    ops = {
        "select": (names.DECIDE_SELECTION,
                   lambda a: SelectionDecision(request_id=rid(), actor=a, selected=True)),
        "submit": (names.SUBMIT_REPORT,
                   lambda a: ReportSubmission(request_id=rid(), actor=a, deadline_id=report)),
        "withdraw": (names.WITHDRAW,
                     lambda a: Withdrawal(request_id=rid(), actor=a, reason="thử")),
    }
    scope_case = case.scope
    checked = 0
    for role, where in itertools.product(ROLES, WHERE):
        actor = person(role, where)
        for op, (update, build) in ops.items():
            try:
                check(actor, op, case.plan, scope_case)  # type: ignore[arg-type]
                continue  # allowed: not sent (it would change the case)
            except ServiceError as exc:
                door = exc.code
            message = await case.service.signed(case.id, build(actor))
            with pytest.raises(WorkflowUpdateFailedError) as info:
                await case.handle.execute_update(update, message)
            cause = info.value.cause
            assert isinstance(cause, ApplicationError)
            # an auditor is refused by role in the workflow (auditors hold no acting role)
            want = "case.wrong_role" if door == "access.read_only" else door
            assert cause.type == want, (role, where, op, cause.type, cause.message)
            checked += 1
    assert checked > 80
    # a forged proof (another key) is refused before any rule is looked at
    forged = Case(case.client, case.env, case.plan.id, COMMUNE, "848", "84", case.tq,
                  case.plan.local_date(await case.env.get_current_time()),
                  signer=Signer.generate())
    with pytest.raises(WorkflowUpdateFailedError) as info:
        await case.handle.execute_update(names.DECIDE_SELECTION, await forged.service.signed(
            case.id, SelectionDecision(request_id=rid(), actor=case.actor("province_police"),
                                       selected=True)))
    assert getattr(info.value.cause, "type", None) == "identity.unknown_key"
    assert [(e.version, e.type) for e in await store.read(case.id)] == opened
    await case.withdraw("kết thúc kiểm thử / end of test")  # the case ends
    assert (await case.service.result(case.ref)).outcome == "withdrawn"
