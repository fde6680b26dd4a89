"""What a case costs the workflow service, read from its histories (issue 15).

Each kind counts history events of one type: every event is a write the server makes, a
regular activity is three of them (scheduled, started, completed) and usually a workflow task
(three more), a local activity one marker inside the workflow task that ran it, a fired timer
two and a workflow task. ``baseline()`` is today's full case as the committed histories
recorded it (``tests/histories/happy_path_case.json`` and its recognition chain), the measure
the issue's "half the server work per case" is against.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

HISTORIES = Path(__file__).resolve().parent.parent / "tests" / "histories"
BASELINE_FILES = ("happy_path_case.json", "happy_path_recognition.json")
LOCAL_ACTIVITY_MARKER = "core_local_activity"

KINDS = {
    "workflow_tasks": "EVENT_TYPE_WORKFLOW_TASK_COMPLETED",
    "activities": "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED",
    "timers": "EVENT_TYPE_TIMER_STARTED",
    "timers_fired": "EVENT_TYPE_TIMER_FIRED",
    "timers_canceled": "EVENT_TYPE_TIMER_CANCELED",
    "updates": "EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED",
    "signals": "EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED",
    "markers": "EVENT_TYPE_MARKER_RECORDED",
}


def count(events: Iterable[tuple[str, str | None]]) -> Counter[str]:
    """Counts of one history: ``events`` as (event type name, marker name or None)."""
    out: Counter[str] = Counter()
    by_type = {v: k for k, v in KINDS.items()}
    for kind, marker in events:
        out["history_events"] += 1
        if kind in by_type:
            out[by_type[kind]] += 1
        if marker == LOCAL_ACTIVITY_MARKER:
            out["local_activities"] += 1
    return out


def of_json(doc: dict[str, Any]) -> Counter[str]:
    """Counts of a history as ``temporal workflow show --output json`` writes it."""
    return count((e["eventType"], e.get("markerRecordedEventAttributes", {}).get("markerName"))
                 for e in doc["events"])


def of_proto(history: Any) -> Counter[str]:
    """Counts of a ``temporalio.client.WorkflowHistory``."""
    from temporalio.api.enums.v1 import EventType

    return count((EventType.Name(e.event_type),
                  e.marker_recorded_event_attributes.marker_name
                  if e.HasField("marker_recorded_event_attributes") else None)
                 for e in history.events)


def baseline() -> dict[str, int]:
    """Today's full case (case and chain), from the committed happy-path histories."""
    total: Counter[str] = Counter()
    for name in BASELINE_FILES:
        total += of_json(json.loads((HISTORIES / name).read_text(encoding="utf-8")))
    return dict(sorted(total.items()))
