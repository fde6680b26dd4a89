"""Signed checkpoints (mốc kiểm toán có chữ ký) of the audit log, as C2SP signed notes.

A checkpoint names the size and the RFC 6962 root (``domain.merkle``) of the tree over every
event hash, signed with the deployment's Ed25519 key, in plain text an auditor can keep
anywhere (a file, a printout, an e-mail) and check later without our database::

    drugfree.example/vn-audit
    1000000
    5gF3zHbVn8a4t4v0m2K5Qe4lG7oPZ7o6J9o2rJ4bQfM=
    time 2026-11-30T20:00:00Z

    — drugfree.example/vn-audit Az3grlgt...base64 of (key ID || Ed25519 signature)

The format follows https://c2sp.org/tlog-checkpoint over https://c2sp.org/signed-note:

- the note text: the origin line, the tree size in ASCII decimal (no leading zero), the root
  hash in standard base64; then a blank line and one signature line per key:
  ``— <key name> <base64(4-byte key ID || 64-byte Ed25519 signature over the note text)>``;
- the key ID is SHA-256(key name || 0x0A || 0x01 || 32-byte public key)[:4], as the spec says
  for Ed25519 (type byte 0x01); the key name defaults to the origin, as the spec recommends;
- ``verifier_key`` writes the public key as ``<name>+<hex key ID>+<base64(0x01 || key)>``,
  the verifier-key form of the Go ``note`` package, for an auditor to keep beside the files.

How this extends the spec: our signer adds one extension line ``time <RFC 3339 UTC, whole
seconds, Z>`` (when the checkpoint was taken), which the spec allows (extension lines are
opaque and optional) but marks NOT RECOMMENDED because monitors cannot audit a time. It is
signed with the rest of the text; a generic tlog-checkpoint verifier reads the checkpoint and
ignores the line. Our parser takes at most one ``time`` line (it must be well formed) and keeps
any other extension line as opaque text in ``extensions``. Origins must also be valid key names
(non-empty, no space, no '+'), which the spec only recommends. Limits: a note of at most
64 KiB with at most 100 signature lines (the spec asks verifiers to take at least 16).

Verification (``verify``) refuses, each with its own code and an English and a Vietnamese
message: a malformed note or checkpoint (``checkpoint.malformed``), another log's checkpoint
(``checkpoint.wrong_origin``), a note with no signature from the expected key
(``checkpoint.unsigned``; signatures of other keys are ignored, as the spec requires), and a
signature of the expected key that does not verify (``checkpoint.bad_signature``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from domain.errors import InputError
from domain.identity import Signer
from domain.merkle import HASH_SIZE, MAX_SIZE

ED25519_TYPE = b"\x01"
SIGNATURE_PREFIX = "\u2014 "  # em dash, space
MAX_NOTE = 64 * 1024
MAX_SIGNATURES = 100
TIME_PREFIX = "time "
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_TIME_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
_SIZE_RE = re.compile(r"0|[1-9][0-9]{0,18}")
_BAD_NAME_RE = re.compile(r"[\s+]|[\x00-\x1f\x7f]")
_CONTROL_RE = re.compile(r"[\x00-\x09\x0b-\x1f]")


class CheckpointError(InputError):
    """A checkpoint that is malformed, of another log, unsigned or wrongly signed."""


def _malformed(message: str, message_vi: str) -> CheckpointError:
    return CheckpointError("checkpoint.malformed", f"malformed checkpoint: {message}",
                           f"mốc kiểm toán sai định dạng: {message_vi}")


def _check_name(name: str, what: str, what_vi: str) -> str:
    if not isinstance(name, str) or not name or _BAD_NAME_RE.search(name):
        raise _malformed(f"the {what} {name!r} must be non-empty, without spaces or '+'",
                         f"{what_vi} {name!r} phải khác rỗng, không có dấu cách hay '+'")
    return name


def _raw(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(name: str, public: Ed25519PublicKey) -> bytes:
    """The 4-byte key ID of an Ed25519 note key: SHA-256(name || 0x0A || 0x01 || key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n" + ED25519_TYPE + _raw(public)).digest()[:4]


def verifier_key(name: str, public: Ed25519PublicKey) -> str:
    """The public key as ``<name>+<hex key ID>+<base64(0x01 || key)>`` (to publish)."""
    _check_name(name, "key name", "tên khóa")
    encoded = base64.b64encode(ED25519_TYPE + _raw(public)).decode()
    return f"{name}+{key_id(name, public).hex()}+{encoded}"


def parse_verifier_key(text: str) -> tuple[str, Ed25519PublicKey]:
    """The key name and public key of a ``verifier_key`` string (its key ID checked)."""
    parts = text.strip().split("+", 2)
    try:
        if len(parts) != 3:
            raise ValueError
        name, hex_id, encoded = parts
        raw = base64.b64decode(encoded, validate=True)
        if not name or len(raw) != 33 or raw[:1] != ED25519_TYPE:
            raise ValueError
        public = Ed25519PublicKey.from_public_bytes(raw[1:])
        if key_id(name, public).hex() != hex_id.lower():
            raise ValueError
    except (ValueError, binascii.Error):
        raise CheckpointError("checkpoint.bad_key",
                              "the verifier key is not <name>+<key ID>+<base64 Ed25519 key>",
                              "khóa kiểm tra không có dạng <tên>+<mã khóa>+<khóa Ed25519 "
                              "base64>") from None
    return _check_name(name, "key name", "tên khóa"), public


@dataclass(frozen=True)
class Checkpoint:
    """A tree head: the log's ``origin``, the tree ``size``, its ``root`` hash and, from our
    signer, the ``time`` it was taken (UTC, whole seconds)."""

    origin: str
    size: int
    root: bytes
    time: datetime | None = None
    extensions: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        _check_name(self.origin, "origin", "nguồn gốc (origin)")
        if not isinstance(self.size, int) or isinstance(self.size, bool) or \
                not 0 <= self.size < MAX_SIZE:
            raise _malformed(f"the tree size {self.size!r} is not in [0, 2^63)",
                             f"kích thước cây {self.size!r} không thuộc [0, 2^63)")
        if not isinstance(self.root, bytes) or len(self.root) != HASH_SIZE:
            raise _malformed("the root hash is not 32 bytes", "mã băm gốc không dài 32 byte")
        if self.time is not None:
            if self.time.tzinfo is None or self.time.utcoffset() is None:
                raise _malformed("the time has no time zone", "thời điểm không có múi giờ")
            object.__setattr__(self, "time",
                               self.time.astimezone(UTC).replace(microsecond=0))
        for line in self.extensions:
            if not line or "\n" in line or _CONTROL_RE.search(line) or \
                    line.startswith(TIME_PREFIX):
                raise _malformed(f"the extension line {line!r} is empty, holds a control "
                                 "character or is a second time line",
                                 f"dòng mở rộng {line!r} rỗng, có ký tự điều khiển hoặc là "
                                 "dòng thời điểm thứ hai")

    def text(self) -> str:
        """The note text that is signed: the checkpoint's lines, each ending in a newline."""
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode()]
        if self.time is not None:
            lines.append(TIME_PREFIX + self.time.strftime(_TIME_FORMAT))
        lines.extend(self.extensions)
        return "".join(line + "\n" for line in lines)


def sign(checkpoint: Checkpoint, key: Signer | Ed25519PrivateKey,
         key_name: str | None = None) -> str:
    """The signed note of ``checkpoint``, signed by ``key`` under ``key_name`` (the origin by
    default): the text, a blank line, one signature line."""
    private = key.key if isinstance(key, Signer) else key
    name = _check_name(key_name or checkpoint.origin, "key name", "tên khóa")
    text = checkpoint.text()
    signature = private.sign(text.encode())
    encoded = base64.b64encode(key_id(name, private.public_key()) + signature).decode()
    return f"{text}\n{SIGNATURE_PREFIX}{name} {encoded}\n"


def _split(note: str | bytes) -> tuple[str, list[tuple[str, bytes]]]:
    """The note text and its signature lines (key name, decoded signature)."""
    if isinstance(note, bytes):
        if len(note) > MAX_NOTE:
            raise _malformed("the note is longer than 64 KiB", "ghi chú dài quá 64 KiB")
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError:
            raise _malformed("the note is not UTF-8", "ghi chú không phải UTF-8") from None
    if len(note.encode("utf-8", "surrogatepass")) > MAX_NOTE:
        raise _malformed("the note is longer than 64 KiB", "ghi chú dài quá 64 KiB")
    if _CONTROL_RE.search(note) or any(0xD800 <= ord(c) <= 0xDFFF for c in note):
        raise _malformed("the note holds a control character (\\r, \\t...) or is not UTF-8",
                         "ghi chú có ký tự điều khiển (\\r, \\t...) hoặc không phải UTF-8")
    if not note.endswith("\n"):
        raise _malformed("the note does not end with a newline",
                         "ghi chú không kết thúc bằng dấu xuống dòng")
    cut = note.rfind("\n\n")
    if cut < 0:
        raise CheckpointError("checkpoint.unsigned",
                              "the checkpoint has no signature (no blank line before them)",
                              "mốc kiểm toán không có chữ ký (thiếu dòng trống trước chữ ký)")
    text, block = note[:cut + 1], note[cut + 2:]
    lines = block[:-1].split("\n") if block else []
    if not lines:
        raise CheckpointError("checkpoint.unsigned", "the checkpoint has no signature line",
                              "mốc kiểm toán không có dòng chữ ký")
    if len(lines) > MAX_SIGNATURES:
        raise _malformed(f"more than {MAX_SIGNATURES} signature lines",
                         f"quá {MAX_SIGNATURES} dòng chữ ký")
    signatures: list[tuple[str, bytes]] = []
    for number, line in enumerate(lines, 1):
        parts = line[len(SIGNATURE_PREFIX):].split(" ")
        try:
            if not line.startswith(SIGNATURE_PREFIX) or len(parts) != 2 or not parts[0]:
                raise ValueError
            decoded = base64.b64decode(parts[1], validate=True)
            if len(decoded) < 5:
                raise ValueError
        except (ValueError, binascii.Error):
            raise _malformed(f"signature line {number} is not '— <key name> <base64>'",
                             f"dòng chữ ký {number} không có dạng '— <tên khóa> <base64>'"
                             ) from None
        signatures.append((parts[0], decoded))
    return text, signatures


def parse(note: str | bytes) -> Checkpoint:
    """The checkpoint a signed note carries, its signatures NOT checked (use ``verify``)."""
    text, _ = _split(note)
    return _parse_text(text)


def _parse_text(text: str) -> Checkpoint:
    lines = text[:-1].split("\n")
    if len(lines) < 3 or any(not line for line in lines):
        raise _malformed("the text must be at least three non-empty lines (origin, size, root)",
                         "nội dung phải có ít nhất ba dòng khác rỗng (nguồn gốc, kích thước, "
                         "gốc)")
    origin, size_line, root_line, *rest = lines
    if not _SIZE_RE.fullmatch(size_line) or int(size_line) >= MAX_SIZE:
        raise _malformed(f"the tree size {size_line!r} is not a decimal without leading zeros",
                         f"kích thước cây {size_line!r} không phải số thập phân không có số 0 "
                         "đứng đầu")
    try:
        root = base64.b64decode(root_line, validate=True)
    except (ValueError, binascii.Error):
        root = b""
    if len(root) != HASH_SIZE or base64.b64encode(root).decode() != root_line:
        raise _malformed("the root hash is not the base64 of 32 bytes",
                         "mã băm gốc không phải base64 của 32 byte")
    time: datetime | None = None
    extensions: list[str] = []
    for line in rest:
        if not line.startswith(TIME_PREFIX):
            extensions.append(line)
            continue
        stamp = line[len(TIME_PREFIX):]
        try:
            if time is not None or not _TIME_RE.fullmatch(stamp):
                raise ValueError
            time = datetime.strptime(stamp, _TIME_FORMAT).replace(tzinfo=UTC)
        except ValueError:
            raise _malformed(f"the line {line!r} is not one 'time YYYY-MM-DDTHH:MM:SSZ'",
                             f"dòng {line!r} không phải một dòng 'time YYYY-MM-DDTHH:MM:SSZ'"
                             ) from None
    return Checkpoint(origin, int(size_line), root, time, tuple(extensions))


def verify(note: str | bytes, public: Ed25519PublicKey, *, origin: str,
           key_name: str | None = None) -> Checkpoint:
    """The checkpoint of a signed note, once it is well formed, of the log ``origin`` and
    signed by ``public`` under ``key_name`` (the origin by default); ``CheckpointError``
    otherwise. Signatures by other keys (a witness's, a rotated key's) are ignored."""
    text, signatures = _split(note)
    checkpoint = _parse_text(text)
    if checkpoint.origin != origin:
        raise CheckpointError(
            "checkpoint.wrong_origin",
            f"the checkpoint is of the log {checkpoint.origin!r}, not {origin!r}",
            f"mốc kiểm toán thuộc nhật ký {checkpoint.origin!r}, không phải {origin!r}")
    name = key_name or origin
    wanted = key_id(name, public)
    verified = False
    for signer_name, signature in signatures:
        if signer_name != name or signature[:4] != wanted:
            continue  # another key's signature: ignored, as the spec requires
        try:
            public.verify(signature[4:], text.encode())
        except InvalidSignature:
            raise CheckpointError("checkpoint.bad_signature",
                                  f"the signature of {name!r} does not verify: the checkpoint "
                                  "was altered or signed by another key",
                                  f"chữ ký của {name!r} không hợp lệ: mốc kiểm toán đã bị sửa "
                                  "hoặc được ký bằng khóa khác") from None
        verified = True
    if not verified:
        raise CheckpointError("checkpoint.unsigned",
                              f"the checkpoint carries no signature of the key {name!r}",
                              f"mốc kiểm toán không có chữ ký của khóa {name!r}")
    return checkpoint
