"""A streak of failures (chuỗi lỗi) said in two lines: the background loops that retry on
their own (the read-model projector, the notification dispatcher) log the first failure of a
streak as a warning and its end as one info line with how many failed and for how long; the
failures between are counted, not logged. A database down for a minute is two lines in each
process's log, not one every half second."""

from __future__ import annotations

import time
from typing import Any


class FailureStreak:
    def __init__(self, logger: Any, event: str) -> None:
        self.log, self.event = logger, event
        self.since: float | None = None
        self.failures = 0

    def failed(self, err: BaseException) -> None:
        """A failure: said if it starts a streak (its type and SQLSTATE only, never its text:
        a driver's message can quote the row it was writing)."""
        self.failures += 1
        if self.since is None:
            self.since = time.monotonic()
            self.log.warning(self.event, error=type(err).__name__,
                             sqlstate=getattr(err, "sqlstate", None))

    def succeeded(self) -> None:
        """A success: ends the streak, if one was running, in one line."""
        if self.since is None:
            return
        self.log.info(f"{self.event}_over", failures=self.failures,
                      seconds=round(time.monotonic() - self.since, 1))
        self.since, self.failures = None, 0
