"""``drugfree db``: migrate the event store, rebuild its read model, verify its hash chains.

Connects with ``DATABASE_URL`` (or ``--database-url``) as the database owner. Errors print
one line and exit 2; ``verify`` exits 1 when a chain is broken.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, NoReturn, TypeVar

import asyncpg
import typer

from cli.errors import fail
from eventstore import EventStore, EventStoreError, Projector, migrate

EXIT_BROKEN = 1

app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Event store: migrate, verify, rebuild projections.")

DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", envvar="DATABASE_URL", show_envvar=True,
                 help="PostgreSQL URL of the database owner."),
]

T = TypeVar("T")


def _run(url: str | None, work: Callable[[str], Coroutine[Any, Any, T]]) -> T:
    """Run ``work(url)``; turn every expected failure into one line and exit 2."""
    if not url:
        fail("DATABASE_URL is not set (or pass --database-url)")
    try:
        return asyncio.run(work(url))
    except EventStoreError as err:
        fail(str(err))
    except (asyncpg.PostgresError, asyncpg.InterfaceError) as err:
        fail(f"database: {err}")
    except (OSError, ValueError) as err:  # unreachable server, malformed URL
        fail(f"cannot connect: {err}")


@app.command("migrate")
def migrate_cmd(database_url: DatabaseUrl = None) -> None:
    """Apply pending migrations (safe to run from several processes at once)."""
    applied = _run(database_url, migrate)
    typer.echo(f"applied {', '.join(applied)}" if applied else "up to date")


@app.command("rebuild-projections")
def rebuild_cmd(database_url: DatabaseUrl = None) -> None:
    """Recompute the case-status read model from the events."""

    async def rebuild(url: str) -> int:
        async with await EventStore.connect(url, max_size=2) as store:
            return await Projector(store).rebuild()

    rows = _run(database_url, rebuild)
    typer.echo(f"rebuilt case_status: {rows} cases")


@app.command("verify")
def verify_cmd(
    stream: Annotated[str | None, typer.Argument(help="One stream; all when omitted.")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Re-derive every hash and link; exit 1 and name the first broken row if any."""

    async def verify(url: str) -> tuple[int, int, str | None]:
        async with await EventStore.connect(url, max_size=2) as store:
            report = await store.verify(stream)
        return report.events, report.streams, str(report.broken) if report.broken else None

    events, streams, broken = _run(database_url, verify)
    if broken:
        _broken(broken)
    typer.echo(f"ok: {events} events in {streams} streams, every link verified")


def _broken(description: str) -> NoReturn:
    typer.echo(f"broken: {description}", err=True)
    raise typer.Exit(EXIT_BROKEN)
