"""``drugfree dev``: the local stack comes up with its URLs and sample tokens, answers, stops
cleanly on Ctrl-C, and a second run resumes the same cases (real Temporal dev server and
PostgreSQL on disk, in a temporary directory)."""

from __future__ import annotations

import asyncio
import base64
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import httpx
from temporalio.client import Client

from domain import checkpoint
from domain.identity import Signer

HTTP = httpx.Client(timeout=60)  # the machine may be loaded: no 5 s default

ROOT = Path(__file__).resolve().parents[2]
BASELINE = {"population": 9000, "on_trafficking_route": False, "addicts_total": 3,
            "addicts_with_records": 3, "addicts_in_treatment": 3, "addicts_in_community": 3,
            "addicts_negative_test_30d": 3, "users_total": 2, "users_with_records": 2,
            "users_negative_test_30d": 2, "psychosis_cases": 0, "hotspots": 0,
            "drug_rings": 0, "risk_points": 0, "drug_plants": 0, "drug_plant_area_m2": 0,
            "drug_offenders": 0}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Stack:
    """``drugfree dev --dir folder [extra...]`` on free ports, as a subprocess."""

    def __init__(self, folder: Path, *extra: str) -> None:
        self.ports = [free_port() for _ in range(6)]
        env = {k: v for k, v in os.environ.items()
               if k not in ("DATABASE_URL", "TEMPORAL_ADDRESS", "DRUGFREE_PAYLOAD_KEY")}
        # its operations port, with the SDK's series merged
        env.update(DRUGFREE_METRICS_PORT=str(self.ports[4]),
                   DRUGFREE_SDK_METRICS_PORT=str(self.ports[5]))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "dev", "--dir", str(folder),
             "--api-port", str(self.ports[0]), "--temporal-port", str(self.ports[1]),
             "--ui-port", str(self.ports[2]), "--codec-port", str(self.ports[3]), *extra],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self.ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        self.api = f"http://127.0.0.1:{self.ports[0]}"

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)
            if "Ctrl-C" in line:
                self.ready.set()

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 120
        while not self.ready.wait(0.5):
            assert self.proc.poll() is None, self.proc.stderr.read() if self.proc.stderr \
                else "exited"
            assert time.monotonic() < deadline, "drugfree dev did not come up"

    def stop(self) -> tuple[int, str]:
        self.proc.send_signal(signal.SIGINT)
        _, err = self.proc.communicate(timeout=60)
        return self.proc.returncode, err


async def schedule_every(temporal_port: int, every: timedelta) -> None:
    client = await Client.connect(f"127.0.0.1:{temporal_port}")
    described = await client.get_schedule_handle("audit-checkpoints").describe()
    assert described.schedule.spec.intervals[0].every == every


async def trigger_checkpoint(temporal_port: int) -> None:
    client = await Client.connect(f"127.0.0.1:{temporal_port}")
    handle = client.get_schedule_handle("audit-checkpoints")
    described = await handle.describe()
    assert described.schedule.spec.intervals[0].every == timedelta(hours=1)
    await handle.trigger()


async def first_input(temporal_port: int, workflow_id: str) -> dict[str, object]:
    """The case's start input as the workflow service stores it (no codec: sealed)."""
    client = await Client.connect(f"127.0.0.1:{temporal_port}")
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    p = started.input.payloads[0]
    return {"metadata": {k: base64.b64encode(v).decode() for k, v in p.metadata.items()},
            "data": base64.b64encode(p.data).decode()}


def tokens(folder: Path) -> dict[str, str]:
    out = {}
    for line in (folder / "tokens.env").read_text().splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        out[name] = shlex.split(value)[0]  # as the shell reads it
    return out


def test_the_stack_serves_stops_cleanly_and_resumes(tmp_path: Path) -> None:
    folder = tmp_path / "dev"
    stack = Stack(folder)
    try:
        stack.wait_ready()
        text = "".join(stack.lines)
        assert "sẵn sàng" in text and stack.api in text and "/docs" in text
        assert "Temporal Web UI" in text
        assert oct((folder / "keys" / "identity.pem").stat().st_mode)[-3:] == "600"
        t = tokens(folder)
        police = {"Authorization": f"Bearer {t['DRUGFREE_TOKEN_PROVINCE_POLICE']}"}
        assert HTTP.get(f"{stack.api}/healthz").status_code == 200
        assert HTTP.get(f"{stack.api}/readyz").status_code == 200
        assert HTTP.get(f"{stack.api}/cases").status_code == 401
        plans = HTTP.get(f"{stack.api}/plans", headers=police).json()
        plan = "ninh-binh-2027" if any(p["id"] == "ninh-binh-2027" for p in plans) \
            else "ninh-binh-2026"
        r = HTTP.post(f"{stack.api}/cases", headers=police, timeout=30, json={
            "plan_id": plan, "commune_code": "14743", "baseline": BASELINE})
        assert r.status_code == 201, r.text
        case_id = r.json()["case_id"]
        for _ in range(100):  # the opening events are appended by the worker
            r = HTTP.get(f"{stack.api}/cases/{case_id}/history", headers=police)
            if r.status_code == 200:
                break
            time.sleep(0.2)
        assert [e["type"] for e in r.json()][:2] == ["case.opened", "metrics.recorded"]
        # the operator's port: ready, and the case counted in its state
        ops = f"http://127.0.0.1:{stack.ports[4]}"
        assert f"{ops}/metrics" in text
        assert HTTP.get(f"{ops}/readyz").json()["checked"] == ["database", "temporal"]
        for _ in range(50):
            scraped = HTTP.get(f"{ops}/metrics").text
            if 'drugfree_cases{state="' in scraped:
                break
            time.sleep(0.2)
        assert 'drugfree_cases{state="' in scraped and "temporal_request_total" in scraped
        # an operator reads the sealed payload through the stack's codec server; others don't
        codec = f"http://127.0.0.1:{stack.ports[3]}"
        assert codec in text and "--codec-auth" in text
        sealed = asyncio.run(first_input(stack.ports[1], case_id))
        assert base64.b64decode(sealed["metadata"]["encoding"]) == b"binary/encrypted"
        operator = {"Authorization": f"Bearer {t['DRUGFREE_TOKEN_OPERATOR']}"}
        opened = HTTP.post(f"{codec}/decode", headers=operator, json={"payloads": [sealed]})
        assert opened.status_code == 200, opened.text
        plain = base64.b64decode(opened.json()["payloads"][0]["data"]).decode()
        assert '"14743"' in plain  # the commune of the case, readable to the operator only
        assert HTTP.post(f"{codec}/decode", headers=police,
                         json={"payloads": [sealed]}).status_code == 403
        # the pages: the sign-in lists the sample people; one click signs in as one of them
        assert "/ui" in text
        with httpx.Client(base_url=stack.api, timeout=30) as web:
            page = web.get("/ui/signin")
            assert page.status_code == 200 and "Người dùng thử" in page.text
            r = web.post("/ui/signin", data={"csrf": web.cookies.get("drugfree_signin"),
                                             "person": "province_police"})
            assert r.status_code == 303 and r.headers["location"] == "/ui/inbox"
            for _ in range(50):  # the read model follows the record within moments
                inbox = web.get("/ui/inbox")
                if f'href="/ui/cases/{case_id}"' in inbox.text:  # the selection awaits them
                    break
                time.sleep(0.2)
            assert "Hộp công việc" in inbox.text and "Công an tỉnh" in inbox.text
            assert f'href="/ui/cases/{case_id}"' in inbox.text
        # the checkpoint schedule: its first checkpoint when the stack made it (an empty or
        # nearly empty log), and one more now; each signed note kept in the folder
        signer = Signer.from_pem((folder / "keys" / "checkpoint.pem").read_bytes())

        def kept_notes() -> list[tuple[int, Path]]:
            found = sorted((folder / "checkpoints").glob("checkpoint-*.txt"))
            return [(checkpoint.verify(p.read_text(), signer.key.public_key(),
                                       origin="drugfree.local/events").size, p) for p in found]

        for _ in range(150):  # the one made with the schedule
            if kept_notes():
                break
            time.sleep(0.2)
        assert kept_notes(), "the schedule took no checkpoint when it was made"
        asyncio.run(trigger_checkpoint(stack.ports[1]))
        for _ in range(150):
            sizes = kept_notes()
            if any(size >= 2 for size, _ in sizes):  # at least the case's first two events
                break
            time.sleep(0.2)
        size, newest = max(sizes)
        assert size >= 2, sizes
        kept = [newest]
        # an auditor holds the kept checkpoint against the stack's log (tokens.env says how)
        t = tokens(folder)
        env = {k: v for k, v in os.environ.items() if k != "TEMPORAL_ADDRESS"}
        audited = subprocess.run(
            [sys.executable, "-m", "cli.main", "audit", "verify", "--checkpoint", str(kept[0])],
            cwd=ROOT, env={**env, "DATABASE_URL": t["DRUGFREE_DEV_DATABASE_URL"],
                           "DRUGFREE_CHECKPOINT_VKEY": t["DRUGFREE_CHECKPOINT_VKEY"]},
            capture_output=True, text=True, timeout=120)
        assert audited.returncode == 0 and "vẫn y nguyên" in audited.stdout, audited.stderr
        # an operator changes the schedule's period
        env = {k: v for k, v in os.environ.items() if k != "TEMPORAL_ADDRESS"}
        done = subprocess.run(
            [sys.executable, "-m", "cli.main", "audit", "schedule", "--every-minutes", "30",
             "--temporal-address", f"127.0.0.1:{stack.ports[1]}"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and "mỗi 30 phút" in done.stdout, done.stderr
        asyncio.run(schedule_every(stack.ports[1], timedelta(minutes=30)))
    finally:
        code, err = stack.stop()
    assert code == 0, err
    assert "đã dừng" in err

    again = Stack(folder)  # the same directory: the same keys, cases and events
    try:
        again.wait_ready()
        police = {"Authorization": f"Bearer {tokens(folder)['DRUGFREE_TOKEN_PROVINCE_POLICE']}"}
        r = HTTP.get(f"{again.api}/cases/{case_id}/history", headers=police)
        assert r.status_code == 200 and r.json()[0]["type"] == "case.opened"
        view = HTTP.get(f"{again.api}/cases/{case_id}", headers=police, timeout=30).json()
        assert view["case"]["status"] == "opened"
    finally:
        code, err = again.stop()
    assert code == 0, err
