"""What the benchmarks share: a free local port, the load average, a report's environment, and
the lines of its ``targets`` as the README shows them."""

from __future__ import annotations

import os
import platform
import socket
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import psutil

VERDICTS = {True: "met", False: "NOT met", None: "not measured"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def loads() -> list[float]:
    """The 1, 5 and 15 minute load averages, rounded."""
    return [round(x, 2) for x in os.getloadavg()]


def environment(note: str, **more: Any) -> dict[str, Any]:
    """A report's ``environment``: Python, cores, memory, the load and time at the start,
    ``more`` (versions, ...), and ``note`` on what else shares the machine."""
    return {"python": platform.python_version(), "cpus": os.cpu_count(),
            "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "load_average_start": loads(),
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"), **more,
            "note": note}


def target_lines(targets: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """``- name: value (target t) -> met|NOT met|not measured (note)``, one per target."""
    return [f"- {name}: {t['value']} (target {t['target']}) -> {VERDICTS[t['met']]}"
            + (f" ({t['note']})" if t.get("note") else "") for name, t in targets.items()]
