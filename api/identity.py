"""Who calls the API: the identity token in ``Authorization: Bearer``, verified (401 without
a valid one); ``Who`` is the routes' dependency, ``IdemKey`` a command's idempotency key."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from service.access import Authenticator, Principal
from service.cases import SIGNED_IN
from service.errors import ServiceError

# ``Authorization: Bearer <identity token>``, declared as the API's security scheme; a missing
# or malformed header is answered below (401 with our body), not by FastAPI.
bearer = HTTPBearer(auto_error=False, scheme_name="identity token",
                    description="thẻ định danh / identity token (JWT, EdDSA)")


async def principal(request: Request, credentials: Annotated[
        HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Principal:
    """The caller, from ``Authorization: Bearer <identity token>`` (401 without a valid one).
    Async, so it runs in the request's own task: the token it verified is the one whose hash
    the request's command proofs carry (``service.cases.SIGNED_IN``)."""
    token = credentials.credentials.strip() if credentials is not None else ""
    if not token:
        raise ServiceError("identity.missing_token",
                           "send Authorization: Bearer <identity token>",
                           "cần tiêu đề Authorization: Bearer <thẻ định danh>")
    authenticator: Authenticator = request.app.state.authenticator
    who = authenticator.authenticate(token)
    SIGNED_IN.set(token)
    return who


Who = Annotated[Principal, Depends(principal)]
IdemKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]
