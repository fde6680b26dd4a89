"""``drugfree db``: migrate, verify (exit 1 when broken), rebuild; one-line errors, exit 2."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest_asyncio
from typer.testing import CliRunner

from cli.db import app
from eventstore import EventStore
from eventstore.urls import with_database
from tests.conftest import Database
from tests.eventstore.conftest import event

runner = CliRunner()


async def db_cli(*args: str, url: str | None) -> Any:
    """Run the command in a thread, as a user would, with DATABASE_URL set or unset."""
    return await asyncio.to_thread(runner.invoke, app, list(args), env={"DATABASE_URL": url})


@pytest_asyncio.fixture(loop_scope="session")
async def empty_url(database_url: str) -> AsyncIterator[str]:
    name = f"drugfree_cli_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(database_url)
    await conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_database(database_url, name)
    finally:
        await conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await conn.close()


async def _two_cases(db: Database) -> None:
    async with await EventStore.connect(db.app_url) as store:
        await store.append("conversion:cli:1", 0, [event("case.opened", plan_id="p"), event()])
        await store.append("conversion:cli:2", 0, [event("case.opened", plan_id="p")])


async def test_migrate_applies_then_reports_up_to_date(empty_url: str) -> None:
    first = await db_cli("migrate", url=empty_url)
    assert first.exit_code == 0 and first.output.startswith("applied 0001, 0002")
    second = await db_cli("migrate", url=empty_url)
    assert (second.exit_code, second.output.strip()) == (0, "up to date")


async def test_verify_reports_ok_and_exits_0(fresh_database: Database) -> None:
    await _two_cases(fresh_database)
    result = await db_cli("verify", url=fresh_database.admin_url)
    assert result.exit_code == 0
    assert result.output.strip() == "ok: 3 events in 2 streams, every link verified"
    one = await db_cli("verify", "conversion:cli:1", url=fresh_database.admin_url)
    assert one.exit_code == 0 and "2 events in 1 streams" in one.output


async def test_verify_names_the_broken_row_and_exits_1(fresh_database: Database) -> None:
    await _two_cases(fresh_database)
    conn = await asyncpg.connect(fresh_database.admin_url)
    try:
        async with conn.transaction():
            await conn.execute("SET LOCAL session_replication_role = replica")
            await conn.execute("UPDATE events SET canonical = canonical || ' '::bytea "
                               "WHERE stream = 'conversion:cli:1' AND version = 2")
    finally:
        await conn.close()
    result = await db_cli("verify", url=fresh_database.admin_url)
    assert result.exit_code == 1
    assert "broken: stream 'conversion:cli:1' version 2 (position" in result.output
    assert "hash does not match" in result.output


async def test_rebuild_projections(fresh_database: Database) -> None:
    await _two_cases(fresh_database)
    result = await db_cli("rebuild-projections", url=fresh_database.admin_url)
    assert (result.exit_code, result.output.strip()) == (0, "rebuilt case_status: 2 cases")


async def test_errors_are_one_line_with_exit_2(fresh_database: Database,
                                               tmp_path: Any) -> None:
    cases = [
        (("verify", "conversion:none:1"), fresh_database.admin_url, "does not exist"),
        (("migrate",), None, "chưa đặt DATABASE_URL"),
        (("migrate",), None, "DATABASE_URL is not set"),
        (("verify",), f"postgresql://nobody@/x?host={tmp_path}", "không kết nối được"),
        (("verify",), "postgresql://nobody@/x?host=/nonexistent/dir", "cannot connect"),
        # --data-dir names a directory without a demo's PostgreSQL data: refused, nothing runs
        (("verify", "--data-dir", str(tmp_path)), None, "no PostgreSQL data here"),
    ]
    for args, url, message in cases:
        result = await db_cli(*args, url=url)
        assert result.exit_code == 2, (args, result.output)
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
        assert "Traceback" not in result.output
