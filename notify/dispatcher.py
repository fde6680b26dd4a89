"""The dispatcher: a worker background task that delivers outbox rows to their channels.

Claiming is a short transaction: ``FOR UPDATE SKIP LOCKED`` picks due rows no other worker
is claiming, and the same statement leases them by moving ``next_attempt_at`` forward, so once
it commits every other dispatcher skips them. Delivery then happens outside any transaction:
a slow SMTP server must not hold a transaction open, because the event store's readers treat
the oldest open transaction as the edge of the final log and would stall behind it.

A send starts only while its lease has at least ``send_timeout`` left and is cut off after
``send_timeout``, so a row is always settled before another worker may claim it again. A crash
between sending and marking leaves the row to be retried when the lease expires: delivery is
at least once (emails carry a stable Message-ID, webhooks an ``X-Drugfree-Notice-Id``).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict
from collections.abc import Mapping

import asyncpg
import structlog

from eventstore import disk
from eventstore.streak import FailureStreak
from notify.channels import Channel, Message
from notify.templates import render
from runtime import metrics

log = structlog.get_logger("drugfree.notify")

_CLAIM = """
WITH due AS (
    SELECT id FROM outbox
     WHERE delivered_at IS NULL AND next_attempt_at <= now() AND channel = ANY($1::text[])
     ORDER BY next_attempt_at
     LIMIT $2
     FOR UPDATE SKIP LOCKED
)
UPDATE outbox o SET next_attempt_at = now() + make_interval(secs => $3)
  FROM due WHERE o.id = due.id
RETURNING o.id, o.case_id, o.template, o.to_role, o.params, o.channel, o.attempts
"""

_DELIVERED = "UPDATE outbox SET delivered_at = now(), last_error = NULL WHERE id = $1"

# Exponential backoff: base * 2^attempts (attempts after this failure), capped; the exponent
# is bounded so power() cannot overflow however long a channel stays down.
_FAILED = """
UPDATE outbox
   SET attempts = attempts + 1,
       last_error = $2,
       next_attempt_at = now() + make_interval(
           secs => least($4::float8, $3::float8 * power(2, least(attempts + 1, 40))))
 WHERE id = $1
"""

# Rows this round had no time for: due again at once, no attempt counted.
_RELEASE = "UPDATE outbox SET next_attempt_at = now() WHERE id = ANY($1::text[])"

_MAX_ERROR = 1000


class Dispatcher:
    """Deliver due outbox rows of the channels given (rows of other channels are left alone)."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        channels: Mapping[str, Channel],
        batch: int = 100,
        *,
        lang: str = "vi",
        lease: float = 300.0,
        send_timeout: float = 30.0,
        base_delay: float = 1.0,
        max_delay: float = 3600.0,
    ) -> None:
        if lease <= send_timeout:
            raise ValueError("the lease must outlast one send")
        self.pool, self.channels, self.batch, self.lang = pool, dict(channels), batch, lang
        self.lease, self.send_timeout = lease, send_timeout
        self.base_delay, self.max_delay = base_delay, max_delay

    async def dispatch_once(self) -> int:
        """Claim one batch of due rows, deliver it, and return how many were delivered."""
        _, delivered = await self._round()
        return delivered

    async def run(self, stop: asyncio.Event, interval: float = 1.0) -> None:
        """Dispatch until ``stop`` is set: at once while batches come back full, else every
        ``interval`` seconds. Database trouble is logged and retried, never fatal."""
        trouble = FailureStreak(log, "dispatch_failed")  # said once per streak, and its end
        while not stop.is_set():
            claimed = 0
            try:
                claimed, _ = await self._round()
            except Exception as err:  # a dead background task would silently stop delivery
                trouble.failed(err)
            else:
                trouble.succeeded()
            if claimed < self.batch:
                try:
                    await asyncio.wait_for(stop.wait(), interval)
                except TimeoutError:
                    pass

    async def _round(self) -> tuple[int, int]:
        # Its writes update outbox rows in place, which a full disk can still take (a page's
        # own free space): a disk-full failure is noted, a success proves nothing (not cleared).
        with disk.watched():
            started = time.monotonic()  # before the claim: the local clock never lags the lease
            rows = await self.pool.fetch(_CLAIM, list(self.channels), self.batch, self.lease)
            by_channel: dict[str, list[asyncpg.Record]] = defaultdict(list)
            for row in rows:
                by_channel[row["channel"]].append(row)
            # One task per channel: a channel that fails or hangs never delays another's rows.
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(self._deliver(name, batch, started))
                         for name, batch in by_channel.items()]
        return len(rows), sum(t.result() for t in tasks)

    async def _deliver(self, name: str, rows: list[asyncpg.Record], started: float) -> int:
        channel = self.channels[name]
        delivered = 0
        for i, row in enumerate(rows):
            if time.monotonic() - started > self.lease - self.send_timeout:
                await self.pool.execute(_RELEASE, [r["id"] for r in rows[i:]])
                break
            try:
                message = self._message(row)
                async with asyncio.timeout(self.send_timeout):
                    await channel.send(message)
            except Exception as err:  # any failure is a retry, whatever the channel raised
                error = (f"{type(err).__name__}: {err}")[:_MAX_ERROR]
                await self.pool.execute(_FAILED, row["id"], error, self.base_delay,
                                        self.max_delay)
                metrics.NOTIFICATION_FAILURES.labels(channel=name).inc()
                log.warning("notification_failed", notice_id=row["id"], channel=name,
                            attempts=row["attempts"] + 1, error=type(err).__name__)
                continue
            await self.pool.execute(_DELIVERED, row["id"])
            metrics.NOTIFICATIONS_SENT.labels(channel=name).inc()
            delivered += 1
        return delivered

    def _message(self, row: asyncpg.Record) -> Message:
        params = row["params"]
        if isinstance(params, str):  # asyncpg hands jsonb over as text unless a codec is set
            params = json.loads(params)
        subject, body = render(row["template"], params, self.lang, to_role=row["to_role"],
                               case_id=row["case_id"])
        return Message(id=row["id"], case_id=row["case_id"], template=row["template"],
                       to_role=row["to_role"], subject=subject, body=body, params=params)
