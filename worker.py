"""The worker: one process that runs the case workflows, their activities and the notifier.

It builds the Temporal client (pydantic data converter, optional payload encryption,
OpenTelemetry tracing: console exporter by default, OTLP when ``OTEL_EXPORTER_OTLP_ENDPOINT``
is set), migrates the event store, registers workflows and activities, runs the outbox
dispatcher beside them, and shuts down gracefully on SIGTERM / SIGINT.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

import catalog
from activities.fanout import CaseOps
from activities.persist import EventActivities
from workflows.campaign import ProvinceCampaignWorkflow
from workflows.conversion import CommuneConversionWorkflow
from workflows.recognition import RecognitionWorkflow

TASK_QUEUE = os.environ.get("DRUGFREE_TASK_QUEUE", "drugfree")
WORKFLOWS: list[type] = [CommuneConversionWorkflow, RecognitionWorkflow, ProvinceCampaignWorkflow]


def workflow_runner() -> SandboxedWorkflowRunner:
    """The sandbox, with the libraries our pure code uses passed through: native extensions
    (cryptography's Rust core) must be loaded once per process, and pydantic and the domain
    are deterministic and costly to re-import for every workflow run."""
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(
            "cryptography", "pydantic", "pydantic_core", "domain", "catalog", "yaml",
            "activities.contracts"))


def build_worker(client: Client, persist: EventActivities, task_queue: str = TASK_QUEUE,
                 **options: Any) -> Worker:
    """A worker with every workflow and activity of the product registered."""
    # Read and check every plan and set now: a bad catalogue stops the worker here, and a
    # workflow that resolves an old input's plan never reads a file.
    catalog.warm()
    ops = CaseOps(client, task_queue)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=[persist.append_events, ops.fan_out],
        workflow_runner=workflow_runner(),
        **options,
    )


@asynccontextmanager
async def running_worker(client: Client, database_url: str, task_queue: str = TASK_QUEUE,
                         dispatch: bool = True, **options: Any) -> AsyncIterator[Worker]:
    """Migrate, open the store, and run a worker (and the notifier) for the block's duration."""
    from eventstore.migrate import migrate
    from notify.channels import NotifySettings, channels_from_settings
    from notify.dispatcher import Dispatcher

    await migrate(database_url)
    settings = NotifySettings()
    async with EventActivities.open(database_url, channels=list(
            channels_from_settings(settings))) as persist:
        worker = build_worker(client, persist, task_queue, **options)
        stop = asyncio.Event()
        notifier = None
        if dispatch:
            dispatcher = Dispatcher(persist.pool, channels_from_settings(settings))
            notifier = asyncio.create_task(dispatcher.run(stop))
        try:
            async with worker:
                yield worker
        finally:
            stop.set()
            if notifier is not None:
                await notifier


def setup_tracing() -> None:
    """Console span exporter by default; OTLP when an endpoint is configured."""
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        ConsoleSpanExporter,
        SpanExporter,
    )

    exporter: SpanExporter
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    else:
        exporter = ConsoleSpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "drugfree-worker"}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)


async def main() -> None:
    from eventstore.embedded import database_url
    from runtime import logs
    from runtime.temporal import temporal_environment

    logs.configure(os.environ.get("DRUGFREE_LOG_LEVEL", "INFO"))
    setup_tracing()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    options: dict[str, Any] = {}
    if os.environ.get("DRUGFREE_WORKFLOW_CACHE"):
        # 0 turns sticky execution off: the time-skipping test server never times out a dead
        # worker's sticky queue, so crash tests run without it.
        options["max_cached_workflows"] = int(os.environ["DRUGFREE_WORKFLOW_CACHE"])
    async with database_url() as url, temporal_environment("dev", tracing=True) as (client, _):
        async with running_worker(client, url, **options):
            logs.log.info("worker.started", task_queue=TASK_QUEUE)
            await stop.wait()
            logs.log.info("worker.stopping")


if __name__ == "__main__":
    asyncio.run(main())
