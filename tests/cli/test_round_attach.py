"""``drugfree round submit --attach``: each file uploaded to the round first, then named in the
unit's report by (name, sha256), as ``case submit --attach`` does (against a stand-in API)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

import cli.rounds
from cli.client import Api
from cli.main import app


def test_round_submit_uploads_then_names_the_files(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[str, str, Any]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/attachments"):
            seen.append(("upload", request.url.params["name"], request.headers["content-type"]))
            return httpx.Response(201, json={"sha256": hashlib.sha256(request.content)
                                             .hexdigest(), "size": len(request.content),
                                             "name": request.url.params["name"]})
        seen.append(("report", path, json.loads(request.content)))
        return httpx.Response(200, json={"request_id": "r", "accepted": True, "late": False})

    monkeypatch.setattr(cli.rounds, "Api", lambda url, token: Api(
        url, token, transport=httpx.MockTransport(answer)))
    report = tmp_path / "bao-cao.json"
    report.write_text(json.dumps({"values": {"propaganda_sessions": 3},
                                  "sections": {"results": "Đã triển khai."}}))
    minutes = tmp_path / "bien-ban.txt"
    minutes.write_text("biên bản", encoding="utf-8")
    empty = tmp_path / "rong.txt"
    empty.write_bytes(b"")
    args = ["round", "submit", "--plan", "son-la-action-month-2023", "--round",
            "action-month-2023", "--unit", "health", "--file", str(report),
            "--api", "http://api", "--token", "t"]

    r = CliRunner().invoke(app, [*args, "--attach", str(minutes), "--attach", str(empty)])
    assert r.exit_code == 2 and "attachment.empty" in r.output and seen == []  # nothing sent

    r = CliRunner().invoke(app, [*args, "--attach", str(minutes)])
    assert r.exit_code == 0, r.output
    sha = hashlib.sha256(minutes.read_bytes()).hexdigest()
    assert r.output.splitlines() == [f"đã tải lên bien-ban.txt: sha256 {sha}",
                                     "đã gửi báo cáo của health"]
    assert seen[0] == ("upload", "bien-ban.txt", "text/plain")
    kind, path, body = seen[1]
    assert path == "/rounds/son-la-action-month-2023/action-month-2023/reports"
    assert body["attachments"] == [{"name": "bien-ban.txt", "sha256": sha}]
