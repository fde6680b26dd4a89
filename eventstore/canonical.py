"""Canonical bytes (RFC 8785, JSON Canonicalization Scheme) and the hash chain.

Each stored event keeps the exact bytes it was hashed from::

    hash = SHA-256(0x00 || JCS{payload, prev_hash, recorded_at, schema_version,
                               stream, type, version})

``prev_hash`` and ``recorded_at`` are hex / ISO-8601 strings. The database fills in the
version, time and previous hash at append (see ``0001_events.sql``); Python provides the
canonical payload, type and stream, so the two halves splice into one JCS document
(the envelope's keys are ASCII and already in JCS order).
"""

from __future__ import annotations

import hashlib
import json
import math
from functools import lru_cache
from typing import Any

import rfc8785

from eventstore.errors import InvalidEventError, PayloadTooLargeError, UnsafeNumberError

MAX_PAYLOAD_BYTES = 256 * 1024
MAX_SAFE_INTEGER = 2**53 - 1
MAX_NAME_LENGTH = 200
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # matches to_char(.., 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')

# Python's json and JCS print a float the same way only in fixed notation with a fraction.
_FIXED_LOW, _FIXED_HIGH = 1e-4, 1e16


def canonical_payload(payload: Any) -> bytes:
    """The payload's JCS bytes, after refusing what JSON readers would not round-trip."""
    if not isinstance(payload, dict):
        raise InvalidEventError("payload must be a JSON object")
    normal, simple = _normalise(payload, "payload")
    if simple:
        # Fast path, byte-identical to JCS for this input (tested against rfc8785).
        data = json.dumps(normal, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        try:
            out = data.encode()
        except UnicodeEncodeError as err:  # a lone surrogate
            raise InvalidEventError("payload contains an invalid unicode string") from err
    else:
        try:
            out = rfc8785.dumps(normal)
        except rfc8785.CanonicalizationError as err:
            raise InvalidEventError(f"payload cannot be canonicalised: {err}") from err
    if len(out) > MAX_PAYLOAD_BYTES:
        raise PayloadTooLargeError(
            f"payload is {len(out)} bytes of canonical JSON; the limit is {MAX_PAYLOAD_BYTES}"
        )
    return out


def _normalise(value: Any, path: str) -> tuple[Any, bool]:
    """Check a JSON value; return it with integral floats as ints, and whether the json
    module's output equals JCS for it (no odd floats, BMP-only keys)."""
    if value is None or value is True or value is False:
        return value, True
    if isinstance(value, str):
        if "\x00" in value:
            raise InvalidEventError(f"{path}: NUL characters are not allowed in strings")
        return str.__str__(value), True
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise UnsafeNumberError(f"{path}: {value} is outside JSON's safe integer range")
        return int(value), True
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidEventError(f"{path}: {value} is not a JSON number")
        if abs(value) > MAX_SAFE_INTEGER:
            raise UnsafeNumberError(f"{path}: {value} is outside JSON's safe range")
        if value.is_integer():
            return int(value), True  # JCS prints 5.0 as 5; readers get the int back
        return value, _FIXED_LOW <= abs(value) < _FIXED_HIGH
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        simple = True
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidEventError(f"{path}: object keys must be strings")
            if "\x00" in key:
                raise InvalidEventError(f"{path}: NUL characters are not allowed in keys")
            norm, ok = _normalise(item, f"{path}.{key}")
            out[str.__str__(key)] = norm
            # JCS sorts keys by UTF-16 units, Python by code points: equal below U+D800.
            simple = simple and ok and (key.isascii() or max(key) < "\ud800")
        return out, simple
    if isinstance(value, list | tuple):
        items = []
        simple = True
        for i, item in enumerate(value):
            norm, ok = _normalise(item, f"{path}[{i}]")
            items.append(norm)
            simple = simple and ok
        return items, simple
    raise InvalidEventError(f"{path}: {type(value).__name__} is not a JSON value")


def check_name(kind: str, name: str) -> str:
    if not isinstance(name, str) or not name or len(name) > MAX_NAME_LENGTH:
        raise InvalidEventError(f"{kind} must be a non-empty string of at most "
                                f"{MAX_NAME_LENGTH} characters")
    if any(ord(c) < 0x20 for c in name):
        raise InvalidEventError(f"{kind} must not contain control characters")
    return name


@lru_cache(maxsize=4096)
def json_string(text: str) -> str:
    """A string's JCS form (quoted, escaped)."""
    return rfc8785.dumps(text).decode()


def envelope(
    *,
    stream: str,
    version: int,
    type: str,
    schema_version: int,
    recorded_at: str,
    payload: bytes,
    prev_hash: bytes,
) -> bytes:
    """The canonical bytes hashed for one event, built the same way the database does."""
    return b"".join((b'{"payload":', payload, envelope_tail(
        prev_hash=prev_hash, recorded_at=recorded_at, schema_version=schema_version,
        stream=stream, type=type, version=version)))


def envelope_tail(
    *, prev_hash: bytes, recorded_at: str, schema_version: int, stream: str, type: str,
    version: int,
) -> bytes:
    """Everything after the payload: fixed by the row's columns, so ``verify`` can compare
    bytes instead of parsing JSON."""
    return (
        f',"prev_hash":"{prev_hash.hex()}","recorded_at":"{recorded_at}",'
        f'"schema_version":{schema_version},"stream":{json_string(stream)},'
        f'"type":{json_string(type)},"version":{version}}}'
    ).encode()


def event_hash(canonical: bytes) -> bytes:
    """SHA-256 over a 0x00 domain-separation byte and the canonical bytes."""
    digest = hashlib.sha256(b"\x00")
    digest.update(canonical)
    return digest.digest()
