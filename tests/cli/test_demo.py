"""`drugfree demo` end to end: the real command on the embedded servers, for every shipped plan.

Defect 6: the table's rows are counted under the same key as its totals, so every row adds
up to the totals in every column (Ninh Bình's row showed zeros for late and returned reports).
Defect 7: the progress ends at its total, writes plain lines (no ``\\r`` frames) into a pipe,
and names districts, communes and levels in Vietnamese; ``--data-dir`` keeps the audit trail
and the printed ``drugfree db verify`` command works against it.
Issue 12: Trà Vinh's year crosses the 1 July 2025 reform: its running cases record
``case.amended``, the provincial levels act from then on, the table groups by former district
and by new commune, and the target counts the new communes.

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
    "tra-vinh-2025": ["Huyện Càng Long", "Thành phố Trà Vinh", "Thẩm định cấp huyện",
                      "Công an tỉnh chủ trì thẩm định cùng sở, ngành",
                      "UBND tỉnh phê duyệt danh sách công nhận"],
    "nhu-xuan-2024-2025": ["Huyện Như Xuân", "Báo cáo sơ kết giai đoạn 1"],
    "ninh-binh-2026": ["Tỉnh Ninh Bình", "UBND tỉnh phê duyệt danh sách công nhận"],
}
ROW = re.compile(r"^(?P<name>\S.*?)\s+" + r"\s+".join(rf"(?P<c{i}>\d+)" for i in range(6)) + "$")
# a row of the new-commune table: name (code), 4 counts, the constituents with their marks
NEW_ROW = re.compile(r"^(?P<name>\S.*?)\s+" + r"\s+".join(rf"(?P<c{i}>\d+)" for i in range(4))
                     + r"(?:\s+(?P<parts>\S.*))?$")
REFORM = "tra-vinh-2025-reform"


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
    # the example stream is one that crossed the reform: its trail holds case.amended
    assert re.search(r"drugfree db verify .*# .*qua cải cách 01/07/2025", r.stdout), r.stdout
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


def new_commune_table(stdout: str) -> tuple[list[list[int]], list[int], list[str]]:
    """The rows (counts), the totals and the constituents of the table by new commune."""
    lines = stdout.splitlines()
    rules = [i for i, line in enumerate(lines) if line and set(line) == {"="}]
    assert len(rules) == 2, stdout
    rows, parts = [], []
    for line in lines[rules[0] + 1: rules[1]]:
        m = NEW_ROW.match(line)
        assert m and re.search(r"\(\d{5}\)$", m["name"]), f"not a new commune row: {line!r}"
        rows.append([int(m[f"c{i}"]) for i in range(4)])
        parts.append(m["parts"] or "")
    total = NEW_ROW.match(lines[rules[1] + 1])
    assert total and total["name"].startswith("Tổng"), lines[rules[1] + 1]
    return rows, [int(total[f"c{i}"]) for i in range(4)], parts


def test_tra_vinh_crosses_the_2025_reform(runs: dict[str, Run]) -> None:
    r = runs["tra-vinh-2025"].result()
    assert r.returncode == 0, r.stderr
    steps = [line for line in r.stderr.splitlines() if line.startswith("[")]
    # the province sends the amendment on the eve; on 1 July every running case records it
    sent = next(i for i, s in enumerate(steps) if f"Áp dụng văn bản sửa đổi {REFORM}" in s)
    assert "cải cách 01/07/2025" in steps[sent] and "hẹn ngày hiệu lực" in steps[sent]
    crossed = re.search(r"Từ 01/07/2025: (\d+)/(\d+) hồ sơ đang chạy ghi nhận sửa đổi; "
                        r"chuỗi phê duyệt 4 cấp -> 2 cấp", steps[sent + 1])
    assert crossed and crossed[1] == crossed[2] and int(crossed[1]) >= 1, steps[sent + 1]
    before = "\n".join(steps[:sent])
    assert "Báo cáo kết thúc giai đoạn 1" in before and "nộp trễ" in before  # under districts
    # after the crossing: no district level, the provincial levels review (one sends back)
    after = "\n".join(steps[sent + 1:])
    assert "cấp huyện" not in after and "UBND huyện" not in after, after
    assert re.search(r"Công an tỉnh chủ trì thẩm định cùng sở, ngành: đồng ý \d+ hồ sơ, "
                     r"trả lại \d+", after), after
    assert "UBND tỉnh phê duyệt danh sách công nhận" in after
    assert re.search(r"Kiểm tra nhật ký: \d+ hồ sơ đang chạy ngày 01/07/2025 .*\(đúng\)",
                     steps[-1]), steps[-1]

    out = r.stdout
    assert f"Cải cách 01/07/2025 ({REFORM}" in out
    assert re.search(rf"ngày 01/07/2025: {crossed[1]}/{crossed[2]} hồ sơ đang chạy ghi nhận "
                     r"case\.amended", out), out
    assert re.search(r"Chuỗi phê duyệt trước: Thẩm định cấp huyện.* -> UBND huyện", out)
    assert re.search(r"Chuỗi phê duyệt sau: +Công an tỉnh chủ trì thẩm định cùng sở, ngành "
                     r"-> UBND tỉnh phê duyệt danh sách công nhận$", out, re.M), out
    assert "Tỉnh Trà Vinh (84) -> Tỉnh Vĩnh Long (86)" in out and "104 xã cũ -> 41 xã mới" in out
    assert "Khu vực huyện cũ / former district" in out and "Xã mới / new commune" in out

    # the new communes' table adds up, and agrees with the table by former district
    rows, total, parts = new_commune_table(out)
    for column in range(4):
        assert sum(row[column] for row in rows) == total[column], (column, out)
    _, by_district, _ = table(out)
    assert total[:3] == by_district[:3], out
    for row, listed in zip(rows, parts, strict=True):
        marks = re.findall(r" ([✓✗–])(?:,|$)", listed)
        assert marks.count("✓") == row[2] and len(marks) >= row[0], listed
        # all constituents: recognised only when every constituent area is
        assert row[3] == (1 if set(marks) == {"✓"} else 0), listed
    # the target as the amendment counts it (20% of the 41 new communes: 9), legacy beside it
    assert re.search(rf"^Chỉ tiêu 20% số xã mới: {total[3]}/41 = [\d.]+%, cần 9 -> ", out, re.M)
    assert re.search(rf"theo khu vực xã cũ: {by_district[2]}/104 = [\d.]+%, cần 21", out), out

    # the audit trail: one case.amended on every case running on 1 July, none on the others
    audit = re.search(r"^Sửa đổi tra-vinh-2025-reform: (\d+)/(\d+) hồ sơ đang chạy ngày "
                      r"01/07/2025 có đúng một case\.amended; (\d+)/(\d+) hồ sơ đã đóng trước "
                      r"đó không có -> ĐÚNG", out, re.M)
    assert audit, out
    running, closed = int(audit[2]), int(audit[4])
    assert audit[1] == audit[2] == crossed[1] and audit[3] == audit[4]
    assert running == by_district[1] and running + closed == int(COMMUNES)


def test_plans_the_reform_does_not_amend_are_unchanged(runs: dict[str, Run]) -> None:
    """Như Xuân's plan also runs through 2025, but the amendment names only Trà Vinh's."""
    for plan in ("nhu-xuan-2024-2025", "ninh-binh-2026"):
        r = runs[plan].result()
        assert r.returncode == 0, r.stderr
        assert "sửa đổi" not in r.stdout + r.stderr and "case.amended" not in r.stdout
        assert "=" * 20 not in r.stdout and "Khu vực huyện cũ" not in r.stdout
