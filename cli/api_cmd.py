"""``drugfree api``: the HTTP API alone, against a Temporal service and a PostgreSQL that run
elsewhere (production), configured from the environment (runtime/frontdoor.py)."""

from __future__ import annotations

import asyncio
import os
from typing import Annotated

import typer

from cli.errors import fail
from runtime.signals import stop_on_signals


def api_cmd(
    host: Annotated[str, typer.Option("--host", help="Địa chỉ lắng nghe / listen address")] =
    "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Cổng / port")] = 8000,
    rehearse: Annotated[float | None, typer.Option(
        "--rehearse", min=0.001, max=86400.0,
        help="Diễn tập: 1 ngày kế hoạch = S giây (worker cần DRUGFREE_REHEARSAL_CLOCKS=1) / "
             "rehearsal: one plan day lasts S seconds (workers need "
             "DRUGFREE_REHEARSAL_CLOCKS=1)")] = None,
) -> None:
    """Chạy API HTTP / serve the HTTP API (TEMPORAL_ADDRESS, DATABASE_URL as drugfree_app,
    DRUGFREE_TOKEN_KEYS or DRUGFREE_TOKEN_JWKS_URL, DRUGFREE_FRONT_DOOR_KEY). For everything
    on one machine, use `drugfree dev`. ``--rehearse S``: new cases and campaigns run on a
    compressed calendar (a training province, the fault suite), as ``drugfree dev`` does."""
    from runtime.codec import PayloadKeyError, codec_from_env
    from runtime.frontdoor import FrontDoorConfig
    from runtime.settings import SettingsError, load
    from runtime.trust import TrustError

    address, db_url = os.environ.get("TEMPORAL_ADDRESS"), os.environ.get("DATABASE_URL")
    if not address or not db_url:
        fail("cần TEMPORAL_ADDRESS và DATABASE_URL (hoặc dùng `drugfree dev`) / "
             "TEMPORAL_ADDRESS and DATABASE_URL are required (or use `drugfree dev`)")
    try:
        cfg = load()
    except SettingsError as exc:
        fail(str(exc))
    try:
        door = FrontDoorConfig.from_env()
        codec_from_env()  # encryption is the default: no key, no API (PayloadKeyError)
    except (TrustError, PayloadKeyError) as exc:
        fail(f"{exc.text('vi')} / {exc.message}")

    async def run() -> None:
        from api.app import create_app
        from domain.clock import PlanClock
        from domain.plan import Plan
        from eventstore.store import EventStore
        from runtime import logs, metrics, ops
        from runtime.stack import TASK_QUEUE, rehearsal_clock, serving
        from runtime.telemetry import instrument_app, setup_tracing
        from runtime.temporal import connect, enable_sdk_metrics
        from service import CaseService
        from service.access import Authenticator

        logs.configure(cfg.log_level)
        setup_tracing("drugfree-api")
        stop = stop_on_signals()
        if sdk := ops.sdk_metrics_address(cfg):
            enable_sdk_metrics(sdk)
        # traced: the request's trace continues into the workflow and its activities
        client = await connect(address, tracing=True)
        async with await EventStore.connect(db_url) as store:
            service = CaseService(client, cfg.task_queue or TASK_QUEUE, store,
                                  signer=door.signer, local_appends=cfg.local_appends)

            async def ready() -> None:
                await client.service_client.check_health()
                await store.pool.fetchval("SELECT 1")

            def clock_for(_: Plan) -> PlanClock:
                return PlanClock() if rehearse is None else rehearsal_clock(rehearse)

            app = instrument_app(create_app(service, Authenticator(door.tokens, door.issuer),
                                            ready=ready, clock_for=clock_for))
            async with serving(app, host, port), \
                    ops.operations(cfg, {"temporal": client.service_client.check_health,
                                         "database": lambda: ops.ping(store.pool)},
                                   collect=lambda: metrics.refresh_gauges(store.pool),
                                   sdk=sdk is not None):
                if rehearse is not None:
                    logs.log.warning("api.rehearsal", seconds_per_plan_day=rehearse)
                logs.log.info("api.started", url=f"http://{host}:{port}")
                await stop.wait()

    try:
        asyncio.run(run())
    except OSError as exc:
        fail(f"không khởi động được / cannot start: {exc.strerror or exc}")
