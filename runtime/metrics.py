"""The product's own metrics (Prometheus): what an operator watches beside Temporal's.

Counters are counted where the thing happens, in the process that did it (an append that
committed, a notice delivered or failed), so replicas add up. Gauges of the whole system
(cases by state, the outbox backlog) are read from PostgreSQL when scraped: every replica
reports the same value, so dashboards take ``max`` of them, never the sum.

Labels carry types, channels and states, never ids or case data: a metric's series stay few
and nothing about a person reaches the metrics store.
"""

from __future__ import annotations

from collections.abc import Iterable

import asyncpg
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

EVENT_APPEND_SECONDS = Histogram(
    "drugfree_event_append_seconds",
    "Time to append one batch of a stream's events (with their notices), one transaction.",
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
    registry=REGISTRY)
EVENTS_APPENDED = Counter(
    "drugfree_events_appended", "Events appended to the event store, by type.", ["type"],
    registry=REGISTRY)
DECISIONS = Counter(
    "drugfree_decisions", "Decisions recorded (selection, chain levels, recognition, rounds), "
    "by event type and outcome.", ["type", "outcome"], registry=REGISTRY)
DEADLINES_MISSED = Counter(
    "drugfree_deadlines_missed", "Deadlines that passed without their submission: a case's "
    "report (kind=case) or a unit's report in a reporting round (kind=round).", ["kind"],
    registry=REGISTRY)
NOTIFICATIONS_SENT = Counter(
    "drugfree_notifications_sent", "Notifications delivered, by channel.", ["channel"],
    registry=REGISTRY)
NOTIFICATION_FAILURES = Counter(
    "drugfree_notification_failures", "Notification attempts that failed (to be retried), by "
    "channel.", ["channel"], registry=REGISTRY)
CASES = Gauge(
    "drugfree_cases", "Conversion cases by state (read model; the same on every replica).",
    ["state"], registry=REGISTRY)
OUTBOX_BACKLOG = Gauge(
    "drugfree_outbox_backlog", "Notifications not yet delivered, by channel.", ["channel"],
    registry=REGISTRY)
OUTBOX_OLDEST = Gauge(
    "drugfree_outbox_oldest_seconds", "Age of the oldest undelivered notification (0: none).",
    registry=REGISTRY)

# Which appended events are decisions, and their outcome label.
DECISION_OUTCOMES = {
    "selection.approved": "approved", "selection.rejected": "rejected",
    "level.signed": "signed", "level.voted": "voted",
    "level.approved": "approved", "level.rejected": "rejected",
    "recognition.granted": "approved", "recognition.denied": "rejected",
    "unit_report.returned": "rejected", "round.approved": "approved",
}
MISSED = {"deadline.missed": "case", "unit_report.missed": "round"}

# Every series name this module exposes (``_total`` for counters, as Prometheus shows them):
# deploy/'s dashboard and alerts may use only these (tests/deploy checks).
NAMES = frozenset({
    "drugfree_event_append_seconds", "drugfree_events_appended_total",
    "drugfree_decisions_total", "drugfree_deadlines_missed_total",
    "drugfree_notifications_sent_total", "drugfree_notification_failures_total",
    "drugfree_cases", "drugfree_outbox_backlog", "drugfree_outbox_oldest_seconds",
})


def appended(types: Iterable[str], seconds: float) -> None:
    """One committed append of events of ``types``, which took ``seconds``."""
    EVENT_APPEND_SECONDS.observe(seconds)
    for t in types:
        EVENTS_APPENDED.labels(type=t).inc()
        if t in DECISION_OUTCOMES:
            DECISIONS.labels(type=t, outcome=DECISION_OUTCOMES[t]).inc()
        if t in MISSED:
            DEADLINES_MISSED.labels(kind=MISSED[t]).inc()


async def refresh_gauges(pool: asyncpg.Pool) -> None:
    """Read the system-wide gauges from the database (on each scrape)."""
    async with pool.acquire() as conn:
        states = await conn.fetch("SELECT state, count(*) AS n FROM case_status GROUP BY state")
        backlog = await conn.fetch(
            "SELECT channel, count(*) AS n, "
            "       extract(epoch FROM now() - min(created_at))::float8 AS oldest "
            "FROM outbox WHERE delivered_at IS NULL GROUP BY channel")
    _set_all(CASES, {r["state"]: r["n"] for r in states})
    _set_all(OUTBOX_BACKLOG, {r["channel"]: r["n"] for r in backlog})
    OUTBOX_OLDEST.set(max((r["oldest"] for r in backlog), default=0.0))


_seen: dict[int, set[str]] = {}  # labels each gauge has shown, by id(gauge)


def _set_all(gauge: Gauge, values: dict[str, int]) -> None:
    """Set each label's value; a label seen before and absent now drops to 0 (not stale)."""
    seen = _seen.setdefault(id(gauge), set())
    for label in seen - values.keys():
        gauge.labels(label).set(0)
    for label, n in values.items():
        gauge.labels(label).set(n)
    seen |= values.keys()
