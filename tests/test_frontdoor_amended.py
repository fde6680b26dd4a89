"""The front door checks a case that an amendment moved against the plan as the case runs
it (its stored amendments applied in order) and at its 2025 codes: after Trà Vinh's reform the
provincial police of Vĩnh Long (86) decide at province_appraisal, the province withdraws, the
officer of the new commune submits, and district roles are refused. No Temporal: the events
are appended and projected, the front door reads the row and the stored amendment."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast

import pytest
import pytest_asyncio
from temporalio.client import Client

from domain.events import Event
from domain.roles import Actor, Role
from eventstore import EventStore, NewEvent, Projector
from eventstore.amendments import Amendments
from service.access import Operation
from service.cases import CaseService
from service.errors import ServiceError
from service.frontdoor import FrontDoor
from service.plans import PlanBook
from tests.amended_cases import (
    AMENDER,
    amendment_event,
    at_district_review,
    case_id,
    reform,
)
from tests.conftest import Database

AMENDED = case_id("29323")  # legacy Xã Ninh Thới -> 29329 Xã Phong Thạnh
BEFORE = case_id("29317")  # not amended yet


async def _append(store: EventStore, stream: str, events: list[Event], start: int = 0) -> None:
    await store.append(stream, start, [NewEvent(f"{stream}:{start + i}", e.TYPE,
                                                e.SCHEMA_VERSION, e.payload())
                                       for i, e in enumerate(events)])


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def door(migrated_database: Database) -> AsyncIterator[FrontDoor]:
    async with await EventStore.connect(migrated_database.app_url) as store:
        await Amendments(store.pool).keep(reform()[1], {"person_id": AMENDER.person_id})
        await _append(store, AMENDED, [*at_district_review("29323"),
                                       amendment_event("29323", "district_review")])
        await _append(store, BEFORE, at_district_review("29317"))
        await Projector(store).catch_up()
        yield FrontDoor(CaseService(cast(Client, None), "unused", store), PlanBook(None))


def actor(role: Role, province: str, district: str | None = None,
          commune: str | None = None) -> Actor:
    return Actor(person_id=f"p-{role}", role=role, province_code=province,
                 district_code=district, commune_code=commune)


ALLOWED: list[tuple[Operation, Actor]] = [
    ("decide", actor("province_police", "86")),
    ("decide", actor("province_department", "86")),
    ("withdraw", actor("province_ubnd", "86")),
    ("withdraw", actor("province_police", "86")),
    ("submit", actor("commune_ubnd", "86", None, "29329")),
    ("read", actor("auditor", "86")),
]
REFUSED: list[tuple[Operation, Actor, str]] = [
    ("decide", actor("district_ubnd", "84", "845"), "case.wrong_role"),
    ("decide", actor("district_police", "86", "845"), "case.wrong_role"),
    ("withdraw", actor("district_ubnd", "84", "845"), "case.wrong_role"),
    ("decide", actor("province_police", "84"), "case.wrong_jurisdiction"),
    # the officer of the legacy commune code: that commune is gone
    ("submit", actor("commune_ubnd", "84", "845", "29323"), "case.wrong_jurisdiction"),
    ("submit", actor("commune_ubnd", "86", None, "29323"), "case.wrong_jurisdiction"),
]


@pytest.mark.parametrize(("op", "who"), ALLOWED)
async def test_after_the_reform_the_new_province_and_commune_act(
        door: FrontDoor, op: Operation, who: Actor) -> None:
    _, plan, scope = await door.allowed_case(who, op, AMENDED)
    assert (plan.structure, plan.province_code) == ("current", "86")
    assert (scope.province_code, scope.district_code, scope.commune_code) == ("86", None, "29329")


@pytest.mark.parametrize(("op", "who", "code"), REFUSED)
async def test_after_the_reform_district_roles_and_old_codes_are_refused(
        door: FrontDoor, op: Operation, who: Actor, code: str) -> None:
    with pytest.raises(ServiceError) as info:
        await door.allowed_case(who, op, AMENDED)
    assert info.value.code == code


async def test_before_an_amendment_nothing_changes(door: FrontDoor) -> None:
    _, plan, scope = await door.allowed_case(actor("district_ubnd", "84", "845"), "decide",
                                             BEFORE)
    assert (plan.structure, scope.district_code, scope.commune_code) == ("legacy", "845", "29317")
    await door.allowed_case(actor("commune_ubnd", "84", "845", "29317"), "submit", BEFORE)
    with pytest.raises(ServiceError) as info:
        await door.allowed_case(actor("province_police", "86"), "decide", BEFORE)
    assert info.value.code == "case.wrong_jurisdiction"


async def test_the_amended_plan_is_built_once_per_plan_and_amendments(door: FrontDoor) -> None:
    first = (await door.case_of(AMENDED))[1]
    assert (await door.case_of(AMENDED))[1] is first
    assert len(cast(dict[Any, Any], door._as_run)) == 1
