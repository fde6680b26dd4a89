"""``drugfree dispatcher`` and ``drugfree settings``: the operator's processes and knobs.

The dispatcher (bộ gửi thông báo) delivers the notification outbox and keeps the read model
(inbox, case lists) up to date, apart from the workers: it needs only the event store as the
application role, never Temporal or the payload keys, so it scales and restarts on its own.
Replicas never double-send (rows are claimed ``FOR UPDATE SKIP LOCKED``) and the projector
writes under an advisory lock. Workers then run with ``DRUGFREE_WORKER_DISPATCH=false``.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from cli.errors import fail
from runtime.signals import stop_on_signals


def dispatcher_cmd() -> None:
    """Gửi thông báo và cập nhật mô hình đọc / deliver notifications and update the read model
    (DATABASE_URL as drugfree_app, DRUGFREE_SMTP_*, DRUGFREE_WEBHOOK_*), until SIGTERM."""
    from eventstore.errors import EventStoreError
    from runtime.settings import SettingsError, load

    try:
        cfg = load()
    except SettingsError as exc:
        fail(str(exc))
    if cfg.database_url is None:
        fail("cần DATABASE_URL (vai trò drugfree_app) / DATABASE_URL is required "
             "(the drugfree_app role)")
    url = cfg.database_url.get_secret_value()

    async def run() -> None:
        from activities.persist import require_app_role
        from eventstore.projector import Projector
        from eventstore.store import EventStore
        from notify.channels import channels_from_settings
        from notify.dispatcher import Dispatcher
        from runtime import logs, metrics, ops
        from runtime.telemetry import setup_tracing

        logs.configure(cfg.log_level)
        setup_tracing("drugfree-dispatcher")
        stop = stop_on_signals()
        async with await EventStore.connect(url) as store:
            await require_app_role(store)
            dispatcher = Dispatcher(store.pool, channels_from_settings(cfg),
                                    lang=cfg.notify_lang, max_delay=cfg.notify_max_delay,
                                    lease=cfg.notify_lease)
            projector = Projector(store)
            async with ops.operations(cfg, {"database": lambda: ops.ping(store.pool)},
                                      collect=lambda: metrics.refresh_gauges(store.pool)):
                logs.log.info("dispatcher.started")
                await asyncio.gather(dispatcher.run(stop), projector.run(stop))
                logs.log.info("dispatcher.stopped")

    try:
        asyncio.run(run())
    except EventStoreError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"không khởi động được / cannot start: {exc.strerror or exc}")


def settings_cmd(
    markdown: Annotated[bool, typer.Option(
        "--markdown", help="Bảng mọi thiết lập (README) / the table of every setting")] = False,
) -> None:
    """Các thiết lập đang dùng (che bí mật) / the settings in effect, secrets masked; exit 2
    naming each invalid variable."""
    from runtime.settings import SettingsError, effective, load, markdown_table

    if markdown:
        typer.echo(markdown_table(), nl=False)
        return
    try:
        cfg = load()
    except SettingsError as exc:
        fail(str(exc))
    shown = effective(cfg)
    if not shown:
        typer.echo("(không đặt biến nào: mọi thiết lập theo mặc định / nothing set: every "
                   "setting at its default; `drugfree settings --markdown` lists them)")
    for name, value in shown:
        typer.echo(f"{name}={value}")
