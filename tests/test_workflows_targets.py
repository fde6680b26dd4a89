"""bench/workflows_bench.py's targets: a miss says by how much and where the CPU went."""

from __future__ import annotations

from typing import Any

from bench.workflows_bench import TARGET_N, targets


def run(n: int, wall: float, worker: float, server: float, **extra: Any) -> dict[str, Any]:
    return {"completed": n, "failures": {}, "wall_s": wall, "cases_per_s": round(n / wall, 3),
            "worker_cpu_s": worker, "server_cpu_s": server, "postgres_cpu_s": 0.03 * n,
            "driver_cpu_s": 0.02 * n, "machine_cpu_s": 1.8 * wall,
            "system_cpu_s_per_case": 0.45, "cpu_bound_cases_per_s": 4.44,
            "per_case": {"sampled": 20, "history_events": 130.0}, **extra}


def report(wall: float) -> dict[str, Any]:
    ours = run(TARGET_N, wall, 0.2 * TARGET_N, 0.18 * TARGET_N)
    anchor = run(TARGET_N, wall * 1.2, 0.15 * TARGET_N, 0.3 * TARGET_N)
    return {"today": {"per_case": {str(TARGET_N): {"history_events": 280.0}}},
            "dev_server": {"sizes": {str(TARGET_N): {
                "ours": ours, "anchor": anchor, "ours_vs_anchor_cases_per_s": 1.2}},
                "open_cases": {}}}


def test_a_missed_national_run_says_how_far_and_where_the_cpu_went() -> None:
    t = targets(report(810.0))
    wall = t["3321_cases_under_10_min"]
    assert wall["met"] is False
    assert wall["note"].startswith("35% over; the machine was 90% busy")
    assert "worker 0.200, server 0.180, PostgreSQL 0.030, driver 0.020" in wall["note"]
    cpu = t["cpu_s_per_case"]
    assert cpu["met"] is False and cpu["value"] == 0.41 and "17% over" in cpu["note"]
    assert t["history_events_per_case_vs_today"]["met"] is True


def test_a_met_target_carries_no_excuse() -> None:
    t = targets(report(590.0))
    assert t["3321_cases_under_10_min"] == {"value": 590.0, "target": 600.0, "met": True}
