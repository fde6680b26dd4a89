"""Audit of the record (kiểm toán): signed checkpoints of the event log, and proofs against
them, for auditors who keep the checkpoints outside the database.

A checkpoint (``domain.checkpoint``: a C2SP signed note) names the size and root of the
Merkle tree of every event hash in global order (``eventstore.transparency``), signed with the
deployment's checkpoint key. An auditor who kept one can later ask for:

- a consistency proof from it to today's tree, checked here: the store still holds exactly
  the events the checkpoint covered, unchanged and in order (a rewritten history, even with
  every chain recomputed, fails);
- an inclusion proof that one event of a case is in the checkpointed tree.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from domain import checkpoint as notes
from domain.errors import DomainError
from domain.identity import Signer
from domain.merkle import (
    EMPTY_ROOT,
    consistency_proof,
    inclusion_proof,
    verify_consistency,
    verify_inclusion,
)
from eventstore import transparency
from eventstore.store import EventStore
from service.errors import ServiceError

ORIGIN_ENV = "DRUGFREE_LOG_ORIGIN"
KEY_ENV = "DRUGFREE_CHECKPOINT_KEY"  # the signing key's PEM file (Ed25519)
VKEY_ENV = "DRUGFREE_CHECKPOINT_VKEY"  # the verifier key (C2SP vkey) auditors check with
DEFAULT_ORIGIN = "drugfree.local/events"


def origin() -> str:
    """The log's name in its checkpoints (one per deployment, e.g. ``drugfree.vinhlong/events``)."""
    return os.environ.get(ORIGIN_ENV, "").strip() or DEFAULT_ORIGIN


def signing_key(path: str | None = None) -> Signer:
    """The checkpoint signing key, from ``path`` or ``DRUGFREE_CHECKPOINT_KEY``."""
    where = path or os.environ.get(KEY_ENV, "")
    if not where:
        raise ServiceError("audit.no_key", f"no checkpoint signing key: set {KEY_ENV} (an "
                           "Ed25519 PEM file, drugfree auth keygen)",
                           f"chưa có khóa ký mốc kiểm toán: đặt {KEY_ENV} (tệp PEM Ed25519, "
                           "drugfree auth keygen)")
    try:
        return Signer.from_pem(Path(where).read_bytes())
    except (OSError, ValueError, TypeError) as exc:
        raise ServiceError("audit.bad_key", f"{where}: not an Ed25519 private key "
                           f"({type(exc).__name__})",
                           f"{where}: không phải khóa bí mật Ed25519") from None


def verifier(text: str | None = None) -> tuple[str, Ed25519PublicKey]:
    """The verifier key (``name+id+key``, as ``drugfree audit key`` prints), from ``text`` or
    ``DRUGFREE_CHECKPOINT_VKEY``."""
    value = (text or os.environ.get(VKEY_ENV, "")).strip()
    if not value:
        raise ServiceError("audit.no_vkey", f"no verifier key: pass --key or set {VKEY_ENV}",
                           f"chưa có khóa kiểm tra: dùng --key hoặc đặt {VKEY_ENV}")
    return notes.parse_verifier_key(value)


def verifier_of(signer: Signer, name: str | None = None) -> str:
    return notes.verifier_key(name or origin(), signer.key.public_key())


@dataclass(frozen=True)
class Consistency:
    """A checkpoint held against today's log: both trees and the proof between them."""

    old_size: int
    old_root: bytes
    new_size: int
    new_root: bytes
    proof: list[bytes]


@dataclass(frozen=True)
class Inclusion:
    stream: str
    version: int
    index: int
    size: int
    root: bytes
    leaf: bytes
    proof: list[bytes]


class Audit:
    def __init__(self, store: EventStore) -> None:
        self.store = store

    async def checkpoint(self, signer: Signer, now: datetime) -> str:
        """A signed checkpoint of every event below the horizon, as note text."""
        async with self.store.pool.acquire() as conn, \
                conn.transaction(isolation="repeatable_read", readonly=True):
            head = await transparency.tree(conn)
        return notes.sign(notes.Checkpoint(origin(), head.size, head.root, now), signer)

    async def consistency(self, note: str, vkey: str | None = None) -> Consistency:
        """Check a kept checkpoint against today's log (``audit.rewritten`` when the store no
        longer holds exactly the events it covered)."""
        checkpoint = self._open(note, vkey)
        async with self.store.pool.acquire() as conn, \
                conn.transaction(isolation="repeatable_read", readonly=True):
            today = await transparency.tree(conn, keep=True)
        if today.size < checkpoint.size:
            raise ServiceError(
                "audit.rewritten",
                f"the log holds {today.size} events, fewer than the {checkpoint.size} the "
                "checkpoint covered: events were removed",
                f"nhật ký chỉ còn {today.size} sự kiện, ít hơn {checkpoint.size} sự kiện mốc "
                "kiểm toán đã ghi nhận: có sự kiện đã bị xóa")
        proof = consistency_proof(checkpoint.size, today.size, today.leaf) \
            if checkpoint.size else []
        try:
            if checkpoint.size:
                verify_consistency(checkpoint.size, today.size, proof, checkpoint.root,
                                   today.root)
            elif checkpoint.root != EMPTY_ROOT:
                raise ServiceError("audit.rewritten", "the empty checkpoint's root is wrong",
                                   "gốc của mốc kiểm toán rỗng không đúng")
        except DomainError as exc:
            raise ServiceError(
                "audit.rewritten",
                f"the first {checkpoint.size} events are not those the checkpoint covered "
                f"(root {checkpoint.root.hex()[:16]}...): the history was rewritten "
                f"({exc.message})",
                f"{checkpoint.size} sự kiện đầu tiên không còn là những sự kiện mốc kiểm toán "
                "đã ghi nhận: lịch sử đã bị viết lại") from None
        return Consistency(checkpoint.size, checkpoint.root, today.size, today.root, proof)

    async def inclusion(self, stream: str, version: int, note: str,
                        vkey: str | None = None) -> Inclusion:
        """Prove that event ``version`` of ``stream`` is a leaf of the kept checkpoint's
        tree."""
        checkpoint = self._open(note, vkey)
        async with self.store.pool.acquire() as conn, \
                conn.transaction(isolation="repeatable_read", readonly=True):
            found = await transparency.leaf_index(conn, stream, version)
            if found is None:
                raise ServiceError("audit.no_such_event", f"{stream} has no event {version}",
                                   f"{stream} không có sự kiện số {version}")
            index, leaf = found
            if index >= checkpoint.size:
                raise ServiceError(
                    "audit.after_checkpoint",
                    f"event {version} of {stream} is leaf {index}, after the checkpoint's "
                    f"{checkpoint.size} events: take a newer checkpoint",
                    f"sự kiện {version} của {stream} ghi sau mốc kiểm toán "
                    f"({checkpoint.size} sự kiện): hãy dùng mốc mới hơn")
            prefix = await transparency.tree(conn, size=checkpoint.size, keep=True)
        proof = inclusion_proof(index, checkpoint.size, prefix.leaf)
        try:
            verify_inclusion(index, checkpoint.size, leaf, proof, checkpoint.root)
        except DomainError:
            raise ServiceError(
                "audit.rewritten",
                f"event {version} of {stream} is not in the checkpointed tree as stored: the "
                "history was rewritten",
                f"sự kiện {version} của {stream} không nằm trong cây của mốc kiểm toán: lịch "
                "sử đã bị viết lại") from None
        return Inclusion(stream, version, index, checkpoint.size, checkpoint.root, leaf, proof)

    def opened(self, note: str, vkey: str | None = None) -> notes.Checkpoint:
        """The kept checkpoint, once its signature verifies."""
        return self._open(note, vkey)

    @staticmethod
    def _open(note: str, vkey: str | None) -> notes.Checkpoint:
        return open_checkpoint(note, vkey)


def open_checkpoint(note: str, vkey: str | None = None) -> notes.Checkpoint:
    """A kept checkpoint, once its signature verifies (its refusal's code otherwise: not a
    note, a forged or foreign one, no verifier key); no database needed."""
    try:
        name, public = verifier(vkey)
        return notes.verify(note, public, origin=origin(), key_name=name)
    except ServiceError:
        raise
    except DomainError as exc:
        raise ServiceError(exc.code, exc.message, exc.message_vi) from None
