"""The people of a province, acting through the HTTP API as the command line does: every POST
carries an Idempotency-Key and is retried with the same key after a dropped connection, a
timeout or a 5xx answer, until it gets a definitive one (2xx: accepted; 4xx: refused).

Each commune follows a seeded course (``Course``): recognised at the first try; returned by
the first level with a reason, resubmitted and recognised; not selected; or selected but never
sending its dossier (its reminders, missed deadlines and escalations are the year's
notifications). The submissions are spread over the compressed year, so faults meet them.
Besides, probes that must be refused (a stranger's submission, a decision for a level not
pending, an unknown deadline, a rejection without its reason) are sent by people who do
nothing else: no event may ever name them.

Every command is kept (``Command``) with its outcome, so the checks can tell what the
decisions imply and compare it with the event store."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import httpx

from domain.agenda import CASE_DEADLINE_KINDS
from domain.clock import PlanClock
from domain.plan import Plan
from domain.roles import Actor
from runtime.stack import REHEARSAL_LEAD
from tests.faults.stack import Stack
from tests.workflows.support import BASELINE, CLEAN

Course = Literal["recognised", "returned", "not_selected", "no_dossier"]
COURSES: list[tuple[Course, float]] = [("recognised", 0.45), ("returned", 0.25),
                                       ("not_selected", 0.1), ("no_dossier", 0.2)]
REASON = "thiếu biên bản họp dân"
COMMAND_PATIENCE = 240.0  # seconds a command may take through faults before the run fails


@dataclass
class Command:
    case: str
    op: str  # start, select, not_select, submit, approve, reject, resubmit
    person: str
    detail: dict[str, Any]
    probe: bool = False  # sent to be refused
    status: int | None = None  # the definitive answer
    code: str = ""  # the refusal's code
    attempts: int = 0
    dropped: int = 0  # connections lost before the answer came back
    unavailable: Counter[int] = field(default_factory=Counter)  # 5xx answers on the way

    @property
    def accepted(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass
class Commune:
    code: str
    course: Course
    case: str
    clock: PlanClock | None = None
    commands: list[Command] = field(default_factory=list)


class Driver:
    def __init__(self, stack: Stack, plan: Plan, communes: list[str], seed: int) -> None:
        self.stack, self.plan = stack, plan
        self.random = random.Random(seed)
        courses, weights = zip(*COURSES, strict=True)
        self.communes = [
            Commune(c, self.random.choices(courses, weights)[0], f"conversion:{plan.id}:{c}")
            for c in communes]
        # every course at least once, whatever the seed (the first communes take them in turn)
        for commune, course in zip(self.communes, courses, strict=False):
            commune.course = course
        province = plan.province_code
        self.people = {role: Actor(person_id=f"fault-{role}", role=role,
                                   province_code=province)
                       for role in ("province_police", "province_department",
                                    "province_council", "province_ubnd")}
        self.tokens: dict[str, str] = {}
        self.http = httpx.AsyncClient(timeout=httpx.Timeout(60.0, connect=5.0))
        self.errors: list[str] = []

    # -- people ---------------------------------------------------------------------------
    def token(self, actor: Actor) -> str:
        if actor.person_id not in self.tokens:
            self.tokens[actor.person_id] = self.stack.token(actor)
        return self.tokens[actor.person_id]

    def officer(self, commune: str, person: str | None = None) -> Actor:
        return Actor(person_id=person or f"fault-commune-{commune}", role="commune_ubnd",
                     province_code=self.plan.province_code, commune_code=commune)

    # -- the doors ------------------------------------------------------------------------
    async def post(self, c: Commune, actor: Actor, path: str, body: dict[str, Any], op: str,
                   detail: dict[str, Any], probe: bool = False) -> Command:
        """POST until a definitive answer, retrying with the same Idempotency-Key."""
        cmd = Command(c.case, op, actor.person_id, detail, probe)
        c.commands.append(cmd)
        headers = {"Authorization": f"Bearer {self.token(actor)}",
                   "Idempotency-Key": str(uuid.UUID(int=self.random.getrandbits(128))),
                   "Accept-Language": "vi"}
        began, pause = time.monotonic(), 0.25
        while True:
            cmd.attempts += 1
            try:
                r = await self.http.post(f"{self.stack.api_url}{path}", json=body,
                                         headers=headers)
            except httpx.TransportError:
                cmd.dropped += 1
            else:
                if r.status_code < 500:
                    cmd.status = r.status_code
                    if r.status_code >= 400:
                        cmd.code = code_of(r)
                    return cmd
                cmd.unavailable[r.status_code] += 1
                if r.status_code == 500:  # never an answer while the parts come back
                    self.errors.append(f"{op} {c.case}: 500 {r.text[:300]}")
            if time.monotonic() - began > COMMAND_PATIENCE:
                raise AssertionError(f"{op} {c.case}: no definitive answer in "
                                     f"{COMMAND_PATIENCE:.0f} s ({cmd.attempts} attempts)")
            await asyncio.sleep(pause)
            pause = min(pause * 2, 3.0)

    async def view(self, c: Commune) -> dict[str, Any]:
        """The case as the police read it (retried through faults)."""
        headers = {"Authorization": f"Bearer {self.token(self.people['province_police'])}"}
        began = time.monotonic()
        while True:
            try:
                r = await self.http.get(f"{self.stack.api_url}/cases/{c.case}", headers=headers)
                if r.status_code == 200:
                    view: dict[str, Any] = r.json()
                    return view
            except httpx.TransportError:
                pass
            if time.monotonic() - began > COMMAND_PATIENCE:
                raise AssertionError(f"{c.case}: unreadable for {COMMAND_PATIENCE:.0f} s")
            await asyncio.sleep(0.5)

    async def until_chain(self, c: Commune, status: str, level: str | None = None,
                          round_: int | None = None, within: float = COMMAND_PATIENCE) -> bool:
        began = time.monotonic()
        while time.monotonic() - began < within:
            chain = (await self.view(c)).get("chain") or {}
            if chain.get("status") == status and (level is None or
                                                  chain.get("pending_level") == level) and \
                    (round_ is None or chain.get("round") == round_):
                return True
            await asyncio.sleep(0.5)
        return False

    # -- a commune's year -----------------------------------------------------------------
    async def at(self, c: Commune, day_instant: datetime) -> None:
        wait = (day_instant - datetime.now(UTC)).total_seconds()
        if wait > 0:
            await asyncio.sleep(wait)

    async def run(self, stagger: float = 0.2) -> None:
        async with asyncio.TaskGroup() as group:
            for i, c in enumerate(self.communes):
                group.create_task(self._commune(c, i * stagger))

    async def _commune(self, c: Commune, delay: float) -> None:
        await asyncio.sleep(delay)
        police = self.people["province_police"]
        before = datetime.now(UTC)
        started = await self.post(c, police, "/cases", {
            "plan_id": self.plan.id, "commune_code": c.code, "baseline": BASELINE},
            "start", {})
        if not started.accepted:
            return
        # the earliest instants the API's clock may give the case (its start is in the POST)
        c.clock = PlanClock(seconds_per_day=self.stack.seconds_per_day,
                            origin=before + REHEARSAL_LEAD)
        if c.course == "not_selected":
            await self.post(c, police, f"/cases/{c.case}/decisions",
                            {"kind": "not_select", "reason": "chưa đủ điều kiện"},
                            "not_select", {})
            return
        if not (await self.post(c, police, f"/cases/{c.case}/decisions", {"kind": "select"},
                                "select", {})).accepted:
            return
        officer = self.officer(c.code)
        await self._probe_stranger(c)
        deadlines = sorted((d for d in self.plan.deadlines if d.kind in CASE_DEADLINE_KINDS),
                           key=lambda d: d.due)
        previous = datetime.now(UTC)
        for d in deadlines:
            if c.course == "no_dossier" and d.kind != "implementation_plan" and \
                    d.id != "phase_1_report":
                continue  # never sent: reminders, missed deadlines, escalations
            due = c.clock.deadline(self.plan, d.due)
            if d.kind != "dossier":  # spread over the gap; the dossier follows its report
                gap = (due - previous).total_seconds()
                await asyncio.sleep(max(0.0, self.random.uniform(0, 0.5) * gap))
            body: dict[str, Any] = {"deadline_id": d.id, "summary": "đã thực hiện"}
            if d.kind in ("phase_report", "dossier"):
                body["metrics"] = CLEAN
            sent = await self.post(c, officer, f"/cases/{c.case}/submissions", body, "submit",
                                   {"deadline_id": d.id})
            previous = max(due, datetime.now(UTC))
            if d.kind == "dossier" and sent.accepted:
                await self._chain(c)

    async def _chain(self, c: Commune) -> None:
        first, last = self.plan.approval_chain
        if not await self.until_chain(c, "pending", first.id):
            return
        await self._probe_not_pending(c, last.id)
        round_ = 1
        if c.course == "returned":
            police = self.people[first.roles[0]]
            await self.post(c, self.people["province_police"].model_copy(
                update={"person_id": "probe-police"}), f"/cases/{c.case}/decisions",
                {"kind": "reject", "level": first.id, "reason": "  "}, "reject",
                {"level": first.id}, probe=True)
            rejected = await self.post(c, police, f"/cases/{c.case}/decisions",
                                       {"kind": "reject", "level": first.id, "reason": REASON},
                                       "reject", {"level": first.id, "round": 1})
            if not rejected.accepted or not await self.until_chain(c, "returned"):
                return
            if not (await self.post(c, self.officer(c.code), f"/cases/{c.case}/decisions",
                                    {"kind": "resubmit"}, "resubmit", {})).accepted:
                return
            round_ = 2
            if not await self.until_chain(c, "pending", first.id, round_):
                return
        for level in (first, last):
            if not await self.until_chain(c, "pending", level.id, round_):
                return
            for role in level.roles:
                await self.post(c, self.people[role], f"/cases/{c.case}/decisions",
                                {"kind": "approve", "level": level.id}, "approve",
                                {"level": level.id, "round": round_})

    # -- probes: refused, and never recorded ----------------------------------------------
    async def _probe_stranger(self, c: Commune) -> None:
        """Another commune's officer reports for this one; this commune's second officer
        names a deadline the plan does not have."""
        other = next(x.code for x in self.communes if x.code != c.code)
        await self.post(c, self.officer(other, f"probe-commune-{other}-{c.code}"),
                        f"/cases/{c.case}/submissions",
                        {"deadline_id": "implementation_plan", "summary": "x"}, "submit",
                        {"deadline_id": "implementation_plan"}, probe=True)
        await self.post(c, self.officer(c.code, f"probe-second-{c.code}"),
                        f"/cases/{c.case}/submissions",
                        {"deadline_id": "phase_9_report", "summary": "x"}, "submit",
                        {"deadline_id": "phase_9_report"}, probe=True)

    async def _probe_not_pending(self, c: Commune, level: str) -> None:
        council = self.people["province_council"].model_copy(
            update={"person_id": f"probe-council-{c.code}"})
        await self.post(c, council, f"/cases/{c.case}/decisions",
                        {"kind": "approve", "level": level}, "approve", {"level": level},
                        probe=True)

    async def close(self) -> None:
        await self.http.aclose()


def code_of(r: httpx.Response) -> str:
    try:
        body = r.json()
    except ValueError:
        return ""
    return str(body.get("code", "")) if isinstance(body, dict) else ""
