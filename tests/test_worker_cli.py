"""Defect 8: `python worker.py --help` printed nothing and started PostgreSQL, a Temporal server
and a worker. Now the worker has a command line: --help prints usage and exits 0 starting
nothing, an unknown argument exits 2 with one line on stderr.

Every run is marked with an environment variable of its own, which child processes inherit:
any process carrying it other than worker.py itself (an embedded PostgreSQL, a Temporal dev
server) is a process the command started. The old worker.py never returned from --help; the
timeout turns that into a failure, and the marked processes are stopped afterwards.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MARK = "DRUGFREE_WORKER_CLI_TEST"
TIMEOUT = 30.0  # --help takes about 2 s here (imports); servers and a worker never return

pytestmark = pytest.mark.skipif(not Path("/proc/self/environ").exists(),
                                reason="reads processes' environments from /proc")


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    seconds: float
    started: set[int]  # processes the command started (other than itself)


def _marked(marker: str) -> set[int]:
    needle = f"{MARK}={marker}".encode()
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if needle in environ.split(b"\0"):
            found.add(int(entry.name))
    return found


def _stop(marker: str, proc: subprocess.Popen[bytes]) -> None:
    """Stop whatever the run left: the worker gracefully (it stops its servers), then the rest."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    for pid in _marked(marker):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def run_worker(*args: str) -> Run:
    marker = uuid.uuid4().hex
    # Nothing configured, so a worker that goes ahead starts its own servers.
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "TEMPORAL_ADDRESS")}
    env[MARK] = marker
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        begin = time.monotonic()
        proc = subprocess.Popen([sys.executable, str(ROOT / "worker.py"), *args], cwd=ROOT,
                                env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        started: set[int] = set()
        try:
            while proc.poll() is None and time.monotonic() - begin < TIMEOUT:
                started |= _marked(marker) - {proc.pid}
                time.sleep(0.05)
            seconds = time.monotonic() - begin
            hung = proc.poll() is None
            started |= _marked(marker) - {proc.pid}
        finally:
            _stop(marker, proc)
        out.seek(0)
        err.seek(0)
        run = Run(proc.returncode, out.read().decode(errors="replace"),
                  err.read().decode(errors="replace"), seconds, started)
    assert not hung, (f"worker.py {' '.join(args)} still running after {TIMEOUT:.0f} s "
                      f"(started {len(started)} processes); stderr: {run.stderr[-2000:]}")
    return run


def test_help_prints_usage_and_starts_nothing() -> None:
    run = run_worker("--help")
    assert run.code == 0, run.stderr
    assert not run.started, f"--help started processes {sorted(run.started)}"
    assert run.stdout.startswith("cách dùng / usage: worker.py")
    for words in ("--task-queue", "--log-level", "DRUGFREE_TASK_QUEUE", "DRUGFREE_LOG_LEVEL",
                  "DATABASE_URL", "TEMPORAL_ADDRESS", "tùy chọn / options"):
        assert words in run.stdout
    assert run.stderr == ""  # no log line: nothing was configured, let alone started
    assert "worker.started" not in run.stdout


def test_short_help_too() -> None:
    run = run_worker("-h")
    assert run.code == 0 and not run.started
    assert "usage: worker.py" in run.stdout


@pytest.mark.parametrize("args", [("--bogus",), ("serve",), ("--log-level", "LOUD"),
                                  ("--task-queue",)])
def test_bad_arguments_exit_2_with_one_line(args: tuple[str, ...]) -> None:
    run = run_worker(*args)
    assert run.code == 2
    assert not run.started
    assert run.stdout == ""
    lines = run.stderr.splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("worker.py: lỗi / error: ")
    assert args[0] in lines[0]
