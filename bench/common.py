"""What the benchmarks share: a free local port, the load average, and the lines of a report's
``targets`` as the README shows them."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from typing import Any

VERDICTS = {True: "met", False: "NOT met", None: "not measured"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def loads() -> list[float]:
    """The 1, 5 and 15 minute load averages, rounded."""
    return [round(x, 2) for x in os.getloadavg()]


def target_lines(targets: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """``- name: value (target t) -> met|NOT met|not measured (note)``, one per target."""
    return [f"- {name}: {t['value']} (target {t['target']}) -> {VERDICTS[t['met']]}"
            + (f" ({t['note']})" if t.get("note") else "") for name, t in targets.items()]
