"""`drugfree demo`: a province's whole year on the embedded default servers.

Districts propose their communes, the provincial police approves the selection list, the
phases run with reports (some late, so reminders and escalations fire), communes submit their
dossiers (some miss a criterion), reviewers approve and reject (some dossiers come back and are
resubmitted), and the provincial UBND approves the recognition list. Ends with a table per
district (per province after the 2025 reform) and the target.

Every action goes through the service layer (``service.CaseService``), as every interface
does; the command only moves the time-skipping server's clock. It runs on that server and on a
throwaway PostgreSQL unless ``--data-dir`` keeps the database or ``DATABASE_URL`` points to one.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shlex
import shutil
import sys
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO, TypeVar

import typer

from catalog import DEFAULT_PLAN, get_plan
from cli.datadir import DemoDir
from cli.demo_data import Scenario, row_key, territory
from cli.errors import fail, guarded
from domain.admin_units import Commune, registry
from domain.case import selection_role
from domain.clock import PlanClock, rehearsal_shift
from domain.identity import Signer
from domain.plan import ApprovalLevel, Deadline, Plan
from domain.roles import ROLE_NAMES_VI, ROLE_SCOPE, Actor, Role

if TYPE_CHECKING:  # imported when the demo runs: Temporal's SDK costs a second at start-up
    from temporalio.client import Client
    from temporalio.testing import WorkflowEnvironment

    from eventstore.records import VerifyReport
    from eventstore.store import EventStore
    from service import CaseRef, CaseService
    from workflows.messages import CampaignStatus, ListReply, Reply

T = TypeVar("T")
Step = Callable[[], Awaitable[str]]

IN_FLIGHT = 24  # requests in flight at once
RETURN_REASON = "hồ sơ thiếu biên bản kiểm tra / missing inspection record"


class Progress:
    """One line per step: a redrawn bar on a terminal, plain lines into a pipe or a file."""

    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        self.total, self.done = total, 0
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()

    def step(self, label: str) -> None:
        self.done += 1
        if not self.tty:
            self.stream.write(f"[{self.done}/{self.total}] {label}\n")
        else:
            width = 30
            filled = width * self.done // self.total
            head = f"[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} "
            room = max(10, shutil.get_terminal_size().columns - len(head) - 1)
            text = label if len(label) <= room else label[: room - 1] + "…"
            self.stream.write(f"\r{head}{text:<{room}}")
            if self.done == self.total:
                self.stream.write("\n")
        self.stream.flush()

    def close(self) -> None:
        """End a bar left midway (a step failed), so an error starts on its own line."""
        if self.tty and 0 < self.done < self.total:
            self.stream.write("\n")
            self.stream.flush()


@dataclass
class Outcome:
    """What the year produced, per commune: the table and the audit lines are made from it."""

    status: CampaignStatus
    late: Counter[str] = field(default_factory=Counter)  # commune -> reports recorded late
    returned: Counter[str] = field(default_factory=Counter)  # commune -> dossiers sent back


class Year:
    """A province's year, step by step, through ``CaseService``. ``steps()`` lists the steps
    before any runs, so the progress knows its total; each step returns its label."""

    def __init__(self, service: CaseService, env: WorkflowEnvironment, scenario: Scenario,
                 clock: PlanClock) -> None:
        self.service, self.env, self.s, self.clock = service, env, scenario, clock
        self.plan = scenario.plan
        self.reg = registry(self.plan.structure)
        self.gate = asyncio.Semaphore(IN_FLIGHT)
        self.campaign = ""
        self.in_chain: list[Commune] = []  # dossiers that met the criteria
        self.late: Counter[str] = Counter()
        self.returned: Counter[str] = Counter()
        self.status: CampaignStatus | None = None
        reports = sorted(self.plan.deadlines_of("phase_report"), key=lambda d: d.due)
        self.late_deadline = reports[0].id if reports else None

    # -- the steps ----------------------------------------------------------------------------
    def steps(self) -> list[Step]:
        plan = self.plan
        out: list[Step] = [self.open]
        groups: dict[str, list[Commune]] = {}
        for u in self.s.communes:
            groups.setdefault(row_key(plan, u), []).append(u)
        out += [partial(self.propose, k, g) for k, g in sorted(groups.items())]
        out.append(self.select)
        for d in sorted(plan.deadlines, key=lambda d: d.due):
            if d.kind in ("selection", "district_list"):
                continue
            if d.kind == "dossier":
                out.append(partial(self.dossiers, d))
                out += [partial(self.review, lv, first=i == 0)
                        for i, lv in enumerate(plan.approval_chain[:-1])]
            else:
                out.append(partial(self.reports, d))
        out += [self.recognition_list, self.close]
        return out

    async def open(self) -> str:
        self.campaign = await self.service.start_campaign(
            self.plan, self.actor("province_ubnd"), clock=self.clock)
        where = self.unit_name(self.plan.district_code or self.plan.province_code)
        return f"Mở kế hoạch {self.plan.id}: {len(self.s.communes)} xã của {where}"

    async def propose(self, key: str, members: list[Commune]) -> str:
        proposer: Role = "district_ubnd" if self.plan.has_districts else "province_police"
        who = self.actor(proposer, district=members[0].district_code)
        self.check(await self.service.propose(
            self.campaign, who, {u.code: self.s.baselines[u.code] for u in members},
            request_id=f"propose-{key}"), "propose")
        return f"{self.unit_name(key)}: đề xuất {len(members)} xã"

    async def select(self) -> str:
        selection = self.plan.deadlines_of("selection")[0]
        role = selection_role(self.plan)
        await self.skip_to(selection.due - timedelta(days=2))
        self.check(await self.service.approve_selection(
            self.campaign, self.actor(role, district=self.plan.district_code),
            [u.code for u in self.s.chosen], request_id="selection"), "selection")
        return (f"{ROLE_NAMES_VI[role]} phê duyệt danh sách chuyển hóa: "
                f"{len(self.s.chosen)}/{len(self.s.communes)} xã")

    async def reports(self, d: Deadline) -> str:
        """Every selected commune reports a day before the deadline, except the late ones'
        first phase report, which comes a week after it passed (reminders, escalation)."""
        late = [u for u in self.s.chosen if d.id == self.late_deadline and u.code in self.s.late]
        on_time = [u for u in self.s.chosen if u not in late]
        await self.skip_to(d.due - timedelta(days=1))
        await self.each(lambda u: self.submit(u, d), on_time)
        if late:
            await self.skip_to(d.due + timedelta(days=7))
            await self.each(lambda u: self.submit(u, d), late)
        text = f"{d.title_vi} (hạn {_day(d.due)}): {len(on_time)} xã nộp đúng hạn"
        return text + (f", {len(late)} xã nộp trễ" if late else "")

    async def dossiers(self, d: Deadline) -> str:
        await self.skip_to(d.due - timedelta(days=3))
        replies = await self.each(lambda u: self.submit(u, d), self.s.chosen)
        self.in_chain = [u for u, r in zip(self.s.chosen, replies, strict=True) if r.criteria_met]
        failed = len(self.s.chosen) - len(self.in_chain)
        return (f"{d.title_vi} (hạn {_day(d.due)}): {len(self.s.chosen)} xã nộp, "
                f"{len(self.in_chain)} đạt tiêu chí, {failed} chưa đạt")

    async def review(self, level: ApprovalLevel, first: bool) -> str:
        """A level of the chain signs every dossier in it; the first level sends some back
        once with a reason, and those communes resubmit."""
        back = [u for u in self.in_chain if first and u.code in self.s.returned]
        if back:
            await self.each(lambda u: self.service.reject(
                self.ref(u), self.approvers(level, u)[0], RETURN_REASON, level=level.id,
                request_id=f"reject-{level.id}-{u.code}"), back)
            self.returned.update(u.code for u in back)
            await self.each(lambda u: self.service.resubmit(
                self.ref(u), self.actor("commune_ubnd", commune=u),
                request_id=f"resubmit-{u.code}"), back)
        for seat in range(len(self.approvers(level, None))):
            await self.each(partial(self.sign, level, seat), self.in_chain)
        text = f"{level.name_vi}: đồng ý {len(self.in_chain)} hồ sơ"
        return text + (f", trả lại {len(back)} hồ sơ (xã đã nộp lại)" if back else "")

    async def recognition_list(self) -> str:
        """The last level: its other signatories sign each dossier, then the People's
        Committee approves the recognition list in one decision."""
        last = self.plan.approval_chain[-1]
        *others, by = self.approvers(last, None)
        for seat in range(len(others)):
            await self.each(partial(self.sign, last, seat), self.in_chain)
        self.check(await self.service.approve_recognition(
            self.campaign, by, [u.code for u in self.in_chain],
            request_id="recognition-list"), "recognition list")
        return f"{ROLE_NAMES_VI[by.role]} phê duyệt danh sách công nhận: {len(self.in_chain)} xã"

    async def close(self) -> str:
        """Wait for the plan's end: every case closes and tells the campaign."""
        self.status = await self.service.campaign_result(self.campaign)
        return (f"Kết thúc kế hoạch ({_day(self.plan.ends_on)}): công nhận "
                f"{len(self.status.recognised)}/{self.status.total_communes} xã")

    # -- helpers ------------------------------------------------------------------------------
    def outcome(self) -> Outcome:
        assert self.status is not None, "the year has not ended"
        return Outcome(self.status, self.late, self.returned)

    def ref(self, u: Commune) -> CaseRef:
        from service import CaseRef

        return CaseRef(self.plan.id, u.code)

    async def submit(self, u: Commune, d: Deadline) -> Reply:
        metrics = (self.s.dossiers[u.code] if d.kind == "dossier" else
                   self.s.baselines[u.code] if d.kind == "phase_report" else None)
        reply = await self.service.submit(self.ref(u), self.actor("commune_ubnd", commune=u),
                                          d.id, metrics, request_id=f"{d.id}-{u.code}")
        if reply.late:
            self.late[u.code] += 1
        return reply

    async def sign(self, level: ApprovalLevel, seat: int, u: Commune) -> Reply:
        """The ``seat``-th signatory of ``level`` approves commune ``u``'s dossier."""
        return await self.service.approve(self.ref(u), self.approvers(level, u)[seat],
                                          level=level.id,
                                          request_id=f"approve-{level.id}-{seat}-{u.code}")

    def actor(self, role: Role, district: str | None = None, commune: Commune | None = None,
              person: str | None = None) -> Actor:
        """A person acting in ``role`` (for a commune, or a district); the service signs each
        of their commands with the demo's front-door key."""
        scope = ROLE_SCOPE[role]
        if commune is not None:
            district = commune.district_code
        where = (commune.code if commune and scope == "commune" else
                 district if scope != "province" else None) or self.plan.province_code
        return Actor(person_id=person or f"demo-{role}-{where}", role=role,
                     province_code=self.plan.province_code,
                     district_code=district if scope != "province" else None,
                     commune_code=commune.code if commune and scope == "commune" else None)

    def approvers(self, level: ApprovalLevel, u: Commune | None) -> list[Actor]:
        """Who signs ``level`` for commune ``u``, the People's Committee (if any) last: every
        role (all_of), one (any_of), or the first ``quorum`` council members (quorum)."""
        district = u.district_code if u else self.plan.district_code
        if level.rule == "quorum":
            return [self.actor(level.roles[0], district, person=m)
                    for m in level.members[: level.quorum]]
        roles = sorted(level.roles, key=lambda r: r.endswith("_ubnd"))
        if level.rule == "any_of":
            roles = roles[-1:]
        return [self.actor(r, district) for r in roles]

    def unit_name(self, key: str) -> str:
        if key == self.plan.province_code:
            return f"Tỉnh {self.reg.province(key).name}"
        return self.reg.district(key).name

    def check(self, reply: ListReply, what: str) -> None:
        from service import ServiceError

        refused = {c: r for c, r in reply.results.items() if r != "ok"}
        if refused:
            code, why = sorted(refused.items())[0]
            raise ServiceError("demo.refused", f"{what}: commune {code}: {why}")

    async def each(self, fn: Callable[[Commune], Awaitable[T]],
                   items: Iterable[Commune]) -> list[T]:
        async def one(u: Commune) -> T:
            async with self.gate:
                return await fn(u)
        return list(await asyncio.gather(*(one(u) for u in items)))

    async def skip_to(self, day: date, hours: float = 9) -> None:
        from runtime.temporal import skip_until

        await skip_until(self.env, self.clock.day_start(self.plan, day) + timedelta(hours=hours))


def _day(d: date) -> str:
    return f"{d:%d/%m/%Y}"


@guarded
def demo_cmd(
    plan_id: Annotated[str, typer.Option("--plan", help="Plan id.")] = DEFAULT_PLAN,
    communes: Annotated[int | None, typer.Option(
        "--communes", min=1, help="Only N communes, taken in turn from each district.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed of the scenario.")] = 2025,
    data_dir: Annotated[Path | None, typer.Option(
        "--data-dir", file_okay=False,
        help="Keep PostgreSQL's data and the notification log in this new (or empty) "
             "directory, for `drugfree db verify --data-dir DIR` afterwards.")] = None,
) -> None:
    """Run a plan's year for a province's communes and print the results per district."""
    plan = get_plan(plan_id)
    units = territory(plan, communes)
    if not units:
        fail("địa bàn của kế hoạch không có xã nào / the plan's territory has no communes")
    scenario = Scenario.draw(plan, units, seed)
    kept = (DemoDir.claim(data_dir, {"plan": plan.id, "seed": seed, "communes": len(units)})
            if data_dir is not None else None)
    from temporalio.service import RPCError

    try:
        outcome, report = asyncio.run(_demo(scenario, kept))
    except RPCError as exc:
        fail(f"máy chủ Temporal từ chối hoặc không trả lời: {exc}")
    print_table(plan, units, outcome)
    stream = example_stream(scenario, outcome)
    if kept is not None:
        kept.finish(stream=stream[0], events=report.events, streams=report.streams)
    print_trail(report, stream, kept)
    if not report.ok:
        raise typer.Exit(1)


async def run_year(client: Client, env: WorkflowEnvironment, scenario: Scenario,
                   store: EventStore, task_queue: str, signer: Signer) -> Outcome:
    """The year of ``scenario`` on a running worker of ``task_queue`` that trusts ``signer``
    (the demo plays the front door), with its progress on stderr (the demo's driver; the
    workflow benchmark times it too)."""
    from service import CaseService

    plan = scenario.plan
    now = await env.get_current_time()
    clock = PlanClock(shift_years=rehearsal_shift(plan, plan.local_date(now)))
    year = Year(CaseService(client, task_queue, store, signer=signer,
                            clock=env.get_current_time), env, scenario, clock)
    steps = year.steps()
    progress = Progress(len(steps))
    try:
        for step in steps:
            progress.step(await step())
    finally:
        progress.close()
    return year.outcome()


async def _demo(scenario: Scenario, kept: DemoDir | None) -> tuple[Outcome, VerifyReport]:
    from eventstore.embedded import database
    from eventstore.migrate import migrate
    from eventstore.store import EventStore
    from eventstore.urls import app_url
    from runtime import logs
    from runtime.temporal import temporal_environment
    from runtime.trust import Trust
    from service import CaseRef
    from worker import running_worker

    plan = scenario.plan
    log_path = kept.log if kept else Path("var") / "demo-notifications.log"
    log_path.parent.mkdir(exist_ok=True)
    with log_path.open("w", encoding="utf-8") as log_file:
        # Notifications go to the log channel: into a file, so the table stays readable.
        logs.configure("INFO", stream=log_file)
        try:
            async with database(kept.pgdata if kept else None) as db, \
                    temporal_environment("time-skipping") as (client, env):
                if env is None:
                    fail("demo cần máy chủ Temporal tua nhanh thời gian (time-skipping): hãy bỏ "
                         "TEMPORAL_ADDRESS")
                tq = f"demo-{uuid.uuid4().hex[:6]}"
                await migrate(db)  # as the owner, a step of its own: the worker is not the owner
                # The demo plays the front door: its key signs every command, and its worker
                # trusts that key (and its own relay key), on a rehearsal calendar.
                signer = Signer.generate()
                trust = Trust.of(signer, relay=Signer.generate(), rehearsals=True)
                async with running_worker(client, app_url(db), task_queue=tq, trust=trust), \
                        await EventStore.connect(app_url(db)) as store:
                    if await store.streams(CaseRef(plan.id, "").case_id):
                        fail(f"DATABASE_URL đã chứa hồ sơ của kế hoạch {plan.id} (từ một lần "
                             "demo trước?): hãy dùng một cơ sở dữ liệu trống, bỏ DATABASE_URL, "
                             "hoặc dùng --data-dir DIR")
                    outcome = await run_year(client, env, scenario, store, tq, signer)
                    report = await store.verify()
        finally:  # logs back to stderr before the file closes
            logging.getLogger().handlers.clear()
            logs.configure("WARNING")
    return outcome, report


def print_table(plan: Plan, units: list[Commune], r: Outcome) -> None:
    """One row per district (per province after the reform), then the totals, which are
    counted from the outcome directly: the rows must add up to them."""
    status = r.status
    recognised, selected = set(status.recognised), set(status.selected)
    rows: dict[str, Counter[str]] = {}
    for u in units:
        c = rows.setdefault(row_key(plan, u), Counter())
        c["communes"] += 1
        c["selected"] += u.code in selected
        c["recognised"] += u.code in recognised
        c["not_recognised"] += u.code in selected and u.code not in recognised
        c["late"] += r.late[u.code]
        c["returned"] += r.returned[u.code]
    total = Counter(communes=len(units), selected=len(selected), recognised=len(recognised),
                    not_recognised=len(selected - recognised), late=sum(r.late.values()),
                    returned=sum(r.returned.values()))
    reg = registry(plan.structure)
    unit = "Huyện / District" if plan.has_districts else "Tỉnh / Province"
    typer.echo(f"\n{plan.title_vi}")
    header = (f"{unit:<32}{'Xã':>5}{'Chọn':>6}{'Công nhận':>11}{'Không':>7}"
              f"{'Nộp trễ':>9}{'Trả lại':>9}")
    typer.echo(header)
    typer.echo("-" * len(header))

    def line(name: str, c: Counter[str]) -> str:
        return (f"{name[:31]:<32}{c['communes']:>5}{c['selected']:>6}{c['recognised']:>11}"
                f"{c['not_recognised']:>7}{c['late']:>9}{c['returned']:>9}")

    for key in sorted(rows):
        name = (reg.province(key).name if key == plan.province_code
                else reg.district(key).name)
        typer.echo(line(name, rows[key]))
    typer.echo("-" * len(header))
    typer.echo(line("Tổng / Total", total))
    share = total["recognised"] / status.total_communes
    verdict = "ĐẠT / met" if status.target_met else "CHƯA ĐẠT / not met"
    typer.echo(f"\nChỉ tiêu {plan.target.share:.0%} số xã: {total['recognised']}/"
               f"{status.total_communes} = {share:.1%} -> {verdict}")


def example_stream(s: Scenario, r: Outcome) -> tuple[str, str]:
    """A case worth replaying, and why: one sent back and then recognised if there is one."""
    from service import CaseRef

    recognised = set(r.status.recognised)
    picks = ([(u, "bị trả lại một lần, nộp lại rồi được công nhận") for u in s.chosen
              if r.returned[u.code] and u.code in recognised]
             + [(u, "được công nhận") for u in s.chosen if u.code in recognised]
             + [(u, "không được công nhận") for u in s.chosen])
    u, why = picks[0]
    return CaseRef(s.plan.id, u.code).case_id, f"{u.name}: {why}"


def print_trail(report: VerifyReport, stream: tuple[str, str], kept: DemoDir | None) -> None:
    """Where the audit trail is and commands that work against it."""
    chains = ("mọi chuỗi băm toàn vẹn" if report.ok
              else f"CHUỖI BĂM BỊ HỎNG: {report.broken}")
    typer.echo(f"\nNhật ký kiểm toán: {report.events} sự kiện trong {report.streams} luồng "
               f"(stream), {chains}.")
    name, why = stream
    if kept is not None:
        typer.echo(f"Dữ liệu được giữ trong {kept.path} (PostgreSQL đã dừng; lệnh `drugfree db "
                   "... --data-dir` tự khởi động lại nó trên thư mục này):")
        typer.echo(f"  drugfree db verify --data-dir {kept.shell} {name}   # {why}")
        typer.echo(f"  drugfree db verify --data-dir {kept.shell}   # mọi luồng")
        typer.echo(f"Thông báo (kênh log): {kept.log}")
    elif os.environ.get("DATABASE_URL"):
        typer.echo("Dữ liệu nằm trong cơ sở dữ liệu của DATABASE_URL:")
        typer.echo(f"  drugfree db verify {shlex.quote(name)}   # {why}")
        typer.echo(f"Thông báo (kênh log): {Path('var') / 'demo-notifications.log'}")
    else:
        typer.echo("Nhật ký nằm trong một PostgreSQL tạm thời, đã xóa khi demo kết thúc. Để giữ "
                   "lại và kiểm tra sau: `drugfree demo --data-dir DIR`, rồi "
                   f"`drugfree db verify --data-dir DIR {name}`.")
        typer.echo(f"Thông báo (kênh log): {Path('var') / 'demo-notifications.log'}")
