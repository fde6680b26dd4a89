"""A worker process killed with SIGKILL mid-year and restarted: the case completes, and its
stream has no lost and no duplicated event, and verifies."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import threading
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from catalog import get_plan
from eventstore.urls import app_url
from runtime.temporal import temporal_environment
from tests.workflows.support import CLEAN, Case, trust_env

pytestmark = pytest.mark.asyncio(loop_scope="session")
ROOT = Path(__file__).resolve().parents[2]


async def start_worker(address: str, db: str, task_queue: str) -> subprocess.Popen[bytes]:
    # The worker process gets the application role's URL: the database is migrated already.
    env = {**os.environ, "TEMPORAL_ADDRESS": address, "DATABASE_URL": app_url(db),
           "DRUGFREE_TASK_QUEUE": task_queue, "DRUGFREE_LOG_LEVEL": "INFO",
           "DRUGFREE_WORKFLOW_CACHE": "0", **trust_env(Path(tempfile.mkdtemp()))}
    proc = subprocess.Popen([sys.executable, str(ROOT / "worker.py")], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    started = threading.Event()

    def drain() -> None:  # a thread of its own: the worker must never block on a full pipe
        assert proc.stderr is not None
        for line in iter(proc.stderr.readline, b""):
            if b"worker.started" in line:
                started.set()

    threading.Thread(target=drain, daemon=True).start()
    for _ in range(600):
        if started.is_set():
            return proc
        assert proc.poll() is None, "worker exited before it started"
        await asyncio.sleep(0.1)
    raise AssertionError("worker did not start within 60 s")


async def test_sigkill_mid_year_then_restart(case_db: str, store: Any) -> None:
    # A server of its own: killing a worker must not disturb the other scenarios' server.
    async with temporal_environment("time-skipping") as (client, env):
        await crash_and_recover(client, env, case_db, store)


async def crash_and_recover(client: Any, env: Any, case_db: str, store: Any) -> None:
    address = client.service_client.config.target_host
    queue = f"crash-{uuid.uuid4().hex[:6]}"
    plan = get_plan("tra-vinh-2025")
    today = plan.local_date(await env.get_current_time())
    case = Case(client, env, plan.id, "29254", "842", "84", queue, today)
    first = await start_worker(address, case_db, queue)
    reports = ["phase_1_report", "forum_q2", "forum_q3", "phase_2_report"]
    try:
        handle = await case.start()
        await case.select()
        await case.submit("implementation_plan")
        await case.advance_to(case.plan.deadline("phase_1_report").due - timedelta(days=2))
        # A burst of submissions, each appending events through an activity; the worker dies
        # while they are in flight.
        burst = [asyncio.ensure_future(case.submit(d, CLEAN, request_id=f"burst-{d}"))
                 for d in reports]
        await asyncio.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        assert not all(b.done() for b in burst), "nothing was in flight when the worker died"
    finally:
        if first.poll() is None:
            first.kill()
    second = await start_worker(address, case_db, queue)
    try:
        outcomes = await asyncio.gather(*burst, return_exceptions=True)
        for deadline_id, outcome in zip(reports, outcomes, strict=True):
            if isinstance(outcome, BaseException):  # the client gave up waiting: retry it
                await case.submit(deadline_id, CLEAN, request_id=f"burst-{deadline_id}")
        for months in range(1, 9):  # the rest of the year, a month at a time
            await case.env.sleep(timedelta(days=30))
            if months == 6:
                await case.advance_to(case.plan.deadline("dossier").due - timedelta(days=1))
                assert (await case.submit("dossier", CLEAN)).criteria_met is True
                await case.approve_all()
        result = await handle.result()
        assert result.outcome == "recognised"
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(30) == 0, "the worker did not shut down gracefully on SIGTERM"
    events = await store.read(case.id)
    assert [e.version for e in events] == list(range(1, len(events) + 1))  # gapless
    ids = [e.event_id for e in events]
    assert len(ids) == len(set(ids))  # nothing duplicated
    types = Counter(e.type for e in events)
    assert types["case.opened"] == 1 and types["case.closed"] == 1
    assert types["phase.started"] == 3 and types["phase.ended"] == 3
    submitted = Counter(e.payload["deadline_id"] for e in events if e.type == "report.submitted")
    assert all(submitted[d] == 1 for d in reports), submitted  # each report exactly once
    missed = [e.payload["deadline_id"] for e in events if e.type == "deadline.missed"]
    assert len(missed) == len(set(missed))
    assert (await store.verify(case.id)).ok
