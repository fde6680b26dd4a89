"""What a caller of the service layer sees when something is refused or unavailable.

Every failure from Temporal is turned into one ``ServiceError`` with a stable code: a refusal
by a workflow validator keeps the domain's code (``case.wrong_role``, ``chain.not_pending``,
``identity.expired``, ...), and the workflow service's own answers get codes of their own
(``case.not_found``, ``case.already_exists``, ``service.unavailable``). Interfaces (CLI, HTTP,
web) branch on the code and show the message; none of them sees a Temporal exception.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from pydantic import ValidationError
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
)
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from domain.errors import DomainError
from domain.validation import describe
from workflows.errors import vi_of

T = TypeVar("T")
P = ParamSpec("P")


class ServiceError(DomainError):
    """A refused or failed operation, with the domain's stable code."""


def translate(exc: BaseException, target: str = "") -> ServiceError:
    """The ``ServiceError`` for a Temporal failure while acting on ``target`` (a workflow id)."""
    if isinstance(exc, ServiceError):
        return exc
    if isinstance(exc, DomainError):
        return ServiceError(exc.code, exc.message, exc.message_vi)
    if isinstance(exc, ValidationError):  # a message outside its bounds: named, not quoted
        return ServiceError("input.invalid", describe(exc),
                            f"dữ liệu không hợp lệ: {describe(exc)}")
    if isinstance(exc, WorkflowUpdateFailedError | WorkflowFailureError):
        cause = exc.cause
        if isinstance(cause, ApplicationError) and cause.type:
            return ServiceError(cause.type, cause.message, _vi_of(cause))
        return ServiceError("case.refused", f"{target}: {cause}", f"{target}: bị từ chối")
    if isinstance(exc, WorkflowAlreadyStartedError):
        return ServiceError("case.already_exists", f"{target} already exists",
                            f"{target} đã có")
    if isinstance(exc, WorkflowQueryFailedError):
        return ServiceError("service.query_failed", f"{target}: {exc.message}",
                            f"{target}: không đọc được trạng thái")
    if isinstance(exc, RPCError):
        if exc.status == RPCStatusCode.NOT_FOUND:
            return ServiceError("case.not_found", f"no such case or campaign: {target}",
                                f"không có hồ sơ hoặc chiến dịch {target}")
        if exc.status == RPCStatusCode.ALREADY_EXISTS:
            return ServiceError("case.already_exists", f"{target} already exists",
                                f"{target} đã có")
        return ServiceError("service.unavailable",
                            f"the workflow service did not answer ({exc.status.name}): "
                            f"{exc.message}", "hệ thống quy trình không trả lời; thử lại sau")
    raise exc


def _vi_of(cause: ApplicationError) -> str | None:
    """The Vietnamese wording a workflow's refusal carries (``workflows.errors.refuse``)."""
    try:
        return vi_of(cause.details)
    except Exception:  # details that do not decode, or decode to anything at all
        return None


async def guarded(call: Awaitable[T], target: str = "", client: Client | None = None,
                  retry_of: tuple[str, type[T]] | None = None) -> T:
    """Await ``call``, turning Temporal failures into ``ServiceError``. With ``client``, a
    "not found" answer is told apart: a workflow that ended takes no update (``case.closed``),
    unless ``retry_of`` (request id, reply type) names a request the ended run answered: a
    client whose connection dropped after its command ended the run gets the same answer."""
    try:
        return await call
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND and client is not None and target:
            if await _has_ended(client, target):
                if retry_of is not None and \
                        (known := await remembered(client, target, *retry_of)) is not None:
                    return known
                raise ServiceError("case.closed",
                                   f"{target} has ended; nothing more is accepted",
                                   f"{target} đã kết thúc; không nhận thêm gì") from None
        raise translate(exc, target) from None
    except (WorkflowUpdateFailedError, WorkflowFailureError, WorkflowAlreadyStartedError,
            WorkflowQueryFailedError) as exc:
        raise translate(exc, target) from None


async def remembered(client: Client, workflow_id: str, request_id: str,
                     answer: type[T]) -> T | None:
    """The reply the workflow's last run remembers for ``request_id`` (a query: an ended
    run answers it from its history), or None when it has none or cannot say."""
    from workflows import names

    try:
        known: T | None = await client.get_workflow_handle(workflow_id).query(
            names.REPLY, request_id, result_type=answer)
    except (RPCError, WorkflowQueryFailedError):
        return None  # e.g. a run of code from before the query existed
    return known


async def _has_ended(client: Client, workflow_id: str) -> bool:
    try:
        desc = await client.get_workflow_handle(workflow_id).describe()
    except RPCError:
        return False
    return desc.status not in (None, WorkflowExecutionStatus.RUNNING)


def refuses_bad_input(
    method: Callable[P, Coroutine[Any, Any, T]],
) -> Callable[P, Coroutine[Any, Any, T]]:
    """A service call whose message breaks its contract (workflows.messages: sizes, types)
    raises ``ServiceError("input.invalid")`` naming the fields, and one whose content the
    domain refuses (e.g. bad metrics) raises its code, before anything is sent."""

    @functools.wraps(method)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await method(*args, **kwargs)
        except (ValidationError, DomainError) as exc:
            raise translate(exc) from None

    return wrapper
