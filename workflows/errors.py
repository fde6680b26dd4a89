"""Refusals as Temporal failures: the domain's stable code travels as the failure type."""

from __future__ import annotations

from typing import NoReturn

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain.errors import DomainError
    from domain.roles import Actor, CaseScope, Role, jurisdiction_error


def refuse(code: str, message: str) -> NoReturn:
    raise ApplicationError(message, type=code, non_retryable=True)


def refuse_domain(exc: DomainError) -> NoReturn:
    refuse(exc.code, exc.message)


def check_actor(actor: Actor, scope: CaseScope, roles: tuple[Role, ...]) -> None:
    """Refuse an actor without one of ``roles`` or outside the case's jurisdiction."""
    if actor.role not in roles:
        allowed = ", ".join(roles)
        refuse("case.wrong_role", f"role {actor.role} may not do this (allowed: {allowed})")
    where = jurisdiction_error(actor, scope)
    if where is not None:
        refuse("case.wrong_jurisdiction", where)
