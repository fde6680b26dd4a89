"""Regression tests: metrics files that used to crash `drugfree classify` or slip through it.

Each goes through the real command line (a subprocess): bad input exits 2 with one line
naming the problem and no traceback; a UTF-16 file with a byte order mark (Windows Notepad's
"Unicode") is simply read.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.cli.test_cli import CLASSIFY_INPUT, run


def refused(r: subprocess.CompletedProcess[str]) -> str:
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr + r.stdout
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    return lines[0]


def metrics_file(tmp_path: Path, data: bytes) -> str:
    path = tmp_path / "metrics.json"
    path.write_bytes(data)
    return str(path)


def test_a_byte_that_is_not_utf8_names_its_offset(tmp_path: Path) -> None:
    text = json.dumps(CLASSIFY_INPUT)[:-1] + ', "ghi_chú": 1}'  # "ú" in Windows-1258
    line = refused(run("classify", metrics_file(tmp_path, text.encode("cp1258"))))
    offset = text.encode("cp1258").index(b"\xfa")
    assert f"0xFA tại vị trí {offset}" in line and "UTF-8" in line
    assert "[document.encoding]" in line


def test_utf16_with_a_byte_order_mark_is_read_and_classified(tmp_path: Path) -> None:
    path = metrics_file(tmp_path, json.dumps(CLASSIFY_INPUT, indent=2).encode("utf-16"))
    r = run("classify", path, "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["classification"] == "type_iii"


def test_100000_nested_arrays(tmp_path: Path) -> None:
    line = refused(run("classify", metrics_file(tmp_path, b"[" * 100_000 + b"]" * 100_000),
                       "--lang", "en"))
    assert "nested more than 64 levels deep" in line and "[document.too_deep]" in line


def test_a_duplicated_key_is_refused_not_overwritten(tmp_path: Path) -> None:
    text = json.dumps(CLASSIFY_INPUT)[:-1] + ', "addicts_total": 0}'
    line = refused(run("classify", metrics_file(tmp_path, text.encode()), "--lang", "en"))
    assert "key 'addicts_total' appears twice" in line and "[document.duplicate_key]" in line


@pytest.mark.parametrize("field", ["addicts_total", "population"])
def test_a_count_of_2_to_the_53(tmp_path: Path, field: str) -> None:
    data = json.dumps({**CLASSIFY_INPUT, field: 2**53}).encode()
    line = refused(run("classify", metrics_file(tmp_path, data)))  # Vietnamese by default
    assert f"(metrics.{field}) không được lớn hơn 9007199254740991" in line
    assert "[metrics.invalid]" in line
    line = refused(run("classify", metrics_file(tmp_path, data), "--lang", "en"))
    assert f"metrics.{field}: must be at most 9007199254740991" in line


def test_a_metrics_file_over_1_mib(tmp_path: Path) -> None:
    data = json.dumps(CLASSIFY_INPUT).encode() + b" " * (1 << 20)
    line = refused(run("classify", metrics_file(tmp_path, data), "--lang", "en"))
    assert "larger than the limit of 1,048,576 bytes" in line


@pytest.mark.parametrize("command", [
    ["case", "start", "--plan", "tra-vinh-2025", "--commune", "29512", "--metrics"],
    ["case", "submit", "conversion:tra-vinh-2025:29512", "--kind", "phase_report", "--metrics"],
    ["round", "submit", "--plan", "son-la-action-month-2023", "--round", "action-month-2023",
     "--unit", "health", "--file"],
])
def test_a_yaml_date_is_refused_before_anything_is_sent(tmp_path: Path,
                                                        command: list[str]) -> None:
    """A YAML file's unquoted date is not JSON: it used to fail with a traceback when the
    document was sent to the API."""
    path = tmp_path / "so-lieu.yaml"
    path.write_text("values:\n  propaganda_sessions: 3\npopulation: 2025-06-30\n",
                    encoding="utf-8")
    # (an address where nothing listens: the refusal comes first)
    line = refused(run(*command, str(path), "--api", "http://127.0.0.1:9", "--token", "t"))
    assert "population: không dùng giá trị ngày tháng" in line and "[document.date]" in line
