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

import contextlib
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


# -- reporting plans (issue 13): `drugfree demo --plan <reporting plan>` -----------------------

REPORTING = {  # plan -> (rounds run, in order; years of the programme, if several)
    "son-la-action-month-2023": (["action-month-2023"], []),
    "tra-vinh-project-2-2022-2025": (["yearly-2022", "adhoc-2023-03", "yearly-2023",
                                      "yearly-2024", "final-2025"], [2022, 2023, 2024, 2025]),
    "ninh-binh-programme-2030": (["yearly-2026", "adhoc-2027-03", "yearly-2027", "yearly-2028",
                                  "yearly-2029", "yearly-2030"],
                                 [2026, 2027, 2028, 2029, 2030]),
}
ROUND_HEAD = re.compile(r"^(?P<title>.+) \((?P<round>[a-z0-9-]+), hạn \d\d/\d\d/\d{4}\)$")
UNITS_LINE = re.compile(r"^Đơn vị báo cáo: (\d+)/(\d+) đã báo cáo \(nộp trễ (\d+)\), chưa báo "
                        r"cáo (\d+)$")
TABLE_ROW = re.compile(r"^(?P<name>\S.*?)\s{2,}(?P<value>\S+)\s+(?P<previous>\S+)\s+"
                       r"(?P<change>\S+)\s{2}(?P<target>.+?)\s{2,}(?P<met>ĐẠT|KHÔNG ĐẠT|chưa "
                       r"đánh giá|-)$")


@pytest.fixture(scope="module")
def round_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Run]]:
    """One demo per reporting plan, and Sơn La's again with ``--data-dir`` (the same seed:
    the same run), all started when the first reporting test asks (after the conversion
    demos, so the two sets do not share the machine)."""
    started: dict[str, Run] = {}
    jobs = {plan: [] for plan in REPORTING} | {"rounds-data-dir": ["--data-dir", "kept"]}
    try:
        for name, extra in jobs.items():
            cwd = tmp_path_factory.mktemp(name)
            plan = name if name in REPORTING else "son-la-action-month-2023"
            started[name] = Run(cwd, subprocess.Popen(
                [sys.executable, "-m", "cli.main", "demo", "--plan", plan, *extra], cwd=cwd,
                env=_env(), text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE))
        yield started
    finally:
        for run in started.values():
            if run.proc.poll() is None:
                run.proc.kill()
                # a killed demo's servers may hold its pipes open: do not wait for them
                with contextlib.suppress(subprocess.TimeoutExpired):
                    run.proc.communicate(timeout=10)


@dataclass
class RoundTable:
    round: str
    reported: int
    units: int
    late: int
    missing: int
    rows: list[re.Match[str]]
    after: list[str]  # the lines after the table: late, sent back, missing, reminders


def round_tables(stdout: str) -> list[RoundTable]:
    lines = stdout.splitlines()
    out = []
    for i, line in enumerate(lines):
        head = ROUND_HEAD.match(line)
        if not head:
            continue
        units = UNITS_LINE.match(lines[i + 1])
        assert units, lines[i + 1]
        assert lines[i + 2].startswith("Chỉ tiêu") and set(lines[i + 3]) == {"-"}
        end = next(k for k in range(i + 4, len(lines)) if set(lines[k]) == {"-"})
        rows = [TABLE_ROW.match(x) for x in lines[i + 4: end]]
        assert all(rows), [x for x, m in zip(lines[i + 4: end], rows, strict=True) if not m]
        out.append(RoundTable(head["round"], *map(int, units.groups()),
                              rows=[m for m in rows if m], after=lines[end + 1: end + 7]))
    return out


@pytest.mark.parametrize("plan", list(REPORTING))
def test_reporting_demo_prints_each_rounds_table(round_runs: dict[str, Run], plan: str) -> None:
    import catalog
    from domain.reporting import reporting_units

    r = round_runs[plan].result()
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stdout + r.stderr and "\r" not in r.stdout + r.stderr
    p = catalog.reporting_plan(plan)
    everyone = reporting_units(p)
    units = {u.name_vi for u in everyone}  # (two communes may share a name)
    rounds, _ = REPORTING[plan]
    tables = round_tables(r.stdout)
    assert [t.round for t in tables] == rounds, r.stdout
    for t in tables:
        form = p.form(p.round(t.round).form if t.round in {x.id for x in p.rounds}
                      else p.adhoc_form or "")
        assert len(t.rows) == len(form.indicators), t.round
        # every unit reported or is missing; some were late, a few never reported
        assert t.units == len(everyone) and t.reported + t.missing == t.units
        assert t.late >= 1 and t.missing >= 1
        late = next(x for x in t.after if x.startswith("Nộp trễ"))
        assert late.startswith(f"Nộp trễ ({t.late}): ") and all(
            name in units for name in late.split(": ", 1)[1].split(", "))
        back = next(x for x in t.after if x.startswith("Trả lại (1): "))
        assert re.search(r"^Trả lại \(1\): (.+?): Số liệu “.+” \(.+\) chưa khớp với sổ theo "
                         r"dõi; đề nghị rà soát, báo cáo lại \(đã sửa, gửi lại đúng hạn\)$",
                         back), back
        assert back.split(": ")[1] in units
        assert any(re.match(rf"Chưa báo cáo \({t.missing}\): \S", x) for x in t.after)
        assert any(re.match(r"Nhắc hạn: \d+ lượt; quá hạn, chuyển đôn đốc: "
                            rf"{t.late + t.missing} đơn vị", x) for x in t.after), t.after
    # the progress: plain lines to 100%, the round's turns in Vietnamese
    steps = [line for line in r.stderr.splitlines() if line.startswith("[")]
    assert [s.split("]")[0] for s in steps] == [
        f"[{n}/{len(steps)}" for n in range(1, len(steps) + 1)]
    for turn in ("Công an tỉnh mở kỳ báo cáo", "Công an tỉnh trả lại báo cáo của",
                 "sửa số liệu và gửi lại báo cáo", "báo cáo sát hạn (sau hai lần nhắc)",
                 "báo Công an tỉnh đôn đốc", "đơn vị nộp trễ (", "Công an tỉnh tổng hợp",
                 "UBND tỉnh phê duyệt báo cáo tổng hợp"):
        assert sum(turn in s for s in steps) == len(rounds), turn
    # the last round's report as a Word document and a CSV, where the output says
    word = Path(re.search(r"^Báo cáo tổng hợp \(Word\): (.+\.docx)$", r.stdout, re.M)[1])  # type: ignore[index]
    sheet = Path(re.search(r"^Số liệu \(CSV\): (.+\.csv)$", r.stdout, re.M)[1])  # type: ignore[index]
    assert word.parent == round_runs[plan].cwd / "var" == sheet.parent
    from docx import Document

    cells = [[c.text for c in row.cells] for t in Document(str(word)).tables
             for row in t.rows if len(row.cells) == 8]
    last = tables[-1]
    assert len(cells) == len(last.rows) + 1  # the header, one row per indicator
    for shown, written in zip(last.rows, cells[1:], strict=True):
        assert written[3] == shown["value"].removesuffix("%"), (shown.string, written)
    assert len(sheet.read_text(encoding="utf-8-sig").splitlines()) == len(last.rows) + 1
    # the rounds' hash chains
    assert "mọi chuỗi băm toàn vẹn" in r.stdout
    chains = re.findall(rf"^  round:{plan}:(\S+): \d+ sự kiện, chuỗi băm toàn vẹn$", r.stdout,
                        re.M)
    assert chains == rounds


@pytest.mark.parametrize("plan", [p for p, (_, years) in REPORTING.items() if years])
def test_multi_year_demo_compares_years_and_prints_the_programme(
        round_runs: dict[str, Run], plan: str) -> None:
    r = round_runs[plan].result()
    assert r.returncode == 0, r.stderr
    _, years = REPORTING[plan]
    tables = [t for t in round_tables(r.stdout) if not t.round.startswith("adhoc")]
    # the first year has nothing to compare with; every later one compares with the year
    # before, and its year-on-year targets are assessed
    assert all(m["previous"] == "-" for m in tables[0].rows)
    for t in tables[1:]:
        assert any(re.fullmatch(r"[+-]?[\d.,]+%", m["change"]) for m in t.rows), t.round
        assert any(m["target"].startswith(("tăng", "giảm")) and m["met"] in ("ĐẠT", "KHÔNG ĐẠT")
                   for m in t.rows), t.round
    met = {m["met"] for t in tables for m in t.rows}
    assert {"ĐẠT", "KHÔNG ĐẠT"} <= met
    # the programme: each indicator with a target, its value year by year, the units behind
    out = r.stdout.split(f"Chương trình qua các năm ({years[0]}-{years[-1]})", 1)
    assert len(out) == 2, r.stdout
    programme = out[1].split("\nBáo cáo tổng hợp (Word)")[0].splitlines()
    paths = [x for x in programme if re.search(rf"  {years[0]}: \S+", x)]
    assert paths and all(
        re.search(r"  ".join(rf"{y}: \S+( [✓✗])?" for y in years) + "$", x) for x in paths)
    assert any("✓" in x for x in paths) and any("✗" in x for x in paths)
    assert any(x.startswith("    đơn vị chậm: ") for x in programme)
    assert any(x.startswith(f"Chưa báo cáo kỳ {REPORTING[plan][0][-1]}: ") for x in programme)


def test_reporting_demo_same_seed_same_run_and_its_kept_trail(
        round_runs: dict[str, Run]) -> None:
    first, kept_run = round_runs["son-la-action-month-2023"], round_runs["rounds-data-dir"]
    a, b = first.result(), kept_run.result()
    assert a.returncode == 0 and b.returncode == 0, b.stderr

    def tables(stdout: str) -> str:
        return stdout.split("Báo cáo tổng hợp (Word)")[0]

    assert tables(a.stdout) == tables(b.stdout)
    kept = kept_run.cwd / "kept"
    assert (kept / "son-la-action-month-2023-action-month-2023.docx").is_file()
    commands = [line.split("#")[0].strip() for line in b.stdout.splitlines()
                if line.strip().startswith("drugfree db verify")]
    assert len(commands) == 2 and commands[0].endswith(
        "round:son-la-action-month-2023:action-month-2023"), b.stdout
    v = drugfree(*shlex.split(commands[0])[1:], cwd=kept_run.cwd)
    assert v.returncode == 0, v.stderr
    assert re.fullmatch(r"ok: \d+ events in 1 streams, every link verified\n", v.stdout)


def test_reporting_demo_takes_no_communes_option(tmp_path: Path) -> None:
    r = drugfree("demo", "--plan", "son-la-action-month-2023", "--communes", "3", cwd=tmp_path)
    assert r.returncode == 2 and "--communes" in r.stderr and len(r.stderr.splitlines()) == 1
