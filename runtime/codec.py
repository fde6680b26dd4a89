"""Payload encryption at rest in Temporal (AES-256-GCM), with named keys and rotation.

Case data are sensitive (Decree 13/2023/NĐ-CP): every payload the workflow service stores
(inputs, updates, results, activity arguments) is encrypted by the client and worker before it
leaves the process. Each payload names the key that sealed it (metadata
``encryption-key-id``), so keys rotate: new payloads use the ring's current key, old ones
still open with theirs; a payload sealed with a key this process does not hold fails with a
message naming that key id (never a garbled payload).

Keys come from a key file (``DRUGFREE_PAYLOAD_KEYS_FILE``: JSON ``{"current": id, "keys":
{id: 64 hex}}``, written by ``drugfree keys new|rotate``), or a single key in
``DRUGFREE_PAYLOAD_KEY`` (64 hex), whose id is ``drugfree-key-1`` (the id every payload had
before rotation existed: recorded histories still open).

Encryption is on by default: a process with no key refuses to start. Payloads in clear only
under ``DRUGFREE_INSECURE_PLAINTEXT=1``, an opt-out for tests that every process logs.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

ENCODING = b"binary/encrypted"
KEY_ID = "drugfree-key-1"  # the single environment key's id
ENV_KEY = "DRUGFREE_PAYLOAD_KEY"
ENV_KEYS_FILE = "DRUGFREE_PAYLOAD_KEYS_FILE"
ENV_PLAINTEXT = "DRUGFREE_INSECURE_PLAINTEXT"
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class PayloadKeyError(ValueError):
    """A key file or payload this process cannot use; the message names what is wrong, in
    English (``str``) and Vietnamese (``text("vi")``)."""

    def __init__(self, message: str, message_vi: str | None = None) -> None:
        super().__init__(message)
        self.message, self.message_vi = message, message_vi

    def text(self, lang: str = "vi") -> str:
        return self.message_vi if lang == "vi" and self.message_vi else self.message


def _key(raw: str, where: str) -> bytes:
    try:
        key = bytes.fromhex(raw)
    except ValueError:
        raise PayloadKeyError(f"{where}: a payload key is 64 hexadecimal characters",
                              f"{where}: khóa mã hóa dữ liệu gồm 64 ký tự thập lục phân"
                              ) from None
    if len(key) != 32:
        raise PayloadKeyError(f"{where}: a payload key is 32 bytes (64 hex characters), "
                              f"not {len(key)}",
                              f"{where}: khóa mã hóa dữ liệu dài 32 byte (64 ký tự thập lục "
                              f"phân), không phải {len(key)}")
    return key


@dataclass(frozen=True)
class KeyRing:
    """The payload keys of a process: ``current`` seals, every key opens."""

    keys: Mapping[str, bytes]
    current: str

    def __post_init__(self) -> None:
        for key_id in self.keys:
            if not _ID.match(key_id):
                raise PayloadKeyError(f"payload key id {key_id!r}: letters, digits, . _ - "
                                      "(at most 64)",
                                      f"mã khóa {key_id!r}: chỉ gồm chữ, số, . _ - (tối đa 64)")
        if self.current not in self.keys:
            held = ', '.join(sorted(self.keys)) or 'none'
            raise PayloadKeyError(f"the current payload key {self.current!r} is not among "
                                  f"the keys ({held})",
                                  f"khóa hiện hành {self.current!r} không có trong các khóa "
                                  f"({held})")

    @classmethod
    def single(cls, key: bytes, key_id: str = KEY_ID) -> KeyRing:
        return cls({key_id: key}, key_id)

    @classmethod
    def load(cls, path: Path) -> KeyRing:
        """A key file as ``drugfree keys`` writes it."""
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise PayloadKeyError(f"{path}: cannot read the key file ({exc.strerror})",
                                  f"{path}: không đọc được tệp khóa ({exc.strerror})") from None
        except ValueError:
            raise PayloadKeyError(f"{path}: not a JSON key file",
                                  f"{path}: không phải tệp khóa JSON") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("keys"), dict) or \
                not isinstance(doc.get("current"), str):
            shape = '{"current": id, "keys": {id: hex}}'
            raise PayloadKeyError(f"{path}: expected {shape}",
                                  f"{path}: tệp khóa phải có dạng {shape}")
        keys = {str(k): _key(str(v), f"{path}: key {k!r}") for k, v in doc["keys"].items()}
        return cls(keys, doc["current"])

    def save(self, path: Path) -> None:
        """Write the ring (readable by its owner only)."""
        body = json.dumps({"current": self.current,
                           "keys": {k: v.hex() for k, v in sorted(self.keys.items())}},
                          indent=1) + "\n"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(body)
        os.replace(tmp, path)

    @classmethod
    def fresh(cls, key_id: str | None = None) -> KeyRing:
        """A ring of one new random key."""
        new_id = key_id or _new_id()
        return cls({new_id: AESGCM.generate_key(bit_length=256)}, new_id)

    def rotated(self, key_id: str | None = None) -> KeyRing:
        """A new random key made current; the old ones kept to open what they sealed."""
        new_id = key_id or _new_id()
        if new_id in self.keys:
            raise PayloadKeyError(f"payload key id {new_id!r} is already in the ring",
                                  f"mã khóa {new_id!r} đã có trong tệp khóa")
        return KeyRing({**self.keys, new_id: AESGCM.generate_key(bit_length=256)}, new_id)


def _new_id() -> str:
    return f"k-{datetime.now(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


class EncryptionCodec(PayloadCodec):
    def __init__(self, ring: KeyRing | bytes, key_id: str = KEY_ID) -> None:
        if isinstance(ring, bytes):
            if len(ring) != 32:
                raise ValueError("payload key must be 32 bytes (64 hex characters)")
            ring = KeyRing.single(ring, key_id)
        self.ring = ring
        self._aead = {k: AESGCM(v) for k, v in ring.keys.items()}

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        out = []
        sealer, key_id = self._aead[self.ring.current], self.ring.current.encode()
        for p in payloads:
            nonce = os.urandom(12)
            sealed = sealer.encrypt(nonce, p.SerializeToString(), None)
            out.append(Payload(metadata={"encoding": ENCODING, "encryption-key-id": key_id},
                               data=nonce + sealed))
        return out

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        out = []
        for p in payloads:
            if p.metadata.get("encoding") != ENCODING:
                out.append(p)
                continue
            key_id = p.metadata.get("encryption-key-id", b"").decode("utf-8", "replace")
            opener = self._aead.get(key_id)
            if opener is None:
                held = ', '.join(sorted(self.ring.keys))
                raise PayloadKeyError(
                    f"payload encrypted with key {key_id!r}, which this process does not "
                    f"hold (it holds: {held}); add that key to {ENV_KEYS_FILE}",
                    f"dữ liệu được mã hóa bằng khóa {key_id!r} mà tiến trình này không có "
                    f"(đang có: {held}); thêm khóa đó vào {ENV_KEYS_FILE}")
            try:
                plain = opener.decrypt(p.data[:12], p.data[12:], None)
            except InvalidTag:
                raise PayloadKeyError(f"payload under key {key_id!r} does not open with this "
                                      "process's key of that id (altered, or another key)",
                                      f"dữ liệu mã hóa bằng khóa {key_id!r} không mở được bằng "
                                      "khóa cùng mã của tiến trình này (đã bị sửa, hoặc khóa "
                                      "khác)") from None
            decoded = Payload()
            decoded.ParseFromString(plain)
            out.append(decoded)
        return out


def ring_from_env() -> KeyRing | None:
    """The process's key ring: the key file if named, else the single environment key."""
    path = os.environ.get(ENV_KEYS_FILE)
    if path:
        return KeyRing.load(Path(path))
    raw = os.environ.get(ENV_KEY)
    if not raw:
        return None
    return KeyRing.single(_key(raw, ENV_KEY))


def plaintext_opted_out() -> bool:
    """``DRUGFREE_INSECURE_PLAINTEXT=1``: the explicit, logged opt-out of encryption."""
    return os.environ.get(ENV_PLAINTEXT, "").strip().lower() in ("1", "true", "yes")


MISSING = PayloadKeyError(
    f"no payload encryption key: set {ENV_KEYS_FILE} (a file written by `drugfree keys new`) "
    f"or {ENV_KEY}; {ENV_PLAINTEXT}=1 stores case data in clear in the workflow service "
    "(tests only)",
    f"thiếu khóa mã hóa dữ liệu: đặt {ENV_KEYS_FILE} (tệp do `drugfree keys new` tạo) hoặc "
    f"{ENV_KEY}; {ENV_PLAINTEXT}=1 lưu dữ liệu hồ sơ không mã hóa trong dịch vụ quy trình "
    "(chỉ để kiểm thử)")


def codec_from_env() -> EncryptionCodec | None:
    """The process's codec. Encryption is the default: with no key configured this raises
    ``PayloadKeyError`` (the process does not start), unless ``DRUGFREE_INSECURE_PLAINTEXT=1``
    opts out (None: payloads in clear)."""
    ring = ring_from_env()
    if ring is not None:
        return EncryptionCodec(ring)
    if plaintext_opted_out():
        return None
    raise MISSING


def ensure_session_key() -> None:
    """A random key for this process and its children, when none is configured: for the
    throwaway servers of the demo and benchmarks, whose histories die with them."""
    if not (os.environ.get(ENV_KEYS_FILE) or os.environ.get(ENV_KEY)):
        os.environ[ENV_KEY] = AESGCM.generate_key(bit_length=256).hex()
