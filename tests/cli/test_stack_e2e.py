"""End to end on the running local stack (issue 9): ``drugfree dev --rehearse S`` (the Temporal
dev server, PostgreSQL on disk, the worker and the API, as a subprocess) and one case of the
two-level plan ninh-binh-2027 driven from its start to its recognition through both doors: the
command line (subprocesses with DRUGFREE_API and DRUGFREE_TOKEN) and HTTP (bearer tokens),
including a rejection with its reason and a resubmission.

The split: the command line starts and selects the case, submits the phase reports and the
dossier, returns the dossier with a reason, resubmits it and signs the last level, and reads
the status and the history; HTTP submits the other reports, signs the first level, and reads
the case (polled until it closes) and its history.

The plan's real dates are in 2027: the stack rehearses it, one plan day lasting ``S`` seconds
from the case's start plus the stack's lead (both in ``tokens.env``). The case closes at its
last timeline point (the third phase's end), so the test lasts about ``lead + 347 S`` seconds
after the stack is up. Every submission is made long before its compressed deadline, which the
test computes from the plan with the clock the API gave the case (its start is known to within
the command's own run, so the earliest possible instants are used)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import catalog
from domain.agenda import CASE_DEADLINE_KINDS, case_agenda
from domain.clock import PlanClock
from tests.cli.test_dev import HTTP, ROOT, Stack, tokens
from tests.workflows.support import BASELINE, CLEAN

PLAN = "ninh-binh-2027"
COMMUNE = "13285"  # the sample commune officer's (runtime/stack.py::sample_people)
CASE = f"conversion:{PLAN}:{COMMUNE}"
SECONDS_PER_DAY = 0.15  # the plan's 347 days to its last timeline point: about 52 s
REASON = "thiếu biên bản họp dân"
# through HTTP: the reports without metrics; through the command line: the others
BY_HTTP = ("implementation_plan", "forum")


class Doors:
    """The two doors of the running stack, each person with their sample token."""

    def __init__(self, stack: Stack, folder: Path) -> None:
        self.api = stack.api
        self.tokens = tokens(folder)

    def token(self, role: str) -> str:
        return self.tokens[f"DRUGFREE_TOKEN_{role.upper()}"]

    def cli(self, role: str, *args: str) -> str:
        """``drugfree ARGS`` as ``role``: its stdout (it must succeed)."""
        env = {**os.environ, "DRUGFREE_API": self.api, "DRUGFREE_TOKEN": self.token(role)}
        done = subprocess.run([sys.executable, "-m", "cli.main", *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0 and "Traceback" not in done.stderr, (args, done.stdout,
                                                                         done.stderr)
        return done.stdout

    def get(self, role: str, path: str) -> Any:
        r = HTTP.get(f"{self.api}{path}", headers={"Authorization": f"Bearer {self.token(role)}"})
        assert r.status_code == 200, (path, r.status_code, r.text)
        return r.json()

    def post(self, role: str, path: str, body: dict[str, Any]) -> Any:
        r = HTTP.post(f"{self.api}{path}", json=body,
                      headers={"Authorization": f"Bearer {self.token(role)}"})
        assert r.status_code in (200, 201), (path, r.status_code, r.text)
        return r.json()

    def view(self, role: str = "province_police") -> Any:
        return self.get(role, f"/cases/{CASE}")

    def until(self, what: str, check: Any, seconds: float) -> Any:
        """Poll the case's view until ``check(view)`` holds: the view."""
        deadline = time.monotonic() + seconds
        while True:
            view = self.view()
            if check(view):
                return view
            assert time.monotonic() < deadline, f"{what}: not within {seconds:.0f} s: {view}"
            time.sleep(0.3)


def test_a_rehearsed_case_from_start_to_recognition_through_the_cli_and_http(
        tmp_path: Path) -> None:
    plan = catalog.get_plan(PLAN)
    baseline, clean = tmp_path / "baseline.json", tmp_path / "clean.json"
    baseline.write_text(json.dumps(BASELINE), encoding="utf-8")
    clean.write_text(json.dumps(CLEAN), encoding="utf-8")
    folder = tmp_path / "dev"
    t0 = time.monotonic()
    stack = Stack(folder, "--rehearse", str(SECONDS_PER_DAY))
    try:
        stack.wait_ready()
        up = time.monotonic() - t0
        banner = "".join(stack.lines)
        assert "DIỄN TẬP / REHEARSAL" in banner and f"= {SECONDS_PER_DAY:g} giây" in banner
        doors = Doors(stack, folder)
        assert float(doors.tokens["DRUGFREE_REHEARSAL_SECONDS_PER_DAY"]) == SECONDS_PER_DAY
        lead = float(doors.tokens["DRUGFREE_REHEARSAL_LEAD_SECONDS"])

        # started by the provincial police (no districts after the 2025 reform)
        before = datetime.now(UTC).timestamp()
        out = doors.cli("province_police", "case", "start", "--plan", PLAN, "--commune",
                        COMMUNE, "--metrics", str(baseline))
        assert out.strip() == f"đã mở hồ sơ {CASE}"
        # the API's clock for the case: PlanClock(S, origin=<its start + lead>), its start
        # somewhere in the command's run; the earliest instants bound every deadline
        earliest = PlanClock(seconds_per_day=SECONDS_PER_DAY,
                             origin=datetime.fromtimestamp(before + lead, UTC))

        def ahead(deadline_id: str) -> float:
            """Seconds left before the deadline passes (at the earliest)."""
            due = earliest.deadline(plan, plan.deadline(deadline_id).due)
            return (due - datetime.now(UTC)).total_seconds()

        assert ahead("selection") > 5, "the machine is too slow for this rehearsal"
        out = doors.cli("province_police", "case", "decide", CASE, "--select")
        assert out.strip() == f"đã chọn chuyển hóa: {CASE}"

        # the commune's reports and dossier, in the plan's order, each well before it is due
        for d in sorted((d for d in plan.deadlines if d.kind in CASE_DEADLINE_KINDS),
                        key=lambda d: d.due):
            left = ahead(d.id)
            assert left > 3, f"{d.id}: only {left:.1f} s before its deadline"
            metrics = d.kind in ("phase_report", "dossier")
            if d.kind in BY_HTTP:
                reply = doors.post("commune_ubnd", f"/cases/{CASE}/submissions",
                                   {"deadline_id": d.id, "summary": "đã thực hiện"})
                assert reply["late"] is False, reply
            else:
                out = doors.cli("commune_ubnd", "case", "submit", CASE, "--deadline", d.id,
                                *(["--metrics", str(clean)] if metrics else []),
                                "--note", "đã thực hiện")
                expect = f"đã nộp {d.id} (đúng hạn)" + ("; đạt tiêu chí" if d.kind ==
                                                        "dossier" else "")
                assert out.strip() == expect, out
        view = doors.until("the chain", lambda v: (v["chain"] or {}).get("status") ==
                           "pending", 30)
        first, last = plan.approval_chain
        assert view["case"]["status"] == "in_recognition"
        assert view["chain"]["pending_level"] == first.id

        # the first level returns the dossier with its reason (command line)
        out = doors.cli(first.roles[0], "case", "decide", CASE, "--reject", "--reason", REASON)
        assert out.strip() == f"đã trả lại hồ sơ: {CASE}"
        view = doors.view("commune_ubnd")
        assert view["chain"]["status"] == "returned" and REASON in view["chain"]["last_rejection"]
        out = doors.cli("commune_ubnd", "case", "status", CASE)
        assert "hồ sơ bị trả lại" in out and REASON in out
        out = doors.cli("commune_ubnd", "case", "resubmit", CASE)
        assert out.strip() == f"đã nộp lại hồ sơ: {CASE}"

        # the first level signs over HTTP, the last on the command line
        for role in first.roles:
            doors.post(role, f"/cases/{CASE}/decisions", {"kind": "approve", "level": first.id})
        view = doors.view()
        assert view["chain"]["round"] == 2 and view["chain"]["pending_level"] == last.id
        for role in last.roles:
            out = doors.cli(role, "case", "decide", CASE, "--approve", "--level", last.id)
            assert out.strip() == f"đã đồng ý: {CASE}"
        view = doors.view()
        assert view["chain"]["status"] == "recognised"
        driven = time.monotonic() - t0

        # the case closes at its last timeline point, recognised
        close = max(i.at for i in case_agenda(plan, earliest))
        wait = (close - datetime.now(UTC)).total_seconds() + 45
        view = doors.until("recognised", lambda v: v["case"]["outcome"] is not None, wait)
        assert view["case"]["outcome"] == "recognised", view
        assert view["case"]["status"] == "closed" and datetime.now(UTC) >= close
        assert not view["case"]["missed"], view["case"]
        out = doors.cli("commune_ubnd", "case", "status", CASE)
        assert "được công nhận" in out, out

        # the history, the same through both doors
        events = json.loads(doors.cli("auditor", "case", "history", CASE, "--json"))
        types = [e["type"] for e in events]
        assert types[0] == "case.opened" and types[-1] == "case.closed"
        rejected = [e for e in events if e["type"] == "level.rejected"]
        assert len(rejected) == 1 and REASON in rejected[0]["payload"]["reason"]
        assert types.count("dossier.resubmitted") == 1
        assert types.count("recognition.granted") == 1
        assert types.index("level.rejected") < types.index("dossier.resubmitted") < \
            types.index("recognition.granted")
        # no report was late; a level's 7 days (about a second here) may pass, and escalate
        submissions = {d.id for d in plan.deadlines if d.kind in CASE_DEADLINE_KINDS}
        missed = {e["payload"]["deadline_id"] for e in events if e["type"] == "deadline.missed"}
        assert not missed & submissions, missed
        assert doors.get("province_police", f"/cases/{CASE}/history") == events
        took = time.monotonic() - t0
        print(f"stack up in {up:.1f} s, the case driven by {driven:.1f} s and recognised "
              f"by {took:.1f} s")
    finally:
        code, err = stack.stop()
    assert code == 0, err
    assert "đã dừng" in err
