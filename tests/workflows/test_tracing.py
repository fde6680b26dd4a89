"""Traces and logs (issue 14): one HTTP request's trace runs unbroken from the API's server
span through Temporal's client, workflow and activity spans to the event store's SQL, with no
SQL parameter in any span; logs carry the trace's and the workflow's ids."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from temporalio import activity
from temporalio.client import Client
from temporalio.testing import ActivityEnvironment

from api.app import create_app
from catalog import get_plan
from domain.admin_units import registry
from domain.identity import Signer, issue_token
from eventstore.errors import StreamNotFoundError
from eventstore.urls import app_url
from runtime.logs import add_trace_context, mask_sensitive
from runtime.telemetry import capture_spans, instrument_app, setup_tracing
from runtime.temporal import interceptors
from runtime.trust import Trust
from service import CaseService
from service.access import Authenticator
from tests.workflows.support import BASELINE, RELAY, SIGNER, Case, eventually
from worker import running_worker

pytestmark = pytest.mark.asyncio(loop_scope="session")

PLAN = "tra-vinh-2025"
COMMUNE = "29374"  # district 847; used by no other test
ISSUER = Signer.from_seed(bytes(range(128, 160)))  # the sign-on that issues people's tokens
ASYNCPG = "opentelemetry.instrumentation.asyncpg"


def _statement(span: ReadableSpan) -> str:
    attrs = span.attributes or {}
    return str(attrs.get("db.statement") or attrs.get("db.query.text") or "")


async def test_one_trace_from_the_request_to_postgresql(temporal: Any, case_db: str,
                                                        store: Any) -> None:
    session_client, env = temporal
    plan = get_plan(PLAN)
    commune = registry(plan.structure).commune(COMMUNE)
    with capture_spans() as exporter:
        # The API's client and the worker's (it takes its interceptors from its client) both
        # trace, as `drugfree api` and worker.py connect.
        client = Client(**{**session_client.config(), "interceptors": interceptors(True)})
        task_queue = f"tq-trace-{uuid.uuid4().hex[:8]}"
        trust = Trust.of(SIGNER, relay=RELAY, rehearsals=True)
        async with running_worker(client, app_url(case_db), task_queue=task_queue, trust=trust):
            case = Case(client, env, PLAN, COMMUNE, commune.district_code,
                        commune.province_code, task_queue,
                        today=plan.local_date(await env.get_current_time()))
            service = CaseService(client, task_queue, store, signer=SIGNER,
                                  clock=env.get_current_time)
            app = instrument_app(create_app(service, Authenticator(ISSUER.ring()),
                                            clock_for=lambda _: case.clock))
            assert instrument_app(app) is app  # twice is harmless
            district = case.actor("district_ubnd")
            headers = {"Authorization": "Bearer " + issue_token(
                ISSUER, district, datetime.now(UTC), timedelta(hours=1))}
            transport = httpx.ASGITransport(app=app)
            try:
                async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
                    assert (await http.get("/healthz")).status_code == 200  # not traced
                    r = await http.post("/cases", headers=headers, json={
                        "plan_id": PLAN, "commune_code": COMMUNE, "baseline": BASELINE})
                    assert r.status_code == 201, r.text

                async def opened() -> bool:
                    """the case's opening is in the event store"""
                    try:
                        return any(e.type == "case.opened" for e in await store.read(case.id))
                    except StreamNotFoundError:
                        return False

                await eventually(opened)
            finally:
                await client.get_workflow_handle(case.id).terminate("test over")
        spans = exporter.get_finished_spans()

    by_id = {s.context.span_id: s for s in spans}
    # the append's SQL under the append_events activity of this case
    appends = [s for s in spans if s.instrumentation_scope is not None
               and s.instrumentation_scope.name == ASYNCPG
               and "eventstore_append" in _statement(s)]
    assert appends, sorted({s.name for s in spans})

    def chain(span: ReadableSpan) -> list[ReadableSpan]:
        out = [span]
        while out[-1].parent is not None:
            parent = by_id.get(out[-1].parent.span_id)
            assert parent is not None, f"{out[-1].name}: its parent span is missing"
            out.append(parent)
        return out

    chains = [chain(s) for s in appends]
    ours = [c for c in chains if any(
        s.name == "RunActivity:append_events"
        and (s.attributes or {}).get("temporalWorkflowID") == case.id for s in c)]
    assert ours, [[s.name for s in c] for c in chains]
    path = ours[0]
    names = [s.name for s in path]
    assert names == ["SELECT", "RunActivity:append_events", "StartActivity:append_events",
                     "StartWorkflow:CommuneConversionWorkflow", "POST /cases"], names
    root = path[-1]
    assert root.kind == trace.SpanKind.SERVER and root.parent is None
    assert {s.context.trace_id for s in path} == {root.context.trace_id}
    assert (root.attributes or {}).get("http.route") == "/cases"
    # the workflow's own span, in the same trace under the client's start
    start = path[-2]
    runs = [s for s in spans if s.name == "RunWorkflow:CommuneConversionWorkflow"
            and (s.attributes or {}).get("temporalWorkflowID") == case.id]
    assert runs and all(s.parent is not None and s.parent.span_id == start.context.span_id
                        and s.context.trace_id == root.context.trace_id for s in runs)
    # SQL text with its placeholders; never the parameters
    assert "$1" in _statement(path[0])
    for s in spans:
        for key, value in (s.attributes or {}).items():
            assert "parameters" not in key, (s.name, key)
            assert COMMUNE not in str(value) or key in (
                "temporalWorkflowID", "db.statement", "db.query.text", "http.target",
                "url.path", "http.url", "url.full"), (s.name, key, value)
    # the probes are not traced
    assert not [s for s in spans if "healthz" in s.name]


async def test_setup_tracing_twice_keeps_one_provider() -> None:
    first = setup_tracing("drugfree-test")
    assert setup_tracing("drugfree-api") is first
    assert trace.get_tracer_provider() is first


async def test_logs_carry_the_span_and_the_activity() -> None:
    setup_tracing("drugfree-test")
    # outside any span or activity: nothing added
    assert add_trace_context(None, "info", {"event": "x"}) == {"event": "x"}
    with trace.get_tracer("test").start_as_current_span("work") as span:
        ctx = span.get_span_context()
        record = add_trace_context(None, "info", {"event": "x"})
    assert record["trace_id"] == format(ctx.trace_id, "032x")
    assert record["span_id"] == format(ctx.span_id, "016x")

    @activity.defn(name="append_events")
    async def act() -> dict[str, Any]:
        return mask_sensitive(None, "info", add_trace_context(None, "info", {
            "event": "events.appended", "reason": "secret"}))

    env = ActivityEnvironment()
    record = await env.run(act)
    assert record["workflow_id"] == env.info.workflow_id
    assert record["run_id"] == env.info.workflow_run_id
    assert record["activity_type"] == env.info.activity_type
    assert record["reason"] == "***"


async def test_queries_outside_a_trace_make_no_span(store: Any) -> None:
    """The projector's and the dispatcher's polls would otherwise be a trace each, twice a
    second per worker."""
    with capture_spans() as exporter:
        assert await store.pool.fetchval("SELECT $1::int", 7310452) == 7310452
        with trace.get_tracer("test").start_as_current_span("request"):
            assert await store.pool.fetchval("SELECT $1::int + 1", 7310452) == 7310453
    spans = exporter.get_finished_spans()
    assert [s.name for s in spans] == ["SELECT", "request"], [s.name for s in spans]
    query, request = spans
    assert query.parent is not None and query.parent.span_id == request.context.span_id
    assert _statement(query) == "SELECT $1::int + 1"
    assert "7310452" not in str(dict(query.attributes or {}))
