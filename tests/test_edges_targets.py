"""The workflow benchmark's recognition-list target, read from the edges benchmark's results
(bench/results/edges.json, written by ``make bench-edges``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.workflows_bench import recognition_list_target


def _edges(tmp_path: Path, measure: dict[str, Any]) -> Path:
    path = tmp_path / "edges.json"
    path.write_text(json.dumps({"environment": {"started_at": "2026-12-01T03:00:00+00:00"},
                                "measures": {"recognition_list": measure}}), encoding="utf-8")
    return path


def test_not_measured_without_the_file(tmp_path: Path) -> None:
    got = recognition_list_target(tmp_path / "missing.json")
    assert got["value"] is None and got["met"] is None and got["target"] == 60.0
    assert "not measured" in got["note"]


def test_met_only_at_a_thousand_communes_or_more(tmp_path: Path) -> None:
    got = recognition_list_target(_edges(tmp_path, {"communes": 1000, "seconds": 41.5}))
    assert got["value"] == 41.5 and got["met"] is True
    assert "N = 1000" in got["note"] and "2026-12-01" in got["note"]

    small = recognition_list_target(_edges(tmp_path, {"communes": 104, "seconds": 6.2}))
    assert small["value"] == 6.2 and small["met"] is False
    assert "measured at N = 104" in small["note"]

    slow = recognition_list_target(_edges(tmp_path, {"communes": 1000, "seconds": 75.0}))
    assert slow["met"] is False


def test_a_run_that_did_not_measure_it_says_why(tmp_path: Path) -> None:
    got = recognition_list_target(_edges(tmp_path, {"communes": 0, "seconds": None,
                                                    "note": "skipped (--skip-lists)"}))
    assert got["met"] is None and "skipped" in got["note"]


def test_the_lists_spread_over_the_largest_provinces_and_their_plans_validate() -> None:
    """N communes over the fewest provinces of the 2025 structure, each under a copy of
    ninh-binh-2027 that the plan model accepts (what POST /plans validates)."""
    from bench.edges_bench import plan_document, spread
    from domain.plan import Plan

    assert [(p, len(cs)) for p, cs in spread(104)] == [("79", 104)]
    parts = spread(1000)
    assert sum(len(cs) for _, cs in parts) == 1000 and len(parts) == 7
    doc = plan_document("edges-l-79", "79")
    assert doc["id"] == "edges-l-79" and doc["province_code"] == "79"
    json.dumps(doc)  # sent as JSON
    assert Plan.model_validate(doc).province_code == "79"


def test_the_edges_targets_say_at_which_size() -> None:
    from bench.edges_bench import table, targets

    report: dict[str, Any] = {
        "environment": {"cpus": 2, "load_average_start": [0.3], "load_average_end": [3.2],
                        "started_at": "2026-12-01T02:38:21+00:00"},
        "measures": {
            "recognition_list": {"communes": 300, "seconds": 13.8, "load_start": [4.5],
                                 "load_end": [4.0]},
            "case_start_csv": {"cases_started": 3321, "wall_s": 366.6, "rows_per_s": 9.1,
                               "cli_runs": 34, "all_opened_in_store_s": 366.6},
            "reads": {"open_cases": 3621, "queries": {
                "GET /inbox province_police (79)": {"p50": 7.1, "p95": 10.8, "errors": 0},
                "GET /ui/dashboard?plan=x province_police": {"p50": 50.8, "p95": 64.5,
                                                             "errors": 2}}}}}
    report["targets"] = got = targets(report)
    assert got["recognition_list_1000_s"]["met"] is False
    assert "N = 300" in got["recognition_list_1000_s"]["note"]
    assert got["selection_list_1000_s"]["met"] is None
    assert got["case_start_csv_3321_s"]["met"] is True
    assert got["inbox_p95_ms"] == {"value": 10.8, "target": 50.0, "met": True,
                                   "note": got["inbox_p95_ms"]["note"]}
    assert got["dashboard_p95_ms"]["met"] is False  # two requests not answered 200
    assert "| 300 | 13.8 s |" in table(report)
