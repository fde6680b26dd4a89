"""Workflow tests: a time-skipping Temporal server, a fresh database and a worker per test
module, against the real event store."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio

from eventstore.store import EventStore
from eventstore.urls import app_url
from runtime.temporal import enable_sdk_metrics, temporal_environment
from runtime.trust import Trust
from tests.workflows.support import RELAY, SIGNER, Case
from worker import running_worker

# What the scenarios' workers trust: the front door's key and their relay key; rehearsal
# clocks, since the time-skipping server starts today and plans are of 2025.
TRUST = Trust.of(SIGNER, relay=RELAY, rehearsals=True)
# Payloads and failures are encrypted in every scenario, as in production: the session's key
# is set by tests/conftest.py (runtime.codec refuses to run without one).
PAYLOAD_KEY = os.environ["DRUGFREE_PAYLOAD_KEY"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# The SDK's own metrics, as the worker process serves them (runtime/ops.py merges them into
# /metrics): enabled before the session's runtime exists (tests/workflows/test_metrics.py).
SDK_METRICS = f"127.0.0.1:{_free_port()}"
enable_sdk_metrics(SDK_METRICS)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def temporal() -> AsyncIterator[Any]:
    """The module's own time-skipping server (it starts in about 0.1 s). One server shared by
    the session let one module's leftovers stop every later module's clock: a workflow task
    scheduled and never completed (its worker gone, or its run terminated while the task was
    pending) holds time skipping, even once the run has ended, and every skip after it fails
    at the server's 30 s deadline (CI, 2026-12-01: the five browser tests at the end)."""
    async with temporal_environment("time-skipping") as (client, env):
        assert env is not None, "workflow tests need the time-skipping server"
        yield client, env


@pytest.fixture(scope="module")
def case_db(migrated_database: Any) -> str:
    return str(migrated_database.admin_url)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def worker(temporal: Any, case_db: str) -> AsyncIterator[str]:
    client, _ = temporal
    task_queue = f"tq-{uuid.uuid4().hex[:8]}"
    async with running_worker(client, app_url(case_db), task_queue=task_queue, trust=TRUST):
        yield task_queue


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def dev_server() -> AsyncIterator[Any]:
    """A dev server of the module's own, for what the time-skipping one cannot do (a chain
    terminated by an operator, local activities)."""
    async with temporal_environment("dev") as (client, _):
        yield client


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def dev_worker(dev_server: Any, case_db: str) -> AsyncIterator[str]:
    task_queue = f"tq-dev-{uuid.uuid4().hex[:8]}"
    async with running_worker(dev_server, app_url(case_db), task_queue=task_queue, trust=TRUST):
        yield task_queue


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def store(case_db: str) -> AsyncIterator[EventStore]:
    s = await EventStore.connect(app_url(case_db))
    yield s
    await s.close()


@pytest.fixture
def make_case(temporal: Any, worker: str) -> Callable[..., Case]:
    client, env = temporal

    async def make(plan_id: str, commune: str) -> Case:
        from catalog import get_plan
        from domain.admin_units import registry

        plan = get_plan(plan_id)
        c = registry(plan.structure).commune(commune)
        # The server's clock moves forward across tests: rehearse the plan after "now".
        today = plan.local_date(await env.get_current_time())

        return Case(client, env, plan_id, commune, c.district_code, c.province_code, worker,
                    today=today)

    return make


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def record_history(temporal: Any) -> Any:
    """Save a finished workflow's history into tests/histories/ when asked to record, unless
    a file of that name is there: each file is evidence that an older path of the code still
    replays (recorded before a ``workflow.patched`` change), so recording never overwrites
    one. Delete a file to record it afresh."""
    import json
    import os
    from pathlib import Path

    client, _ = temporal
    folder = Path(__file__).resolve().parent.parent / "histories"

    async def record(workflow_id: str, name: str) -> None:
        if os.environ.get("DRUGFREE_RECORD_HISTORIES") != "1":
            return
        path = folder / f"{name}.json"
        if path.exists():
            return
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        path.write_text(json.dumps(history.to_json_dict(), indent=1))

    return record
