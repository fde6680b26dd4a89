"""Signed checkpoints (C2SP signed note / tlog-checkpoint): what we sign verifies and parses
back to the same checkpoint; any change to the text, the signature, the origin or the key is
refused with its own code and an English and a Vietnamese message."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given, settings
from hypothesis import strategies as st

from domain import merkle
from domain.checkpoint import (
    Checkpoint,
    CheckpointError,
    key_id,
    parse,
    parse_verifier_key,
    sign,
    verifier_key,
    verify,
)
from domain.errors import InputError
from domain.identity import Signer

ORIGIN = "drugfree.example/vn-audit"
SIGNER = Signer.from_seed(bytes(range(32)))
PUBLIC = SIGNER.key.public_key()
OTHER = Signer.from_seed(bytes(range(1, 33)))
ROOT = merkle.root([merkle.leaf_hash(b"event %d" % i) for i in range(1000)])
WHEN = datetime(2026, 11, 30, 20, 0, 0, tzinfo=UTC)
CHECKPOINT = Checkpoint(ORIGIN, 1000, ROOT, WHEN)
NOTE = sign(CHECKPOINT, SIGNER)


def refused(note: str | bytes, code: str, **over: object) -> CheckpointError:
    args: dict[str, object] = {"origin": ORIGIN, **over}
    with pytest.raises(CheckpointError) as caught:
        verify(note, PUBLIC, **args)  # type: ignore[arg-type]
    error = caught.value
    assert error.code == code, error
    assert error.message and error.message_vi and error.message_vi != error.message
    assert isinstance(error, InputError)
    return error


def test_the_note_has_the_c2sp_layout() -> None:
    lines = NOTE.split("\n")
    assert lines[:5] == [ORIGIN, "1000", base64.b64encode(ROOT).decode(),
                         "time 2026-11-30T20:00:00Z", ""]
    assert lines[5].startswith(f"\u2014 {ORIGIN} ") and lines[6:] == [""]
    signature = base64.b64decode(lines[5].split(" ")[2])
    raw = PUBLIC.public_bytes(Encoding.Raw, PublicFormat.Raw)
    want_id = hashlib.sha256(ORIGIN.encode() + b"\n\x01" + raw).digest()[:4]
    assert signature[:4] == want_id == key_id(ORIGIN, PUBLIC)
    assert len(signature) == 4 + 64
    PUBLIC.verify(signature[4:], CHECKPOINT.text().encode())  # over the text with its newline


def test_round_trip() -> None:
    assert verify(NOTE, PUBLIC, origin=ORIGIN) == CHECKPOINT
    assert verify(NOTE.encode(), PUBLIC, origin=ORIGIN) == CHECKPOINT
    assert parse(NOTE) == CHECKPOINT
    plain = Checkpoint(ORIGIN, 0, merkle.EMPTY_ROOT)  # no time line, empty tree
    assert "time" not in plain.text()
    assert verify(sign(plain, SIGNER.key), PUBLIC, origin=ORIGIN) == plain


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**63 - 1), st.binary(min_size=32, max_size=32),
       st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(9999, 1, 1),
                    timezones=st.just(UTC)) | st.none())
def test_round_trip_any_checkpoint(size: int, root: bytes, when: datetime | None) -> None:
    checkpoint = Checkpoint(ORIGIN, size, root, when)
    assert verify(sign(checkpoint, SIGNER), PUBLIC, origin=ORIGIN) == checkpoint


def test_time_is_kept_in_utc_whole_seconds() -> None:
    ict = timezone(timedelta(hours=7))
    checkpoint = Checkpoint(ORIGIN, 1, ROOT, datetime(2026, 12, 1, 3, 0, 0, 999, tzinfo=ict))
    assert checkpoint.time == WHEN
    assert "time 2026-11-30T20:00:00Z\n" in checkpoint.text()
    with pytest.raises(CheckpointError):
        Checkpoint(ORIGIN, 1, ROOT, datetime(2026, 1, 1))


def test_a_key_name_other_than_the_origin() -> None:
    note = sign(CHECKPOINT, SIGNER, key_name="tinh-84.example/audit")
    assert verify(note, PUBLIC, origin=ORIGIN, key_name="tinh-84.example/audit") == CHECKPOINT
    refused(note, "checkpoint.unsigned")  # expected under the origin's name


def test_other_keys_signatures_are_ignored_but_one_from_ours_is_needed() -> None:
    witness = sign(CHECKPOINT, OTHER, key_name="witness.example/w1")
    cosigned = NOTE + witness.split("\n\n")[1]
    assert verify(cosigned, PUBLIC, origin=ORIGIN) == CHECKPOINT
    refused(witness, "checkpoint.unsigned")
    # another key under our name (an ID that does not match ours) is ignored, not trusted
    refused(sign(CHECKPOINT, OTHER), "checkpoint.unsigned")


def test_verifier_key_round_trip() -> None:
    vkey = verifier_key(ORIGIN, PUBLIC)
    assert vkey.startswith(f"{ORIGIN}+{key_id(ORIGIN, PUBLIC).hex()}+")
    name, public = parse_verifier_key(vkey)
    assert name == ORIGIN and verify(NOTE, public, origin=name) == CHECKPOINT
    for bad in ("", "a+b", vkey.replace("+", "+0", 1), vkey[:-4] + "AAA=", vkey + "+x"):
        with pytest.raises(CheckpointError) as caught:
            parse_verifier_key(bad)
        assert caught.value.code == "checkpoint.bad_key"


def _tamper_body(old: str, new: str) -> str:
    text, signatures = NOTE.split("\n\n")
    return text.replace(old, new, 1) + "\n\n" + signatures


@pytest.mark.parametrize(("old", "new"), [
    ("\n1000\n", "\n1001\n"),
    ("\n1000\n", "\n999\n"),
    (base64.b64encode(ROOT).decode(), base64.b64encode(merkle.EMPTY_ROOT).decode()),
    ("20:00:00Z", "20:00:01Z"),
    ("time 2026-11-30T20:00:00Z", "time 2026-11-30T20:00:00Z\nextra"),
])
def test_a_changed_text_is_refused(old: str, new: str) -> None:
    refused(_tamper_body(old, new), "checkpoint.bad_signature")


def test_a_changed_signature_is_refused() -> None:
    text, line = NOTE.split("\n\n")
    head, encoded = line.rstrip("\n").rsplit(" ", 1)
    raw = bytearray(base64.b64decode(encoded))
    raw[10] ^= 1
    refused(f"{text}\n\n{head} {base64.b64encode(bytes(raw)).decode()}\n",
            "checkpoint.bad_signature")
    refused(f"{text}\n\n{head} {base64.b64encode(bytes(raw[:30])).decode()}\n",
            "checkpoint.bad_signature")


def test_a_wrong_origin_is_refused() -> None:
    error = refused(NOTE, "checkpoint.wrong_origin", origin="other.example/log")
    assert "other.example/log" in error.message and "other.example/log" in error.message_vi
    forged = sign(Checkpoint("other.example/log", 1000, ROOT, WHEN), SIGNER)
    refused(forged, "checkpoint.wrong_origin")


def test_a_missing_signature_is_refused() -> None:
    text = CHECKPOINT.text()
    refused(text, "checkpoint.unsigned")
    refused(text + "\n", "checkpoint.unsigned")


@pytest.mark.parametrize("note", [
    "",
    NOTE.rstrip("\n"),                                         # no final newline
    NOTE.replace("\n", "\r\n"),                                # CR
    NOTE.replace(ORIGIN, ORIGIN + "\t", 1),                    # control character
    NOTE.replace("1000", "01000", 1),                          # leading zero
    NOTE.replace("1000", "-1000", 1),
    NOTE.replace("1000", "9" * 20, 1),                         # beyond 2^63
    NOTE.replace("1000", "", 1),                               # empty line in the text
    NOTE.replace(ORIGIN + "\n", "", 1),                        # two lines only... (time)
    NOTE.replace(base64.b64encode(ROOT).decode(), "AAAA", 1),  # root not 32 bytes
    NOTE.replace(base64.b64encode(ROOT).decode(),
                 base64.b64encode(ROOT).decode().rstrip("="), 1),  # not canonical base64
    NOTE.replace("time 2026-11-30T20:00:00Z", "time 30/11/2026", 1),
    NOTE.replace("time 2026-11-30T20:00:00Z", "time 2026-02-30T20:00:00Z", 1),
    NOTE.replace("time 2026-11-30T20:00:00Z",
                 "time 2026-11-30T20:00:00Z\ntime 2026-11-30T20:00:00Z", 1),
    NOTE.replace("\u2014 ", "- ", 1),                          # not an em dash
    NOTE.replace("\u2014 ", "\u2014  ", 1),                    # two spaces
    NOTE.replace(f"\u2014 {ORIGIN} ", "\u2014 ", 1),           # no key name
    NOTE[:-3] + "!!\n",                                        # not base64
    NOTE + "\u2014 x AAAA\n" * 100,                            # too many signatures
    NOTE + "x" * (64 * 1024),
    "\n".join(["x"] * 3) + "\n\n\u2014 x AAAAAAAA\n",
])
def test_malformed_notes_are_refused(note: str) -> None:
    refused(note, "checkpoint.malformed")


def test_malformed_bytes_are_refused() -> None:
    refused(NOTE.encode()[:-30] + b"\xff\xfe" + NOTE.encode()[-28:], "checkpoint.malformed")


@pytest.mark.parametrize("origin", ["", "with space", "a+b", "line\nbreak"])
def test_origins_must_be_key_names(origin: str) -> None:
    with pytest.raises(CheckpointError) as caught:
        Checkpoint(origin, 1, ROOT)
    assert caught.value.code == "checkpoint.malformed"


def test_bad_checkpoint_fields_are_refused() -> None:
    for size in (-1, 2**63, True):
        with pytest.raises(CheckpointError):
            Checkpoint(ORIGIN, size, ROOT)
    with pytest.raises(CheckpointError):
        Checkpoint(ORIGIN, 1, b"short")
    for line in ("", "time x", "a\nb", "tab\there"):
        with pytest.raises(CheckpointError):
            Checkpoint(ORIGIN, 1, ROOT, extensions=(line,))


def test_extension_lines_are_kept_and_signed() -> None:
    checkpoint = Checkpoint(ORIGIN, 5, ROOT, WHEN, ("vendor.example/x 1",))
    assert verify(sign(checkpoint, Ed25519PrivateKey.from_private_bytes(bytes(range(32)))),
                  PUBLIC, origin=ORIGIN) == checkpoint


def test_a_checkpoint_proves_a_grown_log() -> None:
    """Checkpoint, grow the log, prove the new tree extends the signed one."""
    leaves = [merkle.leaf_hash(b"event %d" % i) for i in range(1500)]
    old = verify(NOTE, PUBLIC, origin=ORIGIN)
    new_root = merkle.root(leaves)
    merkle.verify_consistency(old.size, len(leaves),
                              merkle.consistency_proof(old.size, len(leaves), leaves),
                              old.root, new_root)
