"""The embedded default: a private throwaway PostgreSQL when DATABASE_URL is not set, or one
that keeps its data in a given directory."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import asyncpg
import pytest

from eventstore.embedded import database, holds_cluster


async def test_database_url_wins_when_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://app@db.example/drugfree")
    async with database() as url:
        assert url == "postgresql://app@db.example/drugfree"


async def test_embedded_server_runs_on_a_private_socket_and_is_removed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    async with database() as url:
        socket_dir = Path(parse_qs(urlsplit(url).query)["host"][0])
        assert socket_dir.is_dir() and not urlsplit(url).hostname  # no TCP listener
        conn = await asyncpg.connect(url)
        try:
            assert await conn.fetchval("SHOW fsync") == "on"
            assert await conn.fetchval("SHOW listen_addresses") == ""
        finally:
            await conn.close()
    assert not socket_dir.exists()
    with pytest.raises((OSError, asyncpg.PostgresError)):
        await asyncpg.connect(url, timeout=2)


async def test_embedded_server_keeps_its_data_dir_and_starts_again_on_it(
        tmp_path: Path) -> None:
    """``drugfree demo --data-dir``: the cluster stays in the directory after the server stops,
    and a later start on the same directory finds the data."""
    data_dir = tmp_path / "kept" / "postgres"
    async with database(data_dir) as url:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute("CREATE TABLE kept (v text); INSERT INTO kept VALUES ('ở đây')")
        finally:
            await conn.close()
    assert holds_cluster(data_dir)
    with pytest.raises((OSError, asyncpg.PostgresError)):
        await asyncpg.connect(url, timeout=2)  # stopped
    async with database(data_dir) as again:
        conn = await asyncpg.connect(again)
        try:
            assert await conn.fetchval("SELECT v FROM kept") == "ở đây"
        finally:
            await conn.close()
