"""Canonical bytes: the fast path prints exactly what RFC 8785 prints, and bad payloads are
refused before anything reaches the database."""

from __future__ import annotations

import hashlib

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from eventstore import canonical
from eventstore.canonical import (
    MAX_PAYLOAD_BYTES,
    canonical_payload,
    envelope,
    event_hash,
)
from eventstore.errors import InvalidEventError, PayloadTooLargeError, UnsafeNumberError

SAFE = 2**53 - 1

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-SAFE, SAFE)
    | st.floats(allow_nan=False, allow_infinity=False, min_value=-SAFE, max_value=SAFE)
    | st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00")),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"),
                max_size=6),
        children, max_size=4),
    max_leaves=20,
)


payloads = st.dictionaries(
    st.text(max_size=8).filter(lambda k: "\x00" not in k
                               and not any(0xD800 <= ord(c) <= 0xDFFF for c in k)),
    json_values, max_size=6)


@settings(max_examples=300, deadline=None)
@given(payloads)
def test_canonical_payload_is_rfc8785(payload: dict) -> None:
    assert canonical_payload(payload) == rfc8785.dumps(payload)


@settings(max_examples=300, deadline=None)
@given(payloads)
def test_without_orjson_the_json_module_gives_the_same_bytes(payload: dict) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(canonical, "_orjson", None)
        assert canonical_payload(payload) == rfc8785.dumps(payload)


@pytest.mark.parametrize("value, text", [
    (5.0, b"5"), (0.5, b"0.5"), (1e-7, b"1e-7"), (1.5e-5, b"0.000015"), (123.456, b"123.456"),
    (-0.0, b"0"), (1e15, b"1000000000000000"), (1234567890123.5, b"1234567890123.5"),
])
def test_numbers_are_printed_as_jcs(value: float, text: bytes) -> None:
    assert canonical_payload({"n": value}) == b'{"n":' + text + b"}"


def test_keys_sort_by_utf16_units_not_code_points() -> None:
    # U+FF61 sorts before U+1F600 in code points but after it in UTF-16 (surrogates D83D..).
    payload = {"\uff61": 1, "\U0001f600": 2}
    assert canonical_payload(payload) == rfc8785.dumps(payload)
    assert canonical_payload(payload).index("\U0001f600".encode()) < \
        canonical_payload(payload).index("\uff61".encode())


@pytest.mark.parametrize("payload, error, where", [
    ({"addicts_total": 2**53}, UnsafeNumberError, "payload.addicts_total"),
    ({"m": {"area": -(2**60)}}, UnsafeNumberError, "payload.m.area"),
    ({"m": [1, 2.0**60]}, UnsafeNumberError, "payload.m[1]"),
    ({"x": float("nan")}, InvalidEventError, "payload.x"),
    ({"x": float("inf")}, InvalidEventError, "payload.x"),
    ({"x": "a\x00b"}, InvalidEventError, "payload.x"),
    ({"a\x00": 1}, InvalidEventError, "payload"),
    ({1: "int key"}, InvalidEventError, "payload"),
    ({"when": object()}, InvalidEventError, "payload.when"),
    ({"s": "\ud800"}, InvalidEventError, "payload"),
])
def test_bad_payloads_are_refused_with_their_path(payload: dict, error: type, where: str) -> None:
    with pytest.raises(error) as info:
        canonical_payload(payload)
    assert str(info.value).startswith(where)


def test_refusals_name_the_field_but_never_echo_the_value() -> None:
    with pytest.raises(UnsafeNumberError) as info:
        canonical_payload({"metrics": {"addicts_total": 9007199254740993}})
    assert "payload.metrics.addicts_total" in str(info.value)
    assert "9007199254740993" not in str(info.value)


def test_safe_range_edges_are_accepted() -> None:
    assert canonical_payload({"n": SAFE, "m": -SAFE}) == \
        b'{"m":-9007199254740991,"n":9007199254740991}'


def test_payload_size_limit_is_on_canonical_bytes() -> None:
    overhead = len(b'{"s":""}')
    assert len(canonical_payload({"s": "x" * (MAX_PAYLOAD_BYTES - overhead)})) == MAX_PAYLOAD_BYTES
    with pytest.raises(PayloadTooLargeError, match="262145 bytes"):
        canonical_payload({"s": "x" * (MAX_PAYLOAD_BYTES - overhead + 1)})


def test_payload_must_be_an_object() -> None:
    with pytest.raises(InvalidEventError, match="JSON object"):
        canonical_payload([1, 2])  # type: ignore[arg-type]


def test_envelope_is_the_jcs_document_the_issue_specifies() -> None:
    prev = hashlib.sha256(b"previous").digest()
    doc = {"stream": "conversion:tra-vinh-2025:28750", "version": 2, "type": "phase.started",
           "schema_version": 1, "recorded_at": "2025-04-01T00:00:00.000000Z",
           "payload": {"phase": 1, "starts_on": "2025-04-01"}, "prev_hash": prev.hex()}
    built = envelope(stream=doc["stream"], version=2, type="phase.started", schema_version=1,
                     recorded_at=doc["recorded_at"], payload=canonical_payload(doc["payload"]),
                     prev_hash=prev)
    assert built == rfc8785.dumps(doc)
    assert event_hash(built) == hashlib.sha256(b"\x00" + rfc8785.dumps(doc)).digest()
