"""A streak of failures is two log lines: its first failure and its end."""

from __future__ import annotations

import asyncpg
import structlog

from eventstore.streak import FailureStreak


def test_a_streak_is_said_once_and_its_end_once() -> None:
    log = structlog.get_logger("test")
    streak = FailureStreak(log, "projection_failed")
    with structlog.testing.capture_logs() as lines:
        streak.succeeded()  # no streak: nothing to say
        for _ in range(120):  # a minute of a database down, every half second
            streak.failed(ConnectionRefusedError("Connect call failed ('10.0.0.5', 5432)"))
        streak.succeeded()
        streak.succeeded()
        streak.failed(asyncpg.DiskFullError("could not extend file \"base/5/1\""))
    assert [(x["event"], x["log_level"]) for x in lines] == [
        ("projection_failed", "warning"), ("projection_failed_over", "info"),
        ("projection_failed", "warning")]
    assert lines[0]["error"] == "ConnectionRefusedError" and lines[1]["failures"] == 120
    assert lines[2]["sqlstate"] == "53100"
    assert "10.0.0.5" not in str(lines) and "base/5" not in str(lines)  # never the text
