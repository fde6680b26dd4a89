"""The operations port of a long-running process (cổng vận hành): ``/metrics``, ``/livez``,
``/readyz``, on an address of its own (``DRUGFREE_METRICS_HOST``/``_PORT``), never on the
API's public one.

``/metrics`` is the product's registry (runtime/metrics.py, gauges refreshed from PostgreSQL
on each scrape) followed by the Temporal SDK's own series, which the SDK core serves on a
loopback port (``DRUGFREE_SDK_METRICS_PORT``): one scrape target per process. ``/livez`` says
the process's event loop answers; ``/readyz`` that its dependencies do: 200
``{"status": "ok", "checked": [...]}``, or 503 ``{"status": "unavailable", "failed": [...]}``
naming which one failed, by kind only. A failure whose cause we know adds ``reasons`` (the
dependency's reason code) and ``message`` (both languages): while the database's disk is full
(eventstore/disk.py), ``"failed": ["database"], "reasons": {"database": "disk_full"},
"message": "cơ sở dữ liệu hết dung lượng đĩa / database: disk full"``, although ``SELECT 1``
still answers.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import asyncpg
import httpx
from prometheus_client import CONTENT_TYPE_LATEST, GCCollector, ProcessCollector, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from eventstore import disk
from runtime import metrics
from runtime.logs import log
from runtime.settings import Settings

ProcessCollector(registry=metrics.REGISTRY)  # memory and CPU of the process, for sizing
GCCollector(registry=metrics.REGISTRY)

Check = Callable[[], Awaitable[object]]
TIMEOUT = 5.0


def ops_app(ready: dict[str, Check] | None = None, collect: Check | None = None,
            sdk_metrics_url: str | None = None) -> Starlette:
    """``ready``: named checks, each raising when its dependency is down; ``collect``: refresh
    the gauges before a scrape; ``sdk_metrics_url``: the SDK core's Prometheus endpoint."""
    checks = ready or {}

    async def scrape(_: Request) -> Response:
        if collect is not None:
            try:
                async with asyncio.timeout(TIMEOUT):
                    await collect()
            except Exception as exc:  # noqa: BLE001 - a scrape still shows the counters
                log.warning("metrics.refresh_failed", error=type(exc).__name__)
        body = generate_latest(metrics.REGISTRY)
        if sdk_metrics_url:
            try:
                async with httpx.AsyncClient(timeout=TIMEOUT) as client:
                    answer = await client.get(sdk_metrics_url)
                body += b"\n" + answer.content
            except httpx.HTTPError as exc:
                log.warning("metrics.sdk_unreachable", error=type(exc).__name__)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    async def livez(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> JSONResponse:
        failed: list[str] = []
        reasons: dict[str, str] = {}
        messages: list[str] = []
        for name, check in checks.items():
            try:
                async with asyncio.timeout(TIMEOUT):
                    await check()
            except Exception as exc:  # noqa: BLE001 - any failure means not ready
                failed.append(name)
                log.warning("ops.not_ready", dependency=name, error=type(exc).__name__)
                if isinstance(exc, disk.DiskFull):  # our own text: a driver's could quote data
                    reasons[name] = exc.reason
                    messages.append(str(exc))
        if failed:
            answer: dict[str, object] = {"status": "unavailable", "failed": failed}
            if reasons:
                answer |= {"reasons": reasons, "message": "; ".join(messages)}
            return JSONResponse(answer, status_code=503)
        return JSONResponse({"status": "ok", "checked": sorted(checks)})

    return Starlette(routes=[Route("/metrics", scrape), Route("/livez", livez),
                             Route("/readyz", readyz)])


def sdk_metrics_address(cfg: Settings) -> str | None:
    """Where the SDK core should serve its metrics for this process, if anywhere."""
    if not (cfg.metrics_port and cfg.sdk_metrics_port):
        return None
    return f"127.0.0.1:{cfg.sdk_metrics_port}"


@asynccontextmanager
async def operations(cfg: Settings, ready: dict[str, Check], collect: Check | None = None,
                     sdk: bool = False) -> AsyncIterator[str | None]:
    """Serve the operations port for the block (none when ``DRUGFREE_METRICS_PORT=0``);
    yields its URL. ``sdk``: this process enabled the SDK's metrics (merge them)."""
    from runtime.stack import serving

    if not cfg.metrics_port:
        yield None
        return
    address = sdk_metrics_address(cfg) if sdk else None
    app = ops_app(ready, collect, f"http://{address}/metrics" if address else None)
    async with serving(app, cfg.metrics_host, cfg.metrics_port):
        url = f"http://{cfg.metrics_host}:{cfg.metrics_port}"
        log.info("ops.started", url=url)
        yield url


async def ping(pool: asyncpg.Pool) -> None:
    """The database answers and takes this process's writes (a readiness check): a full disk
    (``eventstore.disk.DiskFull``) first, as ``SELECT 1`` still answers then."""
    disk.check()
    await pool.fetchval("SELECT 1")
