"""`drugfree plans amend FILE --dry-run` over a fresh database with synthetic case events:
each running case of the plan with what would change; nothing changed (events table and read
model compared before and after); without --dry-run a one-line refusal."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import asyncpg

from eventstore import EventStore, NewEvent, Projector
from tests.conftest import Database

REFORM = Path(__file__).resolve().parents[2] / "domain" / "amendments" / "tra-vinh-2025-reform.yaml"
SCHEMA = {"report.submitted": 2, "dossier.submitted": 2, "dossier.resubmitted": 2}


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cli.main", *args], capture_output=True,
                          text=True, timeout=120)


def opened(plan: str, district: str, commune: str) -> tuple[str, dict[str, Any]]:
    return ("case.opened", {"plan_id": plan, "province_code": "84", "district_code": district,
                            "commune_code": commune, "opened_by": "p-du",
                            "opened_by_role": "district_ubnd"})


def report(deadline: str) -> tuple[str, dict[str, Any]]:
    return ("report.submitted", {"deadline_id": deadline, "late": False, "submitted_by": "p-cu"})


def in_phase_2(commune: str, district: str = "844") -> list[tuple[str, dict[str, Any]]]:
    return [opened("tra-vinh-2025", district, commune),
            ("selection.approved", {"decided_by": "p-pp", "role": "province_police"}),
            ("phase.started", {"phase": 1}), report("implementation_plan"),
            report("phase_1_report"), ("phase.started", {"phase": 2})]


def in_chain(commune: str, district: str) -> list[tuple[str, dict[str, Any]]]:
    return [*in_phase_2(commune, district), report("forum_q2"), report("forum_q3"),
            report("phase_2_report"), ("phase.started", {"phase": 3}),
            ("criteria.evaluated", {"met": True, "results": []}),
            ("dossier.submitted", {"round": 1, "first_level": "district_appraisal",
                                   "submitted_by": "p-cu"})]


CASES: dict[str, list[tuple[str, dict[str, Any]]]] = {
    # Càng Long: in phase 2
    "conversion:tra-vinh-2025:29266": in_phase_2("29266"),
    # Phường 3, Trà Vinh city: the district appraisal pending, police signed
    "conversion:tra-vinh-2025:29242": [*in_chain("29242", "842"), ("level.signed", {
        "round": 1, "level": "district_appraisal", "reviewer": "p-dp",
        "role": "district_police"})],
    # Xã Đôn Châu, Trà Cú: returned by the district appraisal
    "conversion:tra-vinh-2025:29500": [*in_chain("29500", "850"), ("level.rejected", {
        "round": 1, "level": "district_appraisal", "reviewer": "p-dp", "role": "district_police",
        "reason": "thiếu biên bản"})],
    # closed: not listed
    "conversion:tra-vinh-2025:29269": [*in_phase_2("29269"), ("case.withdrawn", {
        "reason": "x", "withdrawn_by": "p-du"}), ("case.closed", {"outcome": "withdrawn"})],
    # another plan: not listed
    "conversion:nhu-xuan-2024-2025:14968": [opened("nhu-xuan-2024-2025", "402", "14968")],
}


async def _seed(url: str) -> None:
    async with await EventStore.connect(url, max_size=2) as store:
        for stream, steps in CASES.items():
            await store.append(stream, 0, [
                NewEvent(str(uuid.uuid4()), t, SCHEMA.get(t, 1), p) for t, p in steps])
        await Projector(store).rebuild()


async def _snapshot(url: str) -> tuple[Any, ...]:
    conn = await asyncpg.connect(url)
    try:
        events = await conn.fetchrow(
            "SELECT count(*) AS n, md5(string_agg(e::text, '|' ORDER BY e::text)) AS h "
            "FROM events e")
        status = await conn.fetchrow(
            "SELECT count(*) AS n, md5(string_agg(c::text, '|' ORDER BY c::text)) AS h "
            "FROM case_status c")
        assert events is not None and status is not None
        return (events["n"], events["h"], status["n"], status["h"])
    finally:
        await conn.close()


async def test_dry_run_lists_running_cases_and_changes_nothing(fresh_database: Database) -> None:
    await _seed(fresh_database.app_url)
    before = await _snapshot(fresh_database.admin_url)
    assert before[0] > 0
    r = await asyncio.to_thread(run, "plans", "amend", str(REFORM), "--dry-run", "--json",
                                "--database-url", fresh_database.admin_url)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["dry_run"] and out["amendment"] == "tra-vinh-2025-reform"
    assert out["plans"]["tra-vinh-2025"]["province_code"] == "86"
    cases = {c["case_id"]: c for c in out["cases"]}
    assert set(cases) == {"conversion:tra-vinh-2025:29242", "conversion:tra-vinh-2025:29266",
                          "conversion:tra-vinh-2025:29500"}
    pending = cases["conversion:tra-vinh-2025:29242"]["pending"]
    assert (pending["level_before"], pending["level_after"], pending["transferred"]) == (
        "district_appraisal", "province_appraisal", True)
    assert pending["awaiting_after"] == ["province_police", "province_department"]
    assert [s["person"] for s in pending["signatures_kept"]] == ["p-dp"]
    returned = cases["conversion:tra-vinh-2025:29500"]["pending"]
    assert returned["resubmit_first_after"] == "province_appraisal"
    codes = cases["conversion:tra-vinh-2025:29500"]["codes"]
    assert (codes["district_before"], codes["commune_after"]) == ("850", "29497")
    mid = cases["conversion:tra-vinh-2025:29266"]
    assert {d["escalate_after"] for d in mid["deadlines"]} == {"province_ubnd"}
    assert mid["codes"]["province_after"] == "86"

    text = await asyncio.to_thread(run, "plans", "amend", str(REFORM), "--dry-run",
                                   "--database-url", fresh_database.admin_url)
    assert text.returncode == 0, text.stderr
    assert "3 hồ sơ đang chạy" in text.stdout
    assert "district_appraisal -> province_appraisal (chuyển giao)" in text.stdout
    assert await _snapshot(fresh_database.admin_url) == before


def test_applying_without_a_token_refuses_in_one_line() -> None:
    r = run("plans", "amend", str(REFORM), "--lang", "en")
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.strip().splitlines() == [
        "error: applying an amendment needs the provincial People's Committee's token "
        "(--token); use --dry-run to see what it would change"]


def test_a_bad_amendment_is_refused_naming_the_level(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(REFORM.read_text(encoding="utf-8").replace(
        "level: district_review,", "level: district_council,"), encoding="utf-8")
    r = run("plans", "amend", str(bad), "--dry-run", "--database-url", "postgresql://unused")
    assert r.returncode == 2
    assert "district_council" in r.stderr and "[amendment.unknown_level]" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
