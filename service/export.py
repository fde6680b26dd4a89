"""A self-verifiable export of cases (tệp xuất tự kiểm chứng): every event with what its hash
covers, and a signed checkpoint that proves each event is in the log; checked offline.

The file (JSON Lines, or CSV with the same fields) holds, in order:

1. one ``export`` record: the format, what was exported (a case or a plan's cases), when;
2. one ``event`` record per event, by stream then version: ``stream``, ``version``,
   ``position``, ``type``, ``schema_version``, ``recorded_at``, ``canonical`` (the exact bytes
   that were hashed, as UTF-8 text: the envelope of ``eventstore.canonical`` with the
   payload inside), ``hash`` and ``prev_hash`` (hex), and its inclusion proof in the
   checkpoint's tree: ``leaf_index`` and ``proof`` (hex hashes, nearest sibling first);
3. one ``checkpoint`` record: the signed note (C2SP) the export was cut against, the
   number of events and streams, and (format 2) the ``heads``: each stream's last version and
   hash in the file, signed with the checkpoint's key together with the header and the note
   (``heads_signature``, Ed25519 over ``heads_message``).

An offline verifier (``verify_file``, ``drugfree audit verify --file``) needs only the file
and the verifier key: per event it recomputes SHA-256(0x00 || canonical), checks that the
canonical bytes say what the record's columns say, the chain link to the previous event of the
stream (a stream starts at version 1 with an all-zero ``prev_hash``), and the inclusion proof
against the checkpoint's root; the checkpoint's signature is checked first. It reads the file
twice, line by line (first to find the checkpoint at its end), in constant memory apart from
the names of the streams seen.

A whole-plan export carries one inclusion proof per event, as a case's does: each line is
provable alone (log2 of the log's size hashes per event); the subtrees the proofs share are
hashed once (the whole tree at most once).

The checkpoint alone cannot prove completeness at a stream's end: an export cut short after a
stream's last line still chains and proves. The signed heads do: a stream cut short, or left
out, no longer ends where the signature says, and they cannot be re-signed without the key.
A format 1 file (no heads) still verifies, its completeness reported as unsigned.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from domain import checkpoint as notes
from domain.errors import DomainError
from domain.identity import Signer
from domain.merkle import Frontier, leaf_hash, node_hash, verify_inclusion
from eventstore.canonical import envelope_tail, event_hash
from eventstore.records import ZERO_HASH
from eventstore.store import EventStore
from service.audit import Audit, verifier
from service.errors import ServiceError

FORMAT = "drugfree-audit-export/2"
UNSIGNED_HEADS = "drugfree-audit-export/1"  # older files: every check but completeness
_HEADS_CONTEXT = b"drugfree export heads v1\n"  # what the signature is of, never a checkpoint
Format = Literal["jsonl", "csv"]
COLUMNS = ("kind", "stream", "version", "position", "type", "schema_version", "recorded_at",
           "hash", "prev_hash", "leaf_index", "proof", "canonical", "data")
_HEAD = b'{"payload":'
_PAGE = 20_000
_LEAVES = "SELECT position, hash FROM events WHERE position > $1 ORDER BY position LIMIT $2"
_POSITIONS = "SELECT position FROM events WHERE stream = ANY($1::text[])"
_EVENTS = """SELECT stream, version, position, type, schema_version,
                    to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
                      AS recorded_at,
                    canonical, hash, prev_hash
               FROM events WHERE stream = ANY($1::text[]) ORDER BY stream, version"""


# -- writing ---------------------------------------------------------------------------------


class _Paths:
    """Audit paths of many leaves of one tree. A subtree of more than ``_DIRECT`` leaves is
    split as RFC 6962 defines its hash and remembered, so the whole tree is hashed at most
    once however many proofs are asked (at most n / 4 remembered hashes); smaller ones are
    hashed from the leaves each time."""

    _DIRECT = 8

    def __init__(self, leaves: bytes, size: int) -> None:
        self.leaves, self.size = leaves, size
        self.cache: dict[int, bytes] = {}

    def _subtree(self, start: int, end: int) -> bytes:
        if end - start <= self._DIRECT:
            frontier = Frontier()
            frontier.extend(self.leaves[i * 32:(i + 1) * 32] for i in range(start, end))
            return frontier.root()
        key = start << 40 | end  # a tree holds fewer than 2^40 leaves
        found = self.cache.get(key)
        if found is None:
            k = 1 << ((end - start - 1).bit_length() - 1)  # largest power of two below
            found = self.cache[key] = node_hash(self._subtree(start, start + k),
                                                self._subtree(start + k, end))
        return found

    def proof(self, index: int) -> list[bytes]:
        path: list[bytes] = []
        start, end, m = 0, self.size, index
        while end - start > 1:
            k = 1 << ((end - start - 1).bit_length() - 1)  # largest power of two below
            if m < k:
                path.append(self._subtree(start + k, end))
                end = start + k
            else:
                path.append(self._subtree(start, start + k))
                start, m = start + k, m - k
        path.reverse()
        return path


async def export(store: EventStore, streams: list[str], signer: Signer, now: datetime,
                 scope: dict[str, str]) -> AsyncIterator[dict[str, Any]]:
    """The records of an export of ``streams``: the header, their events up to a checkpoint
    taken now (events recorded after it are left out), the checkpoint."""
    note = await Audit(store).checkpoint(signer, now)
    cp = notes.parse(note)
    header = {"kind": "export", "format": FORMAT, **scope, "origin": cp.origin,
              "exported_at": now.isoformat()}
    yield header
    events = stream_count = 0
    heads: dict[str, list[Any]] = {}  # stream -> [last version, its hash], in file order
    async with store.pool.acquire() as conn, \
            conn.transaction(isolation="repeatable_read", readonly=True):
        wanted = {int(r["position"]) for r in await conn.fetch(_POSITIONS, streams)}
        index: dict[int, int] = {}
        kept, frontier, after = bytearray(), Frontier(), 0
        while frontier.size < cp.size:
            rows = await conn.fetch(_LEAVES, after, min(_PAGE, cp.size - frontier.size))
            if not rows:
                break
            for row in rows:
                if row["position"] in wanted:
                    index[int(row["position"])] = frontier.size
                leaf = leaf_hash(bytes(row["hash"]))
                frontier.append(leaf)
                kept += leaf
            after = rows[-1]["position"]
        if frontier.size != cp.size or frontier.root() != cp.root:
            raise ServiceError("audit.rewritten",
                               "the log no longer holds the tree just checkpointed",
                               "nhật ký không còn khớp mốc kiểm toán vừa lập")
        paths = _Paths(bytes(kept), cp.size)
        last: str | None = None
        async for row in conn.cursor(_EVENTS, streams, prefetch=1000):
            leaf_index = index.get(int(row["position"]))
            if leaf_index is None:
                continue  # recorded after the checkpoint
            if row["stream"] != last:
                last, stream_count = row["stream"], stream_count + 1
            events += 1
            heads[row["stream"]] = [row["version"], bytes(row["hash"]).hex()]
            yield {"kind": "event", "stream": row["stream"], "version": row["version"],
                   "position": row["position"], "type": row["type"],
                   "schema_version": row["schema_version"], "recorded_at": row["recorded_at"],
                   "canonical": bytes(row["canonical"]).decode(),
                   "hash": bytes(row["hash"]).hex(), "prev_hash": bytes(row["prev_hash"]).hex(),
                   "leaf_index": leaf_index, "proof": [h.hex() for h in paths.proof(leaf_index)]}
    listed = [[name, *head] for name, head in heads.items()]
    signature = signer.key.sign(heads_message(header, note, listed))
    yield {"kind": "checkpoint", "events": events, "streams": stream_count, "checkpoint": note,
           "heads": listed, "heads_signature": base64.b64encode(signature).decode()}


def heads_message(header: dict[str, Any], note: str, heads: list[list[Any]]) -> bytes:
    """What the heads' signature covers: the export's header, its checkpoint note and every
    stream's [name, last version, hash], as canonical JSON (RFC 8785) after a context line
    that no checkpoint note begins with."""
    return _HEADS_CONTEXT + rfc8785.dumps({"header": header, "checkpoint": note,
                                           "heads": heads})


def jsonl(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"


def csv_header() -> str:
    return _csv_line(list(COLUMNS))


def csv_row(record: dict[str, Any]) -> str:
    """One CSV row: an event's fields in their columns (the proof space-separated); the
    header's and checkpoint's fields as JSON in ``data``."""
    if record["kind"] == "event":
        cells = {**record, "proof": " ".join(record["proof"])}
    else:
        cells = {"kind": record["kind"],
                 "data": json.dumps({k: v for k, v in record.items() if k != "kind"},
                                    ensure_ascii=False)}
    return _csv_line(["" if cells.get(c) is None else str(cells.get(c)) for c in COLUMNS])


def _csv_line(cells: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(cells)
    return out.getvalue()


# -- verifying -------------------------------------------------------------------------------


class Unreadable(Exception):
    """The file cannot be read as an export at all (exit 2): what is wrong, in English and in
    Vietnamese."""

    def __init__(self, message: str, message_vi: str) -> None:
        super().__init__(message)
        self.message, self.message_vi = message, message_vi

    def text(self, lang: str) -> str:
        return self.message_vi if lang == "vi" else self.message


@dataclass(frozen=True)
class Broken:
    line: int
    problem: str
    problem_vi: str

    def text(self, lang: str) -> str:
        return self.problem_vi if lang == "vi" else self.problem


@dataclass(frozen=True)
class FileReport:
    events: int
    streams: int
    size: int  # the checkpoint's tree size
    broken: Broken | None = None
    # every stream ends where the signed heads say (False: a format 1 file, unsigned)
    complete: bool = False


def _records(path: Path) -> Iterator[tuple[int, dict[str, Any] | None]]:
    """(line number, record) for each record of the file, streamed; record None: a line that
    is not a record of this format. The format is told by the first line."""
    try:
        handle = path.open("r", encoding="utf-8", newline="")
    except OSError as exc:
        raise Unreadable(f"cannot read {path}: {exc.strerror}",
                         f"không đọc được {path}: {exc.strerror}") from None
    with handle:
        try:
            first = handle.readline()
        except UnicodeDecodeError:
            raise Unreadable(f"{path}: not UTF-8 text",
                             f"{path}: không phải văn bản UTF-8") from None
        if first.startswith("{"):
            yield from _jsonl_records(first, handle)
        elif first.rstrip("\r\n") == ",".join(COLUMNS):
            yield from _csv_records(handle)
        else:
            raise Unreadable(f"{path}: not an export (neither JSON Lines nor its CSV)",
                             f"{path}: không phải tệp xuất (không phải JSON Lines hay CSV của "
                             "nó)")


def _jsonl_records(first: str, handle: io.TextIOBase) -> Iterator[tuple[int, dict[str, Any]
                                                                         | None]]:
    number, line = 1, first
    while line:
        try:
            value = json.loads(line)
        except ValueError:
            value = None
        yield number, value if isinstance(value, dict) else None
        try:
            line = handle.readline()
        except UnicodeDecodeError:
            yield number + 1, None
            return
        number += 1


def _csv_records(handle: io.TextIOBase) -> Iterator[tuple[int, dict[str, Any] | None]]:
    reader = csv.reader(handle)
    try:
        for cells in reader:
            # the physical line the row ends on (the column names took line 1)
            yield reader.line_num + 1, _from_cells(cells)
    except (csv.Error, UnicodeDecodeError):
        yield reader.line_num + 2, None


def _from_cells(cells: list[str]) -> dict[str, Any] | None:
    if len(cells) != len(COLUMNS):
        return None
    row = dict(zip(COLUMNS, cells, strict=True))
    if row["kind"] != "event":
        try:
            data = json.loads(row["data"])
        except ValueError:
            return None
        return {"kind": row["kind"], **data} if isinstance(data, dict) else None
    try:
        return {**row, "version": int(row["version"]), "position": int(row["position"]),
                "schema_version": int(row["schema_version"]),
                "leaf_index": int(row["leaf_index"]),
                "proof": row["proof"].split(" ") if row["proof"] else []}
    except ValueError:
        return None


@dataclass(frozen=True)
class _End:
    """The file's last record, the checkpoint, its note's signature verified."""

    line: int
    checkpoint: notes.Checkpoint
    record: dict[str, Any]
    public: Ed25519PublicKey


def _checkpoint(path: Path, vkey: str | None) -> _End | Broken:
    """The checkpoint record (the file's last), its signature verified; or what is wrong."""
    last: tuple[int, dict[str, Any] | None] | None = None
    count = 0
    for item in _records(path):
        last, count = item, count + 1
    if last is None or count < 2:
        raise Unreadable(f"{path}: empty, or no events and no checkpoint",
                         f"{path}: trống, hoặc không có sự kiện và mốc kiểm toán")
    number, record = last
    if record is None or record.get("kind") != "checkpoint" or \
            not isinstance(record.get("checkpoint"), str):
        return Broken(number, "the file does not end with its checkpoint: it was cut "
                              "short or altered",
                      "tệp không kết thúc bằng mốc kiểm toán: đã bị cắt bớt hoặc sửa")
    try:
        name, public = verifier(vkey)
    except DomainError as exc:
        raise Unreadable(exc.text("en"), exc.text("vi")) from None
    try:
        # the verifier key names the log it checks (its name is the log's origin)
        cp = notes.verify(record["checkpoint"], public, origin=name, key_name=name)
    except DomainError as exc:
        return Broken(number, f"checkpoint: {exc.message}",
                      f"mốc kiểm toán: {exc.message_vi or exc.message}")
    return _End(number, cp, record, public)


def verify_file(path: Path, vkey: str | None = None) -> FileReport:
    """Check an export offline (see the module's notes); ``Unreadable`` when it is not one."""
    end = _checkpoint(path, vkey)
    if isinstance(end, Broken):
        return FileReport(0, 0, 0, end)
    cp_line, cp = end.line, end.checkpoint
    events = 0
    streams: set[str] = set()
    stream, version, prev = "", 0, ZERO_HASH
    header: dict[str, Any] | None = None
    heads: dict[str, list[Any]] = {}
    for number, record in _records(path):
        if header is None:
            if record is None or record.get("kind") != "export" or \
                    record.get("format") not in (FORMAT, UNSIGNED_HEADS):
                return FileReport(events, len(streams), cp.size, Broken(
                    number, f"the first record is not the header of a {FORMAT} export",
                    f"bản ghi đầu không phải phần đầu của tệp xuất {FORMAT}"))
            header = record
            continue
        if number == cp_line:
            assert record is not None
            if record.get("events") != events or record.get("streams") != len(streams):
                return FileReport(events, len(streams), cp.size, Broken(
                    number, f"the checkpoint line counts {record.get('events')} events in "
                            f"{record.get('streams')} streams; the file holds {events} in "
                            f"{len(streams)}: lines were removed or added",
                    f"dòng mốc kiểm toán ghi {record.get('events')} sự kiện trong "
                    f"{record.get('streams')} luồng; tệp có {events} sự kiện trong "
                    f"{len(streams)} luồng: đã bị xóa hoặc thêm dòng"))
            if header.get("format") == UNSIGNED_HEADS:
                return FileReport(events, len(streams), cp.size)
            problem = _check_heads(end, header, heads)
            return FileReport(events, len(streams), cp.size,
                              None if problem is None else Broken(number, *problem),
                              complete=problem is None)
        problem = _check_event(record, cp, stream, version, prev, streams)
        if problem is not None:
            return FileReport(events, len(streams), cp.size, Broken(number, *problem))
        assert record is not None
        if record["stream"] != stream:
            streams.add(record["stream"])
        stream, version = record["stream"], record["version"]
        prev = bytes.fromhex(record["hash"])
        heads[stream] = [version, record["hash"]]
        events += 1
    return FileReport(events, len(streams), cp.size)


def _check_heads(end: _End, header: dict[str, Any],
                 seen: dict[str, list[Any]]) -> tuple[str, str] | None:
    """What is wrong with the signed heads against the streams the file holds (None: each
    stream ends where the signature says, and no stream is missing)."""
    signed, signature = end.record.get("heads"), end.record.get("heads_signature")
    if not isinstance(signed, list) or not isinstance(signature, str) or not all(
            isinstance(h, list) and len(h) == 3 and isinstance(h[0], str)
            and type(h[1]) is int and isinstance(h[2], str) for h in signed):
        return ("the checkpoint line has no signed heads: it was altered",
                "dòng mốc kiểm toán thiếu phần chốt luồng đã ký: dòng đã bị sửa")
    try:
        end.public.verify(base64.b64decode(signature, validate=True),
                          heads_message(header, end.record["checkpoint"], signed))
    except (InvalidSignature, binascii.Error, ValueError):
        return ("the signature of the streams' ends does not verify: the file was altered",
                "chữ ký chốt điểm cuối các luồng không hợp lệ: tệp đã bị sửa")
    ends = {name: [version, digest] for name, version, digest in signed}
    for name, (version, _) in ends.items():
        if name not in seen:
            return (f"{name} is in the signed export but not in the file: its lines were "
                    "removed", f"{name} có trong tệp xuất đã ký nhưng không có trong tệp: các "
                    "dòng của nó đã bị xóa")
        if seen[name] != ends[name]:
            return (f"{name} ends at version {seen[name][0]} in the file; the export ended it at "
                    f"version {version}: its last events were removed",
                    f"{name} kết thúc ở sự kiện số {seen[name][0]} trong tệp; tệp xuất đã ký kết "
                    f"thúc ở số {version}: các sự kiện cuối đã bị xóa")
    extra = sorted(set(seen) - set(ends))
    if extra:
        return (f"{extra[0]} is in the file but not in the signed export: lines were added",
                f"{extra[0]} có trong tệp nhưng không có trong tệp xuất đã ký: đã bị thêm dòng")
    return None


_FIELDS: dict[str, type] = {"stream": str, "version": int, "position": int, "type": str,
                            "schema_version": int, "recorded_at": str, "canonical": str,
                            "hash": str, "prev_hash": str, "leaf_index": int, "proof": list}


def _check_event(record: dict[str, Any] | None, cp: notes.Checkpoint, stream: str,
                 version: int, prev: bytes, seen: set[str]) -> tuple[str, str] | None:
    """What is wrong with one event line (None: nothing), given the line before it."""
    if record is None or record.get("kind") != "event" or any(
            type(record.get(k)) is not t for k, t in _FIELDS.items()):
        return ("not an event line of this format: the line was altered",
                "không phải dòng sự kiện đúng định dạng: dòng đã bị sửa")
    try:
        digest, prev_hash = bytes.fromhex(record["hash"]), bytes.fromhex(record["prev_hash"])
        proof = [bytes.fromhex(h) for h in record["proof"]]
        canonical = record["canonical"].encode("utf-8")
    except (ValueError, TypeError, UnicodeEncodeError):
        return ("a hash is not hex: the line was altered",
                "mã băm không phải hệ 16: dòng đã bị sửa")
    name, number = record["stream"], record["version"]
    if event_hash(canonical) != digest:
        return ("the hash does not match the canonical bytes: the event was altered",
                "mã băm không khớp nội dung đã băm: sự kiện đã bị sửa")
    tail = envelope_tail(prev_hash=prev_hash, recorded_at=record["recorded_at"],
                         schema_version=record["schema_version"], stream=name,
                         type=record["type"], version=number)
    if not canonical.startswith(_HEAD) or not canonical.endswith(tail):
        return ("the columns do not say what the hashed bytes say: the line was altered",
                "các cột không khớp nội dung đã băm: dòng đã bị sửa")
    if name == stream:
        if number != version + 1:
            return (f"version {number} follows version {version} of {name}: an event is "
                    "missing or out of order",
                    f"sự kiện số {number} đứng sau số {version} của {name}: thiếu sự kiện "
                    "hoặc sai thứ tự")
        if prev_hash != prev:
            return (f"prev_hash is not the hash of version {version} of {name}: the chain is "
                    "broken", f"prev_hash không phải mã băm của sự kiện số {version} của "
                    f"{name}: chuỗi bị phá vỡ")
    else:
        if name in seen:
            return (f"{name} appears again after another stream: lines were moved",
                    f"{name} xuất hiện lại sau luồng khác: dòng đã bị di chuyển")
        if number != 1 or prev_hash != ZERO_HASH:
            return (f"{name} does not start at version 1: its first events are missing",
                    f"{name} không bắt đầu từ sự kiện số 1: thiếu các sự kiện đầu")
    try:
        verify_inclusion(record["leaf_index"], cp.size, leaf_hash(digest), proof, cp.root)
    except DomainError:
        return (f"the event is not leaf {record['leaf_index']} of the checkpoint's tree: the "
                "proof fails", f"sự kiện không phải lá số {record['leaf_index']} của cây mốc "
                "kiểm toán: chứng minh không hợp lệ")
    return None
