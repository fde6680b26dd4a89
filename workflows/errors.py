"""Refusals as Temporal failures, and the identity check every validator makes first."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain.errors import DomainError
    from domain.identity import command_digest, verify_proof
    from runtime.trust import for_queue
    from workflows.messages import Request


def refuse(code: str, message: str, message_vi: str | None) -> NoReturn:
    """Refuse with ``code``, the English ``message`` and its Vietnamese wording, which travels
    in the failure's details (``{"message_vi": ...}``; ``service.errors.translate`` reads it).

    ``message_vi`` is required (None only where no wording exists, e.g. an old activity's
    refusal): what users read is Vietnamese by default. Failure details are encoded like the
    message (the payload codec), and a validator's refusal is never replayed.
    """
    raise ApplicationError(message, *vi_details(message_vi), type=code, non_retryable=True)


def vi_details(message_vi: str | None) -> tuple[dict[str, str], ...]:
    """A refusal's failure details: its Vietnamese wording, if any (activities use it too)."""
    return ({"message_vi": message_vi},) if message_vi else ()


def vi_of(details: Sequence[Any]) -> str | None:
    """The Vietnamese wording in a refusal's details; None if absent or not of that shape."""
    for item in details:
        if isinstance(item, Mapping):
            text = item.get("message_vi")
            if isinstance(text, str) and text.strip():
                return text
    return None


def refuse_domain(exc: DomainError) -> NoReturn:
    refuse(exc.code, exc.message, exc.message_vi)


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
