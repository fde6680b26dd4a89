"""A hypothesis-driven fuzz of every file the command line reads (issue 16, "Faults").

Each command that reads a file is given hostile ones, built from the repository's valid
examples (the shipped plans, criteria and rule sets, reporting plans and amendment; the
workflow tests' BASELINE and CLEAN metrics): fields dropped, wrong types, huge and negative
numbers, numbers beyond 2^53, NaN and Infinity, duplicate keys, nesting deeper than 64, long
strings, NUL and control characters, lone surrogates, YAML dates that do not exist and odd
tags; random bytes; UTF-16/32 with and without a byte order mark, Latin-1, truncated UTF-8;
empty files; CSV with wrong headers, extra columns, quotes, BOMs, CRLF, formula-looking cells.

What every example asserts, as the README promises: exit 0 for a file that is valid, 2 for one
refused (one line ``error: ...`` naming what is wrong; ``plans validate`` lists its problems on
stdout instead), never a traceback and never another code; a file the strict reader must
refuse (``domain.documents``) is refused, and the unchanged example is accepted. A command
that would write (``case start``, ``case submit``, ``campaign propose``, ``round submit``,
``plans publish``, ``plans amend``) records nothing when it refuses: its server, a local HTTP
stand-in for the API, sees no connection at all; ``plans amend --dry-run`` leaves the event
store as it was.

The commands run in this process (typer's runner). ``DRUGFREE_FUZZ_EXAMPLES`` sets the examples
per command (30 by default; the slow fault suite raises it).
"""

from __future__ import annotations

import asyncio
import codecs
import copy
import csv
import io
import json
import os
import re
import tempfile
import threading
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, currently_in_test_context, given, note, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cli.main import app
from domain.documents import MAX_CATALOG_BYTES, MAX_DEPTH, MAX_METRICS_BYTES, parse_document
from domain.identity import Signer
from eventstore import EventStore, NewEvent, Projector
from runtime.codec import KeyRing
from service.audit import verifier_of
from tests.cli.test_cli import CLASSIFY_INPUT
from tests.cli.test_plans_amend import CASES, SCHEMA
from tests.conftest import Database
from tests.workflows.support import BASELINE, CLEAN

DOMAIN = Path(__file__).resolve().parents[2] / "domain"
EXAMPLES = int(os.environ.get("DRUGFREE_FUZZ_EXAMPLES", "30"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example,
    HealthCheck.filter_too_much])


def shipped(folder: str, name: str) -> dict[str, Any]:
    loaded = yaml.safe_load((DOMAIN / folder / name).read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


METRICS = [CLASSIFY_INPUT, BASELINE, CLEAN]
RULE_SETS = [shipped("rule_sets", n) for n in ("tra-vinh-2025.yaml",
                                                "decision-28-2025-example.yaml")]
CRITERIA_SETS = [shipped("criteria_sets", n) for n in ("tra-vinh-2025.yaml",
                                                        "thanh-hoa-2024.yaml")]
PLANS = [shipped("plans", f.name) for f in sorted((DOMAIN / "plans").glob("*.yaml"))]
REPORTING_PLANS = [shipped("reporting_plans", f.name)
                   for f in sorted((DOMAIN / "reporting_plans").glob("*.yaml"))]
AMENDMENT = shipped("amendments", "tra-vinh-2025-reform.yaml")
REPORTS = [{"values": {"propaganda_sessions": 3}, "sections": {"results": "Đã triển khai."}},
           {"values": {"propaganda_sessions": 12, "addicts_treated": 40}}]
SIGNER = Signer.from_seed(bytes(range(40, 72)))


# -- running a command ------------------------------------------------------------------------


@dataclass
class Ran:
    code: int
    out: str
    err: str


def drugfree(*args: str, env: dict[str, str | None] | None = None,
             codes: tuple[int, ...] = (0, 2)) -> Ran:
    """The command in this process: it ends (no uncaught exception, no traceback) with one of
    ``codes``."""
    result = CliRunner().invoke(app, list(args), env={"DRUGFREE_API": None,
                                                      "DRUGFREE_TOKEN": None, **(env or {})})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        assert result.exc_info is not None
        shown = "".join(traceback.format_exception(*result.exc_info))
        raise AssertionError(f"drugfree {' '.join(args)}: uncaught\n{shown}")
    ran = Ran(result.exit_code, result.stdout, result.stderr)
    if currently_in_test_context():
        note(f"exit {ran.code}\nstdout: {ran.out[-2000:]!r}\nstderr: {ran.err[-2000:]!r}")
    assert "Traceback" not in ran.out + ran.err
    assert ran.code in codes, f"exit {ran.code} not in {codes}"
    return ran


def refusal_line(r: Ran) -> str:
    """A refusal: one line on stderr, ``error: `` and a message that says something; nothing
    on stdout."""
    lines = r.err.strip().splitlines()
    assert len(lines) == 1, f"a refusal is one line: {r.err!r}"
    assert lines[0].startswith("error: ") and len(lines[0].strip()) > len("error: ") + 8
    assert r.out == "", r.out
    return lines[0]


# -- hostile documents -------------------------------------------------------------------------

# A document carries the reasons the strict reader must refuse it ("not_finite", "duplicate",
# "too_deep", "surrogate", "digits", "date", "tag", "escape", "alias", and these), whatever the
# command. The reasons any reader of the bytes refuses (the key file's and the export's too):
BYTE_REASONS = frozenset({"empty", "encoding", "nul", "control", "no_bom", "too_large"})


@dataclass(frozen=True)
class Raw:
    """A token written into a document as it is: its JSON and its YAML spelling, and why the
    strict reader refuses each (None: it may not)."""

    json: str
    yaml: str
    json_refusal: str | None = None
    yaml_refusal: str | None = None


RAWS = [
    Raw("NaN", ".nan", "not_finite", "not_finite"),
    Raw("Infinity", ".inf", "not_finite", "not_finite"),
    Raw("-Infinity", "-.inf", "not_finite", "not_finite"),
    Raw("1e400", "1.0e+400", "not_finite", "not_finite"),
    Raw("-1e400", "-1.0e+400", "not_finite", "not_finite"),
    Raw("9" * 5000, "9" * 5000, "digits", "digits"),
    Raw("-" + "9" * 4400, "-" + "9" * 4400, "digits", "digits"),
    Raw('"\\ud800"', '"\\ud800"', "surrogate", "surrogate"),
    Raw('"a\\udfff"', '"a\\udfff"', "surrogate", "surrogate"),
    Raw('"2025-02-30"', "2025-02-30", None, "date"),
    Raw('"2025-13-45"', "2025-13-45", None, "date"),
    Raw('"2025-01-01T25:00:00"', "2025-01-01T25:00:00", None, "date"),
    Raw('"2025-01-01 00:00:00 -24"', "2025-01-01 00:00:00 -24", None, "date"),
    Raw('"x"', "!!int abc", None, "tag"),
    Raw('"x"', "!!int ''", None, "tag"),
    Raw('"x"', "!!float abc", None, "tag"),
    Raw('"x"', "!!bool maybe", None, "tag"),
    Raw('"x"', "!!timestamp soon", None, "tag"),
    Raw('"x"', "!!map x", None, "tag"),
    Raw('"x"', "!!binary AAAA", None, "tag"),
    Raw('"x"', "!!python/object:os.system x", None, "tag"),
    Raw('"x"', '"\\U00110000"', None, "escape"),
    Raw('"x"', '"\\UFFFFFFFF"', None, "escape"),
    Raw('"x"', "0x" + "f" * 4000, None, "digits"),
    Raw('"x"', "0b" + "1" * 14000, None, "digits"),
    Raw('"x"', "*nope", None, "alias"),
    Raw('"9999-12-31"', "9999-12-31"),
    Raw('"0001-01-01"', "0001-01-01"),
    Raw('"2025-06-31"', "2025-06-30"),
    Raw("1e308", "1.0e+308"),
    Raw("-0", "-0"),
    Raw("1E2", "1.0E+2"),
    Raw('"x"', "!!float 2"),
    Raw('"x"', "!!str 2"),
    Raw('"x"', "190:20:30"),
    Raw('"x"', "yes"),
    Raw('"x"', "~"),
]


@dataclass(frozen=True)
class Dup:
    """A key written again in the same object (the placeholder becomes ``key``)."""

    key: str
    n: int


def nest(n: int) -> Any:
    value: Any = 1
    for _ in range(n):
        value = [value]
    return value


NUMBERS = st.one_of(
    st.sampled_from([-1, 0, 1, 2**53 - 1, 2**53, 2**53 + 1, -(2**53) - 1, 2**63, 2**64 + 1,
                     10**30, 0.5, -0.0, 1e308, 5e-324, 3.0, 1.5, -7.25]),
    st.integers(), st.floats(allow_nan=False, allow_infinity=False))
TEXTS = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["", " ", "\x00", "a\x00b", "line\nbreak", "\r\n", "\t", "\x1b[2J", "\x7f",
                     "\x85", "=1+1", "+1", "@SUM(A1)", "tra-vinh-2025", "Trà Vinh", "🚩",
                     "\u202e", "\ufeff", "2025-01-01", "true", "null", "1_000"]),
    st.integers(1_000, 40_000).map(lambda n: "x" * n))
SURROGATES = st.sampled_from(["\ud800", "a\udfff", "\udbff\udbff"])
SCALARS = st.one_of(NUMBERS, TEXTS, st.booleans(), st.none())
VALUES = st.one_of(
    SCALARS, SURROGATES, st.sampled_from(RAWS), st.integers(1, 100).map(nest),
    st.builds(list), st.builds(dict), st.lists(SCALARS, max_size=3),
    st.dictionaries(TEXTS, SCALARS, max_size=3))


def entries(doc: Any) -> list[tuple[Any, Any]]:
    """Every (container, key or index) of ``doc``."""
    out: list[tuple[Any, Any]] = []
    todo = [doc]
    while todo:
        item = todo.pop()
        if isinstance(item, dict):
            for k, v in item.items():
                out.append((item, k))
                todo.append(v)
        elif isinstance(item, list):
            for i, v in enumerate(item):
                out.append((item, i))
                todo.append(v)
    return out


def dicts(doc: Any) -> list[dict[Any, Any]]:
    found = [doc] if isinstance(doc, dict) else []
    return found + [c[k] for c, k in entries(doc) if isinstance(c[k], dict)]


def depth(doc: Any) -> int:
    if isinstance(doc, dict):
        return 1 + max((depth(v) for v in doc.values()), default=0)
    if isinstance(doc, list):
        return 1 + max((depth(v) for v in doc), default=0)
    return 0


def has_surrogate(doc: Any) -> bool:
    def bad(text: str) -> bool:
        return any("\ud800" <= ch <= "\udfff" for ch in text)

    todo = [doc]
    while todo:
        item = todo.pop()
        if isinstance(item, str) and bad(item):
            return True
        if isinstance(item, Dup) and bad(item.key):
            return True
        if isinstance(item, dict):
            todo.extend(item.keys())
            todo.extend(item.values())
        elif isinstance(item, list):
            todo.extend(item)
    return False


@st.composite
def mutated(draw: st.DrawFn, base: Any) -> tuple[Any, list[str]]:
    """``base`` with fields dropped, replaced by hostile values or added, then perhaps a key
    repeated and a value nested too deep; the list of what was done."""
    doc = copy.deepcopy(base)
    done: list[str] = []
    for op in draw(st.lists(st.sampled_from(["drop", "replace", "add", "root"]), max_size=4)):
        found = entries(doc)
        if op == "drop" and found:
            container, key = draw(st.sampled_from(found))
            del container[key]
            done.append(f"drop {key!r}")
        elif op == "replace" and found:
            container, key = draw(st.sampled_from(found))
            container[key] = copy.deepcopy(draw(VALUES))
            done.append(f"replace {key!r}")
        elif op == "add" and dicts(doc):
            target = draw(st.sampled_from(dicts(doc)))
            key = draw(st.one_of(st.just("unknown_field"), TEXTS, SURROGATES))
            target[key] = copy.deepcopy(draw(VALUES))
            done.append(f"add {key[:20]!r}")
        elif op == "root" and draw(st.integers(0, 4)) == 0:
            doc = copy.deepcopy(draw(VALUES))
            done.append("root")
    if dicts(doc) and draw(st.integers(0, 5)) == 0:
        target = draw(st.sampled_from(dicts(doc)))
        names = [k for k in target if isinstance(k, str)]
        if names:
            target[Dup(draw(st.sampled_from(names)), len(done))] = copy.deepcopy(draw(VALUES))
            done.append("duplicate key")
    if draw(st.integers(0, 6)) == 0 and entries(doc):
        container, key = draw(st.sampled_from(entries(doc)))
        container[key] = nest(draw(st.integers(MAX_DEPTH - 4, MAX_DEPTH + 40)))
        done.append("deep")
    return doc, done


def serialise(doc: Any, syntax: str, draw: st.DrawFn) -> tuple[str, set[str]]:
    """The document's text, and why the strict reader must refuse it (empty: it may not)."""
    reasons: set[str] = set()
    raws: dict[str, Raw] = {}
    keys: dict[str, str] = {}

    def prepare(value: Any) -> Any:
        if isinstance(value, Raw):
            name = f"__RAW_{len(raws)}__"
            raws[name] = value
            refusal = value.json_refusal if syntax == "json" else value.yaml_refusal
            if refusal:
                reasons.add(refusal)
            return name
        if isinstance(value, dict):
            return {prepare_key(k): prepare(v) for k, v in value.items()}
        if isinstance(value, list):
            return [prepare(v) for v in value]
        return value

    def prepare_key(key: Any) -> Any:
        if isinstance(key, Dup):
            name = f"__DUP_{len(keys)}__"
            keys[name] = key.key
            reasons.add("duplicate")
            return name
        return key

    prepared = prepare(doc)
    if depth(doc) > MAX_DEPTH:
        reasons.add("too_deep")
    if has_surrogate(doc):
        reasons.add("surrogate")
    if doc is None:
        reasons.add("empty")
    if syntax == "json":
        text = json.dumps(prepared, ensure_ascii=draw(st.booleans()),
                          indent=draw(st.sampled_from([None, 1, 2])), default=str)
        for name, raw in raws.items():
            text = text.replace(f'"{name}"', raw.json)
    else:
        text = yaml.safe_dump(prepared, allow_unicode=draw(st.booleans()), sort_keys=False,
                              default_flow_style=draw(st.sampled_from([False, None])),
                              width=draw(st.sampled_from([80, 4096])))
        for name, raw in raws.items():
            text = text.replace(name, raw.yaml)
    for name, key in keys.items():
        text = text.replace(f'"{name}"' if syntax == "json" else name, json.dumps(key))
    return text, reasons


# Control characters no JSON and no YAML reader lets through (tab, LF and CR are white space).
CONTROLS = [chr(c) for c in range(1, 32) if c not in (9, 10, 13)]
# Byte sequences that are never UTF-8, wherever they land in UTF-8 text.
NOT_UTF8 = [b"\xff", b"\xfe", b"\xc0\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80"]
BOM_ENCODINGS = {"utf-16": b"", "utf-32": b"", "utf-16-le": codecs.BOM_UTF16_LE,
                 "utf-16-be": codecs.BOM_UTF16_BE, "utf-32-be": codecs.BOM_UTF32_BE}


@dataclass
class Bytes:
    data: bytes
    reasons: set[str]
    pristine: bool  # the text as built, in an encoding the reader takes (UTF-8, or with a BOM)
    what: list[str] = field(default_factory=list)


@st.composite
def text_to_bytes(draw: st.DrawFn, text: str, reasons: set[str]) -> Bytes:
    """``text`` perhaps cut, spliced, given CRLF line ends, NUL or control characters, then
    encoded (UTF-8 with or without a BOM, UTF-16/32 with or without one, Latin-1,
    Windows-1258), perhaps with bytes that are never UTF-8 or a truncated character."""
    what: list[str] = []
    pristine = True
    for op, at, piece in draw(st.lists(st.tuples(
            st.sampled_from(["cut", "insert", "delete", "crlf", "trailing", "bom"]),
            st.integers(0, 10**9), st.text(max_size=4)), max_size=2)):
        i = at % (len(text) + 1)
        if op == "crlf":
            text = text.replace("\r\n", "\n").replace("\n", "\r\n")
        elif op == "trailing":
            text += "\n\n  \n"
        else:
            text = {"cut": text[:i], "insert": text[:i] + piece + text[i:],
                    "delete": text[:i] + text[i + len(piece) + 1:], "bom": "\ufeff" + text}[op]
            pristine = False
            reasons = set()  # what the document had may be gone: nothing is known any more
        what.append(op)
    for char, at in draw(st.lists(st.tuples(st.sampled_from(["\x00", *CONTROLS]),
                                            st.integers(0, 10**9)), max_size=1)):
        i = at % (len(text) + 1)
        text = text[:i] + char + text[i:]
        reasons.add("nul" if char == "\x00" else "control")
        pristine = False
        what.append(f"inject {char!r}")
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8", "utf-8-sig", *BOM_ENCODINGS,
                                     "utf-16-le no bom", "utf-16-be no bom",
                                     "utf-32-le no bom", "latin-1", "cp1258"]))
    what.append(encoding)
    has_surrogate = any("\ud800" <= ch <= "\udfff" for ch in text)
    if encoding in ("latin-1", "cp1258") and has_surrogate:
        encoding = "utf-8"
    if encoding in BOM_ENCODINGS:
        data = BOM_ENCODINGS[encoding] + text.encode(encoding, "surrogatepass")
        reasons.add("bom16")
    elif encoding.endswith("no bom"):
        data = text.encode(encoding.split()[0], "surrogatepass")
        if any(ord(ch) < 0x80 for ch in text) and not text.startswith("\ufeff"):
            reasons.add("no_bom")
        pristine = False
    elif encoding in ("latin-1", "cp1258"):
        data = text.encode(encoding, "replace")
        if data != text.encode("utf-8", "surrogatepass"):
            pristine = False
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                reasons.add("encoding")
    else:
        data = text.encode(encoding, "surrogatepass")
        if encoding == "utf-8-sig":
            reasons.add("bom8")
        if draw(st.integers(0, 5)) == 0:
            bad = draw(st.sampled_from([*NOT_UTF8, b"truncated"]))
            if bad == b"truncated":
                data += "ạ".encode()[:draw(st.integers(1, 2))]
            else:
                i = draw(st.integers(0, len(data)))
                data = data[:i] + bad + data[i:]
            reasons.add("encoding")
            pristine = False
            what.append(f"bytes {bad!r}")
    if has_surrogate:
        reasons.add("surrogate")
    return Bytes(data, reasons, pristine, what)


@dataclass
class Doc:
    """A file to give a command: its bytes, its syntax, why the strict reader must refuse it
    (nothing: it may not), and whether it is the valid example unchanged."""

    data: bytes
    syntax: str
    refuse: frozenset[str]
    pristine: bool
    value: Any = None  # the example it came from

    def write(self, folder: Path, stem: str) -> Path:
        path = folder / f"{stem}.{'json' if self.syntax == 'json' else 'yaml'}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.data)
        return path


EMPTY = [b"", b" ", b"\n\n", b"\t \r\n", b"# only a comment\n", codecs.BOM_UTF8,
         codecs.BOM_UTF16_LE, codecs.BOM_UTF8 + b"  \n", b"null", b"~\n"]


@st.composite
def documents(draw: st.DrawFn, bases: list[Any], *, max_bytes: int,
              syntaxes: tuple[str, ...] = ("json", "yaml")) -> Doc:
    """A hostile document made from one of ``bases`` (or random bytes, or an empty or
    oversized file)."""
    base = draw(st.sampled_from(bases))
    syntax = draw(st.sampled_from(syntaxes))
    kind = draw(st.sampled_from(["mutated"] * 12 + ["bytes", "empty", "large", "at_limit"]))
    note(f"document: {kind}, {syntax}")
    if kind == "bytes":
        prefix = draw(st.sampled_from([b"", codecs.BOM_UTF8, codecs.BOM_UTF16_LE,
                                       codecs.BOM_UTF32_BE]))
        return Doc(prefix + draw(st.binary(max_size=2048)), syntax, frozenset(), False, base)
    if kind == "empty":
        data = draw(st.sampled_from(EMPTY))
        if syntax == "json" and data.strip(b"\n\t \r" + codecs.BOM_UTF8) == b"~":
            data = b"null"
        return Doc(data, syntax, frozenset({"empty"}), False, base)
    doc, done = draw(mutated(base)) if kind == "mutated" else (copy.deepcopy(base), [])
    text, reasons = serialise(doc, syntax, draw)
    if kind == "large":
        data = text.encode() + b" " * (max_bytes + 1 - len(text.encode()))
        data += b"\n" * draw(st.integers(0, 3))
        return Doc(data, syntax, frozenset({"too_large"}), False, base)
    if kind == "at_limit":
        if syntax == "yaml":  # PyYAML reads a MiB in seconds: the JSON one is enough
            return Doc(text.encode(), syntax, frozenset(reasons), not done, base)
        data = text.encode() + b" " * (max_bytes - len(text.encode()))
        return Doc(data, syntax, frozenset(reasons), not done, base)
    encoded = draw(text_to_bytes(text, reasons))
    note(f"mutations: {done} {encoded.what}")
    refuse = frozenset(r for r in encoded.reasons if r not in ("bom16", "bom8"))
    return Doc(encoded.data, syntax, refuse, encoded.pristine and not done, base)


# -- the API's stand-in ------------------------------------------------------------------------


class StandIn:
    """A local HTTP server in the API's place: it counts every connection, records every
    request, and answers each POST the command line makes as the API does when it accepts
    (so that a command that talked to it cannot pass for one that refused)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.connections = 0
        self.requests: list[tuple[str, str, Any]] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw
                path = self.path.split("?")[0]
                with stand_in.lock:
                    stand_in.requests.append(("POST", self.path, body))
                status, answer = stand_in.answer(path, body)
                self.reply(status, answer)

            def do_GET(self) -> None:  # noqa: N802
                with stand_in.lock:
                    stand_in.requests.append(("GET", self.path, None))
                self.reply(404, {"code": "stand_in.unknown", "message_vi": "không có",
                                 "message_en": "no such thing"})

            def reply(self, status: int, answer: Any) -> None:
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def process_request(self, request: Any, client_address: Any) -> None:
                with stand_in.lock:
                    stand_in.connections += 1
                super().process_request(request, client_address)

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @staticmethod
    def answer(path: str, body: Any) -> tuple[int, Any]:
        b = body if isinstance(body, dict) else {}
        if path == "/cases":
            return 201, {"case_id": f"conversion:{b.get('plan_id')}:{b.get('commune_code')}"}
        if re.fullmatch(r"/cases/[^/]+/submissions", path):
            return 200, {"deadline_id": b.get("deadline_id") or "phase_1_report", "late": False,
                         "criteria_met": None}
        if re.fullmatch(r"/rounds/[^/]+/[^/]+/reports", path):
            return 200, {"request_id": "r", "accepted": True, "late": False}
        if re.fullmatch(r"/campaigns/[^/]+/proposals", path):
            return 200, {"results": {str(c): "ok" for c in b.get("communes") or {}}}
        if path == "/plans":
            return 201, {"id": b.get("id"), "version": 1, "content_hash": "0" * 64}
        if re.fullmatch(r"/plans/[^/]+/amendments", path):
            return 200, {"counts": {}, "cases": [], "plans": {}}
        return 404, {"code": "stand_in.unknown", "message_vi": "không có",
                     "message_en": "no such thing"}

    def reset(self) -> None:
        with self.lock:
            self.connections = 0
            self.requests = []

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def api() -> Iterator[StandIn]:
    server = StandIn()
    yield server
    server.close()


def talking(api: StandIn, *args: str) -> list[str]:
    return [*args, "--api", api.url, "--token", "t"]


def nothing_sent(r: Ran, api: StandIn) -> None:
    assert api.connections == 0 and api.requests == [], (
        f"refused (exit {r.code}), yet {api.connections} connection(s) to the server: "
        f"{api.requests!r}"[:500])


def refused_as_judged(r: Ran, doc: Any, api: StandIn) -> bool:
    """The verdict every writing command shares: a valid file goes through (exit 0), one the
    strict reader must refuse is refused (exit 2); a refusal is one line and reaches no
    server. True when it was refused (the caller has nothing more to check)."""
    if doc.pristine:
        assert r.code == 0
    if doc.refuse:
        assert r.code == 2
    if r.code != 2:
        return False
    refusal_line(r)
    nothing_sent(r, api)
    return True


def folder() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="fuzz-")


# -- metrics files -----------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["classify", "criteria"])
@FUZZ
@given(doc=documents(METRICS, max_bytes=MAX_METRICS_BYTES), lang=st.sampled_from(["vi", "en"]),
       as_json=st.booleans(), which=st.integers(0, 1))
def test_metrics_files_classified_or_refused(command: str, doc: Doc, lang: str, as_json: bool,
                                             which: int) -> None:
    with folder() as d:
        path = doc.write(Path(d), "metrics")
        args = [command, str(path), "--lang", lang, *(["--json"] if as_json else [])]
        if command == "criteria":
            args += ["--criteria", ("tra-vinh-2025", "thanh-hoa-2024")[which]]
        r = drugfree(*args)
    if doc.pristine:
        assert r.code == 0
    if doc.refuse:
        assert r.code == 2
    if r.code == 2:
        refusal_line(r)
    else:
        assert r.out.strip() and r.err == ""


def sent_document(doc: Doc) -> Any:
    return parse_document(doc.data, syntax="json" if doc.syntax == "json" else "yaml",
                          max_bytes=MAX_METRICS_BYTES)


@pytest.mark.parametrize("command", ["start", "submit"])
@FUZZ
@given(doc=documents(METRICS, max_bytes=MAX_METRICS_BYTES), as_json=st.booleans())
def test_metrics_sent_to_the_api_only_when_read(api: StandIn, command: str, doc: Doc,
                                                as_json: bool) -> None:
    """``case start --metrics`` and ``case submit --metrics``: a refused file reaches no
    server; an accepted one is sent as it was read, once."""
    api.reset()
    with folder() as d:
        path = doc.write(Path(d), "metrics")
        args = (["case", "start", "--plan", "tra-vinh-2025", "--commune", "29512"]
                if command == "start" else
                ["case", "submit", "conversion:tra-vinh-2025:29512", "--deadline",
                 "phase_1_report"])
        r = drugfree(*talking(api, *args, "--metrics", str(path),
                              *(["--json"] if as_json else [])))
    if refused_as_judged(r, doc, api):
        return
    ((method, where, body),) = api.requests
    assert method == "POST"
    sent = body["baseline"] if command == "start" else body["metrics"]
    assert sent == sent_document(doc)
    assert where == ("/cases" if command == "start" else
                     "/cases/conversion:tra-vinh-2025:29512/submissions")


@FUZZ
@given(doc=documents(REPORTS, max_bytes=MAX_METRICS_BYTES), as_json=st.booleans())
def test_round_report_files(api: StandIn, doc: Doc, as_json: bool) -> None:
    """``round submit --file``: a refused report reaches no server; an accepted one is sent
    with its values and sections as read."""
    api.reset()
    with folder() as d:
        path = doc.write(Path(d), "bao-cao")
        r = drugfree(*talking(api, "round", "submit", "--plan", "son-la-action-month-2023",
                              "--round", "action-month-2023", "--unit", "health", "--file",
                              str(path), *(["--json"] if as_json else [])))
    if refused_as_judged(r, doc, api):
        return
    ((method, where, body),) = api.requests
    read = sent_document(doc)
    assert where == "/rounds/son-la-action-month-2023/action-month-2023/reports"
    assert body["values"] == read["values"] and body["sections"] == (read.get("sections") or {})


# -- plans, criteria sets, rule sets, reporting plans, amendments -------------------------------


@pytest.mark.parametrize("kind", ["rules", "criteria"])
@FUZZ
@given(data=st.data())
def test_set_files_given_to_classify_and_criteria(kind: str, data: st.DataObject) -> None:
    doc = data.draw(documents(RULE_SETS if kind == "rules" else CRITERIA_SETS,
                              max_bytes=MAX_CATALOG_BYTES))
    with folder() as d:
        metrics = Path(d) / "metrics.json"
        metrics.write_text(json.dumps(BASELINE), encoding="utf-8")
        path = doc.write(Path(d), "set")
        args = (["classify", str(metrics), "--rules", str(path)] if kind == "rules" else
                ["criteria", str(metrics), "--criteria", str(path)])
        r = drugfree(*args, "--lang", data.draw(st.sampled_from(["vi", "en"])))
    if doc.pristine:
        assert r.code == 0
    if doc.refuse:
        assert r.code == 2
    if r.code == 2:
        refusal_line(r)


BUNDLES = {  # folder: the examples of what it holds
    "plans": PLANS, "criteria_sets": CRITERIA_SETS, "rule_sets": RULE_SETS,
    "reporting_plans": REPORTING_PLANS, "amendments": [AMENDMENT]}


@st.composite
def bundles(draw: st.DrawFn) -> list[tuple[str, Doc]]:
    """One to three files, each in the folder its kind lives in (or none), each perhaps
    hostile."""
    chosen = draw(st.lists(st.sampled_from(sorted(BUNDLES)), min_size=1, max_size=3))
    return [(kind, draw(documents(BUNDLES[kind], max_bytes=MAX_CATALOG_BYTES)))
            for kind in chosen]


def write_bundle(d: Path, files: list[tuple[str, Doc]], in_folders: bool) -> list[Path]:
    paths = []
    for i, (kind, doc) in enumerate(files):
        value = doc.value
        stem = value.get("id") if isinstance(value, dict) else None
        stem = stem if isinstance(stem, str) and doc.pristine else f"file-{i}"
        place = d / str(i) / kind if in_folders else d / str(i)
        paths.append(doc.write(place, stem))
    return paths


@FUZZ
@given(files=bundles(), as_json=st.booleans(), in_folders=st.booleans(),
       lang=st.sampled_from(["vi", "en"]))
def test_plans_validate(files: list[tuple[str, Doc]], as_json: bool, in_folders: bool,
                        lang: str) -> None:
    """``plans validate FILE...``: every problem on stdout as ``file: ...``, exit 2; or one
    valid line per file, exit 0."""
    with folder() as d:
        paths = write_bundle(Path(d), files, in_folders)
        r = drugfree("plans", "validate", *map(str, paths), "--lang", lang,
                     *(["--json"] if as_json else []))
    if any(doc.refuse for _, doc in files):
        assert r.code == 2
    if all(doc.pristine for _, doc in files) and len({p.name for p in paths}) == len(paths):
        assert r.code == 0
    assert r.err == ""
    if as_json:
        report = json.loads(r.out)
        assert report["valid"] is (r.code == 0)
        assert [f["file"] for f in report["files"]] == list(map(str, paths))
        for f, (_, doc) in zip(report["files"], files, strict=True):
            assert f["valid"] is (not f["problems"])
            if doc.refuse:
                assert not f["valid"]
            for p in f["problems"]:
                assert p["message"].strip() and "\n" not in p["message"]
        return
    lines = r.out.splitlines()
    assert lines
    for line in lines:
        assert any(line.startswith(f"{p}: ") for p in paths), line
    if r.code == 2:
        assert not all(line.endswith(")") and (" hợp lệ (" in line or " valid (" in line)
                       for line in lines)


@FUZZ
@given(files=bundles(), as_json=st.booleans())
def test_plans_publish_sends_nothing_it_refuses(api: StandIn, files: list[tuple[str, Doc]],
                                                as_json: bool) -> None:
    """``plans publish PLAN [SETS...]``: checked here first; a refused bundle reaches no
    server, its problems on stderr, one per line, each naming its file."""
    api.reset()
    with folder() as d:
        paths = write_bundle(Path(d), files, in_folders=False)
        r = drugfree(*talking(api, "plans", "publish", *map(str, paths),
                              *(["--json"] if as_json else [])))
    if any(doc.refuse for _, doc in files):
        assert r.code == 2
    if r.code == 2:
        nothing_sent(r, api)
        lines = r.err.strip().splitlines()
        assert lines and r.out == ""
        for line in lines:
            assert any(line.startswith(f"{p}: ") for p in paths) or "kế hoạch" in line, line
        return
    ((method, where, body),) = api.requests
    assert (method, where) == ("POST", "/plans") and isinstance(body, dict)


async def _seed(url: str) -> None:
    import uuid

    async with await EventStore.connect(url, max_size=2) as store:
        for stream, steps in CASES.items():
            await store.append(stream, 0, [
                NewEvent(str(uuid.uuid4()), t, SCHEMA.get(t, 1), p) for t, p in steps])
        await Projector(store).rebuild()


async def _snapshot(url: str) -> tuple[Any, ...]:
    conn = await asyncpg.connect(url)
    try:
        row = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM events) AS n, "
            "(SELECT md5(string_agg(e::text, '|' ORDER BY e::text)) FROM events e) AS events, "
            "(SELECT md5(string_agg(c::text, '|' ORDER BY c::text)) FROM case_status c) "
            "AS status")
        assert row is not None
        return tuple(row)
    finally:
        await conn.close()


@pytest.fixture(scope="module")
def store_url(migrated_database: Database) -> str:
    """A migrated database holding running cases of Trà Vinh 2025 (and a closed one, and one
    of another plan), as ``tests/cli/test_plans_amend.py`` seeds it."""
    asyncio.run(_seed(migrated_database.app_url))
    return migrated_database.admin_url


@FUZZ
@given(doc=documents([AMENDMENT], max_bytes=MAX_CATALOG_BYTES), as_json=st.booleans())
def test_amendment_files_dry_run_over_the_event_store(store_url: str, doc: Doc,
                                                      as_json: bool) -> None:
    """``plans amend FILE --dry-run`` over a database with running cases: exit 0 with what
    would change, or a one-line refusal; the event store and read model as they were."""
    before = asyncio.run(_snapshot(store_url))
    with folder() as d:
        path = doc.write(Path(d), "amendment")
        r = drugfree("plans", "amend", str(path), "--dry-run", "--database-url", store_url,
                     *(["--json"] if as_json else []))
    assert asyncio.run(_snapshot(store_url)) == before
    if doc.pristine:
        assert r.code == 0
        assert "tra-vinh-2025-reform" in r.out
    if doc.refuse:
        assert r.code == 2
    if r.code == 2:
        refusal_line(r)


@FUZZ
@given(doc=documents([AMENDMENT], max_bytes=MAX_CATALOG_BYTES))
def test_amendment_files_applied_through_the_api(api: StandIn, doc: Doc) -> None:
    """``plans amend FILE --token T``: a refused amendment reaches no server."""
    api.reset()
    with folder() as d:
        path = doc.write(Path(d), "amendment")
        r = drugfree(*talking(api, "plans", "amend", str(path)))
    if refused_as_judged(r, doc, api):
        return
    assert api.requests and all(
        m == "POST" and re.fullmatch(r"/plans/[^/]+/amendments", w) for m, w, _ in api.requests)


# -- the CSV of communes -----------------------------------------------------------------------

CSV_FIELDS = sorted(set(BASELINE) | set(CLASSIFY_INPUT))
CODES = ["29512", "29513", "29266", "29242", "29500", "84"]
CELLS = st.one_of(
    st.sampled_from(["=1+1", "+1", "-1", "@SUM(A1:A2)", '=HYPERLINK("http://x","y")', "-0",
                     "1.500", "1,500", "1e3", " 12 ", "", "  ", "０１２", "١٢٣", "²", "0x10",
                     "9" * 16, "9" * 17, "9007199254740993", "-5", "0.5", "1.", ".5", "true",
                     "có", "KHÔNG", "yes", "\x00", '"', '""', "a,b", "line\nbreak", "\r",
                     "\ufeff1", "\u202e12", "NaN", "inf", "x" * 200_000]),
    st.text(max_size=12), st.integers().map(str))


def cell_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass
class Sheet:
    data: bytes
    refuse: frozenset[str]  # why the whole file must be refused (nothing: it may not be)
    pristine: bool


@st.composite
def sheets(draw: st.DrawFn) -> Sheet:
    """A CSV of communes: a valid table perhaps with a wrong header, extra or missing cells,
    hostile cells, repeated communes, other separators or quoting, then the byte mutations of
    any document."""
    kind = draw(st.sampled_from(["table"] * 10 + ["bytes", "empty", "rows", "large"]))
    note(f"csv: {kind}")
    if kind == "bytes":
        return Sheet(draw(st.binary(max_size=2048)), frozenset(), False)
    if kind == "empty":
        data = draw(st.sampled_from([b"", b"\n", b"\r\n\r\n", codecs.BOM_UTF8,
                                     b"commune_code\n", b"commune_code,population\n\n,\n"]))
        return Sheet(data, frozenset({"empty"}), False)
    columns = ["commune_code", *draw(st.lists(st.sampled_from(CSV_FIELDS), min_size=1,
                                              max_size=8, unique=True))]
    bases = draw(st.lists(st.sampled_from(METRICS), min_size=1, max_size=4))
    codes = draw(st.lists(st.sampled_from(CODES), min_size=len(bases), max_size=len(bases),
                          unique=True))
    rows = [[code, *(cell_text(base.get(c, "")) for c in columns[1:])]
            for code, base in zip(codes, bases, strict=True)]
    if kind == "rows":  # more communes than one file may hold
        rows = [[str(10000 + i), *row[1:]] for i, row in enumerate(rows * 2001)][:2001]
        return Sheet(serialise_csv([columns, *rows]).encode(), frozenset({"too_many_rows"}),
                     False)
    header = list(columns)
    changed: list[str] = []
    for op in draw(st.lists(st.sampled_from(["rename", "duplicate", "blank", "unknown",
                                             "spaces", "case"]), max_size=2)):
        i = draw(st.integers(0, len(header) - 1))
        if op == "rename":
            header[i] = draw(st.sampled_from(["code", "commune code", "mã xã", "commune_code "]))
        elif op == "duplicate":
            header.append(header[i])
        elif op == "blank":
            header[i] = draw(st.sampled_from(["", " "]))
        elif op == "unknown":
            header.append(draw(st.sampled_from(["unknown_metric", "=1+1", "ghi_chú"])))
        elif op == "spaces":
            header[i] = f" {header[i]}\t"
        else:
            header[i] = header[i].upper()
        changed.append(op)
    for op in draw(st.lists(st.sampled_from(["cell", "extra", "missing", "repeat", "blank",
                                             "code"]), max_size=4)):
        row = draw(st.sampled_from(rows))
        if op == "cell":
            row[draw(st.integers(0, len(row) - 1))] = draw(CELLS)
        elif op == "extra":
            row.append(draw(CELLS))
        elif op == "missing" and len(row) > 1:
            row.pop()
        elif op == "repeat":
            rows.append(list(row))
        elif op == "blank":
            rows.insert(draw(st.integers(0, len(rows))), [""] * len(header))
        elif op == "code":
            row[0] = draw(st.sampled_from(["", "x", "29512.0", " 29512", "12345678901", "-1",
                                           "２９５１２"]))
        changed.append(op)
    names = [h.strip() for h in header]
    refuse = set()
    if "commune_code" not in names:
        refuse.add("no_commune_code")
    elif any(not n for n in names) or len(set(names)) != len(names):
        refuse.add("bad_header")
    delimiter = draw(st.sampled_from([",", ",", ",", ";", "\t"]))
    if delimiter != ",":  # the header is then one column, named after the whole line
        refuse = {"no_commune_code"}
        changed.append(f"delimiter {delimiter!r}")
    text = serialise_csv([header, *rows], delimiter=delimiter,
                         quoting=draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL])),
                         end=draw(st.sampled_from(["\n", "\r\n", "\r"])))
    if kind == "large":
        data = text.encode() + b"\n" * (4 * 1024 * 1024 + 1 - len(text.encode()))
        return Sheet(data, frozenset({"too_large"}), False)
    encoded = draw(text_to_bytes(text, refuse))
    note(f"csv mutations: {changed} {encoded.what}")
    reasons = set(encoded.reasons)
    if reasons & {"bom16", "no_bom"} and encoded.data[:3] != codecs.BOM_UTF8:
        reasons.add("encoding")  # the CSV reader takes UTF-8 only (a BOM allowed)
    must = frozenset(reasons & {"encoding", "no_commune_code", "bad_header"})
    if "surrogate" in reasons:
        must |= {"encoding"}
    return Sheet(encoded.data, must, encoded.pristine and not changed and "bom16" not in
                 encoded.reasons)


def serialise_csv(table: list[list[str]], delimiter: str = ",", quoting: int = csv.QUOTE_MINIMAL,
                  end: str = "\n") -> str:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, quoting=quoting, lineterminator=end).writerows(table)
    return out.getvalue()


@FUZZ
@given(sheet=sheets())
def test_csv_of_communes_for_case_start(api: StandIn, sheet: Sheet) -> None:
    """``case start --from-csv``: a file refused whole reaches no server (one line, exit 2);
    otherwise each good row is sent once, no bad row is sent, and the report says which."""
    api.reset()
    with folder() as d:
        path = Path(d) / "communes.csv"
        path.write_bytes(sheet.data)
        r = drugfree(*talking(api, "case", "start", "--plan", "tra-vinh-2025", "--from-csv",
                              str(path), "--json"))
    if sheet.pristine:
        assert r.code == 0
    if sheet.refuse:  # refused whole, or every row refused in the report: nothing sent
        assert r.code == 2
        assert r.out == "" or not any(e["ok"] for e in json.loads(r.out)), r.out
        nothing_sent(r, api)
    if r.out == "":  # the file itself was refused
        assert r.code == 2
        refusal_line(r)
        nothing_sent(r, api)
        return
    report = json.loads(r.out)
    sent = [body["commune_code"] for _, _, body in api.requests]
    assert all(where == "/cases" for _, where, _ in api.requests)
    assert sorted(sent) == sorted(str(e["commune_code"]) for e in report if e["ok"])
    assert api.connections <= len(sent)
    for entry in report:
        if not entry["ok"]:
            assert entry["message"].strip() and entry["code"].startswith(("csv.", "document."))
            assert "\n" not in entry["message"]
    for _, _, body in api.requests:
        assert all(type(v) in (int, float, bool) for v in body["baseline"].values())
    assert r.code == (0 if all(e["ok"] for e in report) else 2)


@FUZZ
@given(sheet=sheets())
def test_csv_of_communes_for_campaign_propose(api: StandIn, sheet: Sheet) -> None:
    """``campaign propose --communes-csv``: sent whole or not at all."""
    api.reset()
    with folder() as d:
        path = Path(d) / "communes.csv"
        path.write_bytes(sheet.data)
        r = drugfree(*talking(api, "campaign", "propose", "--plan", "tra-vinh-2025",
                              "--communes-csv", str(path)))
    if refused_as_judged(r, sheet, api):
        return
    ((_, where, body),) = api.requests
    assert where == "/campaigns/tra-vinh-2025/proposals" and body["communes"]


# -- key files, checkpoints, exports ------------------------------------------------------------


def _other_pems() -> list[str]:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    return [
        ec_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode(),
        ec_key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode(),
        SIGNER.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode(),
        SIGNER.pem().decode().replace("PRIVATE KEY", "RSA PRIVATE KEY"),
        SIGNER.pem().decode().replace("PRIVATE KEY", "ENCRYPTED PRIVATE KEY"),
    ]


PEM = SIGNER.pem().decode()
OTHER_PEMS = _other_pems()


@st.composite
def text_files(draw: st.DrawFn, valid: str, others: list[str] = []) -> Doc:  # noqa: B006
    """A text file (a key, a checkpoint note, an export): ``valid`` or another example, its
    lines dropped, repeated or swapped, its characters flipped, then any byte mutation."""
    kind = draw(st.sampled_from(["text"] * 8 + ["bytes", "empty"]))
    if kind == "bytes":
        return Doc(draw(st.binary(max_size=4096)), "text", frozenset(), False)
    if kind == "empty":
        return Doc(draw(st.sampled_from([b"", b"\n", b" \r\n"])), "text",
                   frozenset({"empty"}), False)
    text = draw(st.sampled_from([valid, *others])) if others and draw(st.booleans()) else valid
    lines = text.splitlines(keepends=True)
    for op in draw(st.lists(st.sampled_from(["drop", "repeat", "swap", "flip", "line"]),
                            max_size=3)):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        if op == "drop":
            del lines[i]
        elif op == "repeat":
            lines.insert(i, lines[i])
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "flip" and lines[i]:
            k = draw(st.integers(0, len(lines[i]) - 1))
            lines[i] = lines[i][:k] + draw(st.sampled_from("A/+=0{}\"\\ \u2014")) + lines[i][k + 1:]
        elif op == "line":
            lines[i] = hostile_line(draw, lines[i])
    encoded = draw(text_to_bytes("".join(lines), set()))
    note(f"text file: {encoded.what}")
    return Doc(encoded.data, "text", frozenset(encoded.reasons & BYTE_REASONS),
               encoded.data == valid.encode())


def hostile_line(draw: st.DrawFn, line: str) -> str:
    """A JSON line with one field replaced by a hostile value (or the line as it was)."""
    try:
        record = json.loads(line)
    except ValueError:
        return line + draw(TEXTS)
    if not isinstance(record, dict) or not record:
        return line
    key = draw(st.sampled_from(sorted(record)))
    record[key] = copy.deepcopy(draw(VALUES.filter(lambda v: not isinstance(v, Raw))))
    return json.dumps(record, ensure_ascii=draw(st.booleans())) + "\n"


@FUZZ
@given(doc=text_files(PEM, OTHER_PEMS), command=st.sampled_from(["issue", "key"]))
def test_signing_key_files(doc: Doc, command: str) -> None:
    """``auth issue --key PEM`` and ``audit key --signing-key PEM``: a token or a verifier
    key from an Ed25519 private key; anything else one line, exit 2."""
    with folder() as d:
        path = Path(d) / "key.pem"
        path.write_bytes(doc.data)
        if command == "issue":
            r = drugfree("auth", "issue", "--key", str(path), "--role", "province_police",
                         "--province", "86", "--name", "Nguyễn Văn A")
        else:
            r = drugfree("audit", "key", "--signing-key", str(path))
    if doc.pristine:
        assert r.code == 0
    if "empty" in doc.refuse:  # (PEM readers skip what lies outside the armour)
        assert r.code == 2
    if r.code == 2:
        refusal_line(r)


def key_ring_text() -> str:
    with folder() as d:
        path = Path(d) / "keys.json"
        KeyRing.fresh("k-2025-a").rotated("k-2025-b").save(path)
        return path.read_text(encoding="utf-8")


KEY_RING = key_ring_text()


@FUZZ
@given(doc=st.one_of(text_files(KEY_RING),
                     documents([json.loads(KEY_RING)], max_bytes=MAX_METRICS_BYTES,
                               syntaxes=("json",))),
       command=st.sampled_from(["list", "rotate"]))
def test_payload_key_files(doc: Doc, command: str) -> None:
    """``keys list|rotate --file F``: the key ids, or a new current key; a file that is not a
    key file one line, exit 2."""
    with folder() as d:
        path = Path(d) / "keys.json"
        path.write_bytes(doc.data)
        r = drugfree("keys", command, "--file", str(path))
    if doc.pristine and doc.data.startswith(b"{"):  # UTF-8 without a BOM: as keys writes it
        assert r.code == 0
    if doc.refuse & BYTE_REASONS - {"too_large"}:  # (a key file has no size limit)
        assert r.code == 2
    if r.code == 2:
        refusal_line(r)


@dataclass
class Audited:
    env: dict[str, str | None]
    note: str
    exports: dict[str, str]  # format: the export's text


@pytest.fixture(scope="module")
def audited(store_url: str, tmp_path_factory: pytest.TempPathFactory) -> Audited:
    """A checkpoint of the seeded store and an export (JSON Lines and CSV) of one case."""
    d = tmp_path_factory.mktemp("audited")
    key = d / "checkpoint.pem"
    key.write_bytes(SIGNER.pem())
    env: dict[str, str | None] = {"DRUGFREE_CHECKPOINT_KEY": str(key),
                                  "DRUGFREE_CHECKPOINT_VKEY": verifier_of(SIGNER),
                                  "DATABASE_URL": store_url}
    r = CliRunner().invoke(app, ["audit", "checkpoint"], env=env)
    assert r.exit_code == 0, r.output
    note_text = r.stdout
    exports = {}
    for fmt in ("jsonl", "csv"):
        out = d / f"export.{fmt}"
        r = CliRunner().invoke(app, ["audit", "export", "conversion:tra-vinh-2025:29242",
                                     "--format", fmt, "--out", str(out)], env=env)
        assert r.exit_code == 0, r.output
        exports[fmt] = out.read_text(encoding="utf-8")
    return Audited(env, note_text, exports)


@FUZZ
@given(data=st.data(), fmt=st.sampled_from(["jsonl", "csv"]), as_json=st.booleans())
def test_export_files_verified_offline(audited: Audited, data: st.DataObject, fmt: str,
                                       as_json: bool) -> None:
    """``audit verify --file FILE``: exit 0 for the export as written, 1 naming the first
    broken line, 2 for a file that is not an export; never anything else."""
    doc = data.draw(text_files(audited.exports[fmt]))
    with folder() as d:
        path = Path(d) / f"export.{fmt}"
        path.write_bytes(doc.data)
        r = drugfree("audit", "verify", "--file", str(path), *(["--json"] if as_json else []),
                     env={"DRUGFREE_CHECKPOINT_VKEY": verifier_of(SIGNER)}, codes=(0, 1, 2))
    if doc.pristine:
        assert r.code == 0
    if doc.refuse:
        assert r.code != 0
    if r.code == 2:
        refusal_line(r)
    elif r.code == 1 and not as_json:
        (line,) = r.err.strip().splitlines()
        assert str(path) in line


@FUZZ
@given(data=st.data(), command=st.sampled_from(["verify", "prove"]))
def test_checkpoint_files(audited: Audited, data: st.DataObject, command: str) -> None:
    """``audit verify --checkpoint FILE`` and ``audit prove ... --checkpoint FILE`` on a log
    nobody rewrote: exit 0 for the kept checkpoint; any other file is refused (exit 2, one
    line), never reported as a rewritten history (exit 1)."""
    doc = data.draw(text_files(audited.note))
    with folder() as d:
        path = Path(d) / "checkpoint.txt"
        path.write_bytes(doc.data)
        if command == "verify":
            r = drugfree("audit", "verify", "--checkpoint", str(path), env=audited.env)
        else:
            r = drugfree("audit", "prove", "conversion:tra-vinh-2025:29242", "--event", "1",
                         "--checkpoint", str(path), env=audited.env)
    if doc.pristine:
        assert r.code == 0
    if doc.refuse:
        assert r.code == 2
    if r.code == 2:
        refusal_line(r)


# -- the examples themselves --------------------------------------------------------------------


def test_the_valid_examples_pass(api: StandIn) -> None:
    """The oracle's ground: every example the fuzz starts from is accepted as it is."""
    with folder() as d:
        for i, metrics in enumerate(METRICS):
            path = Path(d) / f"m{i}.json"
            path.write_text(json.dumps(metrics), encoding="utf-8")
            assert drugfree("classify", str(path)).code == 0
        paths = []
        for kind, examples in BUNDLES.items():
            for example in examples:
                path = Path(d) / kind / f"{example['id']}.yaml"
                path.parent.mkdir(exist_ok=True)
                path.write_text(yaml.safe_dump(example, allow_unicode=True), encoding="utf-8")
                paths.append(path)
        assert drugfree("plans", "validate", *map(str, paths)).code == 0
        path = Path(d) / "communes.csv"
        path.write_text(serialise_csv([["commune_code", "population", "addicts_total"],
                                       ["29512", "9000", "3"]]), encoding="utf-8")
        api.reset()
        assert drugfree(*talking(api, "case", "start", "--plan", "tra-vinh-2025",
                                 "--from-csv", str(path))).code == 0
        assert len(api.requests) == 1

