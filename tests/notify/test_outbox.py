"""The outbox: one row per notice and channel, written with the append, never twice."""

from __future__ import annotations

import json

import asyncpg
import pytest

from activities.contracts import Notice
from notify.outbox import enqueue

CHANNELS = ["log", "email", "webhook"]


def notices(case: str = "tra-vinh-2025/84010") -> list[Notice]:
    params = {"commune": "84010", "plan": "tra-vinh-2025"}
    return [Notice(template="selected", to_role="commune_ubnd", case_id=case, params=params),
            Notice(template="selected", to_role="district_ubnd", case_id=case, params=params)]


async def test_one_row_per_notice_and_channel(app_pool: asyncpg.Pool) -> None:
    async with app_pool.acquire() as conn:
        assert await enqueue(conn, notices(), "ev-1", CHANNELS) == 6
        rows = await conn.fetch("SELECT * FROM outbox ORDER BY id")
    assert [r["id"] for r in rows] == sorted(
        f"ev-1:{i}:{ch}" for i in range(2) for ch in CHANNELS)
    row = rows[0]
    assert (row["attempts"], row["delivered_at"], row["last_error"]) == (0, None, None)
    assert json.loads(row["params"]) == {"commune": "84010", "plan": "tra-vinh-2025"}
    assert row["next_attempt_at"] <= await app_pool.fetchval("SELECT now()")


async def test_a_retried_append_enqueues_nothing_new(app_pool: asyncpg.Pool) -> None:
    async with app_pool.acquire() as conn:
        assert await enqueue(conn, notices(), "ev-2", CHANNELS) == 6
        assert await enqueue(conn, notices(), "ev-2", CHANNELS) == 0
        assert await enqueue(conn, notices(), "ev-3", CHANNELS) == 6
    assert await app_pool.fetchval("SELECT count(*) FROM outbox") == 12


async def test_nothing_to_enqueue(app_pool: asyncpg.Pool) -> None:
    async with app_pool.acquire() as conn:
        assert await enqueue(conn, [], "ev-4", CHANNELS) == 0
        assert await enqueue(conn, notices(), "ev-4", []) == 0


async def test_rows_roll_back_with_the_transaction(app_pool: asyncpg.Pool) -> None:
    class Abort(Exception):
        pass

    async with app_pool.acquire() as conn:
        with pytest.raises(Abort):
            async with conn.transaction():
                await enqueue(conn, notices(), "ev-5", CHANNELS)
                raise Abort
    assert await app_pool.fetchval("SELECT count(*) FROM outbox") == 0


async def test_the_app_role_keeps_the_history(app_pool: asyncpg.Pool) -> None:
    async with app_pool.acquire() as conn:
        await enqueue(conn, notices(), "ev-6", ["log"])
        await conn.execute("UPDATE outbox SET attempts = 1")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("DELETE FROM outbox")
