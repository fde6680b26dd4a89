"""``drugfree dev``: run the local stack until Ctrl-C (runtime/stack.py)."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path
from typing import Annotated

import typer

from cli.errors import fail
from runtime.signals import stop_on_signals


def dev_cmd(
    data: Annotated[Path, typer.Option("--dir", file_okay=False,
                                       help="Thư mục dữ liệu và khóa / data and keys "
                                            "directory")] = Path("var/dev"),
    api_port: Annotated[int, typer.Option("--api-port", min=1, max=65535,
                                          help="Cổng API / API port")] = 8000,
    temporal_port: Annotated[int, typer.Option("--temporal-port", min=1, max=65535,
                                               help="Cổng Temporal / Temporal port")] = 7233,
    ui_port: Annotated[int, typer.Option("--ui-port", min=1, max=65535,
                                         help="Cổng Temporal Web UI / its port")] = 8233,
    codec_port: Annotated[int, typer.Option(
        "--codec-port", min=0, max=65535,
        help="Cổng máy chủ giải mã cho người vận hành (0: không chạy) / the codec server's "
             "port, for operators (0: none)")] = 8081,
    rehearse: Annotated[float | None, typer.Option(
        "--rehearse", metavar="SECONDS_PER_DAY", show_default=False,
        help="Diễn tập: hồ sơ, chiến dịch mới chạy theo lịch rút gọn, mỗi ngày kế hoạch dài "
             "bấy nhiêu giây, bắt đầu sau vài giây (mặc định: ngày thật) / rehearsal: new cases "
             "and campaigns run on a compressed calendar, one plan day lasting this many "
             "seconds, starting a few seconds later (default: the plans' real dates)")] = None,
) -> None:
    """Chạy toàn bộ hệ thống tại máy đến khi Ctrl-C / run the whole local stack until Ctrl-C:
    Temporal (dev server), PostgreSQL, worker, notifier and the HTTP API; data kept in --dir."""
    from runtime import logs
    from runtime.stack import describe, running_stack, write_tokens

    if rehearse is not None and not (math.isfinite(rehearse) and rehearse > 0):
        fail(f"--rehearse: số giây mỗi ngày phải dương / seconds per day must be positive, "
             f"not {rehearse}")

    logs.configure("WARNING")

    async def run() -> None:
        stop = stop_on_signals()
        async with running_stack(data.resolve(), api_port=api_port,
                                 temporal_port=temporal_port, ui_port=ui_port,
                                 rehearsal=rehearse, codec_port=codec_port) as info:
            tokens = write_tokens(info, data)
            for line in describe(info, data.resolve()):
                typer.echo(line)
            typer.echo(f"  (thẻ cũng ở / tokens also in: source {tokens})", err=False)
            await stop.wait()
            typer.echo("drugfree dev: đang dừng / stopping", err=True)
        typer.echo("drugfree dev: đã dừng / stopped", err=True)

    try:
        asyncio.run(run())
    except OSError as exc:  # a port taken, a directory not writable
        fail(f"không khởi động được / cannot start: {exc.strerror or exc}")
