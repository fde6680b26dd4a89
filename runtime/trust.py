"""Trust from configuration (cấu hình tin cậy): what a worker believes, never what a caller says.

A worker loads, at start:
- the **key ring**: the public keys whose command proofs it accepts (``domain.identity``):
  ``DRUGFREE_IDENTITY_KEYS`` (a JWKS file, several keys during a rotation) and/or
  ``DRUGFREE_IDENTITY_JWKS_URL`` (a province's own sign-on, fetched at start);
- the **relay key** (``DRUGFREE_RELAY_KEY``, a PEM file): the worker's own signing key, with
  which a campaign's list decision is relayed to each case (its public half joins the ring);
- whether **rehearsal clocks** are accepted (``DRUGFREE_REHEARSAL_CLOCKS=1``: the demo, tests
  and benchmarks compress or shift the plan's calendar; production runs on the plan's dates).

Without keys the worker refuses to start, unless ``DRUGFREE_INSECURE_NO_IDENTITY=1`` says so
explicitly (then every start logs a warning, and workflows check no identity at all).

Workflows read the trust of the task queue they run on (``for_queue``) in their validators,
which Temporal never replays; what a workflow's control flow depends on (admitting a start)
goes through an activity, whose result the history records. So a workflow's replay never
depends on today's keys.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from domain.errors import InputError
from domain.identity import IdentityError, KeyRing, Signer

ENV_KEYS = "DRUGFREE_IDENTITY_KEYS"
ENV_JWKS_URL = "DRUGFREE_IDENTITY_JWKS_URL"
ENV_RELAY = "DRUGFREE_RELAY_KEY"
ENV_INSECURE = "DRUGFREE_INSECURE_NO_IDENTITY"
ENV_REHEARSALS = "DRUGFREE_REHEARSAL_CLOCKS"


class TrustError(InputError):
    """The worker's trust configuration is missing or unusable: it does not start."""


@dataclass(frozen=True)
class Trust:
    ring: KeyRing = field(default_factory=KeyRing)
    relay: Signer | None = None
    rehearsals: bool = False
    insecure: bool = False

    @classmethod
    def of(cls, *signers: Signer, relay: Signer | None = None,
           rehearsals: bool = False) -> Trust:
        """Trust in ``signers`` (and the relay), as tests and the demo configure it."""
        ring = KeyRing()
        for s in signers:
            ring = ring + s.ring()
        if relay is not None:
            ring = ring + relay.ring()
        return cls(ring=ring, relay=relay, rehearsals=rehearsals)

    @classmethod
    def from_env(cls) -> Trust:
        """The worker's trust from its environment; ``TrustError`` names what is missing."""
        rehearsals = _flag(ENV_REHEARSALS)
        if _flag(ENV_INSECURE):
            return cls(insecure=True, rehearsals=rehearsals)
        ring = KeyRing()
        if path := os.environ.get(ENV_KEYS):
            ring = ring + ring_from_file(Path(path))
        if url := os.environ.get(ENV_JWKS_URL):
            ring = ring + ring_from_url(url)
        relay = None
        if path := os.environ.get(ENV_RELAY):
            relay = signer_from_file(Path(path))
            ring = ring + relay.ring()
        if not ring or relay is None:
            raise TrustError(
                "trust.missing",
                f"no identity keys or relay key: set {ENV_KEYS} (or {ENV_JWKS_URL}) and "
                f"{ENV_RELAY}, or {ENV_INSECURE}=1 to run without identity (insecure)",
                f"thiếu khóa định danh hoặc khóa chuyển tiếp: đặt {ENV_KEYS} (hoặc "
                f"{ENV_JWKS_URL}) và {ENV_RELAY}, hoặc {ENV_INSECURE}=1 để chạy không xác "
                "thực (không an toàn)")
        return cls(ring=ring, relay=relay, rehearsals=rehearsals)


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes")


def ring_from_file(path: Path, what: str = ENV_KEYS) -> KeyRing:
    """A key ring from a JWKS file (``what``: the setting that named it, for messages)."""
    try:
        return KeyRing.from_jwks(json.loads(path.read_bytes()))
    except (OSError, ValueError) as exc:
        raise TrustError("trust.bad_keys", f"{what}={path}: cannot read a JWKS "
                         f"({type(exc).__name__})",
                         f"{what}={path}: không đọc được tập khóa JWKS") from None
    except IdentityError as exc:
        raise TrustError("trust.bad_keys", f"{what}={path}: {exc.message}") from None


def ring_from_url(url: str, what: str = ENV_JWKS_URL) -> KeyRing:
    """A key ring fetched from a JWKS URL (a province's sign-on), once, at start."""
    import httpx

    try:
        response = httpx.get(url, timeout=10)
        response.raise_for_status()
        return KeyRing.from_jwks(response.json())
    except (httpx.HTTPError, ValueError) as exc:
        raise TrustError("trust.bad_keys", f"{what}={url}: cannot fetch a JWKS "
                         f"({type(exc).__name__})",
                         f"{what}={url}: không tải được tập khóa JWKS") from None
    except IdentityError as exc:
        raise TrustError("trust.bad_keys", f"{what}={url}: {exc.message}") from None


def signer_from_file(path: Path, what: str = ENV_RELAY) -> Signer:
    """A private signing key from a PEM file."""
    try:
        return Signer.from_pem(path.read_bytes())
    except OSError as exc:
        raise TrustError("trust.bad_keys", f"{what}={path}: cannot read "
                         f"({type(exc).__name__})",
                         f"{what}={path}: không đọc được khóa") from None
    except IdentityError as exc:
        raise TrustError("trust.bad_keys", f"{what}={path}: {exc.message}") from None


# -- what each task queue's workers trust (read by the workflows' validators) -----------------

_NOTHING = Trust()  # a queue no worker of this process configured: every proof is refused
_BY_QUEUE: dict[str, Trust] = {}


def install(task_queue: str, trust: Trust) -> None:
    _BY_QUEUE[task_queue] = trust


def uninstall(task_queue: str) -> None:
    _BY_QUEUE.pop(task_queue, None)


def for_queue(task_queue: str) -> Trust:
    return _BY_QUEUE.get(task_queue, _NOTHING)
