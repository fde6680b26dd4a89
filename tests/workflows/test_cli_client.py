"""The command line (``drugfree case``, ``drugfree campaign``; issue 9) against the real API
served by uvicorn over the real workflows: a case started, selected, its reports and dossier, a
rejection with its reason and a resubmission, a delegation, approvals to recognition; many cases
from a CSV with bad rows; a campaign from proposal to the recognition list; the reads in
Vietnamese by default and as JSON. Communes 29512-29524 of Trà Vinh are this module's only."""

from __future__ import annotations

import asyncio
import io
import json
import sys
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from api.app import create_app
from cli.main import app as cli_app
from domain.clock import PlanClock
from domain.identity import Signer, issue_token
from domain.plan import Plan
from domain.roles import Actor
from service import CaseService
from service.access import Authenticator
from tests.workflows.support import BASELINE, CLEAN, SIGNER, Case, serving

pytestmark = pytest.mark.asyncio(loop_scope="session")

PLAN = "tra-vinh-2025"
COMMUNE = "29512"  # district 851
MANY = ("29515", "29516", "29518", "29524")  # district 851, started from a CSV
PROPOSED = ("29513", "29521")  # district 850, proposed to the campaign
ISSUER = Signer.from_seed(bytes(range(96, 128)))  # the sign-on that issues people's tokens


@dataclass
class Served:
    url: str
    service: CaseService
    clock: list[PlanClock] = field(default_factory=lambda: [PlanClock()])

    def use(self, case: Case) -> None:
        """New cases and campaigns run on ``case``'s rehearsal calendar."""
        self.clock[0] = case.clock
        case.service = self.service


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def served(temporal: Any, worker: str, store: Any) -> AsyncIterator[Served]:
    client, env = temporal
    service = CaseService(client, worker, store, signer=SIGNER, clock=env.get_current_time)
    out = Served("", service)

    def clock_for(_: Plan) -> PlanClock:
        return out.clock[0]

    app = create_app(service, Authenticator(ISSUER.ring()), clock_for=clock_for)
    async with serving(app) as url:
        out.url = url
        yield out


def token(actor: Actor) -> str:
    return issue_token(ISSUER, actor, datetime.now(UTC), timedelta(hours=1))


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str


class _ThisThread(io.TextIOBase):
    """``sys.stdout`` / ``sys.stderr`` while a command runs in its thread: what that thread
    writes is the command's output; what the worker and server write on the test's own thread
    (logs) goes where it went before."""

    encoding, errors = "utf-8", "strict"

    def __init__(self, fallback: Any, local: threading.local, name: str) -> None:
        self._fallback, self._local, self._name = fallback, local, name

    def _target(self) -> Any:
        return getattr(self._local, self._name, None) or self._fallback

    def write(self, text: str) -> int:
        return int(self._target().write(text))

    def flush(self) -> None:
        self._target().flush()

    def isatty(self) -> bool:
        return False


Run = Callable[..., Any]


@pytest.fixture
def drugfree(served: Served, monkeypatch: pytest.MonkeyPatch) -> Run:
    """``drugfree ARGS --api URL [--token T]``, the real command, in a thread (the API answers
    on this loop): its exit code, stdout and stderr."""
    monkeypatch.delenv("DRUGFREE_TOKEN", raising=False)
    monkeypatch.delenv("DRUGFREE_API", raising=False)
    local = threading.local()

    def invoke(argv: list[str]) -> Result:
        local.out, local.err = io.StringIO(), io.StringIO()
        try:
            returned = cli_app(argv, prog_name="drugfree", standalone_mode=False)
            code = int(returned or 0)
        except SystemExit as exc:  # pragma: no cover - not standalone: Exit is returned
            code = int(exc.code or 0)
        return Result(code, local.out.getvalue(), local.err.getvalue())

    async def run(*args: str, who: Actor | None = None, code: int = 0) -> Result:
        argv = [*args, "--api", served.url]
        if who is not None:
            argv += ["--token", token(who)]
        saved = sys.stdout, sys.stderr
        sys.stdout = _ThisThread(saved[0], local, "out")
        sys.stderr = _ThisThread(saved[1], local, "err")
        try:
            result = await asyncio.to_thread(invoke, argv)
        finally:
            sys.stdout, sys.stderr = saved
        assert result.exit_code == code, (args, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
        return result

    return run


async def outcome(case: Case) -> str:
    """Wait for ``case`` to close: its outcome (a case the campaign started answers a dict)."""
    state: Any = await case.service.result(case.ref)
    return str(state["outcome"] if isinstance(state, dict) else state.outcome)


def write(folder: Path, name: str, data: Any) -> Path:
    path = folder / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def one_error(result: Result, code: str) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert lines[0].endswith(f"[{code}]"), lines[0]
    return lines[0]


async def test_a_case_from_start_to_recognition_through_the_cli(
        served: Served, make_case: Any, drugfree: Run, store: Any, tmp_path: Path) -> None:
    case: Case = await make_case(PLAN, COMMUNE)
    served.use(case)
    district, police = case.actor("district_ubnd"), case.actor("province_police")
    commune, auditor = case.actor("commune_ubnd"), case.actor("auditor")
    baseline = write(tmp_path, "baseline.json", BASELINE)
    clean = write(tmp_path, "clean.json", CLEAN)

    # a commune officer may not start a case: refused by the API, one line, exit 2
    r = await drugfree("case", "start", "--plan", PLAN, "--commune", COMMUNE, "--metrics",
                       str(baseline), who=commune, code=2)
    assert "vai trò" in one_error(r, "case.wrong_role")
    r = await drugfree("case", "start", "--plan", PLAN, "--commune", COMMUNE, "--metrics",
                       str(baseline), who=district)
    assert r.stdout.strip() == f"đã mở hồ sơ {case.id}"

    # the reads, Vietnamese by default; --json parses
    r = await drugfree("case", "status", case.id, who=district)
    assert "Tình trạng:" in r.stdout and "đã mở, chờ lựa chọn" in r.stdout
    view = json.loads((await drugfree("case", "status", case.id, "--json", who=district)).stdout)
    assert view["case"]["case_id"] == case.id and view["chain"] is None
    r = await drugfree("case", "status", case.id, "--lang", "en", who=district)
    assert "Status:" in r.stdout and "opened, awaiting selection" in r.stdout

    # many communes from a CSV (with a BOM): bad rows are reported, the others start
    sheet = tmp_path / "communes.csv"
    cols = ["commune_code", *BASELINE]
    good = ",".join(str(BASELINE[c]).lower() for c in BASELINE)
    bad_cell = good.replace(f"{BASELINE['population']}", "9.000", 1)
    invalid = {**BASELINE, "addicts_with_records": BASELINE["addicts_total"] + 1}
    sheet.write_text("\ufeff" + ",".join(cols) + "\n" + "\n".join([
        f"{MANY[0]},{good}", f"{MANY[1]},{bad_cell}", f"{MANY[2]},{good}",
        f"{MANY[3]}," + ",".join(str(invalid[c]).lower() for c in BASELINE)]) + "\n",
        encoding="utf-8")
    r = await drugfree("case", "start", "--plan", PLAN, "--from-csv", str(sheet), who=district,
                       code=2)
    rows = r.stdout.splitlines()
    assert rows[0].startswith(f"dòng 2\t{MANY[0]}\tok\t")
    assert rows[1].startswith(f"dòng 3\t{MANY[1]}\tlỗi\tdòng 3, cột population")
    assert rows[1].endswith("[csv.bad_cell]")
    assert rows[2].startswith(f"dòng 4\t{MANY[2]}\tok")
    assert rows[3].startswith(f"dòng 5\t{MANY[3]}\tlỗi") and rows[3].endswith("[metrics.invalid]")
    assert "[4/4]" in r.stderr and "2/4 hồ sơ đã mở" in r.stderr

    # the two started from the CSV end: one not selected, one withdrawn
    await drugfree("case", "decide", f"conversion:{PLAN}:{MANY[0]}", "--not-select",
                   "--reason", "chưa đủ điều kiện", who=police)
    r = await drugfree("case", "withdraw", f"conversion:{PLAN}:{MANY[2]}", "--reason",
                       "nhập nhầm", who=district)
    assert r.stdout.startswith("đã rút hồ sơ")
    for code in (MANY[0], MANY[2]):
        other = await make_case(PLAN, code)
        other.service = served.service
        assert await outcome(other) in ("not_selected", "withdrawn")

    # selection: exactly one decision
    r = await drugfree("case", "decide", case.id, "--not-select", "--select", who=police, code=2)
    assert "đúng một" in r.stderr
    r = await drugfree("case", "decide", case.id, "--select", who=police)
    assert r.stdout.strip() == f"đã chọn chuyển hóa: {case.id}"

    # reports, each a day before it is due; then the dossier
    for d in sorted(case.plan.deadlines, key=lambda d: d.due):
        if d.kind in ("selection", "district_list", "dossier") or \
                d.due > case.plan.deadline("dossier").due:
            continue
        await case.advance_to(d.due - timedelta(days=1))
        extra = ["--metrics", str(clean)] if d.kind == "phase_report" else []
        r = await drugfree("case", "submit", case.id, "--deadline", d.id, *extra, "--note",
                           "đã thực hiện", who=commune)
        assert r.stdout.strip() == f"đã nộp {d.id} (đúng hạn)", r.stdout
    await case.advance_to(case.plan.deadline("dossier").due - timedelta(days=1))
    r = await drugfree("case", "submit", case.id, "--deadline", "dossier", "--metrics",
                       str(clean), who=commune)
    assert r.stdout.strip() == "đã nộp dossier (đúng hạn); đạt tiêu chí"

    # the first level returns the dossier with its reason; the commune resubmits
    first = case.plan.approval_chain[0]
    reviewer = case.actor(first.roles[0])
    for _ in range(100):  # the reviewer's inbox (the read model follows within moments)
        r = await drugfree("inbox", "--json", who=reviewer)
        if any(i["case_id"] == case.id for i in json.loads(r.stdout)):
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError(f"not in the reviewer's inbox: {r.stdout}")
    r = await drugfree("inbox", who=reviewer)
    assert case.id in r.stdout and first.id in r.stdout and "việc đang chờ" in r.stdout
    r = await drugfree("case", "decide", case.id, "--reject", who=reviewer, code=2)
    assert "lý do" in one_error(r, "decision.reason_required")
    r = await drugfree("case", "decide", case.id, "--reject", "--reason",
                       "thiếu biên bản họp dân", who=reviewer)
    r = await drugfree("case", "status", case.id, who=commune)
    assert "hồ sơ bị trả lại" in r.stdout and "thiếu biên bản họp dân" in r.stdout
    r = await drugfree("case", "decide", case.id, "--approve", who=reviewer, code=2)
    one_error(r, "chain.not_pending")
    await drugfree("case", "resubmit", case.id, who=commune)

    # approvals, the first sign-off delegated to a colleague who signs it
    colleague = case.actor(first.roles[0], person="p-colleague")
    r = await drugfree("case", "delegate", case.id, "--to", colleague.person_id, who=reviewer)
    assert "p-colleague" in r.stdout
    r = await drugfree("case", "status", case.id, "--lang", "en", who=reviewer)
    assert f"Pending level: {first.id}" in r.stdout
    # every report went in a day early: none is shown late
    assert "Submitted:" in r.stdout and "phase_1_report" in r.stdout and "(late)" not in r.stdout
    for level in case.plan.approval_chain:
        for role in level.roles:
            who = colleague if (level.id, role) == (first.id, first.roles[0]) else \
                case.actor(role)
            await drugfree("case", "decide", case.id, "--approve", "--level", level.id,
                           who=who)
    assert (await case.service.result(case.ref)).outcome == "recognised"

    # history: a timeline in Viet Nam's time, the reason there; auditors read, change nothing
    r = await drugfree("case", "history", case.id, who=auditor)
    lines = r.stdout.splitlines()
    assert "Mở hồ sơ" in lines[0] and "Đóng hồ sơ" in lines[-1]
    assert any("Trả lại hồ sơ" in line and "thiếu biên bản họp dân" in line for line in lines)
    assert any("Ủy quyền" in line and "p-colleague" in line for line in lines)
    stamp = datetime.strptime(lines[0][:16], "%d/%m/%Y %H:%M")
    events = json.loads((await drugfree("case", "history", case.id, "--json",
                                        who=auditor)).stdout)
    opened = datetime.fromisoformat(events[0]["recorded_at"]).astimezone(UTC)
    assert stamp == (opened + timedelta(hours=7)).replace(tzinfo=None, second=0,
                                                          microsecond=0)
    assert [e["type"] for e in events] == [e.type for e in await store.read(case.id)]
    r = await drugfree("case", "withdraw", case.id, "--reason", "thử", who=auditor, code=2)
    one_error(r, "access.read_only")

    # the list: only what the reader's jurisdiction holds
    listed = json.loads((await drugfree("case", "list", "--plan", PLAN, "--json",
                                        who=district)).stdout)
    ours = {f"conversion:{PLAN}:{c}" for c in (COMMUNE, MANY[0], MANY[2])}
    assert ours <= {row["stream"] for row in listed}
    r = await drugfree("case", "list", "--plan", PLAN, "--state", "recognised", who=district)
    assert case.id in r.stdout and "được công nhận" in r.stdout
    outsider = Actor(person_id="p-x", role="province_police", province_code="38")
    r = await drugfree("case", "list", "--plan", PLAN, who=outsider)
    assert r.stdout.strip() == "không có hồ sơ nào"


async def test_a_campaign_from_proposals_to_the_recognition_list(
        served: Served, make_case: Any, drugfree: Run, tmp_path: Path) -> None:
    cases = {code: await make_case(PLAN, code) for code in PROPOSED}
    chosen, other = cases[PROPOSED[0]], cases[PROPOSED[1]]
    served.use(chosen)
    other.service = served.service
    district, police = chosen.actor("district_ubnd"), chosen.actor("province_police")
    last = chosen.plan.approval_chain[-1]
    ubnd = chosen.actor(last.roles[0])

    r = await drugfree("campaign", "open", "--plan", PLAN, who=district, code=2)
    one_error(r, "campaign.wrong_role")
    r = await drugfree("campaign", "open", "--plan", PLAN, who=chosen.actor("province_ubnd"))
    assert r.stdout.strip() == f"đã mở chiến dịch campaign:{PLAN}"
    sheet = tmp_path / "proposal.csv"
    sheet.write_text(",".join(["commune_code", *BASELINE]) + "\n" + "".join(
        f"{c}," + ",".join(str(v).lower() for v in BASELINE.values()) + "\n"
        for c in PROPOSED), encoding="utf-8")
    r = await drugfree("campaign", "propose", "--plan", PLAN, "--communes-csv", str(sheet),
                       who=district)
    assert r.stdout.splitlines() == [f"{c}\tok" for c in PROPOSED]
    r = await drugfree("campaign", "approve-selection", "--plan", PLAN, "--communes",
                       PROPOSED[0], "--all-proposed", who=police, code=2)
    assert "đúng một" in r.stderr
    r = await drugfree("campaign", "approve-selection", "--plan", PLAN, "--communes",
                       PROPOSED[0], who=district, code=2)
    one_error(r, "campaign.wrong_role")  # as the workflow says it
    selection = chosen.plan.deadlines_of("selection")[0]
    await chosen.advance_to(selection.due - timedelta(days=1))
    r = await drugfree("campaign", "approve-selection", "--plan", PLAN, "--communes",
                       PROPOSED[0], who=police)
    assert r.stdout.splitlines() == [f"{c}\tok" for c in PROPOSED]  # both cases answered
    r = await drugfree("campaign", "status", "--plan", PLAN, who=police)
    assert "Đề xuất:" in r.stdout and "Được chọn:" in r.stdout and "Chỉ tiêu:" in r.stdout
    st = json.loads((await drugfree("campaign", "status", "--plan", PLAN, "--json",
                                    who=police)).stdout)
    assert st["proposed"] == list(PROPOSED) and st["selected"] == [PROPOSED[0]]
    assert await outcome(other) == "not_selected"

    # the selected commune reports, files its dossier; every level but the last signs
    await chosen.on_time_reports(chosen.plan.deadline("dossier").due)
    await chosen.advance_to(chosen.plan.deadline("dossier").due - timedelta(days=1))
    await drugfree("case", "submit", chosen.id, "--deadline", "dossier", "--metrics",
                   str(write(tmp_path, "clean.json", CLEAN)), who=chosen.actor("commune_ubnd"))
    for level in chosen.plan.approval_chain[:-1]:
        for role in level.roles:
            await drugfree("case", "decide", chosen.id, "--approve", who=chosen.actor(role))
    r = await drugfree("campaign", "approve-recognition", "--plan", PLAN, "--communes",
                       f"{PROPOSED[0]},{PROPOSED[1]}", who=ubnd, code=2)
    assert PROPOSED[1] in one_error(r, "campaign.not_selected") and r.stdout == ""
    for _ in range(100):  # the last level reaches the provincial committee's inbox
        r = await drugfree("inbox", "--json", who=ubnd)
        if any(i["case_id"] == chosen.id for i in json.loads(r.stdout)):
            break
        await asyncio.sleep(0.1)
    r = await drugfree("campaign", "approve-recognition", "--plan", PLAN, "--communes",
                       PROPOSED[0], "--all-appraised", who=ubnd, code=2)
    assert "đúng một" in r.stderr
    r = await drugfree("campaign", "approve-recognition", "--plan", PLAN, "--all-appraised",
                       who=ubnd)
    assert r.stdout.splitlines() == [f"{PROPOSED[0]}\tok"]
    final = await served.service.campaign_result(f"campaign:{PLAN}")
    assert final.recognised == [PROPOSED[0]]
    r = await drugfree("campaign", "status", "--plan", PLAN, "--lang", "en", who=police)
    assert "Recognised:" in r.stdout and PROPOSED[0] in r.stdout


async def test_plans_publish_and_list_their_versions(drugfree: Run, tmp_path: Path) -> None:
    from catalog import get_plan

    ubnd = Actor(person_id="ubnd-84", role="province_ubnd", province_code="84")
    doc = get_plan(PLAN).model_dump(mode="json", exclude={"criteria", "rules"})
    doc["id"], doc["title_vi"] = "tra-vinh-2025-cli", "Kế hoạch ban hành qua dòng lệnh"
    (tmp_path / "plans").mkdir()
    plan_file = write(tmp_path / "plans", "tra-vinh-2025-cli.json", doc)

    # checked here first: a broken file is named, and nothing is sent
    broken = write(tmp_path / "plans", "broken.json", {**doc, "id": "broken", "phases": []})
    r = await drugfree("plans", "publish", str(broken), who=ubnd, code=2)
    assert "phases" in r.stderr and "Traceback" not in r.stderr
    # the server refuses who may not publish (the district is not the plan's issuer)
    district = Actor(person_id="d-850", role="district_ubnd", province_code="84",
                     district_code="850")
    one_error(await drugfree("plans", "publish", str(plan_file), who=district, code=2),
              "plan.wrong_role")

    r = await drugfree("plans", "publish", str(plan_file), who=ubnd)
    assert "tra-vinh-2025-cli: phiên bản 1" in r.stdout
    again = await drugfree("plans", "publish", str(plan_file), who=ubnd)  # same content
    assert "phiên bản 1" in again.stdout
    doc["title_vi"] = "Kế hoạch ban hành qua dòng lệnh (sửa đổi)"
    write(tmp_path / "plans", "tra-vinh-2025-cli.json", doc)
    r = await drugfree("plans", "publish", str(plan_file), "--lang", "en", who=ubnd)
    assert "tra-vinh-2025-cli: version 2" in r.stdout

    listed = json.loads((await drugfree("plans", "list", "--json", who=ubnd)).stdout)
    mine = [p for p in listed if p["id"] == "tra-vinh-2025-cli"]
    assert [(p["version"], p["source"]) for p in mine] == [(2, "published")]
    assert any(p["id"] == PLAN and p["source"] == "catalogue" for p in listed)
    table = (await drugfree("plans", "list", "--all-versions", who=ubnd)).stdout
    rows = [line.split("\t") for line in table.splitlines() if "tra-vinh-2025-cli" in line]
    assert [row[1] for row in rows] == ["v1", "v2"] and rows[0][5] == "ubnd-84"


async def test_plans_amend_applies_through_the_api(drugfree: Run, served: Served,
                                                   make_case: Any) -> None:
    """`drugfree plans amend FILE --token`: the provincial People's Committee applies the
    reform to a running case (29305, Xã Đức Mỹ -> 29302 of Vĩnh Long); again: a no-op."""
    reform = Path(__file__).resolve().parents[2] / "domain/amendments/tra-vinh-2025-reform.yaml"
    case: Case = await make_case(PLAN, "29305")
    served.use(case)
    await case.start()
    await case.advance_to(datetime(2025, 7, 2).date())
    for _ in range(100):  # the read model lists the running case within moments
        if [r for r in await served.service.list_cases(PLAN) if r.stream == case.id]:
            break
        await asyncio.sleep(0.1)
    district = Actor(person_id="d-844", role="district_ubnd", province_code="84",
                     district_code="844")
    one_error(await drugfree("plans", "amend", str(reform), who=district, code=2),
              "amendment.wrong_role")
    ubnd = Actor(person_id="ubnd-86", role="province_ubnd", province_code="86")
    r = await drugfree("plans", "amend", str(reform), who=ubnd)
    mine = r.stdout.splitlines()
    at = mine.index(f"{case.id}: đã áp dụng")
    assert mine[at + 1].startswith("  mã mới: 86/29302 "), r.stdout
    assert "tra-vinh-2025-reform" in mine[0]
    again = await drugfree("plans", "amend", str(reform), "--lang", "en", who=ubnd)
    assert f"{case.id}: already applied, unchanged" in again.stdout.splitlines()
    amended = [e for e in await served.service.history(case.ref) if e.type == "case.amended"]
    assert len(amended) == 1 and amended[0].payload["decided_by"] == "ubnd-86"
    await case.service.withdraw(case.ref, Actor(person_id="ubnd-86", role="province_ubnd",
                                                province_code="86"), "kết thúc thử nghiệm")
    assert await outcome(case) == "withdrawn"
