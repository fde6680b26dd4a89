"""``drugfree dev``: run the local stack until Ctrl-C (runtime/stack.py)."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Annotated

import typer

from cli.errors import fail


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
) -> None:
    """Chạy toàn bộ hệ thống tại máy đến khi Ctrl-C / run the whole local stack until Ctrl-C:
    Temporal (dev server), PostgreSQL, worker, notifier and the HTTP API; data kept in --dir."""
    from runtime import logs
    from runtime.stack import describe, running_stack, write_tokens

    logs.configure("WARNING")

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with running_stack(data.resolve(), api_port=api_port,
                                 temporal_port=temporal_port, ui_port=ui_port) as info:
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
