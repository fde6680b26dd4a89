"""``drugfree audit``: prove the record was not altered (kiểm toán).

- ``audit key``: the verifier key of the checkpoint signing key (what auditors keep).
- ``audit checkpoint [--out FILE]``: a signed checkpoint of the whole event log (a C2SP
  signed note), to keep outside the database.
- ``audit verify [STREAM | --all] [--checkpoint FILE]``: every hash chain re-derived (exit 1
  naming the first broken event); with ``--checkpoint``, also a consistency proof from the
  kept checkpoint to today's log (exit 1 when the history was rewritten).
- ``audit prove CASE --event N --checkpoint FILE``: an inclusion proof of one event.

Connects like ``drugfree db`` (``DATABASE_URL`` / ``--database-url``, or ``--data-dir``).
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from cli.db import EXIT_BROKEN, DatabaseUrl, DataDir, _run
from cli.errors import fail
from cli.lang import Lang, LangOption
from domain.errors import DomainError
from eventstore import EventStore
from service.audit import Audit, signing_key, verifier_of

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
    database_url: DatabaseUrl = None, data_dir: DataDir = None, lang: LangOption = Lang.vi,
) -> None:
    """Kiểm tra chuỗi băm (và mốc kiểm toán) / verify hash chains (and a kept checkpoint):
    exit 0 when intact, 1 naming the first broken event."""
    note = _read_note(checkpoint, lang) if checkpoint is not None else None

    async def work(url: str) -> dict[str, Any]:
        async with await EventStore.connect(url, max_size=2) as store:
            report = await store.verify(stream)
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
    note = _read_note(checkpoint, lang)

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
