"""``drugfree codec-server``: Temporal's codec server protocol, so the Temporal Web UI shows
decrypted payloads to system operators only (runtime/codec_server.py), configured from the
environment: the payload keys (DRUGFREE_PAYLOAD_KEYS_FILE or DRUGFREE_PAYLOAD_KEY), the identity
token keys the API trusts (DRUGFREE_TOKEN_KEYS or DRUGFREE_TOKEN_JWKS_URL, DRUGFREE_TOKEN_ISSUER),
and DATABASE_URL, where every decode is recorded."""

from __future__ import annotations

import asyncio
import os
from typing import Annotated

import typer

from cli.errors import fail
from runtime.signals import stop_on_signals


def codec_server_cmd(
    host: Annotated[str, typer.Option("--host", help="Địa chỉ lắng nghe / listen address")] =
    "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Cổng / port")] = 8081,
    ui_origin: Annotated[str, typer.Option(
        "--ui-origin", help="Nguồn của Temporal Web UI được phép (CORS) / the Temporal Web UI's "
        "origin allowed by CORS")] = "http://localhost:8233",
) -> None:
    """Máy chủ giải mã cho Temporal Web UI, chỉ cho người vận hành / the codec server for the
    Temporal Web UI, operators only (every decode recorded when DATABASE_URL is set)."""
    from runtime.codec import PayloadKeyError, codec_from_env
    from runtime.frontdoor import token_issuer_from_env, token_ring_from_env
    from runtime.settings import load
    from runtime.trust import TrustError

    try:
        codec = codec_from_env()
    except PayloadKeyError as exc:
        fail(f"{exc.text('vi')} / {exc.message}")
    if codec is None:  # the plaintext opt-out: nothing to decode, and no key to decode with
        fail("cần khóa mã hóa dữ liệu: đặt DRUGFREE_PAYLOAD_KEYS_FILE hoặc DRUGFREE_PAYLOAD_KEY "
             "/ no payload keys: set DRUGFREE_PAYLOAD_KEYS_FILE or DRUGFREE_PAYLOAD_KEY")
    try:
        ring = token_ring_from_env()
    except TrustError as exc:
        fail(f"{exc.text('vi')} / {exc.message}")
    db_url = os.environ.get("DATABASE_URL")

    async def run() -> None:
        from contextlib import AsyncExitStack

        from eventstore.store import EventStore
        from runtime import logs
        from runtime.codec_server import create_codec_app
        from runtime.stack import serving
        from runtime.telemetry import setup_tracing
        from service.access import Authenticator
        from service.audit_reads import ReadLog

        logs.configure(os.environ.get("DRUGFREE_LOG_LEVEL", "INFO"))
        setup_tracing("drugfree-codec-server")
        stop = stop_on_signals()
        async with AsyncExitStack() as stack:
            store = None
            if db_url:
                store = await stack.enter_async_context(await EventStore.connect(db_url))
            else:
                logs.log.warning("codec_server.decodes_not_recorded", database_url="unset")
            app = create_codec_app(codec, Authenticator(ring, token_issuer_from_env()),
                                   ui_origin, ReadLog(store),
                                   namespace=load().temporal_namespace)
            async with serving(app, host, port):
                logs.log.info("codec_server.started", url=f"http://{host}:{port}",
                              ui_origin=ui_origin)
                await stop.wait()

    try:
        asyncio.run(run())
    except OSError as exc:
        fail(f"không khởi động được / cannot start: {exc.strerror or exc}")
