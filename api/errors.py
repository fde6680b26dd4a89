"""Refusals as HTTP answers: the domain's code, a status, and the message in both languages.

Every error body is ``{"code", "message_vi", "message_en"}``; clients branch on ``code``.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from domain.errors import DomainError

# code prefix or suffix -> HTTP status; the first match wins
_BY_SUFFIX = (
    (".wrong_role", 403), (".wrong_jurisdiction", 403), (".not_member", 403),
    (".read_only", 403), (".not_delegable", 403),
    (".not_found", 404),
    (".not_pending", 409), (".already_signed", 409), (".already_exists", 409),
    (".closed", 409), (".already_proposed", 409), (".selection_done", 409),
    (".already_open", 409), (".already_decided", 409),
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
