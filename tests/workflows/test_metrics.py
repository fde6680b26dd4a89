"""The operations port's /metrics after a case (runtime/ops.py, runtime/metrics.py): our series
move by what the case did, the gauges read the event store, the Temporal SDK's own series are
merged in; /readyz names a dependency that is down."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from eventstore.store import EventStore
from runtime import metrics
from runtime.ops import ops_app, ping
from tests.deploy.test_deploy import TEMPORAL_SDK_METRICS
from tests.workflows.conftest import SDK_METRICS
from tests.workflows.support import Case, eventually

pytestmark = pytest.mark.asyncio(loop_scope="session")

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(app: Any) -> tuple[Samples, str]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://ops") as http:
        answer = await http.get("/metrics")
    assert answer.status_code == 200
    text = answer.text
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples, text


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_follow_a_case(make_case: Any, store: EventStore) -> None:
    app = ops_app(ready={"database": lambda: ping(store.pool)},
                  collect=lambda: metrics.refresh_gauges(store.pool),
                  sdk_metrics_url=f"http://{SDK_METRICS}/metrics")
    before, _ = await scrape(app)

    case: Case = await make_case("tra-vinh-2025", "29431")
    handle = await case.start()
    await case.select()
    d = case.plan.deadline("implementation_plan")
    await case.advance_to(d.due + timedelta(days=1))  # the plan is missed, not submitted

    async def missed() -> bool:
        """the missed deadline is in the log"""
        return any(e.type == "deadline.missed" for e in await store.read(case.id))

    await eventually(missed)
    await case.withdraw("thử nghiệm kết thúc / test ends")
    assert (await handle.result()).outcome == "withdrawn"
    events = await store.read(case.id)

    async def projected() -> bool:
        """the read model shows the case withdrawn and every notice delivered"""
        row = await store.pool.fetchrow(
            "SELECT (SELECT state FROM case_status WHERE stream = $1) AS state, "
            "(SELECT count(*) FROM outbox WHERE delivered_at IS NULL) AS waiting", case.id)
        return row is not None and row["state"] == "withdrawn" and row["waiting"] == 0

    await eventually(projected)
    after, text = await scrape(app)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    # counters: by what this case appended (other modules' cases count in this process too,
    # but none runs while this test does: the module has the session's loop to itself)
    for t in {e.type for e in events}:
        assert delta("drugfree_events_appended_total", type=t) == \
            sum(1 for e in events if e.type == t), t
    assert delta("drugfree_decisions_total", type="selection.approved", outcome="approved") == 1
    assert delta("drugfree_deadlines_missed_total", kind="case") == \
        sum(1 for e in events if e.type == "deadline.missed") >= 1
    appends = delta("drugfree_event_append_seconds_count")
    assert 1 <= appends <= len(events)  # one observation per committed batch
    assert 0 < delta("drugfree_event_append_seconds_sum") < 5 * appends
    assert delta("drugfree_notifications_sent_total", channel="log") >= 1
    # gauges: the module's database holds this case only, delivered
    assert value(after, "drugfree_cases", state="withdrawn") == 1
    assert value(after, "drugfree_outbox_oldest_seconds") == 0
    assert all(v == 0 for (name, _), v in after.items() if name == "drugfree_outbox_backlog")
    # the SDK's own series, merged: this process's worker ran workflow tasks and activities
    assert "temporal_workflow_task_execution_latency_seconds_bucket" in text
    assert "temporal_activity_execution_latency_seconds_bucket" in text
    # the SDK series deploy/'s dashboard reads (its counters appear once they count)
    shown = {name for (name, _) in after}
    for name in TEMPORAL_SDK_METRICS:
        if not name.endswith("_total"):
            assert {name, f"{name}_bucket"} & shown, name
    assert "process_resident_memory_bytes" in text
    # nothing about a person or case in a label: types, channels and states only
    assert case.id not in text and "29431" not in text


async def test_readiness_names_the_dependency_that_is_down(store: EventStore) -> None:
    async def down() -> None:
        raise ConnectionRefusedError

    app = ops_app(ready={"database": lambda: ping(store.pool), "temporal": down})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://ops") as http:
        live, ready = await http.get("/livez"), await http.get("/readyz")
        app_up = ops_app(ready={"database": lambda: ping(store.pool)})
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app_up),
                                     base_url="http://ops") as http_up:
            ready_up = await http_up.get("/readyz")
    assert live.status_code == 200
    assert ready.status_code == 503 and ready.json() == {"status": "unavailable",
                                                         "failed": ["temporal"]}
    assert ready_up.status_code == 200 and ready_up.json()["checked"] == ["database"]
