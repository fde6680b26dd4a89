"""Signed identity tokens (thẻ định danh): who an actor is, vouched for by the identity service.

Every submission and decision carries its ``Actor`` and the token it came from. The token is
``base64url(claims JSON) "." base64url(Ed25519 signature)``; the claims repeat the actor's
person id, role and unit codes and carry an expiry. Workflows verify the signature with the
public key from configuration, using the workflow clock for expiry, so a client that reaches
Temporal directly, bypassing the API, is still refused. Verification is pure (no I/O, no
clock of its own) and therefore deterministic inside a workflow.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from domain.errors import DomainError
from domain.roles import Actor

_CLAIMS = ("person_id", "role", "province_code", "district_code", "commune_code")


class IdentityError(DomainError):
    """A missing, malformed, forged, expired or mismatching identity token."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def claims_of(actor: Actor) -> dict[str, str | None]:
    return {k: getattr(actor, k) for k in _CLAIMS}


def sign_token(private_key: bytes, actor: Actor, expires_at: datetime) -> str:
    """Issue a token for ``actor`` (the identity service's side; 32-byte Ed25519 seed)."""
    claims = {**claims_of(actor), "exp": int(expires_at.timestamp())}
    body = json.dumps(claims, sort_keys=True, separators=(",", ":")).encode()
    signature = Ed25519PrivateKey.from_private_bytes(private_key).sign(body)
    return f"{_b64(body)}.{_b64(signature)}"


def public_key_of(private_key: bytes) -> str:
    """The hex public key that verifies tokens signed with ``private_key``."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    raw = Ed25519PrivateKey.from_private_bytes(private_key).public_key().public_bytes(
        Encoding.Raw, PublicFormat.Raw)
    return raw.hex()


def verify_token(public_key_hex: str, token: str | None, actor: Actor, now: datetime) -> None:
    """Raise ``IdentityError`` unless ``token`` is a valid, unexpired token for ``actor``."""
    if not token:
        raise IdentityError("identity.missing_token", "the request carries no identity token")
    try:
        body_part, sig_part = token.split(".")
        body, signature = _unb64(body_part), _unb64(sig_part)
        claims = json.loads(body)
    except (ValueError, json.JSONDecodeError):
        raise IdentityError("identity.bad_token", "the identity token is malformed") from None
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key_hex)).verify(signature, body)
    except (InvalidSignature, ValueError):
        raise IdentityError(
            "identity.bad_signature", "the identity token's signature does not verify"
        ) from None
    if not isinstance(claims, dict) or not isinstance(claims.get("exp"), int):
        raise IdentityError("identity.bad_token", "the identity token has no expiry")
    if claims["exp"] <= now.timestamp():
        raise IdentityError("identity.expired", "the identity token has expired")
    for key, value in claims_of(actor).items():
        if claims.get(key) != value:
            raise IdentityError(
                "identity.mismatch", f"the identity token does not vouch for the actor's {key}"
            )
