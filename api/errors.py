"""Refusals as HTTP answers: the domain's code, a status, and the message in both languages.

Every error body is ``{"code", "message_vi", "message_en"}``; clients branch on ``code``.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import structlog
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException

from domain.errors import DomainError
from eventstore import disk

log = structlog.get_logger("drugfree.api")


class ErrorBody(BaseModel):
    """Every refusal's body: the domain's stable code (clients branch on it) and the message
    in Vietnamese and in English."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "code": "case.wrong_jurisdiction",
        "message_vi": "hồ sơ không thuộc địa bàn quản lý của bạn",
        "message_en": "actor's district 850 is not the case's 851"}]})

    code: str
    message_vi: str
    message_en: str


# What each refusal status means, for the OpenAPI document.
_MEANING = {
    401: "thiếu, sai hoặc hết hạn thẻ định danh / no valid identity token",
    403: "ngoài vai trò hoặc địa bàn / outside role or jurisdiction",
    404: "không tìm thấy / not found",
    405: "phương thức không được hỗ trợ / method not allowed",
    409: "xung đột trạng thái / not pending, closed or already decided",
    413: "nội dung quá lớn / body too large",
    422: "dữ liệu không hợp lệ / invalid input, the field named, or a rule the request breaks",
    503: "dịch vụ chưa sẵn sàng / a dependency is unavailable",
}


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` of these refusal statuses, each with the ``ErrorBody``."""
    return {status: {"model": ErrorBody, "description": _MEANING[status]}
            for status in statuses}

# code prefix or suffix -> HTTP status; the first match wins
_BY_SUFFIX = (
    (".wrong_role", 403), (".wrong_jurisdiction", 403), (".not_member", 403),
    (".read_only", 403), (".not_delegable", 403), (".auditors_only", 403), (".wrong_unit", 403),
    (".not_found", 404),
    (".not_pending", 409), (".already_signed", 409), (".already_exists", 409),
    (".closed", 409), (".already_proposed", 409), (".selection_done", 409),
    (".already_open", 409), (".already_decided", 409), (".already_reported", 409),
    (".consolidated", 409), (".already_consolidated", 409),
)
_BY_PREFIX = (("identity.", 401), ("service.", 503))


def status_for(code: str) -> int:
    for prefix, status in _BY_PREFIX:
        if code.startswith(prefix):
            return status
    for suffix, status in _BY_SUFFIX:
        if code.endswith(suffix):
            return status
    return 422  # every other refusal names bad input or a rule the request breaks


def body(code: str, message_en: str, message_vi: str | None = None) -> dict[str, str]:
    return {"code": code, "message_vi": message_vi or message_en, "message_en": message_en}


def refusal(exc: DomainError) -> JSONResponse:
    status = status_for(exc.code)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body(exc.code, exc.message, exc.message_vi), status_code=status,
                        headers=headers)


async def on_domain_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    return refusal(exc)


async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
    """Routing's own refusals (no such path, a method the path does not take) in the same body;
    ``Allow`` lists every method of the path, across the routes that share it."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 400:  # a body that is not JSON at all (FastAPI cannot decode it)
        return JSONResponse(body("input.invalid", "body: not a JSON document",
                                 "dữ liệu không hợp lệ: nội dung không phải JSON"),
                            status_code=422)
    code = {404: "http.not_found", 405: "http.method_not_allowed"}.get(
        exc.status_code, f"http.{exc.status_code}")
    vi = {404: "không có đường dẫn này", 405: "đường dẫn này không nhận phương thức này"}
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(_methods_of(request))
    return JSONResponse(body(code, str(exc.detail), vi.get(exc.status_code)),
                        status_code=exc.status_code, headers=headers or None)


# The database is down, restarting, out of room or of connections: nothing was recorded, and
# the same request (its Idempotency-Key) may be sent again once it is back.
DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (
    asyncpg.PostgresConnectionError, asyncpg.InterfaceError,
    asyncpg.InsufficientResourcesError, asyncpg.OperatorInterventionError, ConnectionError)


async def on_database_unavailable(_: Request, exc: Exception) -> JSONResponse:
    """503 naming the database, never a 500: a disk full said as such (SQLSTATE 53100)."""
    sqlstate = getattr(exc, "sqlstate", None)
    log.warning("api.database_unavailable", error=type(exc).__name__, sqlstate=sqlstate)
    if disk.noted(exc):  # readiness says so too, until a write commits
        answer = body("service.disk_full", "database: the disk is full; nothing was recorded, "
                      "try again later",
                      "cơ sở dữ liệu hết dung lượng đĩa; chưa ghi nhận gì, thử lại sau")
    else:
        answer = body("service.database_unavailable", "database: unavailable for the moment; "
                      "nothing was recorded, try again later",
                      "cơ sở dữ liệu tạm thời không trả lời; chưa ghi nhận gì, thử lại sau")
    return JSONResponse(answer, status_code=503, headers={"Retry-After": "5"})


def _methods_of(request: Request) -> list[str]:
    from starlette.routing import Match, Route

    methods: set[str] = set()
    for route in request.app.routes:
        if isinstance(route, Route) and route.methods and \
                route.matches(request.scope)[0] != Match.NONE:
            methods |= route.methods
    return sorted(methods)


async def on_validation_error(_: Request, exc: Exception) -> JSONResponse:
    """Bad request bodies: the fields and rules, never the values sent."""
    assert isinstance(exc, RequestValidationError)
    parts = []
    for err in exc.errors()[:10]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        parts.append(f"{loc or 'body'}: {_rule(err)}")
    text = "; ".join(parts)
    return JSONResponse(body("input.invalid", text, f"dữ liệu không hợp lệ: {text}"),
                        status_code=422)


def _rule(err: dict[str, Any]) -> str:
    kind = str(err.get("type", "invalid"))
    ctx = err.get("ctx") or {}
    limits = ", ".join(f"{k}={v}" for k, v in ctx.items()
                       if k in ("max_length", "min_length", "ge", "le", "gt", "lt"))
    return f"{kind}" + (f" ({limits})" if limits else "")
