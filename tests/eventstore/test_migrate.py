"""Migrations: applied once, in order, even by processes starting together; edits refused."""

from __future__ import annotations

import asyncio
import importlib
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
import pytest_asyncio

from eventstore import MigrationError, migrate
from eventstore.migrate import Migration, migrations
from eventstore.urls import with_database

# The package exports the function ``migrate``, which hides the module of the same name.
migrate_module = importlib.import_module("eventstore.migrate")


@pytest_asyncio.fixture(loop_scope="session")
async def empty_database(database_url: str) -> AsyncIterator[str]:
    name = f"drugfree_empty_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(database_url)
    await conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_database(database_url, name)
    finally:
        await conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await conn.close()


async def _applied(url: str) -> list[str]:
    conn = await asyncpg.connect(url)
    try:
        return [r[0] for r in await conn.fetch(
            "SELECT version FROM schema_migrations ORDER BY version")]
    finally:
        await conn.close()


def test_migrations_are_numbered_and_start_with_the_event_log() -> None:
    found = migrations()
    assert [m.version for m in found] == sorted({m.version for m in found})
    assert found[0].version == "0001" and "CREATE TABLE events" in found[0].sql


async def test_two_processes_migrating_at_once_apply_each_migration_once(
        empty_database: str) -> None:
    first, second = await asyncio.gather(migrate(empty_database), migrate(empty_database))
    every = [m.version for m in migrations()]
    assert sorted(first + second) == every  # one did the work, the other found it done
    assert await _applied(empty_database) == every
    assert await migrate(empty_database) == []


async def test_an_applied_migration_that_was_edited_is_refused(empty_database: str) -> None:
    await migrate(empty_database)
    conn = await asyncpg.connect(empty_database)
    try:
        await conn.execute("UPDATE schema_migrations SET checksum = 'edited' "
                           "WHERE version = '0001'")
    finally:
        await conn.close()
    with pytest.raises(MigrationError, match="0001_events was edited"):
        await migrate(empty_database)


async def test_a_failing_migration_leaves_nothing_behind(
        empty_database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = Migration("9999", "broken", "CREATE TABLE half_done (x int); SELECT 1/0;")
    monkeypatch.setattr(migrate_module, "migrations", lambda: [*migrations(), bad])
    with pytest.raises(MigrationError, match="9999_broken failed: division by zero"):
        await migrate(empty_database)
    conn = await asyncpg.connect(empty_database)
    try:
        assert await conn.fetchval("SELECT to_regclass('half_done')") is None
        assert await conn.fetchval("SELECT to_regclass('events')") is not None
    finally:
        await conn.close()
    assert "9999" not in await _applied(empty_database)
