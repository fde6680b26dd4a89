"""Refusals as Temporal failures: the domain's stable code travels as the failure type."""

from __future__ import annotations

from typing import NoReturn

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain.errors import DomainError
    from domain.identity import verify_token
    from domain.roles import Actor


def refuse(code: str, message: str) -> NoReturn:
    raise ApplicationError(message, type=code, non_retryable=True)


def refuse_domain(exc: DomainError) -> NoReturn:
    refuse(exc.code, exc.message)


def check_identity(identity_key: str | None, actor: Actor) -> None:
    """Refuse an actor whose token does not verify (when the deployment requires tokens)."""
    if identity_key is None:
        return
    try:
        verify_token(identity_key, actor.token, actor, workflow.now())
    except DomainError as exc:
        refuse_domain(exc)

