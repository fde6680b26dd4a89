"""``drugfree db``: migrate the event store, rebuild its read model, verify its hash chains.

Connects with ``DATABASE_URL`` (or ``--database-url``) as the database owner, or with
``--data-dir DIR`` starts the embedded PostgreSQL on the directory a ``drugfree demo
--data-dir DIR`` kept (and stops it afterwards). Errors print one line and exit 2; ``verify``
exits 1 when a chain is broken.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import asyncpg
import typer

from cli.datadir import cluster_of
from cli.errors import fail, payload_key_failure
from eventstore import EventStore, EventStoreError, Projector, migrate
from eventstore.embedded import embedded_server
from runtime.codec import PayloadKeyError

EXIT_BROKEN = 1

app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Event store: migrate, verify, rebuild projections.")

DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", envvar="DATABASE_URL", show_envvar=True,
                 help="PostgreSQL URL of the database owner."),
]

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", file_okay=False,
                 help="The directory of `drugfree demo --data-dir`: start the embedded "
                      "PostgreSQL on it for this command (wins over DATABASE_URL)."),
]

T = TypeVar("T")


def _run(url: str | None, work: Callable[[str], Coroutine[Any, Any, T]],
         data_dir: Path | None = None) -> T:
    """Run ``work(url)`` (on the embedded server of ``data_dir`` when given); turn every
    expected failure into one line and exit 2."""
    if data_dir is not None:
        cluster = cluster_of(data_dir)
        try:
            with embedded_server(cluster) as embedded:
                return _run(embedded, work)
        except (subprocess.SubprocessError, OSError) as err:
            fail(f"không khởi động được PostgreSQL trên {cluster} / cannot start PostgreSQL on "
                 f"{cluster}: {err}")
    if not url:
        fail("chưa đặt DATABASE_URL (hoặc dùng --database-url, hoặc --data-dir DIR cho thư mục "
             "của một bản demo) / DATABASE_URL is not set (or pass --database-url, or "
             "--data-dir DIR for a demo's directory)")
    try:
        return asyncio.run(work(url))
    except EventStoreError as err:
        fail(str(err))
    except (asyncpg.PostgresError, asyncpg.InterfaceError) as err:
        fail(f"cơ sở dữ liệu / database: {err}")
    except PayloadKeyError as exc:
        payload_key_failure(exc)
    except (OSError, ValueError) as err:  # unreachable server, malformed URL
        fail(f"không kết nối được / cannot connect: {err}")


@app.command("migrate")
def migrate_cmd(database_url: DatabaseUrl = None, data_dir: DataDir = None) -> None:
    """Apply pending migrations (safe to run from several processes at once)."""
    applied = _run(database_url, migrate, data_dir)
    typer.echo(f"applied {', '.join(applied)}" if applied else "up to date")


@app.command("rebuild-projections")
def rebuild_cmd(database_url: DatabaseUrl = None, data_dir: DataDir = None) -> None:
    """Recompute the case-status read model from the events."""

    async def rebuild(url: str) -> int:
        async with await EventStore.connect(url, max_size=2) as store:
            return await Projector(store).rebuild()

    rows = _run(database_url, rebuild, data_dir)
    typer.echo(f"rebuilt case_status: {rows} cases")


@app.command("verify")
def verify_cmd(
    stream: Annotated[str | None, typer.Argument(help="One stream; all when omitted.")] = None,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
    deep: Annotated[bool, typer.Option(
        "--deep", help="Also compare each event's jsonb copy with its hashed bytes "
                       "(slower).")] = False,
) -> None:
    """Re-derive every hash and link; exit 1 and name the first broken row if any."""

    async def verify(url: str) -> tuple[int, int, str | None]:
        async with await EventStore.connect(url, max_size=2) as store:
            report = await store.verify(stream, deep=deep)
        return report.events, report.streams, str(report.broken) if report.broken else None

    events, streams, broken = _run(database_url, verify, data_dir)
    if broken:
        _broken(broken)
    typer.echo(f"ok: {events} events in {streams} streams, every link verified")


def _broken(description: str) -> NoReturn:
    typer.echo(f"broken: {description}", err=True)
    raise typer.Exit(EXIT_BROKEN)


@app.command("prune-uploads")
def prune_uploads_cmd(
    older_than_days: Annotated[int, typer.Option(
        "--older-than-days", min=1, max=3650,
        help="Grace period: only uploads older than this many days (a submission may still "
             "be on its way with a newer one).")] = 7,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Count what would be removed; remove nothing.")] = False,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Xóa tệp tải lên không được nộp / remove uploaded files no submission names (a form
    abandoned, a submission refused), as the owner; events are never touched."""
    from datetime import UTC, datetime, timedelta

    from eventstore.attachments import prune

    before = datetime.now(UTC) - timedelta(days=older_than_days)
    done = _run(database_url, lambda url: prune(url, before, dry_run), data_dir)
    mib = done.bytes / 1_048_576
    verb = ("sẽ xóa", "would remove") if dry_run else ("đã xóa", "removed")
    typer.echo(f"{verb[0]} {done.links} tệp tải lên không được nộp (quá {older_than_days} "
               f"ngày), {done.files} tệp lưu trữ, {mib:.1f} MiB / {verb[1]} {done.links} "
               f"uploads no submission names (older than {older_than_days} days), "
               f"{done.files} stored files, {mib:.1f} MiB")
