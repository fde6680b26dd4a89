"""Inbox benchmark: ``CaseService.inbox`` (``service.readmodel.read_inbox``) over the read model
of 3,321 open cases, all in one province (the worst case for a province role's inbox).

    python -m bench.inbox_bench [--cases 3321] [--rounds 500]

A throwaway database on ``DATABASE_URL`` or an embedded server: the cases' events are appended
through the event store and projected by the real projector (so ``pending_decisions`` holds
what a live system would), then each inbox query runs ``--rounds`` times in a loop. Prints one
line per query (p50 / p95 / max in ms, rows in the inbox); writes nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable

import asyncpg

from domain.events import (
    CaseOpened,
    DossierSubmitted,
    Event,
    LevelApproved,
    SelectionApproved,
    SignoffRecorded,
)
from domain.roles import Actor
from eventstore import EventStore, NewEvent, Projector, app_url, migrate, with_database
from eventstore.embedded import database
from service.readmodel import Inbox, read_inbox

PLAN, PROVINCE = "tra-vinh-2025", "84"
DISTRICTS = [f"{850 + i}" for i in range(20)]


def case_events(i: int) -> tuple[str, list[Event]]:
    """Case ``i``: awaiting selection, owing reports, or at a level of the chain."""
    commune, district = f"{10000 + i:05d}", DISTRICTS[i % len(DISTRICTS)]
    events: list[Event] = [CaseOpened(plan_id=PLAN, commune_code=commune,
                                      district_code=district, province_code=PROVINCE,
                                      opened_by="p-1", opened_by_role="district_ubnd")]
    if i % 4:
        events.append(SelectionApproved(decided_by="p-2", role="province_police"))
    if i % 4 >= 2:
        events.append(DossierSubmitted(round=1, submitted_by="p-3", role="commune_ubnd",
                                       first_level="district_appraisal"))
        events.append(SignoffRecorded(round=1, level="district_appraisal", reviewer="p-4",
                                      role="district_police"))
    if i % 4 == 3:
        events.append(LevelApproved(round=1, level="district_appraisal",
                                    next_level="province_appraisal"))
    return f"conversion:{PLAN}:{commune}", events


def actor(role: str, **units: str) -> Actor:
    return Actor.model_validate({"person_id": f"p-{role}", "role": role,
                                 "province_code": PROVINCE, **units})


async def timed(name: str, call: Callable[[], Awaitable[Inbox]], rounds: int) -> None:
    for _ in range(20):  # warm the pool, the plan cache and the buffers
        await call()
    samples = []
    total = 0
    for _ in range(rounds):
        start = time.perf_counter()
        box = await call()
        samples.append((time.perf_counter() - start) * 1000)
        total = box.total
    q = statistics.quantiles(samples, n=100)
    print(f"{name:<44} p50 {q[49]:6.2f} ms  p95 {q[94]:6.2f} ms  max {max(samples):6.2f} ms"
          f"  ({total} in the inbox)")


async def main(cases: int, rounds: int) -> None:
    async with database() as server:
        name = f"drugfree_inbox_{uuid.uuid4().hex[:8]}"
        admin = await asyncpg.connect(server)
        await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.close()
        try:
            owner_url = with_database(server, name)
            await migrate(owner_url)
            async with await EventStore.connect(app_url(owner_url), max_size=4) as store:
                start = time.perf_counter()
                for i in range(cases):
                    stream, events = case_events(i)
                    await store.append(stream, 0, [NewEvent.of(f"{stream}:{n}", e)
                                                   for n, e in enumerate(events)])
                appended = time.perf_counter() - start
                start = time.perf_counter()
                applied = await Projector(store).catch_up()
                projected = time.perf_counter() - start
                rows = await store.pool.fetchval("SELECT count(*) FROM pending_decisions")
                print(f"{cases} open cases: {applied} events appended in {appended:.1f} s, "
                      f"projected in {projected:.2f} s; {rows} pending rows")
                queries: list[tuple[str, Actor, bool]] = [
                    ("province_police (province)", actor("province_police"), False),
                    ("province_police --overdue", actor("province_police"), True),
                    ("district_labour (district 852)",
                     actor("district_labour", district_code="852"), False),
                    ("commune_ubnd (commune 10002)",
                     actor("commune_ubnd", district_code="852", commune_code="10002"), False),
                    ("auditor (whole province)", actor("auditor"), False),
                ]
                for label, who, overdue in queries:
                    await timed(label, lambda w=who, o=overdue: read_inbox(  # type: ignore[misc]
                        store, w, o, limit=50), rounds)
                await timed("province_police, last page (offset 1650)",
                            lambda: read_inbox(store, actor("province_police"), limit=50,
                                               offset=1650), rounds)
        finally:
            admin = await asyncpg.connect(server)
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=3321)
    parser.add_argument("--rounds", type=int, default=500)
    args = parser.parse_args()
    asyncio.run(main(args.cases, args.rounds))
