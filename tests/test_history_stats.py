"""Issue 15's measure of server work (bench/history_stats.py) and its targets in the workflow
benchmark's report (bench/workflows_bench.py server_work_targets)."""

from __future__ import annotations

from typing import Any

from bench.history_stats import LOCAL_ACTIVITY_MARKER, baseline, count
from bench.workflows_bench import server_work_targets


def test_todays_full_case_from_the_committed_histories() -> None:
    """The baseline the issue halves: the happy path's case and chain as recorded."""
    assert baseline() == {"history_events": 402, "workflow_tasks": 73, "activities": 30,
                          "timers": 28, "timers_fired": 22, "timers_canceled": 6,
                          "updates": 15}


def test_local_activities_are_counted_by_their_marker() -> None:
    got = count([("EVENT_TYPE_WORKFLOW_TASK_COMPLETED", None),
                 ("EVENT_TYPE_MARKER_RECORDED", LOCAL_ACTIVITY_MARKER),
                 ("EVENT_TYPE_MARKER_RECORDED", "core_patch"),
                 ("EVENT_TYPE_ACTIVITY_TASK_SCHEDULED", None)])
    assert got == {"history_events": 4, "workflow_tasks": 1, "markers": 2,
                   "local_activities": 1, "activities": 1}


def _report(history_events: float, cpu: tuple[float, float, float], completed: int,
            n: int = 1000) -> dict[str, Any]:
    ours = {"per_case": {"sampled": 10, "history_events": history_events},
            "completed": completed, "worker_cpu_s": cpu[0], "server_cpu_s": cpu[1],
            "postgres_cpu_s": cpu[2], "driver_cpu_s": 0.03 * completed,
            "worker_peak_rss_mb": 300.0}
    # the memory target's own measure: n cases held open at once in one worker
    held = {"n": n, "opened": n, "worker_peak_rss_mb": 650.0, "mb_per_open_case": 0.15,
            "worker_idle_rss_mb": 140.0}
    return {"dev_server": {"settings": {"inflight": 1000}, "sizes": {str(n): {"ours": ours}},
                           "open_cases": held}}


def test_targets_say_met_or_by_how_much() -> None:
    met = server_work_targets(_report(190, (100, 200, 30), 1000))
    assert met["history_events_per_case_vs_today"]["met"] is True
    assert met["history_events_per_case_vs_today"]["value"] == round(190 / 402, 3)
    assert met["cpu_s_per_case"] == {"value": 0.33, "target": 0.35, "met": True,
                                     "note": "server + worker + PostgreSQL, N = 1000"}
    assert met["worker_peak_mb_3321"]["met"] is None  # not held open at 3,321
    missed = server_work_targets(_report(402, (226, 413, 29), 1000))
    assert missed["history_events_per_case_vs_today"]["met"] is False
    assert missed["cpu_s_per_case"]["met"] is False and missed["cpu_s_per_case"]["value"] == 0.668
    assert missed["cpu_s_per_case"]["note"] == (  # by how much, and where the CPU went
        "server + worker + PostgreSQL, N = 1000; 91% over; CPU s per case: worker 0.226, "
        "server 0.413, PostgreSQL 0.029, driver 0.030")
    at_3321 = server_work_targets(_report(200, (300, 600, 60), 3321, n=3321))
    assert at_3321["worker_peak_mb_3321"] == {
        "value": 650.0, "target": 1024.0, "met": True,
        "note": "peak with 3321 of 3321 cases open at once, every one in the worker's cache "
                "(0.15 MB each above 140.0 MB idle)"}
