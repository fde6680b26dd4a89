"""One strict reader for the documents people send: metrics, plans, criteria and rule sets.

Bytes in, plain data out (objects with string keys, lists, strings, numbers, booleans, null;
YAML dates as ``date``). Pure: the caller reads a file or a request body, at most
``max_bytes + 1`` bytes, and hands them over; the same rules then hold for the command line,
the catalogue and an HTTP API. Everything refused is an ``InputError`` with a stable code and
a message in Vietnamese (``message_vi``) and English (``message``), never a traceback:

``document.too_large``     more than ``max_bytes`` bytes
``document.encoding``      not UTF-8 (with or without a byte order mark, BOM) nor UTF-16/32
                           with a BOM (Windows Notepad's "Unicode"); names the byte offset.
                           NUL bytes and lone surrogates (``"\\ud800"``) are refused too.
``document.empty``         nothing but white space or comments
``document.syntax``        not JSON / YAML; names the line and column (also a YAML value
                           that cannot be held: a day that does not exist, ``2025-02-30``;
                           an integer of more than 4,300 digits; ``!!int abc``)
``document.duplicate_key`` a key twice in one object (JSON's parsers and PyYAML would silently
                           keep the last one); names the key, line and column
``document.too_deep``      nesting deeper than ``max_depth`` (a parser's recursion never shows)
``document.not_finite``    NaN, Infinity, or a number too large to be finite
``document.key_type``      (YAML) a key that is not a string, e.g. ``1:`` or ``yes:``
``document.alias``         (YAML) anchors and aliases (``*x``, ``<<:``): they let a few bytes
                           expand into a huge document, and plain data never needs them
"""

from __future__ import annotations

import codecs
import json
import math
import re
from typing import Any, Literal

import yaml
from pydantic import ValidationError
from yaml.events import AliasEvent, MappingStartEvent, SequenceStartEvent
from yaml.nodes import MappingNode, Node, ScalarNode

from domain.errors import InputError

Syntax = Literal["json", "yaml"]

MAX_DEPTH = 64  # objects and lists inside each other; real documents use fewer than 10
MAX_METRICS_BYTES = 1 << 20  # 1 MiB: a commune's metrics are a few hundred bytes
MAX_CATALOG_BYTES = 2 << 20  # 2 MiB: plans and sets are tens of KiB (PyYAML reads ~4 s/MiB)

# Longest first: the UTF-32 LE mark begins with the UTF-16 LE one.
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

_ENCODING_NAMES = {
    "utf-8": "UTF-8",
    "utf-16-le": "UTF-16 LE",
    "utf-16-be": "UTF-16 BE",
    "utf-32-le": "UTF-32 LE",
    "utf-32-be": "UTF-32 BE",
}


def _error(code: str, name: str, en: str, vi: str) -> InputError:
    # One line always: a message is shown as one line of a terminal or a log.
    return InputError(code, _one_line(f"{name}: {en}"), _one_line(f"{name}: {vi}"))


def _one_line(text: str) -> str:
    return " ".join(text.splitlines()) if "\n" in text or "\r" in text else text


def syntax_for(name: str, default: Syntax = "json") -> Syntax:
    """The syntax a file name implies: ``.yaml``/``.yml`` -> YAML, ``.json`` -> JSON."""
    lower = name.lower()
    if lower.endswith((".yaml", ".yml")):
        return "yaml"
    if lower.endswith(".json"):
        return "json"
    return default


def decode_text(data: bytes, name: str = "document") -> str:
    """The text of a document: UTF-8 (BOM optional) or UTF-16/32 with a BOM, nothing else."""
    codec, skip = "utf-8", 0
    for bom, bom_codec in _BOMS:
        if data.startswith(bom):
            codec, skip = bom_codec, len(bom)
            break
    shown = _ENCODING_NAMES[codec]
    try:
        text = data[skip:].decode(codec)
    except UnicodeDecodeError as exc:
        offset = skip + exc.start
        byte = data[offset]
        hint_en = " (save the file as UTF-8)" if skip == 0 else ""
        hint_vi = " (hãy lưu tệp dạng UTF-8)" if skip == 0 else ""
        raise _error(
            "document.encoding",
            name,
            f"byte 0x{byte:02X} at offset {offset} is not valid {shown}{hint_en}",
            f"byte 0x{byte:02X} tại vị trí {offset} không hợp lệ trong mã {shown}{hint_vi}",
        ) from None
    nul = text.find("\x00")
    if nul >= 0:
        offset = skip + len(text[:nul].encode(codec))
        raise _error(
            "document.encoding",
            name,
            f"NUL byte at offset {offset} (UTF-16 without a byte order mark? save it as UTF-8)",
            f"byte NUL tại vị trí {offset} (tệp UTF-16 không có BOM? hãy lưu dạng UTF-8)",
        )
    return text


def parse_document(
    data: bytes,
    *,
    syntax: Syntax,
    name: str = "document",
    max_bytes: int = MAX_METRICS_BYTES,
    max_depth: int = MAX_DEPTH,
) -> Any:
    """Decode and parse one JSON or YAML document strictly (see the module's list of refusals).

    ``name`` (a file name, "request body") starts every message.
    """
    if len(data) > max_bytes:
        raise _error(
            "document.too_large",
            name,
            f"larger than the limit of {max_bytes:,} bytes",
            f"lớn hơn giới hạn {max_bytes:,} byte".replace(",", "."),
        )
    text = decode_text(data, name)
    if syntax == "json":
        result = _parse_json(text, name, max_depth)
    else:
        result = _parse_yaml(text, name, max_depth)
    if result is None:
        raise _error("document.empty", name, "the document is empty", "tài liệu trống")
    if "\\u" in text or "\\U" in text:  # only escapes can make a lone surrogate
        _refuse_lone_surrogates(result, name)
    return result


def validation_problems(exc: ValidationError) -> list[tuple[str, str]]:
    """Every problem a model found in a parsed document, as ``(field, message)``.

    The field is pydantic's location joined with dots (``criteria.0.requirements.0.limit``).
    A model-wide validator that lists several problems in its error context (``problems``,
    each ``"field: message"``, as ``Plan`` does) gives one entry per problem.
    """
    found: list[tuple[str, str]] = []
    for err in exc.errors():
        loc = ".".join(_shown_key(part) for part in err["loc"])
        listed = (err.get("ctx") or {}).get("problems")
        if isinstance(listed, list):
            for problem in listed:
                field, _, message = _one_line(str(problem)).partition(": ")
                found.append((f"{loc}.{field}" if loc else field, message))
            continue
        found.append((loc, _one_line(err["msg"].removeprefix("Value error, "))))
    return found


def _shown_key(part: str | int) -> str:
    """A field's part as a message shows it: a key that is empty or holds a line break or
    another control character is quoted (``'\\r'``), so the message stays one line."""
    text = str(part)
    return text if text and text.isprintable() else repr(text)


# --- JSON ----------------------------------------------------------------------------------

# A string (skipped whole, brackets inside it do not count) or a bracket.
_JSON_TOKENS = re.compile(r'"(?:[^"\\]++|\\.)*+"|[\[\]{}]', re.DOTALL)


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


class _NotFinite(Exception):
    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.token = token


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return result


def _finite_float(token: str) -> float:
    value = float(token)
    if not math.isfinite(value):  # 1e400
        raise _NotFinite(token)
    return value


def _no_constant(token: str) -> Any:  # NaN, Infinity, -Infinity
    raise _NotFinite(token)


def _parse_json(text: str, name: str, max_depth: int) -> Any:
    if not text.strip():
        return None
    _check_json_depth(text, name, max_depth)
    try:
        return json.loads(
            text,
            object_pairs_hook=_unique_pairs,
            parse_float=_finite_float,
            parse_constant=_no_constant,
        )
    except json.JSONDecodeError as exc:
        raise _error(
            "document.syntax",
            name,
            f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}",
            f"JSON không hợp lệ tại dòng {exc.lineno}, cột {exc.colno}: {exc.msg}",
        ) from None
    except _DuplicateKey as dup:
        line, column = _line_column(text, _duplicate_offset(text))
        raise _duplicate(name, dup.key, line, column) from None
    except _NotFinite as bad:
        raise _not_finite(name, bad.token, None) from None
    except ValueError:  # an integer with more digits than Python converts (4,300)
        raise _error(
            "document.syntax",
            name,
            "invalid JSON: a number has too many digits",
            "JSON không hợp lệ: một số có quá nhiều chữ số",
        ) from None
    except RecursionError:  # unreachable after the depth check; kept as a net
        raise _too_deep(name, max_depth, None) from None


def _check_json_depth(text: str, name: str, max_depth: int) -> None:
    depth = 0
    for match in _JSON_TOKENS.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > max_depth:
                raise _too_deep(name, max_depth, _line_column(text, match.start()))
        elif token in "]}":
            depth -= 1


_JSON_SPACE = re.compile(r"[ \t\n\r]*")


def _duplicate_offset(text: str) -> int:
    """Where the repeated key is (the slow path, run only after the fast parse saw one).

    The fast parse refuses an object when it ends, inner objects first; this walk raises in
    the same order, so it finds the same key. Nesting is at most ``max_depth`` (checked).
    """

    class Found(Exception):
        def __init__(self, offset: int) -> None:
            super().__init__(offset)
            self.offset = offset

    plain = json.JSONDecoder()

    def space(i: int) -> int:
        return _JSON_SPACE.match(text, i).end()  # type: ignore[union-attr]

    def value_end(i: int) -> int:
        i = space(i)
        if text[i] == "{":
            seen: set[str] = set()
            repeated: int | None = None
            i = space(i + 1)
            if text[i] == "}":
                return i + 1
            while True:
                key, after = plain.raw_decode(text, i)
                if key in seen and repeated is None:
                    repeated = i
                seen.add(key)
                i = space(value_end(space(after) + 1))  # past the colon and the value
                if text[i] == ",":
                    i = space(i + 1)
                    continue
                if repeated is not None:
                    raise Found(repeated)
                return i + 1
        if text[i] == "[":
            i = space(i + 1)
            if text[i] == "]":
                return i + 1
            while True:
                i = space(value_end(i))
                if text[i] == ",":
                    i += 1
                    continue
                return i + 1
        end: int = plain.raw_decode(text, i)[1]
        return end

    try:
        value_end(0)
    except Found as found:
        return found.offset
    return 0  # not reached: the fast parse saw a repeated key


def _line_column(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


# --- YAML ----------------------------------------------------------------------------------

_MERGE_TAG = "tag:yaml.org,2002:merge"


def _where(mark: yaml.Mark | None) -> tuple[int, int] | None:
    return None if mark is None else (mark.line + 1, mark.column + 1)


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing what it would silently accept (see the module doc)."""

    name = "document"
    max_depth = MAX_DEPTH
    _depth = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        if self.check_event(AliasEvent):
            mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
            line, column = mark.line + 1, mark.column + 1
            raise _error(
                "document.alias",
                self.name,
                f"aliases (*name) are not allowed, at line {line} column {column}",
                f"không cho phép tham chiếu (*tên), tại dòng {line}, cột {column}",
            )
        nested = self.check_event(SequenceStartEvent, MappingStartEvent)
        if nested:
            self._depth += 1
            if self._depth > self.max_depth:
                event = self.peek_event()  # type: ignore[no-untyped-call]
                raise _too_deep(self.name, self.max_depth, _where(event.start_mark))
        try:
            return super().compose_node(parent, index)
        finally:
            if nested:
                self._depth -= 1

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except _UNREADABLE:  # PyYAML's own constructors: 2025-02-30, !!int abc, 5000 digits
            raise _unreadable(self.name, node) from None

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        if not isinstance(node, MappingNode):  # ``!!map x``: PyYAML's refusal, with its mark
            return super().construct_mapping(node, deep=deep)
        seen: set[str] = set()
        for key_node, _ in node.value:
            line, column = key_node.start_mark.line + 1, key_node.start_mark.column + 1
            if key_node.tag == _MERGE_TAG:
                raise _error(
                    "document.alias",
                    self.name,
                    f"merge keys (<<) are not allowed, at line {line} column {column}",
                    f"không cho phép khóa gộp (<<), tại dòng {line}, cột {column}",
                )
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                raise _error(
                    "document.key_type",
                    self.name,
                    f"key {key!r} at line {line} column {column} is not a string "
                    "(quote it)",
                    f"khóa {key!r} tại dòng {line}, cột {column} không phải chuỗi "
                    "(hãy đặt trong dấu nháy)",
                )
            if key in seen:
                raise _duplicate(self.name, key, line, column)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


# What PyYAML's constructors and scanner raise, beyond its own errors, for a value they cannot
# convert: a date that does not exist, an integer of more than 4,300 digits, ``!!int abc``,
# ``!!bool maybe``, ``!!timestamp soon``, an escape beyond U+10FFFF (``"\\U00110000"``).
_UNREADABLE = (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError)
_KINDS = {  # what a tag's value should have been: English, Vietnamese
    "tag:yaml.org,2002:timestamp": ("a date or time that exists (YYYY-MM-DD)",
                                    "ngày hoặc giờ có thật (YYYY-MM-DD)"),
    "tag:yaml.org,2002:int": ("an integer of at most 4,300 digits",
                              "số nguyên không quá 4.300 chữ số"),
    "tag:yaml.org,2002:float": ("a number", "số"),
    "tag:yaml.org,2002:bool": ("true or false", "true hoặc false"),
}


def _unreadable(name: str, node: Node) -> InputError:
    line, column = node.start_mark.line + 1, node.start_mark.column + 1
    en, vi = _KINDS.get(node.tag, (f"a {node.tag} value", f"giá trị kiểu {node.tag}"))
    return _error(
        "document.syntax",
        name,
        f"invalid YAML at line {line} column {column}: the value cannot be read as {en}",
        f"YAML không hợp lệ tại dòng {line}, cột {column}: giá trị không đọc được thành {vi}",
    )


def _construct_finite_float(loader: _StrictLoader, node: ScalarNode) -> float:
    value: float = loader.construct_yaml_float(node)
    if not math.isfinite(value):
        raise _not_finite(loader.name, str(node.value), _where(node.start_mark))
    return value


def _construct_printable_int(loader: _StrictLoader, node: ScalarNode) -> int:
    value: int = loader.construct_yaml_int(node)
    if value.bit_length() > 14_000:  # 0x and 0b integers escape Python's 4,300-digit limit,
        try:  # until they are printed (a message, JSON): refused as a decimal one would be
            str(value)
        except ValueError:
            raise _unreadable(loader.name, node) from None
    return value


_StrictLoader.add_constructor("tag:yaml.org,2002:float", _construct_finite_float)
_StrictLoader.add_constructor("tag:yaml.org,2002:int", _construct_printable_int)
# Plain data only: no bytes, sets or ordered pairs (they are not JSON and no model reads them).
for _tag in ("binary", "set", "omap", "pairs"):
    _StrictLoader.yaml_constructors.pop(f"tag:yaml.org,2002:{_tag}", None)


def _parse_yaml(text: str, name: str, max_depth: int) -> Any:
    try:
        loader = _StrictLoader(text)  # the reader refuses control characters here
    except yaml.reader.ReaderError as exc:
        line, column = _line_column(text, exc.position)
        raise _error(
            "document.syntax",
            name,
            f"invalid YAML at line {line} column {column}: character U+{exc.character:04X} "
            "is not allowed",
            f"YAML không hợp lệ tại dòng {line}, cột {column}: không cho phép ký tự "
            f"U+{exc.character:04X}",
        ) from None
    loader.name, loader.max_depth = name, max_depth
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid"
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        raise _error(
            "document.syntax",
            name,
            f"invalid YAML at line {line} column {column}: {problem}",
            f"YAML không hợp lệ tại dòng {line}, cột {column}: {problem}",
        ) from None
    except _UNREADABLE:  # the scanner: an escape beyond the last code point (\U00110000)
        mark = loader.get_mark()
        line, column = mark.line + 1, mark.column + 1
        raise _error(
            "document.syntax",
            name,
            f"invalid YAML at line {line} column {column}: an escape or value that cannot be "
            "read (\\U escapes go up to \\U0010FFFF)",
            f"YAML không hợp lệ tại dòng {line}, cột {column}: chuỗi thoát hoặc giá trị không "
            "đọc được (\\U chỉ tới \\U0010FFFF)",
        ) from None
    except yaml.YAMLError as exc:  # not raised by PyYAML after the reader; kept as a net
        raise _error(
            "document.syntax", name, f"invalid YAML: {exc}", f"YAML không hợp lệ: {exc}"
        ) from None
    except RecursionError:  # unreachable after the depth check; kept as a net
        raise _too_deep(name, max_depth, None) from None
    finally:
        loader.dispose()


# --- shared --------------------------------------------------------------------------------


def _at(where: tuple[int, int] | None, lang: Literal["vi", "en"]) -> str:
    if where is None:
        return ""
    line, column = where
    return f" at line {line} column {column}" if lang == "en" else f" tại dòng {line}, cột {column}"


def _duplicate(name: str, key: str, line: int, column: int) -> InputError:
    return _error(
        "document.duplicate_key",
        name,
        f"key {key!r} appears twice in one object (again at line {line} column {column})",
        f"khóa {key!r} xuất hiện hai lần trong cùng một đối tượng (lần nữa tại dòng {line}, "
        f"cột {column})",
    )


def _too_deep(name: str, max_depth: int, where: tuple[int, int] | None) -> InputError:
    return _error(
        "document.too_deep",
        name,
        f"nested more than {max_depth} levels deep{_at(where, 'en')}",
        f"lồng nhau sâu quá {max_depth} cấp{_at(where, 'vi')}",
    )


def _not_finite(name: str, token: str, where: tuple[int, int] | None) -> InputError:
    shown = token if len(token) <= 20 else token[:17] + "..."
    return _error(
        "document.not_finite",
        name,
        f"{shown} is not a finite number{_at(where, 'en')}",
        f"{shown} không phải là số hữu hạn{_at(where, 'vi')}",
    )


def _refuse_lone_surrogates(value: Any, name: str) -> None:
    todo: list[Any] = [value]
    while todo:
        item = todo.pop()
        if isinstance(item, dict):
            todo.extend(item.keys())
            todo.extend(item.values())
        elif isinstance(item, list):
            todo.extend(item)
        elif isinstance(item, str) and not item.isascii():
            try:
                item.encode("utf-8")
            except UnicodeEncodeError as exc:
                code = ord(item[exc.start])
                raise _error(
                    "document.encoding",
                    name,
                    f"a string contains the lone surrogate \\u{code:04x} (not Unicode text)",
                    f"một chuỗi chứa ký tự thay thế đơn lẻ \\u{code:04x} (không phải văn bản "
                    "Unicode)",
                ) from None
