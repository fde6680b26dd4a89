"""Issue 8: a worker holds only the application role's credentials and never migrates. It
refuses an unmigrated database, and the owner's (or a superuser's) URL, in one line."""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import asyncpg
import pytest
import pytest_asyncio
from temporalio.client import Client

from eventstore import EventStoreError, NotMigratedError
from eventstore.migrate import migrations
from eventstore.urls import app_url, with_database
from runtime.trust import Trust
from tests.conftest import Database
from tests.workflows.support import RELAY, SIGNER, trust_env
from worker import running_worker

ROOT = Path(__file__).resolve().parents[2]
NO_CLIENT = cast(Client, None)  # the database is checked before the client is ever used
TRUST = Trust.of(SIGNER, relay=RELAY)


@pytest_asyncio.fixture(loop_scope="session")
async def empty_database(database_url: str) -> AsyncIterator[str]:
    """The owner's URL of a database no migration has touched."""
    name = f"drugfree_empty_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
        yield with_database(database_url, name)
    finally:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


async def test_running_worker_refuses_an_unmigrated_database(empty_database: str) -> None:
    with pytest.raises(NotMigratedError, match="run `drugfree db migrate` first"):
        async with running_worker(NO_CLIENT, app_url(empty_database), trust=TRUST):
            pass
    # ... and did not migrate it either.
    conn = await asyncpg.connect(empty_database)
    try:
        assert await conn.fetchval("SELECT to_regclass('schema_migrations')") is None
    finally:
        await conn.close()


async def test_running_worker_refuses_the_owners_url(migrated_database: Database) -> None:
    with pytest.raises(EventStoreError, match="can write the events table directly"):
        async with running_worker(NO_CLIENT, migrated_database.admin_url, trust=TRUST):
            pass


async def test_the_worker_connects_as_the_application_role(
        migrated_database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    import activities.persist as persist
    from eventstore.store import EventStore

    urls: list[str] = []
    connect = EventStore.connect.__func__  # type: ignore[attr-defined]

    async def spy(cls: type[EventStore], url: str, **kwargs: Any) -> EventStore:
        urls.append(url)
        store: EventStore = await connect(cls, url, **kwargs)
        role = await store.pool.fetchval("SELECT current_user")
        assert role == "drugfree_app"
        return store

    monkeypatch.setattr(persist.EventStore, "connect", classmethod(spy))
    with pytest.raises(Exception):  # noqa: B017 - no Temporal client: fails after connecting
        async with running_worker(NO_CLIENT, migrated_database.app_url, trust=TRUST):
            pass
    assert urls == [migrated_database.app_url]


async def _worker_process(database_url: str, keys: bool = True) -> tuple[int, str]:
    # An address nothing listens on: the worker must stop before it ever reaches Temporal.
    env = {**os.environ, "DATABASE_URL": database_url, "TEMPORAL_ADDRESS": "127.0.0.1:9",
           **(trust_env(Path(tempfile.mkdtemp()), rehearsals=False) if keys else {})}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "worker.py"), cwd=ROOT, env=env,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, err.decode()


async def test_the_worker_process_refuses_an_unmigrated_database_in_one_line(
        empty_database: str) -> None:
    code, err = await _worker_process(app_url(empty_database))
    assert code == 2
    assert err.strip().splitlines() == [
        "worker.py: lỗi / error: the database is not migrated (missing "
        + ", ".join(m.version for m in migrations())
        + "): run `drugfree db migrate` first"]


async def test_the_worker_process_refuses_the_owners_url(migrated_database: Database) -> None:
    code, err = await _worker_process(migrated_database.admin_url)
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert "can write the events table directly" in err


async def test_the_worker_process_refuses_to_start_without_identity_keys(
        migrated_database: Database) -> None:
    """Trust comes from configuration: no keys, no worker (unless insecure on purpose)."""
    code, err = await _worker_process(migrated_database.app_url, keys=False)
    assert code == 2
    (line,) = err.strip().splitlines()
    assert "DRUGFREE_IDENTITY_KEYS" in line and "DRUGFREE_INSECURE_NO_IDENTITY" in line
    assert "thiếu khóa định danh" in line  # Vietnamese first
