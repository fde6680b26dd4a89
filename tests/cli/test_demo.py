"""`drugfree demo` end to end: the real command on the embedded servers, for every shipped plan.

Defect 6: the table's rows are counted under the same key as its totals, so every row adds
up to the totals in every column (Ninh Bình's row showed zeros for late and returned reports).
Defect 7: the progress ends at its total, writes plain lines (no ``\\r`` frames) into a pipe,
and names districts, communes and levels in Vietnamese; ``--data-dir`` keeps the audit trail
and the printed ``drugfree db verify`` command works against it.

The demos are small (8 communes, a few seconds each) and start together when the module's
first test asks for one: they spend most of their time waiting on their servers.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMMUNES = "8"
PLANS = {  # plan -> names the output must show (a district, a level or deadline title)
    "tra-vinh-2025": ["Huyện Càng Long", "Thành phố Trà Vinh", "Thẩm định cấp huyện"],
    "nhu-xuan-2024-2025": ["Huyện Như Xuân", "Báo cáo sơ kết giai đoạn 1"],
    "ninh-binh-2026": ["Tỉnh Ninh Bình", "UBND tỉnh phê duyệt danh sách công nhận"],
}
ROW = re.compile(r"^(?P<name>\S.*?)\s+" + r"\s+".join(rf"(?P<c{i}>\d+)" for i in range(6)) + "$")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "TEMPORAL_ADDRESS", "COLUMNS")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def drugfree(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cli.main", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=cwd, env=_env())


@dataclass
class Run:
    cwd: Path
    proc: subprocess.Popen[str]
    _done: subprocess.CompletedProcess[str] | None = None

    def result(self) -> subprocess.CompletedProcess[str]:
        if self._done is None:
            out, err = self.proc.communicate(timeout=240)
            self._done = subprocess.CompletedProcess(self.proc.args, self.proc.returncode,
                                                     out, err)
        return self._done


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Run]]:
    """One demo per shipped plan, and one on Trà Vinh with ``--data-dir``, all started now,
    each in its own working directory (the notification log goes to ``./var``)."""
    started: dict[str, Run] = {}
    jobs = {plan: [] for plan in PLANS} | {"data-dir": ["--data-dir", "kept"]}
    try:
        for name, extra in jobs.items():
            cwd = tmp_path_factory.mktemp(name)
            plan = name if name in PLANS else "tra-vinh-2025"
            started[name] = Run(cwd, subprocess.Popen(
                [sys.executable, "-m", "cli.main", "demo", "--plan", plan, "--communes",
                 COMMUNES, *extra], cwd=cwd, env=_env(), text=True,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE))
        yield started
    finally:
        for run in started.values():
            if run.proc.poll() is None:
                run.proc.kill()
                run.proc.communicate()


def table(stdout: str) -> tuple[list[list[int]], list[int], list[str]]:
    """The rows, the totals and the row names of the demo's table."""
    lines = stdout.splitlines()
    rules = [i for i, line in enumerate(lines) if line and set(line) == {"-"}]
    assert len(rules) == 2, stdout
    rows, names = [], []
    for line in lines[rules[0] + 1: rules[1]]:
        m = ROW.match(line)
        assert m, f"not a table row: {line!r}"
        rows.append([int(m[f"c{i}"]) for i in range(6)])
        names.append(m["name"])
    total = ROW.match(lines[rules[1] + 1])
    assert total and total["name"].startswith("Tổng"), lines[rules[1] + 1]
    return rows, [int(total[f"c{i}"]) for i in range(6)], names


@pytest.mark.parametrize("plan", list(PLANS))
def test_demo_rows_add_up_to_the_totals(runs: dict[str, Run], plan: str) -> None:
    r = runs[plan].result()
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stdout + r.stderr
    rows, total, _ = table(r.stdout)
    for column in range(6):
        assert sum(row[column] for row in rows) == total[column], (column, r.stdout)
    communes, selected, recognised, not_recognised, late, returned = total
    assert communes == int(COMMUNES) and selected == recognised + not_recognised
    # the scenario shows every turn of the year, even with 8 communes
    assert late >= 1 and returned >= 1 and not_recognised >= 1, r.stdout


@pytest.mark.parametrize("plan", list(PLANS))
def test_demo_progress_is_plain_lines_in_vietnamese(runs: dict[str, Run], plan: str) -> None:
    r = runs[plan].result()
    assert r.returncode == 0, r.stderr
    assert "\r" not in r.stdout + r.stderr
    steps = [line for line in r.stderr.splitlines() if line.startswith("[")]
    total = len(steps)
    assert total > 5 and [s.split("]")[0] for s in steps] == [
        f"[{n}/{total}" for n in range(1, total + 1)], r.stderr  # ends at 100%
    for name in PLANS[plan]:
        assert name in r.stdout + r.stderr, name
    assert not re.search(r"district \d{3}|\b\d{5}\b", "\n".join(steps)), r.stderr
    assert "nộp trễ" in r.stderr and "trả lại" in r.stderr
    # without --data-dir the trail was throwaway, and the output says how to keep it
    assert "PostgreSQL tạm thời" in r.stdout and "--data-dir DIR" in r.stdout


def test_tra_vinh_samples_communes_from_every_district(runs: dict[str, Run]) -> None:
    _, _, names = table(runs["tra-vinh-2025"].result().stdout)
    assert len(names) == int(COMMUNES) and "Huyện Càng Long" in names


def test_data_dir_keeps_the_trail_and_the_printed_verify_works(runs: dict[str, Run]) -> None:
    run = runs["data-dir"]
    r = run.result()
    assert r.returncode == 0, r.stderr
    kept = run.cwd / "kept"
    assert (kept / "postgres" / "PG_VERSION").is_file() and (kept / "notifications.log").is_file()
    commands = [line.split("#")[0].strip() for line in r.stdout.splitlines()
                if line.strip().startswith("drugfree db verify")]
    assert len(commands) == 2 and all(str(kept) in c for c in commands), r.stdout
    one = shlex.split(commands[0])
    assert re.fullmatch(r"conversion:tra-vinh-2025:\d{5}", one[-1]), commands[0]
    # the command as printed (the server stopped with the demo; --data-dir starts it again)
    v = drugfree(*one[1:], cwd=run.cwd)
    assert v.returncode == 0, v.stderr
    assert re.fullmatch(r"ok: \d+ events in 1 streams, every link verified\n", v.stdout)
    every = drugfree(*shlex.split(commands[1])[1:], cwd=run.cwd)
    assert every.returncode == 0 and "8 streams, every link verified" in every.stdout, every

    again = drugfree("demo", "--communes", "4", "--data-dir", str(kept), cwd=run.cwd)
    assert again.returncode == 2
    lines = again.stderr.strip().splitlines()
    assert len(lines) == 1 and "đã chứa một lần chạy demo" in lines[0], again.stderr
    assert f"drugfree db verify --data-dir {kept}" in lines[0]
