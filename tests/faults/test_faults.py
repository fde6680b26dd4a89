"""A province's year on the local stack, every part a process of its own, while faults strike
at seeded moments (issue 16): then every case, stream, decision and notification is counted.

``test_one_round_of_each_fault`` (in ``make test``): 6 communes, one round of each fault.
``test_a_year_of_faults`` (``make test-faults``, marked ``faults_full``): more communes, a
slower calendar and ``DRUGFREE_FAULT_ROUNDS`` rounds, once per seed of
``DRUGFREE_FAULT_SEEDS``; each seed's table goes to ``bench/results/faults.json``."""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from pathlib import Path

import asyncpg
import pytest

import catalog
from activities.admission import territory
from domain.roles import Actor
from runtime.stack import REHEARSAL_LEAD
from tests.faults.checks import Findings, check
from tests.faults.driver import Driver
from tests.faults.faults import Fault, inject, schedule
from tests.faults.stack import Stack, fault_stack

PLAN = "ninh-binh-2027"
RESULTS = Path(__file__).resolve().parents[2] / "bench" / "results" / "faults.json"
FULL_SEEDS = [int(s) for s in os.environ.get("DRUGFREE_FAULT_SEEDS", "101,202,303").split(",")]


async def a_year(seed: int, communes: int, seconds_per_day: float, rounds: int,
                 drop_share: float) -> tuple[Findings, list[Fault], float]:
    plan = catalog.get_plan(PLAN)
    rng = random.Random(seed)
    codes = rng.sample(sorted(territory(plan)), communes)
    async with fault_stack(seconds_per_day, drop_share, seed) as stack:
        driver = Driver(stack, plan, codes, seed)
        auditor = stack.token(Actor(person_id="fault-auditor", role="auditor",
                                    province_code=plan.province_code))
        began = time.monotonic()
        year = REHEARSAL_LEAD.total_seconds() + 347 * seconds_per_day
        faults = schedule(seed, rounds, (12.0, 0.8 * year))

        async def strike() -> None:
            for fault in faults:
                await asyncio.sleep(max(0.0, began + fault.at - time.monotonic()))
                await inject(stack, fault, auditor)

        try:
            await asyncio.gather(driver.run(), strike())
            await _until_closed(stack, len(codes), began + year + 120)
            # a killed dispatcher's claimed notices wait out their lease (stack.NOTICE_LEASE)
            await _until_delivered(stack, time.monotonic() + 90)
            await stack.supervisor.all_ready(within=60)  # nobody touched anything
            findings = await check(stack, driver, faults)
        except BaseException:
            _dump_logs(stack)
            raise
        finally:
            await driver.close()
        if findings.problems():
            _dump_logs(stack)
        return findings, faults, time.monotonic() - began


async def _until_closed(stack: Stack, cases: int, until: float) -> None:
    """Wait for every case's ``case.closed`` (each closes at its plan's last day)."""
    while True:
        conn = None
        try:
            conn = await asyncpg.connect(stack.owner_url, timeout=5)
            closed = await conn.fetchval("SELECT count(*) FROM events WHERE type = "
                                         "'case.closed'")
            if closed >= cases:
                return
        except (OSError, asyncpg.PostgresError, TimeoutError):
            pass
        finally:
            if conn is not None:
                await conn.close()
        if time.monotonic() > until:
            return  # the checks say which did not close
        await asyncio.sleep(2)


async def _until_delivered(stack: Stack, until: float) -> None:
    """Wait for the outbox to drain: the closings' notices are written with the closings."""
    while time.monotonic() < until:
        conn = await asyncpg.connect(stack.owner_url, timeout=5)
        try:
            if not await conn.fetchval("SELECT count(*) FROM outbox WHERE delivered_at IS NULL"):
                return
        finally:
            await conn.close()
        await asyncio.sleep(1)


def _dump_logs(stack: Stack) -> None:
    for part in stack.supervisor.parts.values():
        print(f"--- {part.name} (started {part.starts} times, unplanned exits "
              f"{part.unplanned}) ---\n{part.tail(4000)}")


def _report(seed: int, findings: Findings, faults: list[Fault], took: float) -> str:
    lines = [findings.table(seed), f"| took | {took:.0f} s |"]
    for fault in faults:
        seen = f"; said {fault.seen[0][:160]}" if fault.seen else ""
        lines.append(f"  {fault.name:<22} held {fault.hold:4.1f} s, every part ready "
                     f"{fault.recovered_in:4.1f} s later{seen}")
    return "\n".join(lines)


@pytest.mark.timeout(900)
async def test_one_round_of_each_fault() -> None:
    seed = int(os.environ.get("DRUGFREE_FAULT_SEED", "7"))
    findings, faults, took = await a_year(seed, communes=6, seconds_per_day=0.6, rounds=1,
                                          drop_share=0.1)
    print(_report(seed, findings, faults, took))
    assert not findings.problems(), findings.problems()
    assert findings.faults == 9 and findings.closed == findings.cases == 6
    assert findings.dropped > 0 and findings.refused_probes > 0 and findings.notices > 0


@pytest.mark.faults_full
@pytest.mark.timeout(3600)
@pytest.mark.parametrize("seed", FULL_SEEDS)
async def test_a_year_of_faults(seed: int) -> None:
    rounds = int(os.environ.get("DRUGFREE_FAULT_ROUNDS", "2"))
    findings, faults, took = await a_year(seed, communes=16, seconds_per_day=1.2,
                                          rounds=rounds, drop_share=0.15)
    report = _report(seed, findings, faults, took)
    print(report)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    kept = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    kept[str(seed)] = {
        "faults": [f.name for f in faults], "cases": findings.cases, "events": findings.events,
        "outcomes": dict(findings.outcomes), "courses": dict(findings.courses),
        "refused_commands": dict(findings.refused), "commands": findings.commands,
        "accepted": findings.accepted, "retried": findings.retries,
        "dropped": findings.dropped, "lost": len(findings.lost),
        "duplicated": len(findings.duplicated),
        "refused_probes": findings.refused_probes,
        "refused_but_recorded": len(findings.refused_but_recorded),
        "notifications": findings.notices,
        "notifications_duplicated": len(findings.notices_duplicated),
        "resent_same_id": findings.resent,
        "unplanned_exits": {k: v for k, v in findings.unplanned_exits.items() if v},
        "seconds": round(took), "problems": findings.problems(), "table": report}
    RESULTS.write_text(json.dumps(kept, indent=1, ensure_ascii=False) + "\n")
    assert not findings.problems(), findings.problems()
    assert findings.closed == findings.cases
