"""The strict document reader: what it accepts, and a named error for everything it refuses."""

from __future__ import annotations

import copy
import pickle
from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.documents import (
    MAX_DEPTH,
    Syntax,
    decode_text,
    parse_document,
    syntax_for,
)
from domain.errors import InputError

TEXT = '{"xã": "Trà Vinh", "addicts_total": 3}'


def refused(data: bytes, syntax: Syntax = "json", **kw: Any) -> InputError:
    with pytest.raises(InputError) as info:
        parse_document(data, syntax=syntax, name="m.json", **kw)
    err = info.value
    assert err.message.startswith("m.json: ") and err.message_vi is not None
    assert "\n" not in err.message and "\n" not in err.message_vi
    return err


# -- encodings -------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be",
                                      "utf-32", "utf-32-le", "utf-32-be"])
def test_utf8_and_unicode_with_a_byte_order_mark_are_read(encoding: str) -> None:
    data = TEXT.encode(encoding)
    if encoding in ("utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"):
        bom = "\ufeff".encode(encoding)  # Notepad writes the mark; the bare codecs do not
        data = bom + data
    for syntax in ("json", "yaml"):
        assert parse_document(data, syntax=syntax) == {"xã": "Trà Vinh", "addicts_total": 3}


def test_a_byte_that_is_not_utf8_is_named_with_its_offset() -> None:
    err = refused('{"a": "Trà"}'.encode("cp1258"))
    assert err.code == "document.encoding"
    assert "0xE0 at offset 9" in err.message and "UTF-8" in err.message
    assert "vị trí 9" in (err.message_vi or "")


def test_utf16_without_a_byte_order_mark_is_named() -> None:
    err = refused('{"a": 1}'.encode("utf-16-le"))
    assert err.code == "document.encoding" and "NUL byte at offset 1" in err.message


def test_a_broken_utf16_document_names_the_offset() -> None:
    data = "\ufeff".encode("utf-16-le") + b'{\x00"\x00' + b"\x00\xd8" + b'"\x00}\x00'
    err = refused(data)
    assert err.code == "document.encoding" and "offset 6" in err.message


def test_decode_text_strips_the_mark() -> None:
    assert decode_text(codecs_bom_utf8() + b"a: 1") == "a: 1"


def codecs_bom_utf8() -> bytes:
    return "\ufeff".encode()


@pytest.mark.parametrize("syntax", ["json", "yaml"])
def test_lone_surrogates_are_refused(syntax: Syntax) -> None:
    err = refused(b'{"\\ud800": 1}', syntax)
    assert err.code == "document.encoding" and "\\ud800" in err.message
    # JSON joins an escaped surrogate pair; YAML escapes are code points (\U0001f600)
    pair = b'{"\\ud83d\\ude00": 1}' if syntax == "json" else b'{"\\U0001f600": 1}'
    assert parse_document(pair, syntax=syntax) == {"\U0001f600": 1}


# -- size and depth --------------------------------------------------------------------------


def test_a_document_over_the_limit_is_refused_before_parsing() -> None:
    err = refused(b"{" + b" " * 100 + b"}", max_bytes=50)
    assert err.code == "document.too_large" and "50 bytes" in err.message
    assert parse_document(b"{}" + b" " * 48, syntax="json", max_bytes=50) == {}


@pytest.mark.parametrize("syntax", ["json", "yaml"])
def test_100000_nested_arrays_are_a_named_error(syntax: Syntax) -> None:
    err = refused(b"[" * 100_000 + b"]" * 100_000, syntax)
    assert err.code == "document.too_deep"
    assert f"more than {MAX_DEPTH} levels" in err.message and "column 65" in err.message


@pytest.mark.parametrize("syntax", ["json", "yaml"])
def test_nesting_up_to_the_limit_is_fine(syntax: Syntax) -> None:
    data = b"[" * MAX_DEPTH + b"]" * MAX_DEPTH
    assert parse_document(data, syntax=syntax) is not None


def test_brackets_inside_strings_do_not_count() -> None:
    data = ('{"a": "' + "[" * 1000 + '\\"{{"}').encode()
    assert parse_document(data, syntax="json") == {"a": "[" * 1000 + '"{{'}


def test_deep_block_yaml_is_a_named_error() -> None:
    data = "".join("  " * i + "- \n" for i in range(200)).encode()
    err = refused(data, "yaml")
    assert err.code == "document.too_deep" and "line 65" in err.message


# -- duplicate keys --------------------------------------------------------------------------


def test_a_duplicate_json_key_is_named_with_its_line() -> None:
    err = refused(b'{"addicts_total": 1,\n "hotspots": 0,\n "addicts_total": 5}')
    assert err.code == "document.duplicate_key"
    assert "'addicts_total'" in err.message and "line 3 column 2" in err.message
    assert "dòng 3, cột 2" in (err.message_vi or "")


def test_the_duplicate_found_is_the_one_located() -> None:
    # The inner object ends first, so its repeated key is the one reported (and located).
    err = refused(b'{"x": {"b": 1, "b": 2}, "x": 1}')
    assert "'b'" in err.message and "column 16" in err.message
    err = refused(b'{"a": [{"k": 1}, {"k": 2}], "a": {}}')
    assert "'a'" in err.message and "column 29" in err.message


def test_a_duplicate_yaml_key_is_refused_not_overwritten() -> None:
    err = refused(b"id: x\ncriteria: []\nid: y\n", "yaml")
    assert err.code == "document.duplicate_key" and "'id'" in err.message
    assert "line 3 column 1" in err.message


def test_same_key_in_different_objects_is_fine() -> None:
    assert parse_document(b'[{"a": 1}, {"a": 2}]', syntax="json") == [{"a": 1}, {"a": 2}]


# -- numbers, syntax, YAML specifics ---------------------------------------------------------


@pytest.mark.parametrize(("data", "syntax"), [
    (b'{"a": NaN}', "json"), (b'{"a": Infinity}', "json"), (b'{"a": -Infinity}', "json"),
    (b'{"a": 1e400}', "json"), (b"a: .nan\n", "yaml"), (b"a: -.inf\n", "yaml"),
    (b"a: 1.0e+400\n", "yaml"),
])
def test_non_finite_numbers_are_refused(data: bytes, syntax: Syntax) -> None:
    assert refused(data, syntax).code == "document.not_finite"


def test_a_number_with_too_many_digits_is_a_syntax_error() -> None:
    err = refused(b'{"a": ' + b"9" * 5000 + b"}")
    assert err.code == "document.syntax" and "digits" in err.message


@pytest.mark.parametrize(("data", "syntax", "where"), [
    (b"{not json", "json", "line 1 column 2"),
    (b'{"a": 1,\n}', "json", "line 2 column 1"),
    (b"a: [1,\n", "yaml", "line 2 column 1"),
    (b"a: 1\n---\nb: 2\n", "yaml", "line 2"),
    (b"a: \x07\n", "yaml", "U+0007"),
    (b"a: !!python/object:os.system ls\n", "yaml", "line 1"),
    (b"a: !!binary aGk=\n", "yaml", "line 1"),
])
def test_syntax_errors_name_the_place(data: bytes, syntax: Syntax, where: str) -> None:
    err = refused(data, syntax)
    assert err.code == "document.syntax" and where in err.message
    assert ("invalid JSON" if syntax == "json" else "invalid YAML") in err.message


@pytest.mark.parametrize(("data", "syntax"), [(b"", "json"), (b" \n", "json"),
                                              (b"# nothing\n", "yaml"), (b"~\n", "yaml")])
def test_empty_documents_are_refused(data: bytes, syntax: Syntax) -> None:
    assert refused(data, syntax).code == "document.empty"


@pytest.mark.parametrize(("data", "code"), [
    (b"a: &x [1]\nb: *x\n", "document.alias"),
    (b"a: {x: 1}\nb:\n  <<: {x: 2}\n", "document.alias"),
    (b"1: one\n", "document.key_type"),
    (b"yes: true\n", "document.key_type"),
])
def test_yaml_features_plain_data_does_not_need(data: bytes, code: str) -> None:
    err = refused(data, "yaml")
    assert err.code == code and "line" in err.message


@pytest.mark.parametrize(("data", "what"), [
    (b"due: 2025-02-30\n", "date or time that exists"),
    (b"due: 2025-13-45\n", "date or time that exists"),
    (b"at: 2025-01-01T25:00:00\n", "date or time that exists"),
    (b"at: 2025-01-01 00:00:00 -24\n", "date or time that exists"),
    (b"due: !!timestamp soon\n", "date or time that exists"),
    (b"n: " + b"9" * 5000 + b"\n", "integer of at most 4,300 digits"),
    (b"n: 0x" + b"f" * 4000 + b"\n", "integer of at most 4,300 digits"),
    (b"n: !!int abc\n", "integer"),
    (b"n: !!int ''\n", "integer"),
    (b"x: !!float abc\n", "a number"),
    (b"ok: !!bool maybe\n", "true or false"),
    (b"m: !!map x\n", "expected a mapping node"),
    (b'e: "\\U00110000"\n', "U0010FFFF"),
    (b'e: "\\UFFFFFFFF"\n', "U0010FFFF"),
])
def test_yaml_values_python_cannot_hold_are_named(data: bytes, what: str) -> None:
    """PyYAML raises plain Python errors for these (ValueError, KeyError...): each is a
    syntax error naming its line, in both languages, never a traceback."""
    err = refused(data, "yaml")
    assert err.code == "document.syntax" and "line 1 column" in err.message
    assert what in err.message and "dòng 1" in (err.message_vi or "")


def test_validation_problems_quote_a_key_that_would_break_the_line() -> None:
    from pydantic import BaseModel, ConfigDict, ValidationError

    from domain.documents import validation_problems

    class Model(BaseModel):
        model_config = ConfigDict(extra="forbid")

    with pytest.raises(ValidationError) as info:
        Model.model_validate({"\r": 1, "": 2, "xã": 3, "a\nb": 4})
    assert [field for field, _ in validation_problems(info.value)] == [
        "'\\r'", "''", "xã", "'a\\nb'"]


def test_yaml_keeps_dates_and_unicode() -> None:
    data = "due: 2025-03-30\ntitle: Giai đoạn 1\n".encode()
    assert parse_document(data, syntax="yaml") == {"due": date(2025, 3, 30),
                                                    "title": "Giai đoạn 1"}


def test_syntax_for_file_names() -> None:
    assert syntax_for("a.YAML") == syntax_for("b.yml") == "yaml"
    assert syntax_for("c.json", "yaml") == "json"
    assert syntax_for("d.txt") == "json" and syntax_for("d.txt", "yaml") == "yaml"


def test_errors_carry_both_languages_through_pickle() -> None:
    err = refused(b'{"a": 1, "a": 2}')
    assert err.text("vi") == err.message_vi and err.text("en") == err.message
    for clone in (pickle.loads(pickle.dumps(err)), copy.deepcopy(err)):
        assert (clone.code, clone.message, clone.message_vi) == (
            err.code, err.message, err.message_vi)
    assert InputError("x", "english only").text("vi") == "english only"


# -- property: anything JSON can say, the reader reads back; garbage never escapes ------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(value=json_values)
def test_json_round_trip(value: Any) -> None:
    import json

    data = json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")
    try:
        parsed = parse_document(data, syntax="json")
    except InputError as err:  # lone surrogates in generated text, or an empty document
        assert err.code in ("document.encoding", "document.empty")
        return
    assert parsed == value


@given(data=st.binary(max_size=200), syntax=st.sampled_from(["json", "yaml"]))
def test_arbitrary_bytes_give_data_or_an_input_error(data: bytes, syntax: Syntax) -> None:
    try:
        parse_document(data, syntax=syntax)
    except InputError as err:
        assert err.code.startswith("document.")
