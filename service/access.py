"""Access at the front door (kiểm soát truy cập): who is calling, and may they do this here.

``Authenticator`` turns a person's identity token into a ``Principal`` (refusing a missing,
malformed, forged or expired token: ``identity.*``, HTTP 401). ``check`` says whether that
person may perform an operation on a case or a campaign: their role must be one the plan
gives the operation, and the case must lie in their jurisdiction (``*.wrong_role``,
``*.wrong_jurisdiction``, HTTP 403 with the reason); auditors read everything in their
province and change nothing (``access.read_only``); a system operator (``operator``, the
codec server's reader) has no part in cases at all (``case.wrong_role``, even to read). The
workflows check all of it again (issue 8): this is where a person gets a clear answer before
anything is sent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from domain.case import (
    campaign_opener_roles,
    opener_role,
    plan_issuer_roles,
    require_actor,
    selection_role,
    withdrawal_roles,
)
from domain.errors import DomainError
from domain.identity import KeyRing, token_hash, verify_token
from domain.plan import Plan
from domain.roles import NO_CASE_ACCESS, ROLES, Actor, CaseScope, Role
from service.errors import ServiceError

Operation = Literal[
    "read", "start", "withdraw", "select", "submit", "decide", "resubmit",
    "propose", "approve_selection", "approve_recognition", "open_campaign", "publish",
]


@dataclass(frozen=True)
class Principal:
    """An authenticated person: who they are, and the hash of the token that said so."""

    actor: Actor
    name: str | None
    token: str  # kept in memory for this request only; only its hash goes further

    @property
    def token_hash(self) -> str:
        return token_hash(self.token)


class Authenticator:
    """Verifies identity tokens against the key ring the front door was configured with."""

    def __init__(self, ring: KeyRing, issuer: str | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.ring = ring
        self.issuer = issuer
        self.clock = clock

    def authenticate(self, token: str | None) -> Principal:
        try:
            actor = verify_token(self.ring, token, self.clock(), self.issuer)
        except DomainError as exc:
            raise ServiceError(exc.code, exc.message, exc.message_vi) from None
        assert token is not None
        return Principal(actor=actor, name=None, token=token)


def roles_for(plan: Plan, op: Operation) -> tuple[Role, ...]:
    """The roles a plan gives an operation (reads: every role but the system operator)."""
    chain_roles = tuple(dict.fromkeys(r for lv in plan.approval_chain for r in lv.roles))
    table: dict[Operation, tuple[Role, ...]] = {
        "read": tuple(r for r in ROLES if r not in NO_CASE_ACCESS),
        "start": (opener_role(plan),),
        "withdraw": withdrawal_roles(plan),
        "select": (selection_role(plan),),
        "submit": ("commune_ubnd",),
        "resubmit": ("commune_ubnd",),
        "decide": chain_roles,
        "propose": (opener_role(plan),),
        "approve_selection": (selection_role(plan),),
        "approve_recognition": tuple(plan.approval_chain[-1].roles),
        "open_campaign": campaign_opener_roles(plan),
        "publish": plan_issuer_roles(plan),
    }
    return table[op]


_CAMPAIGN_OPS = frozenset({"propose", "approve_selection", "approve_recognition",
                           "open_campaign", "publish"})


def check(actor: Actor, op: Operation, plan: Plan, scope: CaseScope) -> None:
    """Refuse (``ServiceError``, 403) unless ``actor`` may do ``op`` on ``scope`` under ``plan``."""
    if actor.role == "auditor" and op != "read":
        raise ServiceError("access.read_only", "auditors read; they change nothing",
                           "thanh tra, kiểm tra chỉ được xem, không được thay đổi")
    # the workflows' own codes; publishing a plan is the plan book's
    prefix = "plan" if op == "publish" else "campaign" if op in _CAMPAIGN_OPS else "case"
    try:
        require_actor(actor, scope, roles_for(plan, op), prefix=prefix)
    except DomainError as exc:  # the Vietnamese wording is the decider's (domain.case)
        raise ServiceError(exc.code, exc.message, exc.message_vi) from None

