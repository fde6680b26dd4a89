"""The command line end to end: results exit 0, bad input exits 2 with one line, no traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

CLASSIFY_INPUT = {"population": 10000, "on_trafficking_route": False, "addicts_total": 20,
                  "users_total": 3, "hotspots": 0, "drug_plants": 0, "drug_plant_area_m2": 0,
                  "drug_offenders": 2}


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cli.main", *args], capture_output=True,
                          text=True, timeout=60)


def write(tmp_path: Path, data: Any, name: str = "m.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return str(path)


def test_classify_json(tmp_path: Path) -> None:
    r = run("classify", write(tmp_path, CLASSIFY_INPUT), "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["classification"] == "type_iii" and out["reasons"]


def test_classify_readable_vietnamese_and_english(tmp_path: Path) -> None:
    path = write(tmp_path, CLASSIFY_INPUT)
    assert "Trọng điểm loại III" in run("classify", path).stdout
    assert "Key area, type III" in run("classify", path, "--lang", "en").stdout


def test_criteria_json_not_met_still_exits_zero(tmp_path: Path) -> None:
    r = run("criteria", write(tmp_path, CLASSIFY_INPUT), "--criteria", "thanh-hoa-2024", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["criteria_set"] == "thanh-hoa-2024" and out["met"] is False
    assert [x["id"] for x in out["results"]] == list(range(1, 11))
    assert any("missing data" in x["reason_en"] for x in out["results"])


@pytest.mark.parametrize(("args", "needle"), [
    (["classify", "{bad}", "--json"], "addicts_total"),
    (["classify", "{missing}"], "No such file"),
    (["classify", "{notjson}"], "JSON không hợp lệ tại dòng 1, cột 2"),
    (["classify", "{notjson}", "--lang", "en"], "invalid JSON at line 1 column 2"),
    (["classify", "{ok}", "--rules", "nope"], "nope"),
    (["criteria", "{ok}", "--criteria", "nope"], "nope"),
    (["plans", "show", "nope"], "nope"),
])
def test_bad_input_exits_2_with_one_line(tmp_path: Path, args: list[str], needle: str) -> None:
    files = {"{bad}": write(tmp_path, {**CLASSIFY_INPUT, "addicts_total": -1}, "bad.json"),
             "{missing}": str(tmp_path / "absent.json"),
             "{notjson}": write(tmp_path, "{not json", "x.json"),
             "{ok}": write(tmp_path, CLASSIFY_INPUT, "ok.json")}
    r = run(*[files.get(a, a) for a in args])
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], r.stderr


def test_plans_list_and_show() -> None:
    r = run("plans", "list")
    assert r.returncode == 0
    assert {line.split("\t")[0] for line in r.stdout.splitlines()} == {
        "tra-vinh-2025", "nhu-xuan-2024-2025", "ninh-binh-2026",
        "ninh-binh-2027"}
    shown = json.loads(run("plans", "show", "tra-vinh-2025", "--json").stdout)
    assert [lv["id"] for lv in shown["approval_chain"]] == [
        "district_appraisal", "district_review", "province_appraisal", "province_decision"]
    assert "Giai đoạn" in run("plans", "show", "nhu-xuan-2024-2025").stdout


@pytest.mark.parametrize(("args", "vi"), [
    (["case", "decide"], "thiếu đối số"),
    (["auth", "issue", "--role", "province_police"], "thiếu tùy chọn"),
    (["nope"], "không có lệnh"),
    (["dev", "--api-port", "0"], "giá trị không hợp lệ"),
])
def test_usage_errors_are_one_line_in_vietnamese_then_english(args: list[str], vi: str) -> None:
    done = run(*args)
    assert done.returncode == 2 and done.stdout == ""
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("error: ") and vi in line and " / " in line
    assert line.endswith("--help) [usage]")
