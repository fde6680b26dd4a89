"""OpenTelemetry traces: one trace from the HTTP request through Temporal to PostgreSQL.

``setup_tracing(service_name)`` installs the process's tracer provider (``service.name``:
``drugfree-api``, ``drugfree-worker``, ``drugfree-codec-server``, ``drugfree-dev`` ...) and
instruments asyncpg; ``instrument_app(app)`` adds the FastAPI server spans. Temporal's spans
come from its ``TracingInterceptor`` on the client (``runtime.temporal.connect(...,
tracing=True)``), which the worker inherits: the API's client span's context travels in the
workflow's headers to the workflow and its activities.

Spans are exported by OTLP (gRPC) when ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) is set; printed to stdout only when
``OTEL_TRACES_EXPORTER=console``; otherwise kept nowhere, though trace ids still reach the
logs (runtime.logs). Spans carry SQL text with its ``$1`` placeholders, never the values. A
query outside any trace (the projector's and the dispatcher's polls, twice a second) makes no
span: SQL is traced as part of a request or an activity.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_ON,
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
)
from opentelemetry.trace import Link, SpanKind, TraceState
from opentelemetry.util.types import Attributes

# Probes and scrapes are not traced (regexes searched in the URL, comma separated).
EXCLUDED_URLS = "/healthz,/readyz,/metrics"

_lock = threading.Lock()
_provider: TracerProvider | None = None


class _NoOrphanQueries(Sampler):
    """For root spans: a database client span that starts a trace of its own (a poll) is
    dropped; everything else is sampled. Children follow their parent (``ParentBased``)."""

    def should_sample(self, parent_context: Context | None, trace_id: int, name: str,
                      kind: SpanKind | None = None, attributes: Attributes = None,
                      links: Sequence[Link] | None = None,
                      trace_state: TraceState | None = None) -> SamplingResult:
        attrs = attributes or {}
        if kind == SpanKind.CLIENT and ("db.system" in attrs or "db.system.name" in attrs):
            return SamplingResult(Decision.DROP, None, trace_state)
        return ALWAYS_ON.should_sample(parent_context, trace_id, name, kind, attributes,
                                       links, trace_state)

    def get_description(self) -> str:
        return "NoOrphanQueries"


SAMPLER = ParentBased(root=_NoOrphanQueries())


class _Capture(SpanProcessor):
    """Hands finished spans to the exporters of ``capture_spans`` blocks (tests)."""

    def __init__(self) -> None:
        self.processors: list[SimpleSpanProcessor] = []

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        for processor in list(self.processors):
            processor.on_end(span)


_capture = _Capture()


def _exporter() -> SpanExporter | None:
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()  # endpoint, headers, TLS from the OTEL_EXPORTER_OTLP_* env
    if os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    return None


def setup_tracing(service_name: str) -> TracerProvider:
    """Install the tracer provider (once per process: a second call, whatever its name,
    returns the first provider) and instrument asyncpg without SQL parameters."""
    global _provider
    with _lock:
        if _provider is None:
            provider = TracerProvider(
                resource=Resource.create({"service.name": service_name}), sampler=SAMPLER)
            exporter = _exporter()
            if exporter is not None:
                provider.add_span_processor(BatchSpanProcessor(exporter))
            provider.add_span_processor(_capture)
            trace.set_tracer_provider(provider)
            _provider = provider
        instrumentor = AsyncPGInstrumentor(capture_parameters=False)  # type: ignore[no-untyped-call]
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument()
        # the instrumentor is a singleton: whoever instrumented first, parameters stay out
        instrumentor.capture_parameters = False
        return _provider


def instrument_app(app: FastAPI) -> FastAPI:
    """A server span per request (not for the probes), parent of what the handler does.
    Harmless to call twice, and before ``setup_tracing`` (spans start once it has run)."""
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    if not getattr(app, "_is_instrumented_by_opentelemetry", False):
        FastAPIInstrumentor.instrument_app(app, excluded_urls=EXCLUDED_URLS,
                                           exclude_spans=["receive", "send"])
    return app


@contextmanager
def capture_spans(service_name: str = "drugfree-test") -> Iterator[InMemorySpanExporter]:
    """Tests: the spans finished in this process during the block, in memory (tracing is set
    up first if it was not)."""
    setup_tracing(service_name)
    exporter = InMemorySpanExporter()
    processor = SimpleSpanProcessor(exporter)
    _capture.processors.append(processor)
    try:
        yield exporter
    finally:
        _capture.processors.remove(processor)

