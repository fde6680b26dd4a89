"""Shared pieces of the workflow scenarios: actors, metrics, and moving the test clock."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from catalog import get_plan
from domain.case import selection_role
from domain.clock import PlanClock, rehearsal_shift
from domain.identity import Signer
from domain.plan import Plan
from domain.roles import Actor, CaseScope
from runtime.temporal import skip_until
from service import CaseRef, CaseService
from service.cases import ChainKind, wall_clock
from workflows.messages import Reply

# A commune that meets every criterion of both shipped criteria sets.
CLEAN: dict[str, Any] = {
    "population": 9000, "on_trafficking_route": False,
    "addicts_total": 3, "addicts_with_records": 3, "addicts_in_treatment": 3,
    "addicts_in_community": 3, "addicts_negative_test_30d": 3,
    "users_total": 2, "users_with_records": 2, "users_negative_test_30d": 2, "psychosis_cases": 0,
    "suspects_total": 4, "suspects_tested": 4,
    "post_rehab_total": 5, "post_rehab_with_records": 5, "post_rehab_tested": 5,
    "baseline_addicts": 25, "baseline_users": 6,
    "hotspots": 0, "drug_rings": 0, "risk_points": 0, "drug_plants": 0, "drug_plant_area_m2": 0,
    "illicit_production_cases": 0, "drug_offenders": 0, "drug_crimes_by_residents": 0,
    "violators_detected": 1, "violators_handled": 1, "resident_offenders": 0,
    "resident_offenders_arrested": 0, "wanted_in_area": 0, "wanted_arrested": 0,
    "serious_incidents_by_users": 0, "relapse_crimes": 0,
    "households_total": 2100, "households_committed": 2100,
    "hamlets_total": 8, "hamlets_with_hotline_board": 8, "prevention_models": 1,
}
# The same commune when it entered the programme: a type III key area (25 addicts).
BASELINE: dict[str, Any] = {**CLEAN, "addicts_total": 25, "addicts_with_records": 25,
                            "addicts_in_treatment": 20, "addicts_in_community": 25,
                            "addicts_negative_test_30d": 10, "users_total": 6,
                            "users_with_records": 6, "users_negative_test_30d": 3,
                            "hotspots": 1, "households_committed": 1500}

_ids = itertools.count(1)
# The front door's key in the scenarios (the worker trusts it: conftest.py), and the worker's
# relay key for the campaign's list decisions.
SIGNER = Signer.from_seed(bytes(range(32)))
RELAY = Signer.from_seed(bytes(range(32, 64)))


def trust_env(folder: Path, rehearsals: bool = True) -> dict[str, str]:
    """The environment that gives a worker process the scenarios' trust: the key set (JWKS)
    with the front door's key, the relay key (PEM), rehearsal clocks."""
    keys, relay = folder / "identity-keys.json", folder / "relay-key.pem"
    keys.write_text(json.dumps((SIGNER.ring() + RELAY.ring()).jwks()))
    relay.write_bytes(RELAY.pem())
    return {"DRUGFREE_IDENTITY_KEYS": str(keys), "DRUGFREE_RELAY_KEY": str(relay),
            "DRUGFREE_REHEARSAL_CLOCKS": "1" if rehearsals else "0"}


def rid() -> str:
    return f"req-{next(_ids)}"


class Case:
    """One commune's case in a test: its plan, clock and actors, acting through the service
    layer (``service.CaseService``) as every interface does."""

    def __init__(self, client: Client, env: WorkflowEnvironment, plan_id: str, commune: str,
                 district: str | None, province: str, task_queue: str, today: date,
                 signer: Signer | None = SIGNER) -> None:
        self.client, self.env, self.tq = client, env, task_queue
        # Commands carry proofs signed with the front door's key, at the test server's time.
        self.signer = signer
        self.service = CaseService(client, task_queue, signer=signer,
                                   clock=env.get_current_time if env else wall_clock)
        self.plan: Plan = get_plan(plan_id)
        self.clock = PlanClock(shift_years=rehearsal_shift(self.plan, today))
        self.scope = CaseScope(province_code=province, district_code=district,
                               commune_code=commune)
        self.ref = CaseRef(plan_id, commune)
        self.id = self.ref.case_id
        self.rid = self.ref.recognition_id

    def actor(self, role: str, person: str | None = None, **over: Any) -> Actor:
        data: dict[str, Any] = {"person_id": person or f"p-{role}", "role": role,
                                "province_code": self.scope.province_code}
        if role.startswith("district_") or role == "commune_ubnd":
            data["district_code"] = self.scope.district_code
        if role == "commune_ubnd":
            data["commune_code"] = self.scope.commune_code
        data.update(over)
        return Actor(**data)

    async def start(self, baseline: dict[str, Any] | None = None,
                    history_limit: int | None = None) -> WorkflowHandle[Any, Any]:
        opener = "district_ubnd" if self.plan.has_districts else "province_police"
        await self.service.start_case(
            self.plan, self.scope, self.actor(opener), baseline or BASELINE, clock=self.clock,
            history_limit=history_limit)
        return await self.service.handle_for_result(self.id)

    async def update(self, handle: WorkflowHandle[Any, Any], method: Any, message: Any) -> Any:
        """``handle.execute_update`` with ``message`` signed by the front door, as the service
        sends it (for tests that address a workflow directly)."""
        return await handle.execute_update(method, await self.service.signed(handle.id, message))

    @property
    def handle(self) -> WorkflowHandle[Any, Any]:
        return self.client.get_workflow_handle(self.id)

    @property
    def chain(self) -> WorkflowHandle[Any, Any]:
        return self.client.get_workflow_handle(self.rid)

    async def select(self, selected: bool = True, reason: str = "", **kw: Any) -> Reply:
        actor = kw.pop("actor", None) or self.actor(selection_role(self.plan))
        return await self.service.select(self.ref, actor, selected, reason,
                                         request_id=kw.pop("request_id", rid()))

    async def submit(self, deadline_id: str, metrics: dict[str, Any] | None = None,
                     **kw: Any) -> Reply:
        return await self.service.submit(
            self.ref, kw.pop("actor", None) or self.actor("commune_ubnd"), deadline_id, metrics,
            request_id=kw.pop("request_id", rid()))

    async def withdraw(self, reason: str, **kw: Any) -> Reply:
        actor = kw.pop("actor", None) or self.actor(
            "district_ubnd" if self.plan.has_districts else "province_ubnd")
        return await self.service.withdraw(self.ref, actor, reason, request_id=rid())

    async def decide(self, kind: ChainKind, actor: Actor, level: str | None = None,
                     reason: str = "", to: Actor | None = None,
                     request_id: str | None = None) -> Reply:
        return await self.service.decide(self.ref, actor, kind, level, reason, to,
                                         request_id=request_id or rid())

    async def approve_level(self, level_id: str) -> None:
        for role in self.plan.level(level_id).roles:
            await self.decide("approve", self.actor(role), level_id)

    async def approve_all(self) -> None:
        for lv in self.plan.approval_chain:
            await self.approve_level(lv.id)

    async def advance_to(self, day: date, hours: float = 9) -> None:
        """Skip the test server's clock to ``hours`` past the start of plan day ``day``."""
        target: datetime = self.clock.day_start(self.plan, day) + timedelta(hours=hours)
        await skip_until(self.env, target)

    async def on_time_reports(self, until: date) -> None:
        """Submit every commune submission due up to ``until`` a day before it is due."""
        for d in sorted(self.plan.deadlines, key=lambda d: d.due):
            if d.due > until or d.kind in ("selection", "district_list", "dossier"):
                continue
            await self.advance_to(d.due - timedelta(days=1))
            await self.submit(d.id, CLEAN if d.kind == "phase_report" else None)


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 15.0) -> None:
    """Wait (real time) until ``check`` holds: the read model follows the log a moment after
    each append (the worker's projector), so reads of it are not read-your-writes."""
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"still not true after {within} s: {check.__doc__ or check}")
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def serving(app: Any) -> AsyncIterator[str]:
    """``app`` served by uvicorn on a free local port on this loop (as the API process serves
    it); its base URL."""
    import socket

    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False,
                                           lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    for _ in range(500):  # at most 10 s; a server that failed to start ends its task
        if server.started or task.done():
            break
        await asyncio.sleep(0.02)
    assert server.started, task.exception() if task.done() else "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()
