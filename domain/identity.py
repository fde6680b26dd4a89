"""Identity (định danh): who may act, as signed statements the server checks, never the caller.

Two kinds of statement, both JWTs signed with Ed25519 (``EdDSA``, PyJWT):

- an **identity token** (thẻ định danh) says who a person is: role and units, for a few hours
  (audience ``drugfree``). ``drugfree auth issue`` makes one, or a province's own sign-on
  does. It is shown to the front door (the service layer) and never sent to the workflows.
- a **command proof** (bằng chứng lệnh) is what the front door mints for one command after it
  checked the person: audience ``drugfree:workflow``, five minutes' life, and bound to the
  workflow it addresses, the request id and the SHA-256 of the command's canonical content
  (RFC 8785). A validator accepts the command only if all of that matches, so a proof lifted
  from one case's history authorises nothing else: not another case, not another question of
  the same case, and not a changed command. A worker's fan-out of a list decision relays it
  with proofs of its own, marked ``via`` the campaign that decided it.

Keys come from configuration (``KeyRing``: several public keys by ``kid``, for rotation; a
JWKS document or a province's JWKS URL); verification is pure: the caller gives the clock
(the workflow's, inside a workflow), so it is deterministic and testable.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import jwt
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
)

from domain.errors import DomainError
from domain.roles import Actor

TOKEN_AUDIENCE = "drugfree"
PROOF_AUDIENCE = "drugfree:workflow"
ISSUER = "drugfree"
TOKEN_TTL = timedelta(hours=8)
PROOF_TTL = timedelta(minutes=5)
MAX_TOKEN_TTL = timedelta(hours=24)  # a verifier refuses longer-lived statements outright
MAX_PROOF_TTL = timedelta(minutes=10)
SKEW = timedelta(seconds=60)  # clocks of the front door and the workflow service may differ
MAX_JWT = 4096

# claim -> Actor field: the person and their jurisdiction
_ACTOR_CLAIMS = {"sub": "person_id", "role": "role", "prov": "province_code",
                 "dist": "district_code", "comm": "commune_code", "unit": "unit"}
_CLAIM_VI = {"sub": "mã người", "role": "vai trò", "prov": "mã tỉnh", "dist": "mã huyện",
             "comm": "mã xã", "unit": "đơn vị"}


class IdentityError(DomainError):
    """A missing, malformed, forged, expired, misdirected or mismatching signed statement."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def key_id(public: Ed25519PublicKey) -> str:
    """A key's id: its RFC 7638 thumbprint, so two parties name one key alike."""
    raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    canonical = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": _b64(raw)},
                           separators=(",", ":"), sort_keys=True)
    return _b64(hashlib.sha256(canonical.encode()).digest())


def public_jwk(public: Ed25519PublicKey, kid: str | None = None) -> dict[str, str]:
    raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "x": _b64(raw), "kid": kid or key_id(public),
            "alg": "EdDSA", "use": "sig"}


@dataclass(frozen=True)
class Signer:
    """A private signing key and its id (the identity service's, the front door's, a relay's)."""

    key: Ed25519PrivateKey
    kid: str

    @classmethod
    def generate(cls) -> Signer:
        key = Ed25519PrivateKey.generate()
        return cls(key, key_id(key.public_key()))

    @classmethod
    def from_seed(cls, seed: bytes) -> Signer:
        key = Ed25519PrivateKey.from_private_bytes(seed)
        return cls(key, key_id(key.public_key()))

    @classmethod
    def from_pem(cls, pem: bytes) -> Signer:
        try:
            key = load_pem_private_key(pem, password=None)
        except (ValueError, TypeError):
            raise IdentityError("identity.bad_key",
                                "the signing key is not a PEM private key",
                                "khóa ký không phải khóa riêng định dạng PEM") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise IdentityError("identity.bad_key", "the signing key is not an Ed25519 key",
                                "khóa ký không phải khóa Ed25519")
        return cls(key, key_id(key.public_key()))

    def pem(self) -> bytes:
        return self.key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())

    def jwk(self) -> dict[str, str]:
        return public_jwk(self.key.public_key(), self.kid)

    def ring(self) -> KeyRing:
        return KeyRing({self.kid: self.key.public_key()})

    def sign(self, claims: Mapping[str, Any]) -> str:
        return jwt.encode(dict(claims), self.key, algorithm="EdDSA", headers={"kid": self.kid})


@dataclass(frozen=True)
class KeyRing:
    """The public keys a verifier trusts, by key id (several during a rotation)."""

    keys: Mapping[str, Ed25519PublicKey] = field(default_factory=dict)

    @classmethod
    def from_jwks(cls, document: Mapping[str, Any]) -> KeyRing:
        """Keys from a JWKS document (RFC 7517): only Ed25519 signing keys are taken."""
        entries = document.get("keys") if isinstance(document, Mapping) else None
        if not isinstance(entries, list) or not entries:
            raise IdentityError("identity.bad_keys", "the key set has no \"keys\" list",
                                "bộ khóa không có danh sách \"keys\"")
        keys: dict[str, Ed25519PublicKey] = {}
        for i, entry in enumerate(entries):
            if not isinstance(entry, Mapping) or entry.get("kty") != "OKP" or \
                    entry.get("crv") != "Ed25519":
                continue
            try:
                public = jwt.PyJWK(dict(entry), algorithm="EdDSA").key
            except jwt.PyJWTError:
                raise IdentityError("identity.bad_keys", f"keys[{i}] is not a valid key",
                                    f"keys[{i}] không phải khóa hợp lệ") from None
            if not isinstance(public, Ed25519PublicKey):
                continue
            keys[str(entry.get("kid") or key_id(public))] = public
        if not keys:
            raise IdentityError("identity.bad_keys", "the key set holds no Ed25519 key",
                                "bộ khóa không có khóa Ed25519 nào")
        return cls(keys)

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        return {"keys": [public_jwk(k, kid) for kid, k in sorted(self.keys.items())]}

    def __add__(self, other: KeyRing) -> KeyRing:
        return KeyRing({**self.keys, **other.keys})

    def __bool__(self) -> bool:
        return bool(self.keys)


_WHAT_VI = {"identity token": "thẻ định danh", "command proof": "chữ ký xác nhận lệnh"}


def _decode(ring: KeyRing, statement: str | None, audience: str, now: datetime,
            max_ttl: timedelta, what: str) -> dict[str, Any]:
    """The claims of a statement signed by a key of ``ring``, for ``audience``, valid at
    ``now``. Times are checked here, against the caller's clock, not the machine's."""
    vi = _WHAT_VI[what]
    if not statement:
        raise IdentityError("identity.missing_token", f"the request carries no {what}",
                            f"yêu cầu không có {vi}")
    if len(statement) > MAX_JWT:
        raise IdentityError("identity.bad_token", f"the {what} is too long",
                            f"{vi} quá dài")
    try:
        header = jwt.get_unverified_header(statement)
    except jwt.PyJWTError:
        raise IdentityError("identity.bad_token", f"the {what} is malformed",
                            f"{vi} không hợp lệ") from None
    kid = header.get("kid")
    if header.get("alg") != "EdDSA" or not isinstance(kid, str):
        raise IdentityError("identity.bad_token", f"the {what} is not signed with EdDSA",
                            f"{vi} không được ký bằng EdDSA")
    key = ring.keys.get(kid)
    if key is None:
        raise IdentityError("identity.unknown_key", f"the {what} is signed by an unknown key",
                            f"{vi} được ký bằng một khóa không được tin cậy")
    try:
        claims: dict[str, Any] = jwt.decode(
            statement, key, algorithms=["EdDSA"], audience=audience,
            options={"verify_exp": False, "verify_iat": False, "verify_nbf": False,
                     "require": ["exp", "iat", "aud", "sub"]})
    except jwt.InvalidAudienceError:
        raise IdentityError("identity.wrong_audience", f"the {what} is meant for another "
                            "audience", f"{vi} không dành cho hệ thống này") from None
    except jwt.InvalidSignatureError:
        raise IdentityError("identity.bad_signature",
                            f"the {what}'s signature does not verify",
                            f"chữ ký của {vi} không đúng") from None
    except jwt.PyJWTError:
        raise IdentityError("identity.bad_token", f"the {what} is malformed",
                            f"{vi} không hợp lệ") from None
    exp, iat = claims.get("exp"), claims.get("iat")
    if not isinstance(exp, int) or not isinstance(iat, int):
        raise IdentityError("identity.bad_token", f"the {what} has no valid times",
                            f"{vi} không có thời hạn hợp lệ")
    stamp = now.timestamp()
    if exp <= stamp:
        raise IdentityError("identity.expired", f"the {what} has expired",
                            f"{vi} đã hết hạn")
    if iat > stamp + SKEW.total_seconds() or exp - iat > max_ttl.total_seconds():
        raise IdentityError("identity.bad_lifetime",
                            f"the {what} is issued in the future or lives too long",
                            f"{vi} có thời hạn không hợp lệ (cấp cho tương lai hoặc "
                            "hiệu lực quá dài)")
    return claims


def _actor_claims(actor: Actor) -> dict[str, str | None]:
    return {claim: getattr(actor, name) for claim, name in _ACTOR_CLAIMS.items()}


def actor_of(claims: Mapping[str, Any]) -> Actor:
    try:
        return Actor(**{name: claims.get(claim) for claim, name in _ACTOR_CLAIMS.items()})
    except ValueError:
        raise IdentityError("identity.bad_token", "the token's person or units are invalid",
                            "thông tin người hoặc đơn vị trong thẻ định danh không hợp lệ") \
            from None


def _same_actor(claims: Mapping[str, Any], actor: Actor, what: str) -> None:
    for claim, value in _actor_claims(actor).items():
        if claims.get(claim) != value:
            raise IdentityError("identity.mismatch",
                                f"the {what} does not vouch for the actor's {_ACTOR_CLAIMS[claim]}",
                                f"{_WHAT_VI[what]} không xác nhận {_CLAIM_VI[claim]} của người "
                                "thực hiện")


# -- identity tokens (the person) ------------------------------------------------------------


def issue_token(signer: Signer, actor: Actor, now: datetime, ttl: timedelta = TOKEN_TTL,
                name: str | None = None, issuer: str = ISSUER) -> str:
    """An identity token for ``actor`` (``drugfree auth issue``; a sign-on service's job)."""
    if not timedelta(0) < ttl <= MAX_TOKEN_TTL:
        raise IdentityError("identity.bad_lifetime",
                            f"a token lives more than 0 and at most {MAX_TOKEN_TTL}",
                            f"thời hạn của thẻ phải lớn hơn 0 và không quá {MAX_TOKEN_TTL}")
    iat = int(now.timestamp())
    claims: dict[str, Any] = {**{k: v for k, v in _actor_claims(actor).items() if v is not None},
                              "iss": issuer, "aud": TOKEN_AUDIENCE, "iat": iat,
                              "exp": iat + int(ttl.total_seconds()), "jti": uuid.uuid4().hex}
    if name:
        claims["name"] = name
    return signer.sign(claims)


def verify_token(ring: KeyRing, token: str | None, now: datetime,
                 issuer: str | None = None) -> Actor:
    """The person an identity token vouches for; ``IdentityError`` unless it is valid now
    (and, with ``issuer``, issued by that sign-on: its ``iss`` claim)."""
    claims = _decode(ring, token, TOKEN_AUDIENCE, now, MAX_TOKEN_TTL, "identity token")
    if issuer is not None and claims.get("iss") != issuer:
        raise IdentityError("identity.wrong_issuer", "the identity token is from another issuer",
                            "thẻ định danh không do hệ thống đăng nhập được tin cậy cấp")
    return actor_of(claims)


def token_hash(token: str) -> str:
    """What the record keeps of a token: enough to match it later, useless to replay."""
    return hashlib.sha256(token.encode()).hexdigest()


# -- command proofs (one command) ------------------------------------------------------------


def command_digest(content: Mapping[str, Any]) -> str:
    """SHA-256 of a command's canonical JSON (RFC 8785), its proof left out."""
    body = {k: v for k, v in content.items() if k != "proof"}
    return hashlib.sha256(rfc8785.dumps(body)).hexdigest()


def prove(signer: Signer, actor: Actor, *, target: str, request_id: str, digest: str,
          now: datetime, via: str | None = None, token: str | None = None,
          ttl: timedelta = PROOF_TTL) -> str:
    """A proof that ``actor`` sends this command (``digest``) to workflow ``target``."""
    iat = int(now.timestamp())
    claims: dict[str, Any] = {**{k: v for k, v in _actor_claims(actor).items() if v is not None},
                              "iss": ISSUER, "aud": PROOF_AUDIENCE, "iat": iat,
                              "exp": iat + int(ttl.total_seconds()), "wf": target,
                              "req": request_id, "cmd": digest}
    if via is not None:
        claims["via"] = via
    if token is not None:
        claims["tok"] = token_hash(token)
    return signer.sign(claims)


def verify_proof(ring: KeyRing, proof: str | None, actor: Actor, *, target: str,
                 request_id: str, digest: str, now: datetime,
                 via: str | None = None) -> None:
    """Raise ``IdentityError`` unless ``proof`` authorises exactly this command, now.

    ``via``: the campaign whose relayed decisions this workflow accepts (None: direct only).
    """
    claims = _decode(ring, proof, PROOF_AUDIENCE, now, MAX_PROOF_TTL, "command proof")
    _same_actor(claims, actor, "command proof")
    if claims.get("wf") != target:
        raise IdentityError("identity.wrong_target", "the command proof is for another case",
                            "chữ ký xác nhận lệnh dành cho một hồ sơ khác")
    if claims.get("req") != request_id:
        raise IdentityError("identity.wrong_request",
                            "the command proof is for another request",
                            "chữ ký xác nhận lệnh dành cho một yêu cầu khác")
    if claims.get("cmd") != digest:
        raise IdentityError("identity.wrong_content",
                            "the command proof is for a different command",
                            "chữ ký xác nhận lệnh dành cho một lệnh có nội dung khác")
    relayed = claims.get("via")
    if relayed is not None and relayed != via:
        raise IdentityError("identity.wrong_relay",
                            "the command proof is relayed by another campaign",
                            "chữ ký xác nhận lệnh được chuyển qua một chiến dịch khác")
