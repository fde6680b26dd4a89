"""Structured logs (structlog, JSON) that never carry case data in clear.

Keys that could hold metrics or free text about people are masked before rendering: the event
store is the place for case data, logs carry ids, codes and counts.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

SENSITIVE_KEYS = frozenset({"metrics", "payload", "baseline", "reason", "summary", "params",
                            "name", "person_name", "args"})


def mask_sensitive(_: Any, __: str,
                   event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in SENSITIVE_KEYS & event_dict.keys():
        event_dict[key] = "***"
    return event_dict


def configure(level: str = "INFO", stream: Any = None) -> None:
    logging.basicConfig(level=level, stream=stream or sys.stderr, format="%(message)s")
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            mask_sensitive,
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(stream or sys.stderr),
        cache_logger_on_first_use=True,
    )


log = structlog.get_logger("drugfree")
