"""The HTTP client of the command line without a server: refusals before anything is sent
(exit 2), an unreachable server (exit 1, one line), the CSV of communes read strictly, and the
Idempotency-Key kept across a retry. The commands against the real API and workflows are in
tests/workflows/test_cli_client.py."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from cli.client import Api, ApiError, Unreachable, local_time
from cli.csvdata import read_communes
from cli.main import app
from domain.errors import InputError

ROOT = Path(__file__).resolve().parents[2]


def closed_port() -> str:
    """An address where nothing listens (a port bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def drugfree(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("DRUGFREE_")}
    return subprocess.run([sys.executable, "-m", "cli.main", *args], capture_output=True,
                          text=True, timeout=60, cwd=ROOT, env={**base, **(env or {})})


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


def invoke(*args: str) -> Ran:
    """The command in this process (typer's runner): faster than a subprocess."""
    r = CliRunner().invoke(app, list(args), env={"DRUGFREE_API": None, "DRUGFREE_TOKEN": None})
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    return Ran(r.exit_code, r.stdout, r.stderr)


def one_line(r: subprocess.CompletedProcess[str] | Ran, exit_code: int, code: str) -> str:
    assert r.returncode == exit_code, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert lines[0].endswith(f"[{code}]"), lines[0]
    return lines[0]


def test_no_token_is_refused_before_anything_is_sent() -> None:
    r = invoke("case", "status", "conversion:tra-vinh-2025:29512", "--api", closed_port())
    assert "thiếu thẻ định danh" in one_line(r, 2, "identity.missing_token")
    r = drugfree("case", "list", "--lang", "en", env={"DRUGFREE_API": closed_port()})
    assert "DRUGFREE_TOKEN" in one_line(r, 2, "identity.missing_token")


def test_a_server_that_is_down_is_one_line_and_exit_1() -> None:
    url = closed_port()
    r = drugfree("case", "list", "--api", url, "--token", "t")
    line = one_line(r, 1, "api.unreachable")
    assert "không kết nối được máy chủ API" in line and url in line
    r = invoke("campaign", "status", "--plan", "tra-vinh-2025", "--lang", "en", "--api", url,
               "--token", "t")
    assert "cannot reach the API server" in one_line(r, 1, "api.unreachable")


def test_local_refusals_exit_2(tmp_path: Path) -> None:
    down = ["--api", closed_port(), "--token", "t"]
    r = invoke("case", "decide", "conversion:tra-vinh-2025:29512", "--reject", *down)
    assert "lý do" in one_line(r, 2, "decision.reason_required")
    r = invoke("case", "withdraw", "conversion:tra-vinh-2025:29512", "--reason", " ", *down)
    one_line(r, 2, "case.reason_required")
    bad = tmp_path / "m.json"
    bad.write_text("{\"population\": 1,}", encoding="utf-8")
    r = invoke("case", "start", "--plan", "tra-vinh-2025", "--commune", "29512",
                 "--metrics", str(bad), *down)
    assert r.returncode == 2 and "m.json" in r.stderr and len(r.stderr.splitlines()) == 1
    r = invoke("case", "start", "--plan", "tra-vinh-2025", "--commune", "29512", *down)
    assert r.returncode == 2 and "--from-csv" in r.stderr
    r = invoke("campaign", "approve-selection", "--plan", "p", "--communes", "1,x", *down)
    assert r.returncode == 2 and "sai: x" in r.stderr
    r = invoke("case", "list", "--api", "ftp://x", "--token", "t")
    one_line(r, 2, "cli.bad_api_url")


def test_help_is_vietnamese_first() -> None:
    r = invoke("case", "--help")
    assert r.returncode == 0 and "Hồ sơ chuyển hóa" in r.stdout
    r = invoke("campaign", "--help")
    assert r.returncode == 0 and "Chiến dịch" in r.stdout


# -- the CSV of communes ---------------------------------------------------------------------


def sheet(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "c.csv"
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    return path


def test_csv_with_or_without_bom_numbers_as_integers(tmp_path: Path) -> None:
    text = ("commune_code, population ,on_trafficking_route,drug_plant_area_m2,hotspots\n"
            "29512,9000,không,0.5,1\n\n29513,8000,TRUE,2,\n")
    for data in (text, "\ufeff" + text):
        rows = read_communes(sheet(tmp_path, data))
        assert [(r.line, r.commune_code, r.error) for r in rows] == [
            (2, "29512", None), (4, "29513", None)]
        assert rows[0].metrics == {"population": 9000, "on_trafficking_route": False,
                                   "drug_plant_area_m2": 0.5, "hotspots": 1}
        assert rows[1].metrics == {"population": 8000, "on_trafficking_route": True,
                                   "drug_plant_area_m2": 2}  # empty: not reported
        assert type(rows[0].metrics["population"]) is int


def test_a_bad_cell_names_its_row_and_column_and_spares_the_others(tmp_path: Path) -> None:
    rows = read_communes(sheet(tmp_path, "commune_code,population,hotspots\n"
                                         "1,9.000,1\n2,9000,một\n3,9000,1\n3,1,1\nx,1,1\n"
                                         "4,1\n"))
    errors = [(r.line, r.error.code if r.error else None) for r in rows]
    assert errors == [(2, "csv.bad_cell"), (3, "csv.bad_cell"), (4, None),
                      (5, "csv.duplicate"), (6, "csv.bad_cell"), (7, "csv.bad_row")]
    first, second = rows[0].error, rows[1].error
    assert first is not None and second is not None
    assert first.text("vi").startswith("dòng 2, cột population")
    assert second.text("en").startswith("row 3, column hotspots")


@pytest.mark.parametrize(("data", "code"), [
    ("population\n1\n", "csv.no_commune_code"),
    ("commune_code,a,a\n1,2,3\n", "csv.bad_header"),
    ("", "csv.empty"),
    ("commune_code,population\n", "csv.empty"),
    (b"commune_code,population\n1,\xff\n", "document.encoding"),
])
def test_a_file_that_is_no_such_table_is_refused_whole(tmp_path: Path, data: str | bytes,
                                                       code: str) -> None:
    with pytest.raises(InputError) as info:
        read_communes(sheet(tmp_path, data))
    assert info.value.code == code


# -- the client ------------------------------------------------------------------------------


def test_a_retry_keeps_its_idempotency_key_and_each_request_has_its_own() -> None:
    keys: list[str] = []
    calls = {"n": 0}

    def answer(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        keys.append(request.headers["Idempotency-Key"])
        assert request.headers["Authorization"] == "Bearer tok"
        if calls["n"] == 1:
            raise httpx.ReadTimeout("slow", request=request)
        if request.url.path == "/refused":
            return httpx.Response(403, json={"code": "case.wrong_role", "message_vi": "vai trò",
                                             "message_en": "role"})
        return httpx.Response(200, json={"request_id": "r", "accepted": True})

    with Api("http://api", "tok", transport=httpx.MockTransport(answer)) as api:
        assert api.post("/x", {})["accepted"] is True
        assert len(keys) == 2 and keys[0] == keys[1]
        with pytest.raises(ApiError) as info:
            api.post("/refused", {})
    assert info.value.status == 403 and info.value.text("vi") == "vai trò"
    assert keys[2] != keys[0]


def test_an_answer_that_is_not_the_api_is_no_refusal() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text="<html>bad gateway</html>")

    with Api("http://api", "tok", transport=httpx.MockTransport(answer)) as api:
        with pytest.raises(Unreachable) as info:
            api.get("/cases")
    assert "HTTP 502" in info.value.text("en")


def test_times_are_shown_in_viet_nam() -> None:
    assert local_time("2027-03-29T17:30:00+00:00") == "30/03/2027 00:30"
    assert local_time(None) == "-"
    assert json.dumps(local_time("2027-01-01T00:00:00+07:00")) == '"01/01/2027 00:00"'
