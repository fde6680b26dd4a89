"""The anchor of the workflow benchmark: a trivial workflow with a case's activities and timers.

One ``AnchorWorkflow`` per case does exactly ``activities`` activities and ``timers`` timers
(the averages measured on our cases, case and recognition child together), spread over the same
wall-clock span as a case's compressed year, and nothing else: no updates, no child, no
queries. Its activity is the least an activity that records something does: one single-row
INSERT (autocommit) into the same PostgreSQL. What it reaches is what the dev server, this
PostgreSQL and a Python worker can do on this machine with a case's amount of Temporal work.

    python -m bench.anchor --task-queue TQ [--max-activities N]
                                   # the anchor's worker (TEMPORAL_ADDRESS, DATABASE_URL)

The worker prints ``ready`` on stdout once it polls and stops on SIGTERM / SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio import activity, workflow

from runtime.signals import stop_on_signals

ANCHOR_TABLE = """CREATE TABLE IF NOT EXISTS bench_anchor (
    id        bigserial   PRIMARY KEY,
    case_id   text        NOT NULL,
    step      integer     NOT NULL,
    at        timestamptz NOT NULL DEFAULT now()
)"""


@dataclass
class AnchorInput:
    case_id: str
    activities: int
    timers: int
    span_seconds: float


@dataclass
class AnchorStep:
    case_id: str
    step: int


@workflow.defn
class AnchorWorkflow:
    @workflow.run
    async def run(self, inp: AnchorInput) -> int:
        """Activities spread evenly between the timers; the timers fill ``span_seconds``."""
        slots = inp.timers + 1
        pause = timedelta(seconds=inp.span_seconds / max(inp.timers, 1))
        done = 0
        for slot in range(slots):
            due = round(inp.activities * (slot + 1) / slots)
            while done < due:
                done += 1
                await workflow.execute_activity(
                    "anchor_step", AnchorStep(inp.case_id, done),
                    start_to_close_timeout=timedelta(seconds=30))
            if slot < inp.timers:
                await workflow.sleep(pause)
        return done


class AnchorActivities:
    def __init__(self, pool: object) -> None:
        self.pool = pool

    @activity.defn(name="anchor_step")
    async def step(self, s: AnchorStep) -> None:
        await self.pool.execute(  # type: ignore[attr-defined]
            "INSERT INTO bench_anchor (case_id, step) VALUES ($1, $2)", s.case_id, s.step)


async def run_worker(task_queue: str, max_activities: int = 0) -> None:
    import asyncpg
    from temporalio.worker import Worker

    from runtime.temporal import connect

    stop = stop_on_signals()
    url = os.environ["DATABASE_URL"]
    client = await connect(os.environ["TEMPORAL_ADDRESS"])
    # The same pool size as the event store's (EventStore.connect: 1..10 connections).
    pool = await asyncpg.create_pool(url, min_size=1, max_size=10)
    try:
        await pool.execute(ANCHOR_TABLE)
        acts = AnchorActivities(pool)
        options: dict[str, Any] = ({"max_concurrent_activities": max_activities}
                                   if max_activities > 0 else {})
        async with Worker(client, task_queue=task_queue, workflows=[AnchorWorkflow],
                          activities=[acts.step], **options):
            print("ready", flush=True)
            await stop.wait()
    finally:
        await pool.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task-queue", required=True)
    parser.add_argument("--max-activities", type=int, default=0,
                        help="max concurrent activities (0: the SDK default, 100)")
    args = parser.parse_args()
    asyncio.run(run_worker(args.task_queue, args.max_activities))


if __name__ == "__main__":
    main()
