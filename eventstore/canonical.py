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
import re
from functools import lru_cache
from typing import Any

import rfc8785

try:  # optional: ten times faster than the json module, which gives the same bytes
    import orjson as _orjson
except ImportError:  # pragma: no cover - exercised by forcing the fallback in tests
    _orjson = None  # type: ignore[assignment]

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
    try:
        kind = _scan(payload)
    except _Refused as err:
        raise err.error(["payload"]) from None
    if kind == _SIMPLE:
        # Fast path, byte-identical to JCS for such input (tested against rfc8785).
        out = _dumps_sorted(payload)
    else:
        try:
            out = rfc8785.dumps(payload)
        except rfc8785.CanonicalizationError as err:
            raise InvalidEventError(f"payload cannot be canonicalised: {err}") from err
    if len(out) > MAX_PAYLOAD_BYTES:
        raise PayloadTooLargeError(
            f"payload is {len(out)} bytes of canonical JSON; the limit is {MAX_PAYLOAD_BYTES}"
        )
    return out


_SIMPLE, _NEEDS_JCS = 0, 1
# Messages name the field, never its value: payloads are sensitive and errors get logged.
_UNSAFE = "number outside JSON's safe range (|n| > 2^53-1)"


def _dumps_sorted(payload: dict[str, Any]) -> bytes:
    try:
        if _orjson is not None:
            return _orjson.dumps(payload, option=_orjson.OPT_SORT_KEYS)
        return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False).encode()
    except (UnicodeEncodeError, TypeError, ValueError):  # a lone surrogate
        raise InvalidEventError("payload contains an invalid unicode string") from None


class _Refused(Exception):
    """A bad value deep in a payload; the path is collected on the way up."""

    def __init__(self, kind: type[InvalidEventError], message: str) -> None:
        self.kind, self.message = kind, message
        self.path: list[str] = []

    def error(self, root: list[str]) -> InvalidEventError:
        path = "".join(root + self.path[::-1])
        return self.kind(f"{path}: {self.message}")


def _scan(value: Any) -> int:
    """Check a JSON value; return _NEEDS_JCS if the json module would print it differently
    from JCS (floats outside plain fixed notation, integral floats, non-BMP key order).
    Leaves are checked inline: this runs on every append."""
    kind = type(value)
    if kind is dict:
        result = _SIMPLE
        for key, item in value.items():
            if type(key) is not str:
                raise _Refused(InvalidEventError, "object keys must be strings")
            if not key.isascii():
                if max(key) >= "\ud800":
                    result = _NEEDS_JCS  # JCS sorts keys by UTF-16 units, Python by code points
            if "\x00" in key:
                raise _Refused(InvalidEventError, "NUL characters are not allowed in keys")
            leaf = type(item)
            if leaf is int:
                if -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER:
                    continue
            elif leaf is str:
                if "\x00" not in item:
                    continue
            elif leaf is bool or item is None:
                continue
            try:
                result |= _scan(item)
            except _Refused as err:
                err.path.append(f".{key}")
                raise
        return result
    if kind is list or kind is tuple:
        result = _SIMPLE
        for i, item in enumerate(value):
            try:
                result |= _scan(item)
            except _Refused as err:
                err.path.append(f"[{i}]")
                raise
        return result
    if kind is str:
        if "\x00" in value:
            raise _Refused(InvalidEventError, "NUL characters are not allowed in strings")
        return _SIMPLE
    if kind is bool or value is None:
        return _SIMPLE
    if kind is int:
        if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            return _SIMPLE
        raise _Refused(UnsafeNumberError, _UNSAFE)
    if kind is float:
        if not math.isfinite(value):
            raise _Refused(InvalidEventError, "NaN and infinities are not JSON numbers")
        if abs(value) > MAX_SAFE_INTEGER:
            raise _Refused(UnsafeNumberError, _UNSAFE)
        fixed = _FIXED_LOW <= abs(value) < _FIXED_HIGH and not value.is_integer()
        return _SIMPLE if fixed else _NEEDS_JCS
    if isinstance(value, str | int | float | dict | list):  # subclasses, e.g. enums
        return _NEEDS_JCS | _scan(_plain(value))
    raise _Refused(InvalidEventError, f"{type(value).__name__} is not a JSON value")


def _plain(value: Any) -> Any:
    """The built-in value under a subclass (an enum member, say), as JCS will print it."""
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, dict):
        return dict(value)
    return list(value)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_name(kind: str, name: str) -> str:
    """Stream names, event ids and types: short, printable, stored as given."""
    if type(name) is not str or not name or len(name) > MAX_NAME_LENGTH:
        raise InvalidEventError(f"{kind} must be a non-empty string of at most "
                                f"{MAX_NAME_LENGTH} characters")
    if _CONTROL.search(name):
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
