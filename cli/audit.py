"""``drugfree audit``: prove the record was not altered (kiểm toán).

- ``audit key``: the verifier key of the checkpoint signing key (what auditors keep).
- ``audit checkpoint [--out FILE]``: a signed checkpoint of the whole event log (a C2SP
  signed note), to keep outside the database.
- ``audit verify [STREAM | --all] [--checkpoint FILE]``: every hash chain re-derived (exit 1
  naming the first broken event); with ``--checkpoint``, also a consistency proof from the
  kept checkpoint to today's log (exit 1 when the history was rewritten).
- ``audit prove CASE --event N --checkpoint FILE``: an inclusion proof of one event.
- ``audit replay CASE [--at ISO-TIME] [--json]``: the case as it stood at an instant (the
  fold of ``domain.replay``) and its timeline, in Viet Nam's time.
- ``audit export (CASE | --plan P) --format jsonl|csv [--out FILE]``: a self-verifiable
  export (``service.export``), cut against a checkpoint signed now;
  ``audit verify --file FILE [--key VKEY]`` checks one offline, without a database.

Connects like ``drugfree db`` (``DATABASE_URL`` / ``--database-url``, or ``--data-dir``).
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import sys
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import IO, Annotated, Any, NoReturn

import typer

from cli.db import EXIT_BROKEN, DatabaseUrl, DataDir, _run
from cli.errors import fail, payload_key_failure
from cli.lang import Lang, LangOption
from domain.errors import DomainError
from domain.plan import Plan
from domain.replay import CaseAt
from eventstore import EventStore, StreamNotFoundError
from eventstore.plan_versions import PlanVersions
from eventstore.records import VerifyReport
from runtime.codec import PayloadKeyError
from service import export as exports
from service.audit import Audit, open_checkpoint, signing_key, verifier_of
from service.replay import Replayed, replay_on_its_plan
from web import labels
from web.i18n import Lang as PageLang

app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Kiểm toán: mốc kiểm toán, chứng minh, kiểm tra / audit: checkpoints, "
                       "proofs, verification.")

KeyFile = Annotated[str | None, typer.Option(
    "--signing-key", help="Khóa ký (PEM Ed25519) / signing key; default "
                          "DRUGFREE_CHECKPOINT_KEY")]
VKey = Annotated[str | None, typer.Option(
    "--key", help="Khóa kiểm tra (drugfree audit key) / verifier key; default "
                  "DRUGFREE_CHECKPOINT_VKEY")]
CheckpointFile = Annotated[Path | None, typer.Option(
    "--checkpoint", dir_okay=False, help="Mốc kiểm toán đã lưu / a kept checkpoint file")]
AsJson = Annotated[bool, typer.Option("--json", help="In JSON / print JSON")]


def _say(lang: Lang, vi: str, en: str) -> str:
    return vi if lang == "vi" else en


def _read_note(path: Path, lang: Lang) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        fail(_say(lang, f"không đọc được {path}: {exc.strerror}",
                  f"cannot read {path}: {exc.strerror}"))
    if len(data) > 64 * 1024:
        fail(_say(lang, f"{path}: quá lớn để là một mốc kiểm toán",
                  f"{path}: too large to be a checkpoint"))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        fail(_say(lang, f"{path}: không phải văn bản UTF-8", f"{path}: not UTF-8 text"))


def _kept_checkpoint(path: Path, key: str | None, lang: Lang) -> str:
    """A kept checkpoint's note, its signature checked before the store is read: a file that is
    not one (or no verifier key) is bad input, one line and exit 2, never a rewritten log."""
    note = _read_note(path, lang)
    try:
        open_checkpoint(note, key)
    except DomainError as exc:
        _domain(lang, exc)
    return note


def _domain(lang: Lang, exc: DomainError) -> NoReturn:
    fail(f"{exc.text(lang)} [{exc.code}]")


@app.command("key")
def key_cmd(signing_key_file: KeyFile = None, lang: LangOption = Lang.vi) -> None:
    """Khóa kiểm tra của khóa ký mốc / the verifier key auditors check checkpoints with."""
    try:
        typer.echo(verifier_of(signing_key(signing_key_file)))
    except DomainError as exc:
        _domain(lang, exc)


@app.command("checkpoint")
def checkpoint_cmd(
    out: Annotated[Path | None, typer.Option("--out", dir_okay=False,
                                             help="Ghi ra tệp / write to FILE")] = None,
    signing_key_file: KeyFile = None, database_url: DatabaseUrl = None,
    data_dir: DataDir = None, lang: LangOption = Lang.vi,
) -> None:
    """Mốc kiểm toán đã ký của toàn bộ nhật ký sự kiện / a signed checkpoint of the log."""
    try:
        signer = signing_key(signing_key_file)
    except DomainError as exc:
        _domain(lang, exc)

    async def work(url: str) -> str:
        async with await EventStore.connect(url, max_size=2) as store:
            return await Audit(store).checkpoint(signer, datetime.now(UTC))

    note = _run(database_url, work, data_dir)
    if out is None:
        typer.echo(note, nl=False)
        return
    if out.exists():
        fail(_say(lang, f"{out} đã có; không ghi đè mốc kiểm toán",
                  f"{out} exists; a checkpoint is never overwritten"))
    out.write_text(note, encoding="utf-8")
    typer.echo(_say(lang, f"đã ghi mốc kiểm toán vào {out}", f"checkpoint written to {out}"))


@app.command("verify")
def verify_cmd(
    stream: Annotated[str | None, typer.Argument(
        help="Một hồ sơ (luồng sự kiện); bỏ trống: tất cả / one case's stream; all when "
             "omitted")] = None,
    checkpoint: CheckpointFile = None, key: VKey = None, as_json: AsJson = False,
    file: Annotated[Path | None, typer.Option(
        "--file", dir_okay=False, help="Kiểm tra một tệp xuất, không cần cơ sở dữ liệu / "
                                       "check an export file offline")] = None,
    plan: Annotated[str | None, typer.Option(
        "--plan", help="Mọi hồ sơ của một kế hoạch / every case of one plan")] = None,
    every: Annotated[bool, typer.Option("--all", help="Toàn bộ nhật ký (mặc định) / the "
                                                      "whole log (the default)")] = False,
    deep: Annotated[bool, typer.Option(
        "--deep", help="So cả bản sao jsonb với dữ liệu đã băm (chậm hơn) / also compare "
                       "each event's jsonb copy with its hashed bytes (slower)")] = False,
    database_url: DatabaseUrl = None, data_dir: DataDir = None, lang: LangOption = Lang.vi,
) -> None:
    """Kiểm tra chuỗi băm (và mốc kiểm toán) / verify hash chains (and a kept checkpoint):
    exit 0 when intact, 1 naming the first broken event."""
    if (stream is not None) + (plan is not None) + every > 1:
        fail(_say(lang, "chọn một trong: STREAM, --plan, --all",
                  "choose one of STREAM, --plan, --all"))
    if file is not None:
        if stream is not None or checkpoint is not None:
            fail(_say(lang, "--file kiểm tra riêng một tệp xuất; bỏ STREAM và --checkpoint",
                      "--file checks an export alone; drop STREAM and --checkpoint"))
        _verify_file(file, key, as_json, lang)
        return
    note = _kept_checkpoint(checkpoint, key, lang) if checkpoint is not None else None

    async def work(url: str) -> dict[str, Any]:
        async with await EventStore.connect(url, max_size=2) as store:
            report = await (_verify_plan(store, plan, lang, deep) if plan is not None
                            else store.verify(stream, deep=deep))
            out: dict[str, Any] = {"events": report.events, "streams": report.streams,
                                   "broken": str(report.broken) if report.broken else None}
            if note is not None and report.broken is None:
                try:
                    proof = await Audit(store).consistency(note, key)
                except DomainError as exc:
                    out["rewritten"] = {"code": exc.code, "message": exc.text(lang)}
                else:
                    out["checkpoint"] = {
                        "old_size": proof.old_size, "new_size": proof.new_size,
                        "old_root": _b64(proof.old_root), "new_root": _b64(proof.new_root),
                        "proof": [_b64(h) for h in proof.proof]}
            return out

    result = _run(database_url, work, data_dir)
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False))
    if result["broken"]:
        if not as_json:
            typer.echo(_say(lang, f"bị phá vỡ: {result['broken']}",
                            f"broken: {result['broken']}"), err=True)
        raise typer.Exit(EXIT_BROKEN)
    if "rewritten" in result:
        if not as_json:
            typer.echo(f"{result['rewritten']['message']} [{result['rewritten']['code']}]",
                       err=True)
        raise typer.Exit(EXIT_BROKEN)
    if as_json:
        return
    typer.echo(_say(lang, f"toàn vẹn: {result['events']} sự kiện trong {result['streams']} "
                          "luồng, mọi liên kết đều đúng",
                    f"ok: {result['events']} events in {result['streams']} streams, every "
                    "link verified"))
    if "checkpoint" in result:
        c = result["checkpoint"]
        typer.echo(_say(lang, f"mốc kiểm toán: {c['old_size']} sự kiện đầu vẫn y nguyên trong "
                              f"nhật ký {c['new_size']} sự kiện (chứng minh nhất quán "
                              f"{len(c['proof'])} mã băm)",
                        f"checkpoint: the first {c['old_size']} events are unchanged in the "
                        f"log of {c['new_size']} (consistency proof of {len(c['proof'])} "
                        "hashes)"))


async def _verify_plan(store: EventStore, plan: str, lang: Lang,
                       deep: bool = False) -> VerifyReport:
    """Every case stream of ``plan``, one after the other (constant memory), with a progress
    bar on stderr; the first break stops it."""
    streams = [s.stream for s in await store.streams(f"conversion:{plan}:")]
    if not streams:
        fail(_say(lang, f"kế hoạch {plan} chưa có hồ sơ nào", f"plan {plan} has no cases"))
    events = 0
    with typer.progressbar(streams, label=_say(lang, "kiểm tra", "verifying"),
                           file=sys.stderr) as bar:
        for done, name in enumerate(bar, 1):
            report = await store.verify(name, deep=deep)
            events += report.events
            if report.broken is not None:
                return VerifyReport(events, done, report.broken)
    return VerifyReport(events, len(streams))


@app.command("prove")
def prove_cmd(
    case: Annotated[str, typer.Argument(help="Mã hồ sơ / the case (its stream)")],
    event: Annotated[int, typer.Option("--event", min=1, help="Số thứ tự sự kiện / version")],
    checkpoint: Annotated[Path, typer.Option("--checkpoint", dir_okay=False,
                                             help="Mốc kiểm toán đã lưu / a kept checkpoint")],
    key: VKey = None, as_json: AsJson = False, database_url: DatabaseUrl = None,
    data_dir: DataDir = None, lang: LangOption = Lang.vi,
) -> None:
    """Chứng minh một sự kiện nằm trong mốc kiểm toán / an inclusion proof of one event."""
    note = _kept_checkpoint(checkpoint, key, lang)

    async def work(url: str) -> dict[str, Any]:
        async with await EventStore.connect(url, max_size=2) as store:
            try:
                p = await Audit(store).inclusion(case, event, note, key)
            except DomainError as exc:
                return {"error": {"code": exc.code, "message": exc.text(lang)}}
            return {"stream": p.stream, "version": p.version, "leaf_index": p.index,
                    "tree_size": p.size, "root": _b64(p.root), "leaf_hash": _b64(p.leaf),
                    "proof": [_b64(h) for h in p.proof]}

    result = _run(database_url, work, data_dir)
    if "error" in result:
        err = result["error"]
        code = EXIT_BROKEN if err["code"] == "audit.rewritten" else 2
        typer.echo(f"error: {err['message']} [{err['code']}]", err=True)
        raise typer.Exit(code)
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False))
        return
    typer.echo(_say(lang, f"sự kiện {event} của {case} là lá số {result['leaf_index']} của "
                          f"cây {result['tree_size']} lá; đường chứng minh:",
                    f"event {event} of {case} is leaf {result['leaf_index']} of the tree of "
                    f"{result['tree_size']}; audit path:"))
    for h in result["proof"]:
        typer.echo(f"  {h}")


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


# -- the workflow service against the store, and today's code against its histories ----------

TemporalAddress = Annotated[str | None, typer.Option(
    "--temporal-address", envvar="TEMPORAL_ADDRESS", show_envvar=True,
    help="Máy chủ Temporal / the workflow service (payloads decrypted with "
         "DRUGFREE_PAYLOAD_KEY)")]


def _temporal(address: str | None, lang: Lang) -> str:
    if not address:
        fail(_say(lang, "chưa đặt TEMPORAL_ADDRESS (hoặc dùng --temporal-address)",
                  "TEMPORAL_ADDRESS is not set (or pass --temporal-address)"))
    return address


def _rpc_failure(lang: Lang, exc: Exception) -> NoReturn:
    """A failed call (RPCError) or connection (the SDK's RuntimeError), in one line."""
    fail(_say(lang, f"máy chủ Temporal: {exc}", f"workflow service: {exc}"))


@app.command("crosscheck")
def crosscheck_cmd(
    case: Annotated[str, typer.Argument(help="Mã hồ sơ / the case id "
                                             "(conversion:<plan>:<commune>)")],
    as_json: AsJson = False, temporal_address: TemporalAddress = None,
    database_url: DatabaseUrl = None, lang: LangOption = Lang.vi,
) -> None:
    """Đối chiếu lịch sử quy trình với kho sự kiện / the workflow service's histories of a
    case against its events: exit 0 when they agree, 1 naming each difference."""
    from temporalio.service import RPCError

    from runtime.temporal import connect
    from service.crosscheck import crosscheck
    from workflows.names import case_id, parse_case_id

    try:
        stream = case_id(*parse_case_id(case))
    except ValueError:
        fail(_say(lang, f"không phải mã hồ sơ: {case!r}", f"not a case id: {case!r}"))
    address = _temporal(temporal_address, lang)

    async def work(url: str) -> dict[str, Any]:
        try:
            client = await connect(address)
            async with await EventStore.connect(url, max_size=2) as store:
                return (await crosscheck(client, store, stream)).as_dict()
        except (RPCError, RuntimeError) as exc:
            _rpc_failure(lang, exc)
        except PayloadKeyError as exc:  # no key, or not the one that sealed them
            payload_key_failure(exc)
        except ValueError as exc:  # payloads this key cannot decode
            fail(str(exc))

    result = _run(database_url, work)
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False))
    else:
        for run in result["runs"]:
            if not run["found"]:
                typer.echo(_say(
                    lang, f"lịch sử đã hết hạn lưu giữ: {run['workflow_id']} {run['run_id']}",
                    f"history gone (retention): {run['workflow_id']} {run['run_id']}"))
        for d in result["differences"]:
            where = " ".join(f"{k}={d[k]}" for k in ("event_id", "request_id", "workflow_id",
                                                     "run_id") if d[k])
            typer.echo(f"{d['kind']}: {d['detail']} [{where}]")
        summary = _say(
            lang, f"{len(result['runs'])} lượt chạy, {result['updates']} yêu cầu, "
                  f"{result['appends']} lần ghi, {result['events']} sự kiện",
            f"{len(result['runs'])} runs, {result['updates']} updates, {result['appends']} "
            f"appends, {result['events']} events")
        if result["unverified"]:
            summary += _say(lang, f"; {len(result['unverified'])} sự kiện chưa kiểm được",
                            f"; {len(result['unverified'])} events unverified")
        if result["agrees"]:
            typer.echo(_say(lang, f"khớp: {summary}", f"agree: {summary}"))
        else:
            typer.echo(_say(lang, f"{len(result['differences'])} khác biệt: {summary}",
                            f"{len(result['differences'])} differences: {summary}"), err=True)
    if not result["agrees"]:
        raise typer.Exit(EXIT_BROKEN)


@app.command("replay-code")
def replay_code_cmd(
    plan: Annotated[str | None, typer.Option("--plan", help="Chỉ một kế hoạch / one plan's "
                                                            "workflows only")] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Tối đa N lịch sử / at "
                                                                     "most N histories")] = None,
    every: Annotated[int, typer.Option("--every", min=1, help="Một dòng tiến độ mỗi N / a "
                                                              "progress line per N")] = 50,
    task_queue: Annotated[str, typer.Option(
        "--task-queue", envvar="DRUGFREE_TASK_QUEUE", show_envvar=True,
        help="Hàng đợi của worker / the worker's task queue")] = "drugfree",
    as_json: AsJson = False, temporal_address: TemporalAddress = None,
    lang: LangOption = Lang.vi,
) -> None:
    """Phát lại lịch sử đang chạy và gần đây với mã quy trình hiện tại / replay the live and
    recent histories against today's workflow code: exit 1 naming each non-deterministic
    one (run it before deploying new workflow code)."""
    import asyncio

    from temporalio.service import RPCError

    from runtime.temporal import connect
    from service import crosscheck as cc

    address = _temporal(temporal_address, lang)

    def progress(done: int, total: int) -> None:
        typer.echo(_say(lang, f"đã phát lại {done}/{total}", f"replayed {done}/{total}"),
                   err=True)

    async def work() -> dict[str, Any]:
        try:
            client = await connect(address)
            executions = await cc.listed(client, task_queue, plan, limit)
            typer.echo(_say(lang, f"{len(executions)} lịch sử của {task_queue}",
                            f"{len(executions)} histories of {task_queue}"), err=True)
            report = await cc.replay_code(client, list(executions), progress=progress,
                                          every=every)
        except (RPCError, RuntimeError) as exc:
            _rpc_failure(lang, exc)
        except PayloadKeyError as exc:
            payload_key_failure(exc)
        except ValueError as exc:  # a plan or queue name that is not a plain id
            fail(str(exc))
        return report.as_dict()

    try:
        result = asyncio.run(work())
    except OSError as exc:
        fail(_say(lang, f"không kết nối được: {exc}", f"cannot connect: {exc}"))
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False))
    else:
        for f in result["failures"]:
            typer.echo(_say(lang, "không tất định", "non-deterministic") +
                       f": {f['workflow_id']} {f['run_id']} ({f['workflow_type']}): "
                       f"{f['error']}")
        typer.echo(_say(lang, f"{result['replayed']} lịch sử đã phát lại, "
                              f"{len(result['failures'])} không tất định",
                        f"{result['replayed']} histories replayed, "
                        f"{len(result['failures'])} non-deterministic"))
    if result["failures"]:
        raise typer.Exit(EXIT_BROKEN)
# -- verify --file -----------------------------------------------------------------------------


def _verify_file(path: Path, key: str | None, as_json: bool, lang: Lang) -> None:
    try:
        report = exports.verify_file(path, key)
    except exports.Unreadable as exc:
        fail(exc.text(lang))
    broken = report.broken
    if as_json:
        typer.echo(json.dumps({
            "events": report.events, "streams": report.streams, "tree_size": report.size,
            "complete": report.complete, "broken": None if broken is None else {"line": broken.line,
                                                   "problem": broken.text(lang)}},
            ensure_ascii=False))
    if broken is not None:
        if not as_json:
            typer.echo(_say(lang, f"bị phá vỡ: {path} dòng {broken.line}: {broken.text(lang)}",
                            f"broken: {path} line {broken.line}: {broken.text(lang)}"),
                       err=True)
        raise typer.Exit(EXIT_BROKEN)
    if not as_json:
        typer.echo(_say(lang, f"toàn vẹn: {report.events} sự kiện trong {report.streams} luồng; "
                              "mọi mã băm, liên kết và chứng minh thuộc mốc kiểm toán "
                              f"({report.size} sự kiện, chữ ký hợp lệ) đều đúng",
                        f"ok: {report.events} events in {report.streams} streams; every hash, "
                        f"link and inclusion proof in the checkpoint ({report.size} events, "
                        "signature verified) checks"))
        typer.echo(_say(lang, "đầy đủ: mỗi luồng kết thúc đúng nơi chữ ký của tệp xuất ghi",
                        "complete: every stream ends where the export's signature says")
                   if report.complete else
                   _say(lang, "lưu ý: tệp xuất định dạng cũ, không có chữ ký chốt điểm cuối các "
                              "luồng: không chứng minh được tệp còn đủ ở cuối mỗi luồng",
                        "note: an older export without signed stream ends: that nothing was "
                        "cut from a stream's end cannot be proven"))


# -- export ------------------------------------------------------------------------------------


@app.command("export")
def export_cmd(
    case: Annotated[str | None, typer.Argument(
        help="Mã hồ sơ (luồng sự kiện) / the case (its stream)")] = None,
    plan: Annotated[str | None, typer.Option(
        "--plan", help="Mọi hồ sơ của một kế hoạch / every case of a plan")] = None,
    fmt: Annotated[str, typer.Option(
        "--format", help="jsonl (mặc định / default) hoặc / or csv")] = "jsonl",
    out: Annotated[Path | None, typer.Option("--out", dir_okay=False,
                                             help="Ghi ra tệp / write to FILE")] = None,
    signing_key_file: KeyFile = None, database_url: DatabaseUrl = None,
    data_dir: DataDir = None, lang: LangOption = Lang.vi,
) -> None:
    """Tệp xuất tự kiểm chứng / a self-verifiable export (hashes, proofs, checkpoint)."""
    if (case is None) == (plan is None):
        fail(_say(lang, "nêu một hồ sơ hoặc --plan", "name one case or --plan"))
    if fmt not in ("jsonl", "csv"):
        fail(_say(lang, f"--format {fmt!r}: chỉ jsonl hoặc csv",
                  f"--format {fmt!r}: jsonl or csv only"))
    if out is not None and out.exists():
        fail(_say(lang, f"{out} đã có; không ghi đè", f"{out} exists; not overwritten"))
    try:
        signer = signing_key(signing_key_file)
    except DomainError as exc:
        _domain(lang, exc)

    async def work(url: str) -> str | None:
        async with await EventStore.connect(url, max_size=2) as store:
            if case is not None:
                if not await store.version(case):
                    return _say(lang, f"không có hồ sơ {case}", f"no such case: {case}")
                streams, scope = [case], {"case": case}
            else:
                streams = [s.stream for s in await store.streams(f"conversion:{plan}:")]
                if not streams:
                    return _say(lang, f"kế hoạch {plan} chưa có hồ sơ nào",
                                f"plan {plan} has no cases")
                scope = {"plan": str(plan)}
            sink: IO[str] = out.open("x", encoding="utf-8", newline="") \
                if out is not None else sys.stdout
            try:
                if fmt == "csv":
                    sink.write(exports.csv_header())
                async for record in exports.export(store, streams, signer, datetime.now(UTC),
                                                   scope):
                    sink.write(exports.csv_row(record) if fmt == "csv"
                               else exports.jsonl(record))
            finally:
                if out is not None:
                    sink.close()
            return None

    problem = _run(database_url, work, data_dir)
    if problem is not None:
        fail(problem)
    if out is not None:
        typer.echo(_say(lang, f"đã xuất vào {out}", f"exported to {out}"), err=True)


# -- replay ------------------------------------------------------------------------------------

VN_TIME = timezone(timedelta(hours=7), "ICT")  # Asia/Ho_Chi_Minh: no daylight saving


def _local(value: datetime | None) -> str:
    return "-" if value is None else value.astimezone(VN_TIME).strftime("%d/%m/%Y %H:%M")


def _instant(text: str, lang: Lang) -> datetime:
    """An ISO 8601 instant; without a time zone, Viet Nam's time; a date alone, its end."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        fail(_say(lang, f"--at {text!r} không phải thời điểm ISO 8601 (ví dụ "
                        "2025-06-30T17:00 hoặc 2025-06-30T10:00:00Z)",
                  f"--at {text!r} is not an ISO 8601 instant (e.g. 2025-06-30T17:00 or "
                  "2025-06-30T10:00:00Z)"))
    if len(text.strip()) == 10:  # a day: as it stood at that day's end
        value = value + timedelta(days=1, microseconds=-1)
    return value if value.tzinfo is not None else value.replace(tzinfo=VN_TIME)


async def _plan_of(store: EventStore, plan_id: str) -> Plan:
    """The plan's newest stored version, or the catalogue's (names, titles and deadlines; the
    chain's levels come from the events): what names a replay when the version the case ran
    on is not stored (``service.replay``)."""
    import catalog

    versions = PlanVersions(store.pool)
    latest = await versions.latest(plan_id)
    if latest is not None:
        document = await versions.document(plan_id, latest.content_hash)
        if document is not None:
            return catalog.resolve(Plan.model_validate(json.loads(document)))
    return catalog.get_plan(plan_id)


@app.command("replay")
def replay_cmd(
    case: Annotated[str, typer.Argument(help="Mã hồ sơ (luồng sự kiện) / the case (its "
                                             "stream), conversion:PLAN:COMMUNE")],
    at: Annotated[str | None, typer.Option(
        "--at", help="Thời điểm ISO 8601; không có múi giờ: giờ Việt Nam / an ISO 8601 "
                     "instant; without a zone, Viet Nam's time")] = None,
    as_json: AsJson = False, database_url: DatabaseUrl = None, data_dir: DataDir = None,
    lang: LangOption = Lang.vi,
) -> None:
    """Tái hiện hồ sơ tại một thời điểm / the case as it stood at an instant, its timeline."""
    instant = _instant(at, lang) if at is not None else None
    kind, _, rest = case.partition(":")
    plan_id = rest.partition(":")[0]
    if kind != "conversion" or not plan_id:
        fail(_say(lang, f"{case!r} không phải mã hồ sơ (conversion:KẾ-HOẠCH:MÃ-XÃ)",
                  f"{case!r} is not a case id (conversion:PLAN:COMMUNE)"))

    async def work(url: str) -> Replayed | str:
        async with await EventStore.connect(url, max_size=2) as store:
            try:
                events = await store.read(case)
            except StreamNotFoundError:
                return _say(lang, f"không có hồ sơ {case}", f"no such case: {case}")
            try:
                plan = await _plan_of(store, plan_id)
                return await replay_on_its_plan(PlanVersions(store.pool), plan, events,
                                                instant)
            except DomainError as exc:
                return f"{exc.text(lang)} [{exc.code}]"

    result = _run(database_url, work, data_dir)
    if isinstance(result, str):
        fail(result)
    if as_json:
        typer.echo(json.dumps({"case": case, **dataclasses.asdict(result.case),
                               "named_by": result.named_by}, default=_iso,
                              ensure_ascii=False))
        return
    for line in _replay_lines(case, result.case, lang, result.named_by):
        typer.echo(line)


def _iso(value: object) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def _plan_version_line(r: CaseAt, lang: Lang, named_by: str) -> str:
    """The plan version (content hash) the case runs on, the one it opened under, whether its
    amendments follow from it, and the version whose names the replay shows when another."""
    head = _say(lang, "Phiên bản kế hoạch", "Plan version") + ": "
    named = "" if named_by == r.plan_hash else _say(
        lang, f" · tên gọi theo phiên bản {named_by[:16]}", f" · named as in version "
        f"{named_by[:16]}")
    if r.plan_hash is None:
        return head + _say(lang, "không được ghi khi mở hồ sơ",
                           "not recorded at the opening") + named
    line = head + r.plan_hash[:16]
    if r.plan_at_opening and r.plan_at_opening != r.plan_hash:
        line += _say(lang, f" (mở hồ sơ theo {r.plan_at_opening[:16]})",
                     f" (opened under {r.plan_at_opening[:16]})")
    if r.plan_versions_follow is False:
        line += _say(lang, " · CẢNH BÁO: có văn bản sửa đổi không xuất phát từ phiên bản hồ sơ "
                           "đang áp dụng", " · WARNING: an amendment did not start from the "
                           "version the case was on")
    elif r.plan_versions_follow is None:
        line += _say(lang, " (phiên bản khi mở hồ sơ không được ghi)",
                     " (the opening's version was not recorded)")
    return line + named


def _replay_lines(case: str, r: CaseAt, lang: Lang, named_by: str) -> list[str]:
    code: PageLang = "vi" if lang == "vi" else "en"
    when = _local(r.at) if r.at is not None else _say(lang, "hiện tại", "now")
    lines = [_say(lang, f"Hồ sơ {case} tại {when} (giờ Việt Nam): {r.version}/{r.total} "
                        "sự kiện",
                  f"Case {case} at {when} (Viet Nam time): {r.version} of {r.total} events")]
    if not r.version:
        lines.append(_say(lang, "Chưa có gì được ghi nhận vào thời điểm này.",
                          "Nothing was recorded yet at that instant."))
        return lines
    state = labels.state(r.outcome or r.status, code)
    lines.append(_say(lang, "Trạng thái", "Status") + f": {state}" +
                 (f" · {_say(lang, 'giai đoạn', 'phase')} {r.phase}" if r.phase else ""))
    if r.reasons:
        lines.append(_say(lang, "Lý do", "Reasons") + ": " + "; ".join(r.reasons))
    lines.append(_plan_version_line(r, lang, named_by))
    lines.append(_say(lang, "Phân loại", "Classification") + ": " +
                 labels.state(r.classification, code) +
                 (f" ({'; '.join(r.classification_reasons)})" if r.classification_reasons
                  else ""))
    if r.metrics is not None:
        values = ", ".join(f"{k}={v}" for k, v in r.metrics.items())
        lines.append(_say(lang, "Số liệu nộp gần nhất", "Last metrics") +
                     f" ({r.metrics_purpose}, {_local(r.metrics_at)}): {values}")
    if r.criteria_met is not None:
        lines.append(_say(lang, "Tiêu chí", "Criteria") + ": " +
                     (_say(lang, "đạt", "met") if r.criteria_met else
                      _say(lang, "chưa đạt", "not met")))
    lines.append(_say(lang, "Quá hạn", "Deadlines missed") + ": " +
                 (", ".join(r.missed) if r.missed else "-"))
    if r.rounds:
        pending = r.pending_level or "-"
        lines.append(_say(lang, f"Xét duyệt công nhận: lần {r.round}, cấp đang chờ {pending}",
                          f"Recognition: round {r.round}, pending level {pending}"))
        for rd in r.rounds:
            lines.append("  " + _say(lang, f"lần {rd.round}", f"round {rd.round}") +
                         f" ({_local(rd.submitted_at)}):")
            for level, signed in rd.signed.items():
                who = ", ".join(f"{s.person} ({labels.role(s.role, code)}) {_local(s.at)}" +
                                (f" {_say(lang, 'thay', 'for')} {s.on_behalf_of}"
                                 if s.on_behalf_of else "") for s in signed)
                passed = f" · {_say(lang, 'thông qua', 'approved')} " \
                    f"{_local(rd.approved[level])}" if level in rd.approved else ""
                lines.append(f"    {level}: {who}{passed}")
            if rd.rejected is not None:
                x = rd.rejected
                lines.append("    " + _say(lang, "trả lại tại", "returned at") +
                             f" {x.level}: {x.by} ({labels.role(x.role, code)}) {_local(x.at)}:"
                             f" {x.reason}")
    lines.append(_say(lang, "Diễn biến", "Timeline") + ":")
    marks = {"on_time": _say(lang, "đúng hạn", "on time"), "late": _say(lang, "trễ hạn", "late"),
             "missed": _say(lang, "quá hạn", "missed")}
    for t in r.timeline:
        who = f"{t.actor} ({labels.role(t.role, code)})" if t.role else t.actor or "-"
        where = f" [{t.jurisdiction}]" if t.jurisdiction else ""
        mark = f" [{marks[t.timing]}]" if t.timing else ""
        details = f": {t.details}" if t.details else ""
        lines.append(f"  {t.version:>4} {_local(t.at)}  {who}{where}  "
                     f"{labels.event(t.type, code)}{mark}{details}")
    return lines


# -- the hourly checkpoint schedule --------------------------------------------------------------


@app.command("schedule")
def schedule_cmd(
    every: Annotated[int, typer.Option("--every-minutes", min=5, max=24 * 60,
                                       help="Chu kỳ (phút) / how often, in minutes")] = 60,
    task_queue: Annotated[str, typer.Option("--task-queue", envvar="DRUGFREE_TASK_QUEUE",
                                            help="Hàng đợi của worker / the workers' queue")]
    = "drugfree",
    temporal_address: TemporalAddress = None, lang: LangOption = Lang.vi,
) -> None:
    """Lịch lấy mốc kiểm toán định kỳ / keep the Temporal schedule that takes a signed
    checkpoint every N minutes (the workers need DRUGFREE_CHECKPOINT_KEY and
    DRUGFREE_CHECKPOINT_DIR or DRUGFREE_CHECKPOINT_WEBHOOK)."""
    from temporalio.service import RPCError

    from runtime.schedules import ensure_checkpoint_schedule
    from runtime.temporal import connect

    address = _temporal(temporal_address, lang)

    async def work() -> bool:
        try:
            client = await connect(address)
            return await ensure_checkpoint_schedule(client, task_queue,
                                                    timedelta(minutes=every))
        except (RPCError, RuntimeError) as exc:
            _rpc_failure(lang, exc)

    created = asyncio.run(work())
    typer.echo(_say(lang, f"{'đã tạo' if created else 'đã cập nhật'} lịch mốc kiểm toán: "
                          f"mỗi {every} phút",
                    f"checkpoint schedule {'created' if created else 'updated'}: every "
                    f"{every} minutes"))
