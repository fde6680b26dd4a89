"""The dispatcher delivers every outbox row once, retries failures with backoff, and keeps one
channel's trouble away from the others."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from datetime import timedelta

import asyncpg
import pytest

from activities.contracts import Notice
from notify.channels import EmailChannel, LogChannel, Message, WebhookChannel
from notify.dispatcher import Dispatcher
from notify.outbox import enqueue
from tests.notify.conftest import Mailbox, Webhook

SECRET = "webhook-secret"
PARAMS = {"commune": "84010", "plan": "tra-vinh-2025"}


def selected(n: int = 1) -> list[Notice]:
    return [Notice(template="selected", to_role="commune_ubnd", case_id=f"tra-vinh-2025/{i:05d}",
                   params={"commune": f"{i:05d}", "plan": "tra-vinh-2025"}) for i in range(n)]


class Recording:
    """A channel that records what it sends (also into ``shared``), and sets ``full``'s event
    once that many are sent; ``pause`` yields so dispatchers interleave."""

    def __init__(self, pause: float = 0.0, shared: list[str] | None = None,
                 full: tuple[int, asyncio.Event] | None = None) -> None:
        self.sent: list[str] = []
        self.shared, self.full, self.pause = shared, full, pause

    async def send(self, message: Message) -> None:
        await asyncio.sleep(self.pause)
        self.sent.append(message.id)
        if self.shared is not None:
            self.shared.append(message.id)
        if self.full and len(self.shared or self.sent) >= self.full[0]:
            self.full[1].set()


class Hanging:
    async def send(self, message: Message) -> None:
        await asyncio.Event().wait()


async def put(pool: asyncpg.Pool, notices: list[Notice], key: str, channels: list[str]) -> None:
    async with pool.acquire() as conn:
        await enqueue(conn, notices, key, channels)


async def row(pool: asyncpg.Pool, row_id: str) -> asyncpg.Record:
    return await pool.fetchrow(
        "SELECT attempts, delivered_at, last_error, next_attempt_at - now() AS wait "
        "FROM outbox WHERE id = $1", row_id)


async def wait_until_due(pool: asyncpg.Pool, row_id: str) -> None:
    wait = (await row(pool, row_id))["wait"]
    await asyncio.sleep(max(wait.total_seconds(), 0) + 0.05)


async def test_a_failing_webhook_is_retried_with_backoff_without_blocking_email_or_log(
    app_pool: asyncpg.Pool, smtp_server: Mailbox, webhook_server: Webhook
) -> None:
    channels = {
        "log": LogChannel(),
        "email": EmailChannel(smtp_server.host, smtp_server.port, "thongbao@drugfree.test",
                              "truc@drugfree.test"),
        "webhook": WebhookChannel(webhook_server.url, SECRET),
    }
    dispatcher = Dispatcher(app_pool, channels, base_delay=0.5)
    await put(app_pool, selected(), "ev-1", ["log", "email", "webhook"])
    webhook_server.status = 500

    assert await dispatcher.dispatch_once() == 2  # log and email, in the same round
    [(_, mail)] = smtp_server.messages
    assert mail["Subject"] == "[tra-vinh-2025] Xã 00000 được lựa chọn xây dựng xã không ma túy"
    failed = await row(app_pool, "ev-1:0:webhook")
    assert failed["attempts"] == 1 and failed["delivered_at"] is None
    assert failed["last_error"] == "WebhookError: webhook answered HTTP 500"
    assert timedelta(seconds=0.5) < failed["wait"] <= timedelta(seconds=1)  # 0.5 * 2^1

    assert await dispatcher.dispatch_once() == 0  # not due yet: the server is left alone
    assert len(webhook_server.requests) == 1

    await wait_until_due(app_pool, "ev-1:0:webhook")
    assert await dispatcher.dispatch_once() == 0
    again = await row(app_pool, "ev-1:0:webhook")
    assert again["attempts"] == 2
    assert timedelta(seconds=1.5) < again["wait"] <= timedelta(seconds=2)  # 0.5 * 2^2

    webhook_server.status = 200  # the receiver recovers
    await wait_until_due(app_pool, "ev-1:0:webhook")
    assert await dispatcher.dispatch_once() == 1
    assert await dispatcher.dispatch_once() == 0
    [(headers, body)] = webhook_server.accepted()
    assert headers["X-Drugfree-Notice-Id"] == "ev-1:0:webhook"
    assert json.loads(body)["params"] == {"commune": "00000", "plan": "tra-vinh-2025"}
    assert len(webhook_server.requests) == 3 and len(smtp_server.messages) == 1
    done = await row(app_pool, "ev-1:0:webhook")
    assert done["delivered_at"] is not None and done["last_error"] is None


async def test_backoff_is_capped(app_pool: asyncpg.Pool) -> None:
    class Failing:
        async def send(self, message: Message) -> None:
            raise ConnectionError("down")

    await put(app_pool, selected(), "ev-2", ["x"])
    await app_pool.execute("UPDATE outbox SET attempts = 5000")
    await Dispatcher(app_pool, {"x": Failing()}, max_delay=3600).dispatch_once()
    failed = await row(app_pool, "ev-2:0:x")
    assert failed["attempts"] == 5001 and failed["last_error"] == "ConnectionError: down"
    assert timedelta(minutes=59) < failed["wait"] <= timedelta(hours=1)


async def test_two_dispatchers_never_deliver_a_row_twice(
    app_pool: asyncpg.Pool, fresh_database
) -> None:
    await put(app_pool, selected(300), "ev-3", ["memory"])
    sent: list[str] = []
    all_sent = asyncio.Event()
    channels = [Recording(pause=0.001, shared=sent, full=(300, all_sent)) for _ in range(3)]
    stop = asyncio.Event()
    pools = [await asyncpg.create_pool(fresh_database.app_url, min_size=1, max_size=2)
             for _ in range(3)]
    try:
        runners = [asyncio.create_task(Dispatcher(p, {"memory": ch}, batch=25)
                                       .run(stop, interval=0.01))
                   for p, ch in zip(pools, channels, strict=True)]
        async with asyncio.timeout(20):
            await all_sent.wait()
        await asyncio.sleep(0.1)  # a double claim would show up as extra sends here
        stop.set()
        await asyncio.gather(*runners)
    finally:
        for p in pools:
            await p.close()
    counts = Counter(sent)
    assert len(counts) == 300 and set(counts.values()) == {1}
    assert sum(1 for ch in channels if ch.sent) >= 2  # they really did work side by side
    assert await app_pool.fetchval("SELECT count(*) FROM outbox WHERE delivered_at IS NULL") == 0


async def test_a_hanging_channel_times_out_and_the_others_still_deliver(
    app_pool: asyncpg.Pool,
) -> None:
    fine = Recording()
    await put(app_pool, selected(3), "ev-4", ["stuck", "fine"])
    dispatcher = Dispatcher(app_pool, {"stuck": Hanging(), "fine": fine}, send_timeout=0.1)
    async with asyncio.timeout(5):
        assert await dispatcher.dispatch_once() == 3
    assert sorted(fine.sent) == [f"ev-4:{i}:fine" for i in range(3)]
    stuck = await row(app_pool, "ev-4:0:stuck")
    assert stuck["attempts"] == 1 and stuck["last_error"].startswith("TimeoutError")


async def test_rows_of_channels_this_worker_lacks_are_left_alone(app_pool: asyncpg.Pool) -> None:
    await put(app_pool, selected(), "ev-5", ["log", "email"])
    assert await Dispatcher(app_pool, {"log": LogChannel()}).dispatch_once() == 1
    email = await row(app_pool, "ev-5:0:email")
    assert email["attempts"] == 0 and email["delivered_at"] is None


async def test_rows_left_when_the_lease_runs_low_are_released_not_failed(
    app_pool: asyncpg.Pool,
) -> None:
    slow = Recording(pause=0.1)
    await put(app_pool, selected(20), "ev-6", ["slow"])
    # Sends may start for lease - send_timeout = 0.5 s: about 6 of the 20 rows.
    dispatcher = Dispatcher(app_pool, {"slow": slow}, lease=0.8, send_timeout=0.3)
    delivered = await dispatcher.dispatch_once()
    assert 1 <= delivered < 20 and len(slow.sent) == delivered
    pending = await app_pool.fetch(
        "SELECT attempts, next_attempt_at <= now() AS due FROM outbox "
        "WHERE delivered_at IS NULL")
    assert len(pending) == 20 - delivered
    assert all(r["attempts"] == 0 and r["due"] for r in pending)


def test_the_lease_must_outlast_a_send() -> None:
    with pytest.raises(ValueError):
        Dispatcher(None, {}, lease=5, send_timeout=5)  # type: ignore[arg-type]
