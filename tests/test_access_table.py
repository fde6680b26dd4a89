"""Every role x operation x jurisdiction at the front door (issue 9), against an oracle
written from the plan by hand, not from the code under test: allowed, or refused with the
reason's code (``case.wrong_role``, ``case.wrong_jurisdiction``, ``access.read_only``)."""

from __future__ import annotations

import itertools

import pytest

from catalog import get_plan
from domain.case import territory_scope
from domain.roles import ROLE_SCOPE, ROLES, Actor, CaseScope
from service import ServiceError
from service.access import Operation, check

PLAN = get_plan("tra-vinh-2025")  # a plan with districts (001)
CASE = CaseScope(province_code="84", district_code="850", commune_code="29530")
# where the acting person sits, relative to the case
WHERE = {
    "own": ("84", "850", "29530"),
    "same_district": ("84", "850", "29533"),
    "other_district": ("84", "851", "29512"),
    "other_province": ("38", "402", "16174"),
}
# Trà Vinh 2025 (001 §III): who does what
CASE_OPS: dict[Operation, set[str]] = {
    "read": set(ROLES) - {"operator"},  # the system operator: the codec server only
    "start": {"district_ubnd"},
    "withdraw": {"district_ubnd"},
    "select": {"province_police"},
    "submit": {"commune_ubnd"},
    "resubmit": {"commune_ubnd"},
    "decide": {"district_police", "district_labour", "district_health", "district_ubnd",
               "province_police", "province_department", "province_ubnd"},
}
CAMPAIGN_OPS: dict[Operation, set[str]] = {
    "propose": {"district_ubnd"},
    "approve_selection": {"province_police"},
    "approve_recognition": {"province_ubnd"},
    "open_campaign": {"province_ubnd", "province_police"},
    "publish": {"province_ubnd"},  # the plan's issuer (a province's plan: no district signs)
}


def person(role: str, where: str) -> Actor:
    province, district, commune = WHERE[where]
    scope = ROLE_SCOPE[role]  # type: ignore[index]
    return Actor(person_id=f"p-{role}", role=role,  # type: ignore[arg-type]
                 province_code=province,
                 district_code=district if scope != "province" else None,
                 commune_code=commune if scope == "commune" else None)


def reaches(role: str, where: str, campaign: bool) -> bool:
    """Whether a person of ``role`` sitting ``where`` has the case (or campaign) in reach."""
    if where == "other_province":
        return False
    scope = ROLE_SCOPE[role]  # type: ignore[index]
    if campaign:  # the campaign's territory is the whole province
        return scope != "commune"
    return {"province": True, "district": where in ("own", "same_district"),
            "commune": where == "own"}[scope]


def expected(role: str, op: Operation, where: str, allowed: set[str],
             campaign: bool) -> str | None:
    # as the workflows say it; a plan's publication is refused by the plan book
    prefix = "plan" if op == "publish" else "campaign" if campaign else "case"
    if role == "auditor" and op != "read":
        return "access.read_only"
    if role not in allowed:
        return f"{prefix}.wrong_role"
    if not reaches(role, where, campaign):
        return f"{prefix}.wrong_jurisdiction"
    return None


def outcome(actor: Actor, op: Operation, scope: CaseScope) -> str | None:
    try:
        check(actor, op, PLAN, scope)
    except ServiceError as exc:
        assert exc.message and exc.message_vi, exc.code  # a reason, in both languages
        return exc.code
    return None


@pytest.mark.parametrize(("role", "where"), list(itertools.product(ROLES, WHERE)))
def test_every_case_operation(role: str, where: str) -> None:
    actor = person(role, where)
    for op, allowed in CASE_OPS.items():
        assert outcome(actor, op, CASE) == expected(role, op, where, allowed, False), (op,)


@pytest.mark.parametrize(("role", "where"), list(itertools.product(ROLES, WHERE)))
def test_every_campaign_operation(role: str, where: str) -> None:
    actor = person(role, where)
    for op, allowed in CAMPAIGN_OPS.items():
        got = outcome(actor, op, territory_scope(PLAN))
        assert got == expected(role, op, where, allowed, True), (op,)
