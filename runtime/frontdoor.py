"""The front door's configuration (cấu hình cổng vào): whom it believes, and its own key.

The API verifies people's identity tokens against the keys of their sign-on: a JWKS file
(``DRUGFREE_TOKEN_KEYS``, e.g. ``drugfree auth keygen``'s ``identity.jwks.json``) or a
province's sign-on (``DRUGFREE_TOKEN_JWKS_URL``, with ``DRUGFREE_TOKEN_ISSUER`` its ``iss``).
It signs each command's proof with its own key (``DRUGFREE_FRONT_DOOR_KEY``, a PEM file),
whose public half the workers trust (their ``DRUGFREE_IDENTITY_KEYS``). Without them it does
not start, unless ``DRUGFREE_INSECURE_NO_IDENTITY=1``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from domain.identity import KeyRing, Signer
from runtime.trust import ENV_INSECURE, TrustError, ring_from_file, ring_from_url, signer_from_file

ENV_TOKEN_KEYS = "DRUGFREE_TOKEN_KEYS"
ENV_TOKEN_JWKS_URL = "DRUGFREE_TOKEN_JWKS_URL"
ENV_TOKEN_ISSUER = "DRUGFREE_TOKEN_ISSUER"
ENV_FRONT_DOOR_KEY = "DRUGFREE_FRONT_DOOR_KEY"


@dataclass(frozen=True)
class FrontDoorConfig:
    tokens: KeyRing  # who may sign people's identity tokens
    issuer: str | None  # their required ``iss``, when a sign-on names itself
    signer: Signer | None  # signs command proofs (None: insecure, explicitly)

    @classmethod
    def from_env(cls) -> FrontDoorConfig:
        ring = token_ring_from_env()
        signer = None
        if path := os.environ.get(ENV_FRONT_DOOR_KEY):
            signer = signer_from_file(Path(path), ENV_FRONT_DOOR_KEY)
        insecure = os.environ.get(ENV_INSECURE, "").strip().lower() in ("1", "true", "yes")
        if signer is None and not insecure:
            raise TrustError(
                "trust.missing", f"no front-door key: set {ENV_FRONT_DOOR_KEY} (or "
                f"{ENV_INSECURE}=1, insecure)",
                f"thiếu khóa ký của cổng vào: đặt {ENV_FRONT_DOOR_KEY} (hoặc {ENV_INSECURE}=1, "
                "không an toàn)")
        return cls(tokens=ring, issuer=token_issuer_from_env(), signer=signer)


def token_ring_from_env() -> KeyRing:
    """The keys people's identity tokens are verified with (the API's and the codec
    server's); ``TrustError`` when none is configured."""
    ring = KeyRing()
    if path := os.environ.get(ENV_TOKEN_KEYS):
        ring = ring + ring_from_file(Path(path), ENV_TOKEN_KEYS)
    if url := os.environ.get(ENV_TOKEN_JWKS_URL):
        ring = ring + ring_from_url(url, ENV_TOKEN_JWKS_URL)
    if not ring:
        raise TrustError(
            "trust.missing", f"no token keys: set {ENV_TOKEN_KEYS} or {ENV_TOKEN_JWKS_URL}",
            f"thiếu khóa kiểm tra thẻ định danh: đặt {ENV_TOKEN_KEYS} hoặc "
            f"{ENV_TOKEN_JWKS_URL}")
    return ring


def token_issuer_from_env() -> str | None:
    """The ``iss`` identity tokens must carry, when the sign-on names itself."""
    return os.environ.get(ENV_TOKEN_ISSUER) or None
