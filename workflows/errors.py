"""Refusals as Temporal failures, and the identity check every validator makes first."""

from __future__ import annotations

from typing import NoReturn

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain.errors import DomainError
    from domain.identity import command_digest, verify_proof
    from runtime.trust import for_queue
    from workflows.messages import Request


def refuse(code: str, message: str) -> NoReturn:
    raise ApplicationError(message, type=code, non_retryable=True)


def refuse_domain(exc: DomainError) -> NoReturn:
    refuse(exc.code, exc.message)


def check_proof(request: Request, via: str | None = None) -> None:
    """Refuse ``request`` unless its command proof authorises exactly it, on this workflow,
    now, under the keys the worker was configured with (``runtime.trust``).

    Validators only: Temporal never replays them, so today's keys cannot change a replay.
    ``via``: the campaign whose relayed list decisions this workflow accepts.
    """
    info = workflow.info()
    trust = for_queue(info.task_queue)
    if trust.insecure:
        return
    try:
        verify_proof(trust.ring, request.proof, request.actor, target=info.workflow_id,
                     request_id=request.request_id,
                     digest=command_digest(request.model_dump(mode="json")),
                     now=workflow.now(), via=via)
    except DomainError as exc:
        refuse_domain(exc)
