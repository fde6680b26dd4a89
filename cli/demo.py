"""`drugfree demo`: a province's whole year on the embedded default servers.

Districts propose their communes, the provincial police approves the selection list, the
phases run with reports (some late, so reminders and escalations fire), communes submit their
dossiers (some miss a criterion), reviewers approve and reject (some dossiers come back and are
resubmitted), and the provincial UBND approves the recognition list. Ends with a table per
district (per province after the 2025 reform) and the target.

A plan that an amendment of the catalogue amends mid-year (Trà Vinh 2025 and the 1 July 2025
reform) crosses it: the province sends the amendment to every running case and the campaign
the day before it takes effect, and from then on every action is taken by the people of the
amended plan (the new province, the new communes' officers) on its chain; the table then
groups by former district and by new commune, and the target is counted as the amendment says.

Every action goes through the service layer (``service.CaseService``), as every interface
does; the command only moves the time-skipping server's clock. It runs on that server and on a
throwaway PostgreSQL unless ``--data-dir`` keeps the database or ``DATABASE_URL`` points to one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import shlex
import shutil
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO, TypeVar

import typer

from catalog import DEFAULT_PLAN, amendment_ids, get_amendment, get_plan
from cli.datadir import DemoDir
from cli.demo_data import Scenario, row_key, territory
from cli.errors import fail, guarded
from domain.admin_units import Commune, registry
from domain.amendment import Amendment
from domain.case import selection_role
from domain.clock import Calendar, PlanClock, rehearsal_shift
from domain.identity import Signer
from domain.merged import new_communes
from domain.plan import ApprovalLevel, Deadline, Plan
from domain.roles import ROLE_NAMES_VI, ROLE_SCOPE, Actor, Role
from domain.units import UnitConversion

if TYPE_CHECKING:  # imported when the demo runs: Temporal's SDK costs a second at start-up
    from temporalio.client import Client
    from temporalio.testing import WorkflowEnvironment

    from eventstore.records import VerifyReport
    from eventstore.store import EventStore
    from service import CaseRef, CaseService
    from workflows.messages import CampaignStatus, ListReply, Reply

T = TypeVar("T")
U = TypeVar("U")
Step = Callable[[], Awaitable[str]]

IN_FLIGHT = 24  # requests in flight at once
SETTLE_SECONDS = 60.0  # real time allowed for the read model and the store to catch up
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


async def play(steps: list[Step]) -> None:
    """Run a demo's steps in order, one progress line each."""
    progress = Progress(len(steps))
    try:
        for step in steps:
            progress.step(await step())
    finally:
        progress.close()


@dataclass
class Reform:
    """An amendment of the catalogue that the plan's year crosses, and what it did."""

    amendment: Amendment
    before: Plan
    after: Plan
    units: dict[str, UnitConversion]  # legacy commune code -> its 2025 commune
    issuer: str = ""  # who sent it, as printed
    running: list[str] = field(default_factory=list)  # case ids running when it was sent
    results: Counter[str] = field(default_factory=Counter)  # per-case answers (scheduled, ...)
    campaign: str = ""  # the campaign's answer
    amended: list[str] = field(default_factory=list)  # case ids with case.amended on the day
    # after the year: stream -> how many case.amended records it holds
    records: dict[str, int] = field(default_factory=dict)

    @property
    def audit_ok(self) -> bool:
        running = set(self.running)
        return bool(self.records) and all(
            n == (1 if s in running else 0) for s, n in self.records.items()) and \
            running <= set(self.records)


def reform_of(plan: Plan) -> Reform | None:
    """The catalogue's amendment of ``plan`` that takes effect inside its year, if any."""
    from service.amendments import amended

    for aid in amendment_ids():
        a = get_amendment(aid)
        if plan.id in a.amends and plan.starts_on < a.effective_on <= plan.ends_on:
            before, after, units = amended(plan, a)
            return Reform(a, before, after, units)
    return None


@dataclass
class Outcome:
    """What the year produced, per commune: the table and the audit lines are made from it."""

    status: CampaignStatus
    late: Counter[str] = field(default_factory=Counter)  # commune -> reports recorded late
    returned: Counter[str] = field(default_factory=Counter)  # commune -> dossiers sent back
    reform: Reform | None = None


class Year:
    """A province's year, step by step, through ``CaseService``. ``steps()`` lists the steps
    before any runs, so the progress knows its total; each step returns its label."""

    def __init__(self, service: CaseService, env: WorkflowEnvironment, scenario: Scenario,
                 clock: PlanClock, store: EventStore) -> None:
        self.service, self.env, self.s, self.clock = service, env, scenario, clock
        self.store = store
        self.plan = scenario.plan
        self.reform = reform_of(self.plan)
        self.reformed = False  # the amendment has taken effect: its people act from now on
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
        chain = plan.approval_chain  # the chain in force when the dossiers come
        crossing = self.reform.amendment.effective_on if self.reform else None
        for d in sorted(plan.deadlines, key=lambda d: d.due):
            if d.kind in ("selection", "district_list"):
                continue
            if crossing is not None and d.due >= crossing and self.reform is not None:
                out += [self.send_amendment, self.cross]
                chain, crossing = self.reform.after.approval_chain, None
            if d.kind == "dossier":
                out.append(partial(self.dossiers, d))
                out += [partial(self.review, lv, first=i == 0)
                        for i, lv in enumerate(chain[:-1])]
            else:
                out.append(partial(self.reports, d))
        if crossing is not None:  # after every deadline, still inside the year
            out += [self.send_amendment, self.cross]
        out += [partial(self.recognition_list, chain[-1]), self.close]
        if self.reform is not None:
            out.append(self.audit)
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

    async def recognition_list(self, last: ApprovalLevel) -> str:
        """The last level: its other signatories sign each dossier, then the People's
        Committee approves the recognition list in one decision."""
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

    # -- the amendment the year crosses -------------------------------------------------------
    async def send_amendment(self) -> str:
        """The day before it takes effect, the province sends the amendment to every running
        case and to the campaign: each keeps it on a timer until its effective date."""
        from service import ServiceError
        from service.amendments import apply, apply_campaigns, preview

        r = self._reform()
        a = r.amendment
        await self.skip_to(a.effective_on - timedelta(days=1), hours=12)
        plans = {self.plan.id: (r.before, r.after, r.units)}
        # The selected communes' cases are the running ones; the read model that ``apply``
        # finds them in follows the log a moment after each append.
        expected = {self.ref(u).case_id for u in self.s.chosen}

        async def running() -> bool:
            return {e.case_id for e in await preview(self.store, a, plans)} == expected
        await _settle(running, "hồ sơ đang chạy trong mô hình đọc / running cases in the "
                      "read model")
        # Trà Vinh's People's Committee, still in office on the eve of the reform, sends it.
        issuer = self.actor("province_ubnd")
        r.issuer = (f"UBND {_province(self.reg.province(issuer.province_code).name)} "
                    f"({issuer.province_code})")
        done = await apply(self.service, self.store, issuer, a, plans)
        refused = [d for d in done if d.result == "refused"]
        if refused:
            raise ServiceError("demo.refused", f"amendment {a.id}: {refused[0].case_id}: "
                               f"{refused[0].code}: {refused[0].message}")
        r.running = sorted(d.case_id for d in done)
        r.results = Counter(d.result for d in done)
        r.campaign = (await apply_campaigns(self.service, issuer, a, plans))[self.plan.id]
        if r.campaign not in ("scheduled", "applied", "already_scheduled", "already_applied"):
            raise ServiceError("demo.refused", f"amendment {a.id}: campaign: {r.campaign}")
        told = ", ".join(f"{n} {_RESULT_VI.get(k, k)}" for k, n in sorted(r.results.items()))
        return (f"Áp dụng văn bản sửa đổi {a.id} (cải cách {_day(a.effective_on)}): "
                f"{len(done)} hồ sơ ({told}), kế hoạch tỉnh: {_RESULT_VI.get(r.campaign, '')}")

    async def cross(self) -> str:
        """The effective date: every running case records ``case.amended`` at its start;
        from now on the amended plan's people act."""
        r = self._reform()
        a = r.amendment
        await self.skip_to(a.effective_on, hours=2)

        async def recorded() -> bool:
            r.amended = [c for c in r.running if any(
                e.type == "case.amended" for e in await self.store.read(c))]
            status = await self.service.campaign_status(self.campaign)
            return len(r.amended) == len(r.running) and a.id in status.amendments
        await _settle(recorded, f"case.amended của {a.id}")
        self.reformed = True
        before = len(r.before.approval_chain)
        after = r.after.approval_chain
        where = self.unit_name_after()
        return (f"Từ {_day(a.effective_on)}: {len(r.amended)}/{len(r.running)} hồ sơ đang chạy "
                f"ghi nhận sửa đổi; chuỗi phê duyệt {before} cấp -> {len(after)} cấp "
                f"({' -> '.join(lv.name_vi for lv in after)}), địa bàn {where}")

    async def audit(self) -> str:
        """Every case running on the effective date has exactly one ``case.amended``; the
        cases closed before it have none."""
        r = self._reform()
        from service import CaseRef

        streams = await self.store.streams(CaseRef(self.plan.id, "").case_id)
        r.records = {}
        for st in streams:
            r.records[st.stream] = sum(e.type == "case.amended"
                                       for e in await self.store.read(st.stream))
        ok = "đúng" if r.audit_ok else "SAI"
        return (f"Kiểm tra nhật ký: {len(r.running)} hồ sơ đang chạy ngày "
                f"{_day(r.amendment.effective_on)} có một bản ghi sửa đổi, "
                f"{len(r.records) - len(r.running)} hồ sơ đã đóng trước đó không có ({ok})")

    def _reform(self) -> Reform:
        assert self.reform is not None, "the plan crosses no amendment"
        return self.reform

    def unit_name_after(self) -> str:
        r = self._reform()
        return _province(next(iter(r.units.values())).province_name)

    # -- helpers ------------------------------------------------------------------------------
    def outcome(self) -> Outcome:
        assert self.status is not None, "the year has not ended"
        return Outcome(self.status, self.late, self.returned, self.reform)

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
        of their commands with the demo's front-door key. After the amendment: a person of the
        2025 units (the new province, no district, the commune's new code)."""
        scope = ROLE_SCOPE[role]
        if self.reformed:
            r = self._reform()
            new = (r.units[commune.code].commune_code
                   if commune is not None and scope == "commune" else None)
            return Actor(person_id=person or f"demo-{role}-{new or r.after.province_code}",
                         role=role, province_code=r.after.province_code, commune_code=new)
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
            return _province(self.reg.province(key).name)
        return self.reg.district(key).name

    def check(self, reply: ListReply, what: str) -> None:
        from service import ServiceError

        refused = {c: r for c, r in reply.results.items() if r != "ok"}
        if refused:
            code, why = sorted(refused.items())[0]
            raise ServiceError("demo.refused", f"{what}: commune {code}: {why}")

    async def each(self, fn: Callable[[Commune], Awaitable[T]],
                   items: Iterable[Commune]) -> list[T]:
        return await gated(self.gate, fn, items)

    async def skip_to(self, day: date, hours: float = 9) -> None:
        await skip_to_day(self.env, self.clock, self.plan, day, hours)


async def gated(gate: asyncio.Semaphore, fn: Callable[[U], Awaitable[T]],
                items: Iterable[U]) -> list[T]:
    """``fn`` on every item, at most the gate's count in flight at once, in order."""
    async def one(u: U) -> T:
        async with gate:
            return await fn(u)
    return list(await asyncio.gather(*(one(u) for u in items)))


async def skip_to_day(env: WorkflowEnvironment, clock: PlanClock, plan: Calendar, day: date,
                      hours: float = 9) -> None:
    """Move the time-skipping server's clock to ``hours`` into plan day ``day``."""
    from runtime.temporal import skip_until

    await skip_until(env, clock.day_start(plan, day) + timedelta(hours=hours))


def _day(d: date) -> str:
    return f"{d:%d/%m/%Y}"


def _province(name: str) -> str:
    """A province as named in text: the legacy registry's names carry their kind already
    ("Tỉnh Trà Vinh", "Thành phố Hà Nội"), the 2025 tables' do not ("Vĩnh Long")."""
    return name if name.startswith(("Tỉnh ", "Thành phố ")) else f"Tỉnh {name}"


@guarded
def demo_cmd(
    plan_id: Annotated[str, typer.Option(
        "--plan", help="Plan id: a conversion plan, or a reporting plan (its rounds).")
    ] = DEFAULT_PLAN,
    communes: Annotated[int | None, typer.Option(
        "--communes", min=1, help="Only N communes, taken in turn from each district.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed of the scenario.")] = 2025,
    data_dir: Annotated[Path | None, typer.Option(
        "--data-dir", file_okay=False,
        help="Keep PostgreSQL's data and the notification log in this new (or empty) "
             "directory, for `drugfree db verify --data-dir DIR` afterwards.")] = None,
) -> None:
    """Run a plan's year for a province's communes and print the results per district; for a
    reporting plan, its rounds (cli/demo_rounds.py)."""
    from catalog import reporting_plan, reporting_plan_ids

    if plan_id in reporting_plan_ids():
        from cli import demo_rounds

        if communes is not None:
            fail("--communes chỉ dùng cho kế hoạch chuyển hóa; một kỳ báo cáo gồm mọi đơn vị "
                 "của kế hoạch / --communes is for conversion plans only")
        demo_rounds.run(reporting_plan(plan_id), seed, data_dir)
        return
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
    if outcome.reform is not None:
        print_crossing(outcome.reform)
    print_table(plan, units, outcome)
    stream = example_stream(scenario, outcome)
    if kept is not None:
        kept.finish(stream=stream[0], events=report.events, streams=report.streams)
    print_trail(report, stream, kept, outcome.reform)
    if not report.ok or (outcome.reform is not None and not outcome.reform.audit_ok):
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
                            clock=env.get_current_time), env, scenario, clock, store)
    await play(year.steps())
    return year.outcome()


_RESULT_VI = {"scheduled": "hẹn ngày hiệu lực", "applied": "đã áp dụng",
              "already_scheduled": "đã hẹn từ trước", "already_applied": "đã áp dụng từ trước"}


async def _settle(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Wait (real time) until ``check`` holds: the workflows' records and the read model
    follow the server's clock a moment later."""
    from service import ServiceError

    loop = asyncio.get_running_loop()
    deadline = loop.time() + SETTLE_SECONDS
    while not await check():
        if loop.time() > deadline:
            raise ServiceError("demo.unsettled", f"still waiting after {SETTLE_SECONDS:.0f} s: "
                               f"{what}")
        await asyncio.sleep(0.1)


@dataclass
class DemoStack:
    """The embedded servers a demo runs on: the time-skipping Temporal server, its worker,
    the event store, and the front door's signer the worker trusts."""

    client: Client
    env: WorkflowEnvironment
    store: EventStore
    task_queue: str
    signer: Signer
    log_path: Path


@contextlib.asynccontextmanager
async def demo_stack(kept: DemoDir | None, prefix: str, what_vi: str,
                     plan_id: str) -> AsyncIterator[DemoStack]:
    """Start a demo's servers (a throwaway PostgreSQL unless ``kept``), notifications into a
    log file; refuse a database that already holds streams under ``prefix`` (``what_vi`` of
    plan ``plan_id`` from an earlier demo)."""
    from eventstore.embedded import database
    from eventstore.migrate import migrate
    from eventstore.store import EventStore
    from eventstore.urls import app_url
    from runtime import logs
    from runtime.codec import ensure_session_key
    from runtime.temporal import temporal_environment
    from runtime.trust import Trust
    from worker import running_worker

    ensure_session_key()  # encrypted like production; the throwaway server dies with the key
    log_path = kept.log if kept else Path("var") / "demo-notifications.log"
    log_path.parent.mkdir(exist_ok=True)
    with log_path.open("w", encoding="utf-8") as log_file:
        # Notifications go to the log channel: into a file, so the tables stay readable.
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
                    if await store.streams(prefix):
                        fail(f"DATABASE_URL đã chứa {what_vi} của kế hoạch {plan_id} (từ một lần "
                             "demo trước?): hãy dùng một cơ sở dữ liệu trống, bỏ DATABASE_URL, "
                             "hoặc dùng --data-dir DIR")
                    yield DemoStack(client, env, store, tq, signer, log_path)
        finally:  # logs back to stderr before the file closes
            logging.getLogger().handlers.clear()
            logs.configure("WARNING")


async def _demo(scenario: Scenario, kept: DemoDir | None) -> tuple[Outcome, VerifyReport]:
    from service import CaseRef

    plan = scenario.plan
    async with demo_stack(kept, CaseRef(plan.id, "").case_id, "hồ sơ", plan.id) as stack:
        outcome = await run_year(stack.client, stack.env, scenario, stack.store,
                                 stack.task_queue, stack.signer)
        report = await stack.store.verify()
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
    reform = r.reform
    unit = ("Khu vực huyện cũ / former district" if reform is not None
            else "Huyện / District" if plan.has_districts else "Tỉnh / Province")
    width = max(32, len(unit) + 2)
    typer.echo(f"\n{plan.title_vi}")
    header = (f"{unit:<{width}}{'Xã':>5}{'Chọn':>6}{'Công nhận':>11}{'Không':>7}"
              f"{'Nộp trễ':>9}{'Trả lại':>9}")
    typer.echo(header)
    typer.echo("-" * len(header))

    def line(name: str, c: Counter[str]) -> str:
        return (f"{name[:width - 1]:<{width}}{c['communes']:>5}{c['selected']:>6}"
                f"{c['recognised']:>11}{c['not_recognised']:>7}{c['late']:>9}{c['returned']:>9}")

    for key in sorted(rows):
        name = (reg.province(key).name if key == plan.province_code
                else reg.district(key).name)
        typer.echo(line(name, rows[key]))
    typer.echo("-" * len(header))
    typer.echo(line("Tổng / Total", total))
    share = total["recognised"] / status.total_communes
    verdict = "ĐẠT / met" if status.target_met else "CHƯA ĐẠT / not met"
    if reform is None:
        typer.echo(f"\nChỉ tiêu {plan.target.share:.0%} số xã: {total['recognised']}/"
                   f"{status.total_communes} = {share:.1%} -> {verdict}")
        return
    print_new_communes(reform, units, r)
    # the target as the amendment counts it, and the legacy areas' count beside it
    need_legacy = math.ceil(plan.target.share * status.total_communes - 1e-9)
    unit_vi = {"new_communes": "số xã mới", "legacy_areas": "số xã cũ"}.get(
        status.target_unit, "số xã")
    k, of = status.target_recognised or 0, status.target_total or status.total_communes
    typer.echo(f"\nChỉ tiêu {plan.target.share:.0%} {unit_vi}: {k}/{of} = {k / of:.1%}, cần "
               f"{status.target_need} -> {verdict} (theo {reform.amendment.id})")
    legacy_verdict = "đạt" if total["recognised"] >= need_legacy else "chưa đạt"
    typer.echo(f"  Để so sánh, theo khu vực xã cũ: {total['recognised']}/"
               f"{status.total_communes} = {share:.1%}, cần {need_legacy} -> {legacy_verdict}")


def print_crossing(reform: Reform) -> None:
    """The reform crossing: who sent the amendment, how many running cases recorded it on
    its effective date, the chain and the territory before and after."""
    a, before, after = reform.amendment, reform.before, reform.after
    one = next(iter(reform.units.values()))
    new = {u.commune_code for u in reform.units.values()}
    typer.echo(f"\nCải cách {_day(a.effective_on)} ({a.id}: {a.title_vi})")
    typer.echo(f"  {reform.issuer} gửi văn bản ngày {_day(a.effective_on - timedelta(days=1))}"
               f"; ngày {_day(a.effective_on)}: {len(reform.amended)}/{len(reform.running)} hồ "
               f"sơ đang chạy ghi nhận case.amended; kế hoạch tỉnh: "
               f"{_RESULT_VI.get(reform.campaign, reform.campaign)}")
    for when, plan in (("trước:", before), ("sau:  ", after)):
        typer.echo(f"  Chuỗi phê duyệt {when} "
                   f"{' -> '.join(lv.name_vi for lv in plan.approval_chain)}")
    old = registry(before.structure).province(before.province_code).name
    typer.echo(f"  Địa bàn: {_province(old)} ({before.province_code}) -> "
               f"{_province(one.province_name)} ({after.province_code}), không còn cấp huyện; "
               f"{len(reform.units)} xã cũ -> {len(new)} xã mới")


def print_new_communes(reform: Reform, units: list[Commune], r: Outcome) -> None:
    """One row per new commune the demo's communes lie in, with its constituent legacy
    communes (✓ recognised, ✗ not, – no case in this demo) and whether it counts as
    recognised by the amendment's rule; its totals are counted from the outcome directly."""
    status, merged = r.status, reform.amendment.changes.merged_communes
    rule = merged.recognition if merged is not None else "all_constituents"
    recognised, selected = set(status.recognised), set(status.selected)
    in_demo = {u.code for u in units}
    counted = new_communes({c: u.commune_code for c, u in reform.units.items()},
                           {c: "recognised" for c in recognised}, rule)
    by_code = {n.code: n for n in counted}
    rows: dict[str, Counter[str]] = {}
    for u in units:
        c = rows.setdefault(reform.units[u.code].commune_code, Counter())
        c["communes"] += 1
        c["selected"] += u.code in selected
        c["recognised"] += u.code in recognised
    for code, c in rows.items():
        c["new"] = by_code[code].recognised
    total = Counter(communes=len(units), selected=len(selected), recognised=len(recognised),
                    new=len(status.new_communes_recognised))
    rule_vi = ("mọi xã cũ hợp thành đều được công nhận / all constituents"
               if rule == "all_constituents" else "ít nhất một xã cũ / any constituent")
    typer.echo(f"\nTheo xã mới từ {_day(reform.amendment.effective_on)} / by new commune "
               f"(xã mới được công nhận khi {rule_vi})")
    unit = "Xã mới / new commune"
    header = (f"{unit:<36}{'Xã cũ':>6}{'Chọn':>6}{'Công nhận':>11}{'Xã mới CN':>11}"
              f"  Xã cũ hợp thành (✓ công nhận, ✗ không, – không có trong demo)")
    typer.echo(header)
    typer.echo("=" * len(header))

    def line(name: str, c: Counter[str], parts: str) -> str:
        return (f"{name[:35]:<36}{c['communes']:>6}{c['selected']:>6}{c['recognised']:>11}"
                f"{c['new']:>11}  {parts}").rstrip()

    for code in sorted(rows):
        name = next(u.commune_name for u in reform.units.values() if u.commune_code == code)
        parts = ", ".join(
            f"{reform.units[p].legacy_commune_name} "
            f"{'✓' if p in recognised else '✗' if p in in_demo else '–'}"
            for p in by_code[code].constituents)
        typer.echo(line(f"{name} ({code})", rows[code], parts))
    typer.echo("=" * len(header))
    typer.echo(line("Tổng / Total", total, ""))


def example_stream(s: Scenario, r: Outcome) -> tuple[str, str]:
    """A case worth replaying, and why: one sent back and then recognised if there is one
    (after a reform: among the cases that crossed it, so the trail shows case.amended)."""
    from service import CaseRef

    recognised = set(r.status.recognised)
    chosen = s.chosen
    crossed = ""
    if r.reform is not None and r.reform.amended:
        amended = set(r.reform.amended)
        chosen = [u for u in s.chosen if CaseRef(s.plan.id, u.code).case_id in amended]
        crossed = f"qua cải cách {_day(r.reform.amendment.effective_on)}, "
    picks = ([(u, "bị trả lại một lần, nộp lại rồi được công nhận") for u in chosen
              if r.returned[u.code] and u.code in recognised]
             + [(u, "được công nhận") for u in chosen if u.code in recognised]
             + [(u, "không được công nhận") for u in chosen])
    u, why = picks[0]
    return CaseRef(s.plan.id, u.code).case_id, f"{u.name}: {crossed}{why}"


def print_trail(report: VerifyReport, stream: tuple[str, str], kept: DemoDir | None,
                reform: Reform | None = None) -> None:
    """Where the audit trail is and commands that work against it."""
    chains = ("mọi chuỗi băm toàn vẹn" if report.ok
              else f"CHUỖI BĂM BỊ HỎNG: {report.broken}")
    typer.echo(f"\nNhật ký kiểm toán: {report.events} sự kiện trong {report.streams} luồng "
               f"(stream), {chains}.")
    if reform is not None:
        running = set(reform.running)
        once = sum(1 for st, n in reform.records.items() if st in running and n == 1)
        closed = {st: n for st, n in reform.records.items() if st not in running}
        verdict = "ĐÚNG / ok" if reform.audit_ok else "SAI / wrong"
        typer.echo(f"Sửa đổi {reform.amendment.id}: {once}/{len(running)} hồ sơ đang chạy "
                   f"ngày {_day(reform.amendment.effective_on)} có đúng một case.amended; "
                   f"{sum(1 for n in closed.values() if n == 0)}/{len(closed)} hồ sơ đã đóng "
                   f"trước đó không có -> {verdict}")
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
