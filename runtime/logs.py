"""Structured logs (structlog, JSON) that never carry case data in clear.

Keys that could hold metrics or free text about people are masked before rendering: the event
store is the place for case data, logs carry ids, codes and counts. The Temporal SDK's own
records of a failing workflow task or activity carry the exception's message and traceback,
which can quote input: they keep their text and lose the exception's, replaced by its type and
refusal code (README, "No values in failures").

Each record carries, when there is one, the current OpenTelemetry span's ``trace_id`` and
``span_id`` (hex, as tracing back ends show them: runtime.telemetry) and the Temporal
``workflow_id`` and ``run_id`` (with ``activity_type`` in an activity). The standard library's
records that reach the root logger's handler (the SDK's) are rendered as the same JSON, with
``logger`` naming their source.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog
from opentelemetry import trace
from structlog.typing import EventDict, Processor, WrappedLogger
from temporalio import activity, workflow

SENSITIVE_KEYS = frozenset({"metrics", "payload", "baseline", "reason", "summary", "params",
                            "name", "person_name", "args"})


def mask_sensitive(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    for key in SENSITIVE_KEYS & event_dict.keys():
        event_dict[key] = "***"
    return event_dict


def add_trace_context(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """``trace_id``/``span_id`` of the current span, ``workflow_id``/``run_id`` (and
    ``activity_type``) of the current activity or workflow; nothing outside them."""
    span = trace.get_current_span().get_span_context()
    if span.is_valid:
        event_dict.setdefault("trace_id", format(span.trace_id, "032x"))
        event_dict.setdefault("span_id", format(span.span_id, "016x"))
    if activity.in_activity():
        info = activity.info()
        event_dict.setdefault("workflow_id", info.workflow_id)
        event_dict.setdefault("run_id", info.workflow_run_id)
        event_dict.setdefault("activity_type", info.activity_type)
    elif workflow.in_workflow():
        winfo = workflow.info()
        event_dict.setdefault("workflow_id", winfo.workflow_id)
        event_dict.setdefault("run_id", winfo.run_id)
    return event_dict


class WithholdFailureText(logging.Filter):
    """Drops exception messages and tracebacks from the SDK's records (``temporalio.*``),
    keeping each exception's type and, for an ``ApplicationError``, its code."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith("temporalio"):
            return True
        text = record.getMessage()
        # "Completing as failure during heartbeat with error of type X: <message>" and the like
        for marker in ("original error:", "with error of type"):
            if marker in text:
                text = text[:text.index(marker) + len(marker)] + " (withheld)"
        if record.exc_info and record.exc_info[1] is not None:
            text = f"{text} [{failure_summary(record.exc_info[1])}; message withheld]"
        record.msg, record.args = text, None
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        return True


def failure_summary(exc: BaseException) -> str:
    """``ApplicationError(metrics.invalid) <- ValidationError``: types and codes, no text."""
    parts: list[str] = []
    seen: BaseException | None = exc
    while seen is not None and len(parts) < 5:
        code = getattr(seen, "type", None) if type(seen).__name__ == "ApplicationError" else None
        parts.append(f"{type(seen).__name__}({code})" if isinstance(code, str) and code
                     else type(seen).__name__)
        seen = seen.__cause__ or seen.__context__
    return " <- ".join(parts)


def configure(level: str = "INFO", stream: Any = None) -> None:
    shared: list[Processor] = [
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        add_trace_context,
        mask_sensitive,  # after every processor that adds keys
    ]
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info,
                    structlog.processors.JSONRenderer(ensure_ascii=False)]))
    logging.basicConfig(level=level, handlers=[handler])  # unless the root has handlers already
    for root_handler in logging.getLogger().handlers:
        if not any(isinstance(f, WithholdFailureText) for f in root_handler.filters):
            root_handler.addFilter(WithholdFailureText())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            *shared,
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(stream or sys.stderr),
        cache_logger_on_first_use=True,
    )


log = structlog.get_logger("drugfree")
