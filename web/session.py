"""Who is signed in to the pages, and the forms' CSRF tokens.

The session is the person's identity token (the front door's JWT) in an HttpOnly,
SameSite=Strict cookie scoped to ``/ui``: verified on every request exactly as the API verifies
a bearer token, so it expires with the token. Every form carries a CSRF token: an HMAC of the
session token's hash under the pages' secret (a synchronizer token that needs no server
state); the sign-in form, before any session, is tied to a random cookie of its own.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets

from fastapi import Request
from fastapi.responses import Response

from domain.identity import token_hash
from service.access import Authenticator, Principal

SESSION_COOKIE = "drugfree_session"
SIGNIN_COOKIE = "drugfree_signin"  # the sign-in form's own CSRF value
SECRET_ENV = "DRUGFREE_UI_SECRET"  # the same on every replica behind one address
PATH = "/ui"


class Sessions:
    def __init__(self, authenticator: Authenticator, secret: bytes | None = None,
                 secure: bool = False) -> None:
        """``secure``: cookies only over HTTPS (production behind TLS)."""
        env = os.environ.get(SECRET_ENV, "")
        self.secret = secret or (env.encode() if env else secrets.token_bytes(32))
        self.authenticator = authenticator
        self.secure = secure

    def principal(self, request: Request) -> Principal:
        """The signed-in person; ``identity.*`` (ServiceError) without a valid session."""
        return self.authenticator.authenticate(request.cookies.get(SESSION_COOKIE))

    def csrf(self, token: str) -> str:
        return hmac.new(self.secret, token_hash(token).encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, request: Request, sent: str | None) -> bool:
        token = request.cookies.get(SESSION_COOKIE)
        return bool(token and sent) and hmac.compare_digest(self.csrf(token or ""), sent or "")

    def sign_in(self, response: Response, token: str, max_age: int) -> None:
        response.set_cookie(SESSION_COOKIE, token, max_age=max_age, path=PATH, httponly=True,
                            samesite="strict", secure=self.secure)
        response.delete_cookie(SIGNIN_COOKIE, path=PATH)

    def sign_out(self, response: Response) -> None:
        response.delete_cookie(SESSION_COOKIE, path=PATH, httponly=True, samesite="strict",
                               secure=self.secure)

    @staticmethod
    def signin_value() -> str:
        """A fresh CSRF value for the sign-in form (sent in the form and as its cookie)."""
        return secrets.token_urlsafe(24)

    def remember_signin(self, response: Response, value: str) -> None:
        response.set_cookie(SIGNIN_COOKIE, value, max_age=3600, path=PATH, httponly=True,
                            samesite="strict", secure=self.secure)

    @staticmethod
    def signin_ok(request: Request, sent: str | None) -> bool:
        cookie = request.cookies.get(SIGNIN_COOKIE)
        return bool(cookie and sent) and hmac.compare_digest(cookie or "", sent or "")
