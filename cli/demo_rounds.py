"""`drugfree demo --plan <reporting plan>`: a reporting plan's rounds on the embedded servers.

For each round in order (Sơn La's action month; Trà Vinh's yearly rounds, an ad hoc round and
the final one; Ninh Bình's yearly rounds to 2030): the provincial police opens it, the units
report (most well before the due day, some in its last days after two reminders, a few after
it: reminded, recorded as missed and escalated to the police, then accepted as late; a few
never), the police sends one report back with its reason and the unit corrects it, after the
due day the police consolidates and the provincial People's Committee approves. Prints each
round's consolidated table (the year-on-year change against the previous round) with the
units reported, late and missing; for a programme, each indicator's path over the years and
the units behind; writes the last round's .docx and .csv; verifies the rounds' hash chains.

Every action goes through the service layer (``service.rounds.RoundService``) as every
interface does; the command only moves the time-skipping server's clock.
"""

from __future__ import annotations

import asyncio
import os
import shlex
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import typer

from cli.datadir import DemoDir
from cli.demo import IN_FLIGHT, Step, _day, _settle, demo_stack, gated, play, skip_to_day
from cli.demo_rounds_data import RoundPlay, RoundsScenario
from cli.errors import fail
from domain.clock import PlanClock, rehearsal_shift
from domain.programme import IndicatorPath, ProgrammeStatus, YearPoint
from domain.reporting import (
    Consolidation,
    IndicatorResult,
    ReportingPlan,
    ReportingUnit,
    Value,
)
from domain.roles import ROLE_NAMES_VI, Actor, Role

if TYPE_CHECKING:
    from temporalio.testing import WorkflowEnvironment

    from eventstore.records import VerifyReport
    from eventstore.store import EventStore
    from service.rounds import RoundService

T = TypeVar("T")

NAME_WIDTH = 56  # an indicator's name in the tables


@dataclass
class Played:
    """What a round produced, as the records say."""

    play: RoundPlay
    table: Consolidation | None = None
    reminders: int = 0  # unit_report.reminded events
    missed: list[str] = field(default_factory=list)  # recorded missed at the due day
    late_replies: list[str] = field(default_factory=list)  # units the service answered "late"
    events: int = 0  # the round's stream, once closed
    chain_ok: bool = False


@dataclass
class Outcome:
    rounds: list[Played]
    programme: ProgrammeStatus | None
    report: VerifyReport | None = None
    files: list[Path] = field(default_factory=list)


class Rounds:
    """A reporting plan's rounds, step by step, through ``RoundService``. ``steps()`` lists
    every step before any runs, so the progress knows its total; each returns its label."""

    def __init__(self, service: RoundService, env: WorkflowEnvironment,
                 scenario: RoundsScenario, clock: PlanClock, store: EventStore) -> None:
        self.service, self.env, self.s, self.clock = service, env, scenario, clock
        self.store = store
        self.plan: ReportingPlan = scenario.plan
        self.units: dict[str, ReportingUnit] = {u.id: u for u in scenario.units}
        self.gate = asyncio.Semaphore(IN_FLIGHT)
        self.played = [Played(p) for p in scenario.rounds]

    def steps(self) -> list[Step]:
        out: list[Step] = []
        for r in self.played:
            out += [partial(self.open, r), partial(self.early, r), partial(self.send_back, r),
                    partial(self.resubmit, r), partial(self.near_due, r), partial(self.due, r),
                    partial(self.late, r), partial(self.consolidate, r), partial(self.approve, r)]
        return out

    # -- the steps of a round ---------------------------------------------------------------
    async def open(self, r: Played) -> str:
        rnd = r.play.round
        await self.skip_to(rnd.opens_on)
        await self.service.open(self.plan, rnd, self.person(self.plan.consolidator),
                                clock=self.clock)
        return (f"{rnd.title_vi}: {ROLE_NAMES_VI[self.plan.consolidator]} mở kỳ báo cáo "
                f"({len(self.units)} đơn vị, hạn {_day(rnd.due)})")

    def _early_day(self, r: Played) -> date:
        rnd = r.play.round
        return max(rnd.opens_on + timedelta(days=2), rnd.due - timedelta(days=20))

    async def early(self, r: Played) -> str:
        p = r.play
        await self.skip_to(self._early_day(r))
        await self.each(lambda u: self.submit(r, u, p.wrong if u == p.returned else None),
                        p.early)
        return f"{p.round.title_vi}: {len(p.early)} đơn vị báo cáo sớm"

    async def send_back(self, r: Played) -> str:
        p = r.play
        await self.skip_to(self._early_day(r) + timedelta(days=1))
        await self.service.send_back(self.plan.id, p.round.id,
                                     self.person(self.plan.consolidator), p.returned, p.reason,
                                     request_id=f"send-back-{p.round.id}")
        return (f"{ROLE_NAMES_VI[self.plan.consolidator]} trả lại báo cáo của "
                f"{self.name(p.returned)}: {p.reason}")

    async def resubmit(self, r: Played) -> str:
        p = r.play
        await self.skip_to(self._early_day(r) + timedelta(days=3))
        await self.submit(r, p.returned, again=True)
        return f"{self.name(p.returned)} sửa số liệu và gửi lại báo cáo"

    async def near_due(self, r: Played) -> str:
        p = r.play
        await self.skip_to(p.round.due - timedelta(days=2))
        await self.each(lambda u: self.submit(r, u), p.near_due)
        return (f"{p.round.title_vi}: {len(p.near_due)} đơn vị báo cáo sát hạn (sau hai lần "
                "nhắc)")

    async def due(self, r: Played) -> str:
        """The day after the due day: the units still owing were reminded, then recorded as
        missed and escalated (the workflow's own timers)."""
        p = r.play
        await self.skip_to(p.round.due + timedelta(days=1))
        expected = set(p.late) | set(p.missing)
        stream = self.stream(r)

        async def recorded() -> bool:
            events = await self.store.read(stream)
            r.missed = sorted(str(e.payload["unit"]) for e in events
                              if e.type == "unit_report.missed")
            r.reminders = sum(e.type == "unit_report.reminded" for e in events)
            return set(r.missed) == expected
        await _settle(recorded, f"unit_report.missed của {p.round.id}")
        return (f"Hết hạn {_day(p.round.due)}: {r.reminders} lượt nhắc hạn; {len(r.missed)} "
                f"đơn vị chưa báo cáo, báo {ROLE_NAMES_VI[self.plan.escalate_to]} đôn đốc")

    async def late(self, r: Played) -> str:
        p = r.play
        await self.skip_to(p.round.due + timedelta(days=4))
        await self.each(lambda u: self.submit(r, u), p.late)
        return (f"{p.round.title_vi}: {len(p.late)} đơn vị nộp trễ "
                f"({', '.join(self.name(u) for u in p.late)})")

    async def consolidate(self, r: Played) -> str:
        p = r.play
        await self.skip_to(p.round.due + timedelta(days=6))
        await self.service.decide(self.plan.id, p.round.id, self.person(self.plan.consolidator),
                                  "consolidate", request_id=f"consolidate-{p.round.id}")
        r.table = await self.service.table(self.plan.id, p.round.id)
        assert r.table is not None, "consolidated, yet no table recorded"
        return (f"{ROLE_NAMES_VI[self.plan.consolidator]} tổng hợp {p.round.title_vi}: "
                f"{len(r.table.units_reported)}/{r.table.units_expected} đơn vị; "
                f"{_targets(r.table).lower()}")

    async def approve(self, r: Played) -> str:
        p = r.play
        await self.skip_to(p.round.due + timedelta(days=8))
        await self.service.decide(self.plan.id, p.round.id, self.person(self.plan.approver),
                                  "approve", "Đồng ý báo cáo tổng hợp",
                                  request_id=f"approve-{p.round.id}")
        stream = self.stream(r)

        # The round's last event before the next round opens: the next compares with it,
        # and the clock must not run ahead of a round still closing.
        async def closed() -> bool:
            events = await self.store.read(stream)
            r.events = len(events)
            return events[-1].type == "round.closed"
        await _settle(closed, f"round.closed của {p.round.id}")
        return f"{ROLE_NAMES_VI[self.plan.approver]} phê duyệt báo cáo tổng hợp {p.round.title_vi}"

    # -- helpers ----------------------------------------------------------------------------
    async def submit(self, r: Played, unit: str, values: dict[str, Value] | None = None,
                     again: bool = False) -> None:
        p = r.play
        reply = await self.service.submit(
            self.plan.id, p.round.id, self.speaker(unit), unit,
            dict(values if values is not None else p.reports[unit]), p.sections[unit],
            request_id=f"report-{p.round.id}-{unit}" + ("-again" if again else ""))
        if reply.late:
            r.late_replies.append(unit)

    def stream(self, r: Played) -> str:
        from workflows import names

        return names.round_id(self.plan.id, r.play.round.id)

    def person(self, role: Role) -> Actor:
        """A person of the province acting in ``role`` (the police carries its unit id)."""
        unit = next((u.id for u in self.units.values()
                     if u.role == role and u.kind in ("department", "province")), None)
        return Actor(person_id=f"demo-{role}-{self.plan.province_code}", role=role,
                     province_code=self.plan.province_code,
                     unit=unit if role == "province_police" else None)

    def speaker(self, unit_id: str) -> Actor:
        """A person of ``unit_id``: a department's carries its id, a People's Committee's its
        district or commune."""
        u = self.units[unit_id]
        return Actor(person_id=f"demo-{u.id}", role=u.role,
                     province_code=self.plan.province_code,
                     district_code=u.district_code if u.kind in ("district", "commune")
                     else None,
                     commune_code=u.commune_code if u.kind == "commune" else None,
                     unit=u.id if u.kind in ("department", "province") else None)

    def name(self, unit_id: str) -> str:
        return self.units[unit_id].name_vi

    async def each(self, fn: Callable[[str], Awaitable[T]], items: Iterable[str]) -> list[T]:
        return await gated(self.gate, fn, items)

    async def skip_to(self, day: date, hours: float = 9) -> None:
        await skip_to_day(self.env, self.clock, self.plan, day, hours)


# -- the command ---------------------------------------------------------------------------------

def run(plan: ReportingPlan, seed: int, data_dir: Path | None) -> None:
    """`drugfree demo --plan ID` for a reporting plan (``cli.demo.demo_cmd`` dispatches)."""
    from temporalio.service import RPCError

    scenario = RoundsScenario.draw(plan, seed)
    kept = (DemoDir.claim(data_dir, {"plan": plan.id, "seed": seed, "units":
                                     len(scenario.units)})
            if data_dir is not None else None)
    try:
        outcome = asyncio.run(_demo(scenario, kept))
    except RPCError as exc:
        fail(f"máy chủ Temporal từ chối hoặc không trả lời: {exc}")
    units = {u.id: u for u in scenario.units}
    typer.echo(f"\n{plan.title_vi}")
    for r in outcome.rounds:
        print_round(r, units)
    if outcome.programme is not None:
        print_programme(outcome.programme, units)
    assert outcome.report is not None
    last = outcome.rounds[-1]
    stream = f"round:{plan.id}:{last.play.round.id}"
    if kept is not None:
        kept.finish(stream=stream, events=outcome.report.events,
                    streams=outcome.report.streams)
    print_files(outcome.files)
    print_trail(plan, outcome, stream, kept)
    if not outcome.report.ok or not all(r.chain_ok for r in outcome.rounds):
        raise typer.Exit(1)


async def _demo(scenario: RoundsScenario, kept: DemoDir | None) -> Outcome:
    from service import CaseService
    from service.rounds import RoundService

    plan = scenario.plan
    async with demo_stack(kept, f"round:{plan.id}:", "kỳ báo cáo", plan.id) as stack:
        store, env = stack.store, stack.env
        now = await env.get_current_time()
        clock = PlanClock(shift_years=rehearsal_shift(plan, plan.local_date(now)))
        service = RoundService(CaseService(stack.client, stack.task_queue, store,
                                           signer=stack.signer, clock=env.get_current_time))
        rounds = Rounds(service, env, scenario, clock, store)
        await play(rounds.steps())
        outcome = Outcome(rounds.played, None)
        if len(plan.rounds) > 1:
            outcome.programme = await service.programme(plan)
        for r in outcome.rounds:
            r.chain_ok = (await store.verify(rounds.stream(r))).ok
        outcome.files = write_files(plan, outcome.rounds[-1],
                                    stack.log_path.parent.absolute())
        outcome.report = await store.verify()
    return outcome


def write_files(plan: ReportingPlan, last: Played, folder: Path) -> list[Path]:
    """The last round's consolidated report: the .docx as the police sends it, and the CSV."""
    from service.report_document import csv_text, docx

    assert last.table is not None
    rnd = last.play.round
    base = folder / f"{plan.id}-{rnd.id}"
    word, sheet = base.with_suffix(".docx"), base.with_suffix(".csv")
    word.write_bytes(docx(plan, rnd, last.table, issued_on=rnd.due + timedelta(days=6), sections={
        "results": "Các cơ quan, đơn vị đã triển khai đầy đủ nhiệm vụ; kết quả các chỉ tiêu "
                   "theo bảng trên.",
        "shortcomings": "Một số đơn vị gửi báo cáo chậm; số liệu của một đơn vị phải trả lại "
                        "để rà soát."}))
    sheet.write_text(csv_text(last.table), encoding="utf-8")
    return [word, sheet]


# -- what it prints ------------------------------------------------------------------------------

def _vn(v: float) -> str:
    from service.report_document import vn_number

    return vn_number(v)


def _value(v: float | bool | None) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "Có" if v else "Không"
    return _vn(v)


def _met(r: IndicatorResult) -> str:
    if r.met is None:
        return "-" if r.target_kind is None else "chưa đánh giá"
    return "ĐẠT" if r.met else "KHÔNG ĐẠT"


def _targets(t: Consolidation) -> str:
    if not any(x.target_kind for x in t.indicators):
        return "Kế hoạch không đặt mục tiêu định lượng cho các chỉ tiêu"
    met = [x for x in t.indicators if x.met is not None]
    return (f"Đạt {sum(1 for x in met if x.met)}/{len(met)} chỉ tiêu có mục tiêu đánh giá "
            "được trong kỳ")


def _short(text: str, width: int) -> str:
    """``text`` in ``width`` characters, cut in the middle: names of a share's two parts
    differ at their end ("... được phát hiện", "... bị triệt phá")."""
    if len(text) <= width:
        return text
    tail = width // 3
    return text[: width - 1 - tail].rstrip() + "…" + text[-tail:].lstrip()


def _names(ids: Iterable[str], units: dict[str, ReportingUnit]) -> str:
    return ", ".join(units[i].name_vi if i in units else i for i in ids)


def print_round(r: Played, units: dict[str, ReportingUnit]) -> None:
    """A round's consolidated table (indicator, value, previous, change, target, met) and who
    reported, late, sent back, missing."""
    from service.report_document import target_text

    p, t = r.play, r.table
    assert t is not None
    typer.echo(f"\n{p.round.title_vi} ({p.round.id}, hạn {_day(p.round.due)})")
    typer.echo(f"Đơn vị báo cáo: {len(t.units_reported)}/{t.units_expected} đã báo cáo "
               f"(nộp trễ {len(t.late)}), chưa báo cáo {len(t.units_missing)}")
    header = (f"{'Chỉ tiêu':<{NAME_WIDTH}}{'Kết quả':>12}{'Kỳ trước':>12}{'Tăng/giảm':>11}"
              f"  {'Mục tiêu':<14}{'Đánh giá'}")
    typer.echo(header)
    typer.echo("-" * len(header))
    for x in t.indicators:
        change = "-" if x.change_pct is None else f"{'+' if x.change_pct > 0 else ''}" \
                                                  f"{_vn(x.change_pct)}%"
        value = _value(x.value) + ("%" if x.unit_vi == "%" and x.value is not None else "")
        previous = _value(x.previous) + ("%" if x.unit_vi == "%" and x.previous is not None
                                         else "")
        typer.echo(f"{_short(x.name_vi, NAME_WIDTH - 1):<{NAME_WIDTH}}{value:>12}"
                   f"{previous:>12}{change:>11}  {target_text(x):<14}{_met(x)}")
    typer.echo("-" * len(header))
    typer.echo(_targets(t))
    typer.echo(f"Nộp trễ ({len(t.late)}): {_names(t.late, units) or '-'}")
    typer.echo(f"Trả lại (1): {units[p.returned].name_vi}: {p.reason} (đã sửa, gửi lại đúng "
               "hạn)")
    typer.echo(f"Chưa báo cáo ({len(t.units_missing)}): {_names(t.units_missing, units) or '-'}")
    typer.echo(f"Nhắc hạn: {r.reminders} lượt; quá hạn, chuyển đôn đốc: {len(r.missed)} đơn vị")


def _point(p: YearPoint) -> str:
    mark = {True: " ✓", False: " ✗", None: ""}[p.met]
    return f"{p.year}: {_value(p.value)}{mark}"


def print_programme(st: ProgrammeStatus, units: dict[str, ReportingUnit]) -> None:
    """Each indicator's path over the years (✓ target met, ✗ not), and the units behind in the
    latest round."""
    years = f"{st.years[0]}-{st.years[-1]}" if st.years else "-"
    typer.echo(f"\nChương trình qua các năm ({years}): chỉ tiêu có mục tiêu (✓ đạt, ✗ không "
               "đạt mục tiêu của năm)")
    targeted = [i for i in st.indicators if i.target_kind is not None]
    for i in targeted:
        typer.echo(f"{_short(i.name_vi, NAME_WIDTH - 1):<{NAME_WIDTH}}"
                   + "  ".join(_point(p) for p in i.points))
        if i.units_behind:
            typer.echo(f"    đơn vị chậm: {_behind(i, units)}")
    others = len(st.indicators) - len(targeted)
    if others:
        typer.echo(f"({others} chỉ tiêu khác không đặt mục tiêu: xem bảng từng kỳ ở trên)")
    if st.not_reported:
        typer.echo(f"Chưa báo cáo kỳ {st.latest_round}: {_names(st.not_reported, units)}")


def _behind(i: IndicatorPath, units: dict[str, ReportingUnit]) -> str:
    shown = i.units_behind[:4]
    more = len(i.units_behind) - len(shown)
    return (f"{len(i.units_behind)} ({_names(shown, units)}"
            + (f" và {more} đơn vị khác)" if more else ")"))


def print_files(files: list[Path]) -> None:
    for f in files:
        kind = "Báo cáo tổng hợp (Word)" if f.suffix == ".docx" else "Số liệu (CSV)"
        typer.echo(f"{kind}: {f}")


def print_trail(plan: ReportingPlan, outcome: Outcome, stream: str, kept: DemoDir | None) -> None:
    report = outcome.report
    assert report is not None
    chains = ("mọi chuỗi băm toàn vẹn" if report.ok
              else f"CHUỖI BĂM BỊ HỎNG: {report.broken}")
    typer.echo(f"\nNhật ký kiểm toán: {report.events} sự kiện trong {report.streams} luồng "
               f"(stream), {chains}.")
    for r in outcome.rounds:
        ok = "toàn vẹn" if r.chain_ok else "BỊ HỎNG"
        typer.echo(f"  round:{plan.id}:{r.play.round.id}: {r.events} sự kiện, chuỗi băm {ok}")
    why = "kỳ báo cáo cuối"
    if kept is not None:
        typer.echo(f"Dữ liệu được giữ trong {kept.path} (PostgreSQL đã dừng; lệnh `drugfree db "
                   "... --data-dir` tự khởi động lại nó trên thư mục này):")
        typer.echo(f"  drugfree db verify --data-dir {kept.shell} {stream}   # {why}")
        typer.echo(f"  drugfree db verify --data-dir {kept.shell}   # mọi luồng")
        typer.echo(f"Thông báo (kênh log): {kept.log}")
    elif os.environ.get("DATABASE_URL"):
        typer.echo("Dữ liệu nằm trong cơ sở dữ liệu của DATABASE_URL:")
        typer.echo(f"  drugfree db verify {shlex.quote(stream)}   # {why}")
        typer.echo(f"Thông báo (kênh log): {Path('var') / 'demo-notifications.log'}")
    else:
        typer.echo("Nhật ký nằm trong một PostgreSQL tạm thời, đã xóa khi demo kết thúc. Để giữ "
                   f"lại và kiểm tra sau: `drugfree demo --plan {plan.id} --data-dir DIR`, rồi "
                   f"`drugfree db verify --data-dir DIR {stream}`.")
        typer.echo(f"Thông báo (kênh log): {Path('var') / 'demo-notifications.log'}")
