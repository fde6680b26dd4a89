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
