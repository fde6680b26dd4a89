"""Event store benchmark: ours vs. raw asyncpg INSERTs vs. the eventsourcing library.

    python -m bench.eventstore_bench [--seconds 2] [--rounds 3] [--verify-events 1000000]

All runs use one PostgreSQL (``DATABASE_URL`` or a throwaway embedded server, fsync on),
each in its own fresh database. Prints one table and writes ``bench/results/eventstore.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import platform
import statistics
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import asyncpg

from eventstore import EventStore, NewEvent, app_url, migrate, with_database
from eventstore.canonical import canonical_payload
from eventstore.embedded import database

RESULTS = Path(__file__).parent / "results" / "eventstore.json"
WRITERS = 8
WORKLOADS = ((1, 1), (WRITERS, 1), (1, 10), (1, 100))  # (writers, events per append)

# A realistic event: a phase report's aggregate metrics (about 1 KB of canonical JSON).
METRICS = {
    name: i * 7
    for i, name in enumerate(
        "population addicts_total addicts_with_records addicts_in_treatment "
        "addicts_in_community addicts_negative_test_30d users_total users_with_records "
        "users_negative_test_30d psychosis_cases suspects_total suspects_tested "
        "post_rehab_total post_rehab_with_records post_rehab_tested baseline_addicts "
        "baseline_users hotspots drug_rings risk_points drug_plants illicit_production_cases "
        "drug_offenders drug_crimes_by_residents violators_detected violators_handled "
        "resident_offenders resident_offenders_arrested wanted_in_area wanted_arrested "
        "serious_incidents_by_users relapse_crimes households_total households_committed "
        "hamlets_total hamlets_with_hotline_board prevention_models".split()
    )
}
PAYLOAD: dict[str, Any] = {
    "purpose": "report",
    "metrics": {**METRICS, "on_trafficking_route": False, "drug_plant_area_m2": 12.5},
    "classification": "type_iii",
    "classification_reasons": ["hotspots: 1-2", "offender rate: 0.1% to <0.3%"],
}
PAYLOAD_TEXT = canonical_payload(PAYLOAD).decode()

RAW_TABLE = """
CREATE TABLE raw_events (
    position       bigserial   PRIMARY KEY,
    stream         text        COLLATE "C" NOT NULL,
    version        integer     NOT NULL,
    event_id       text        NOT NULL,
    type           text        NOT NULL,
    schema_version integer     NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    canonical      bytea       NOT NULL,
    payload        jsonb       NOT NULL,
    hash           bytea       NOT NULL,
    prev_hash      bytea       NOT NULL
)"""
RAW_INSERT = """INSERT INTO raw_events (stream, version, event_id, type, schema_version,
                                       canonical, payload, hash, prev_hash)
                VALUES ($1, $2, $3, $4, $5, $6, $7::text::jsonb, $8, $9)"""


class Clock:
    """Counts events until a deadline shared by all writers of one run."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.events = 0
        self.start = time.perf_counter()
        self.deadline = self.start + seconds

    def running(self) -> bool:
        return time.perf_counter() < self.deadline

    def rate(self) -> float:
        return self.events / (time.perf_counter() - self.start)


async def timed(
    seconds: float, writers: int, one: Callable[[int, int], Awaitable[int]]
) -> float:
    """Run ``writers`` tasks calling ``one(writer, op)`` (returns events) until time is up."""
    clock = Clock(seconds)

    async def loop(w: int) -> None:
        op = 0
        while clock.running():
            done = await one(w, op)  # not `events += await ...`: that would lose updates
            clock.events += done
            op += 1

    await asyncio.gather(*(loop(w) for w in range(writers)))
    return clock.rate()


# -- ours ------------------------------------------------------------------------------------

async def bench_ours(url: str, seconds: float, writers: int, batch: int) -> float:
    store = await EventStore.connect(url, min_size=writers, max_size=writers)
    run = uuid.uuid4().hex[:8]
    try:
        async def one(w: int, op: int) -> int:
            stream = f"conversion:bench-{run}:{batch}:{w}"
            events = [NewEvent(f"{run}-{w}-{op}-{i}", "metrics.recorded", 1, PAYLOAD)
                      for i in range(batch)]
            await store.append(stream, op * batch, events)
            return batch

        return await timed(seconds, writers, one)
    finally:
        await store.close()


# -- raw limit -------------------------------------------------------------------------------

async def bench_raw(url: str, seconds: float, writers: int, batch: int) -> float:
    """The limit: one dedicated connection per writer, no hashing, checks or ordering."""
    conns = [await asyncpg.connect(url) for _ in range(writers)]
    run = uuid.uuid4().hex[:8]
    blob, digest = PAYLOAD_TEXT.encode(), bytes(32)
    try:
        async def one(w: int, op: int) -> int:
            stream = f"raw-{run}:{batch}:{w}"
            rows = [(stream, op * batch + i + 1, f"{run}-{w}-{op}-{i}", "metrics.recorded", 1,
                     blob, PAYLOAD_TEXT, digest, digest) for i in range(batch)]
            conn = conns[w]
            if batch == 1:
                await conn.execute(RAW_INSERT, *rows[0])
            else:
                async with conn.transaction():
                    await conn.executemany(RAW_INSERT, rows)
            return batch

        return await timed(seconds, writers, one)
    finally:
        for conn in conns:
            await conn.close()


# -- peer: the eventsourcing library's PostgreSQL recorder -----------------------------------

def bench_peer(url: str, seconds: float, writers: int, batch: int) -> float:
    from eventsourcing.persistence import StoredEvent
    from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore

    parts = urlsplit(url)
    query = parse_qs(parts.query)
    datastore = PostgresDatastore(
        dbname=unquote(parts.path.lstrip("/")),
        host=query.get("host", [parts.hostname or "localhost"])[0],
        port=str(parts.port or 5432),
        user=unquote(parts.username or "postgres"),
        password=unquote(parts.password or ""),
        pool_size=writers,
    )
    recorder = PostgresApplicationRecorder(datastore, events_table_name="peer_events")
    recorder.create_table()
    state = PAYLOAD_TEXT.encode()
    clock = Clock(seconds)
    lock = threading.Lock()

    def loop() -> None:
        originator = uuid.uuid4()
        op = 0
        while clock.running():
            recorder.insert_events([
                StoredEvent(originator, op * batch + i + 1, "metrics.recorded", state)
                for i in range(batch)
            ])
            with lock:
                clock.events += batch
            op += 1

    threads = [threading.Thread(target=loop) for _ in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rate = clock.rate()
    datastore.close()
    return rate


# -- verify ------------------------------------------------------------------------------

FILL = """
DO $$
DECLARE
    ids text[];
BEGIN
    FOR s IN {first}..{last} LOOP
        FOR b IN 0..{batches} - 1 LOOP
            ids := ARRAY(SELECT 'fill-' || s || '-' || b || '-' || i
                           FROM generate_series(1, {batch}) AS i);
            PERFORM eventstore_append(
                'conversion:fill:' || s, to_json('conversion:fill:' || s)::text, b * {batch},
                ids, array_fill('metrics.recorded'::text, ARRAY[{batch}]),
                array_fill('"metrics.recorded"'::text, ARRAY[{batch}]),
                array_fill(1, ARRAY[{batch}]), array_fill($p${payload}$p$::text, ARRAY[{batch}]));
            COMMIT;  -- each append is its own transaction, as in production
        END LOOP;
    END LOOP;
END $$"""


async def fill(url: str, events: int, per_stream: int = 100, batch: int = 100) -> float:
    """Write ``events`` through eventstore_append itself, server-side, on two connections."""
    streams = events // per_stream
    halves = [(1, streams // 2), (streams // 2 + 1, streams)]
    start = time.perf_counter()

    async def part(first: int, last: int) -> None:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(FILL.format(first=first, last=last, batch=batch,
                                           batches=per_stream // batch, payload=PAYLOAD_TEXT))
        finally:
            await conn.close()

    await asyncio.gather(*(part(a, b) for a, b in halves))
    elapsed = time.perf_counter() - start
    # Steady state, as autovacuum leaves a live database: hint bits set, statistics fresh.
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("VACUUM (ANALYZE) events")
    finally:
        await conn.close()
    return elapsed


async def bench_verify(url: str, events: int, runs: int = 3) -> tuple[list[float], int, float]:
    fill_seconds = await fill(url, events)
    store = await EventStore.connect(url, min_size=1, max_size=1)
    rates = []
    try:
        for _ in range(runs):
            start = time.perf_counter()
            report = await store.verify()
            rates.append(report.events / (time.perf_counter() - start))
            if not report.ok or report.events != events:
                raise SystemExit(f"verify failed on generated data: {report}")
    finally:
        await store.close()
    return rates, events, fill_seconds


# -- driver ----------------------------------------------------------------------------------

async def fresh(server: str, setup: str | None = None) -> tuple[str, str]:
    """A new migrated database: (owner URL, application role URL)."""
    name = f"bench_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(server)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    admin = with_database(server, name)
    await migrate(admin)
    if setup:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(setup)
        finally:
            await conn.close()
    return admin, app_url(admin)


async def main(seconds: float, rounds: int, verify_events: int) -> dict[str, Any]:
    rates: dict[str, float] = {}
    ratios: dict[str, float] = {}
    async with database() as server:
        conn = await asyncpg.connect(server)
        settings = {r["name"]: r["setting"] for r in await conn.fetch(
            "SELECT name, setting FROM pg_settings WHERE name IN "
            "('fsync', 'synchronous_commit', 'server_version', 'shared_buffers')")}
        await conn.close()
        if settings.get("fsync") != "on":
            raise SystemExit("fsync is off on this server: the numbers would mean nothing")
        load_before = os.getloadavg()[0]

        for writers, batch in WORKLOADS:
            label = f"{writers}w x {batch}"
            admin, app = await fresh(server, RAW_TABLE)
            runs: dict[str, Callable[[], Awaitable[float]]] = {
                "raw": functools.partial(bench_raw, admin, seconds, writers, batch),
                "ours": functools.partial(bench_ours, app, seconds, writers, batch),
                "peer": functools.partial(asyncio.to_thread, bench_peer, admin, seconds,
                                          writers, batch),
            }
            # Interleaved rounds in rotating order. Ratios are taken within a round, then
            # the median: a shared machine's noise hits the three systems of a round alike.
            samples: dict[str, list[float]] = {name: [] for name in runs}
            order = list(runs)
            for r in range(rounds):
                for name in order[r % 3:] + order[:r % 3]:
                    samples[name].append(await runs[name]())
            for name, values in samples.items():
                rates[f"{name} {label}"] = statistics.median(values)
            for other in ("raw", "peer"):
                ratios[f"ours/{other} {label}"] = statistics.median(
                    o / x for o, x in zip(samples["ours"], samples[other], strict=True))
            print(f"  {label}: " + "  ".join(
                f"{name} {statistics.median(v):,.0f}" for name, v in samples.items())
                + f" events/s (ours/raw {ratios[f'ours/raw {label}']:.2f})", flush=True)

        admin, app = await fresh(server)
        runs_verify, count, fill_seconds = await bench_verify(admin, verify_events)
        rates["verify"] = statistics.median(runs_verify)
        print(f"  verify: {count:,} events ({fill_seconds:.1f} s to write) at "
              + ", ".join(f"{r:,.0f}" for r in runs_verify) + " events/s", flush=True)
        load_after = os.getloadavg()[0]

    w8 = f"{WRITERS}w x 1"
    checks = {
        "append_8_writers_vs_raw": (ratios[f"ours/raw {w8}"], 0.5),
        "append_8_writers_vs_peer": (ratios[f"ours/peer {w8}"], 1.5),
        "batch_100_vs_raw_executemany": (ratios["ours/raw 1w x 100"], 0.5),
        "verify_events_per_second": (rates["verify"], 200_000),
    }
    targets = {name: {"value": round(v, 3), "target": t, "met": v >= t}
               for name, (v, t) in checks.items()}
    return {
        "environment": {"python": platform.python_version(), "cpus": os.cpu_count(),
                        "postgres": settings, "seconds_per_run": seconds, "rounds": rounds,
                        "verify_events": verify_events,
                        "load_average_1min": [round(load_before, 2), round(load_after, 2)]},
        "events_per_second": {k: round(v, 1) for k, v in rates.items()},
        "ratios": {k: round(v, 3) for k, v in ratios.items()},
        "targets": targets,
    }


def table(report: dict[str, Any]) -> str:
    rates, ratios = report["events_per_second"], report["ratios"]
    lines = ["| workload | raw asyncpg | ours | eventsourcing | ours/raw | ours/peer |",
             "|---|---:|---:|---:|---:|---:|"]
    names = {"1w x 1": "1 writer, 1 event/tx", f"{WRITERS}w x 1": f"{WRITERS} writers, "
             "1 event/tx", "1w x 10": "1 writer, batches of 10",
             "1w x 100": "1 writer, batches of 100"}
    for label, name in names.items():
        lines.append(f"| {name} | {rates[f'raw {label}']:,.0f} | {rates[f'ours {label}']:,.0f}"
                     f" | {rates[f'peer {label}']:,.0f} | {ratios[f'ours/raw {label}']:.2f}"
                     f" | {ratios[f'ours/peer {label}']:.2f} |")
    lines.append(f"| verify ({report['environment']['verify_events']:,} events) | | "
                 f"{rates['verify']:,.0f} | | | |")
    lines += ["", "| target | value | needed | met |", "|---|---:|---:|---|"]
    for name, t in report["targets"].items():
        lines.append(f"| {name} | {t['value']:,} | {t['target']:,} | "
                     f"{'yes' if t['met'] else 'NO'} |")
    load = report["environment"]["load_average_1min"]
    lines.append(f"\n(load average before/after: {load[0]} / {load[1]} on "
                 f"{report['environment']['cpus']} CPUs)")
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="per measured run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved runs per system")
    parser.add_argument("--verify-events", type=int, default=1_000_000)
    args = parser.parse_args()
    print("event store benchmark (events per second, higher is better)", flush=True)
    report = asyncio.run(main(args.seconds, args.rounds, args.verify_events))
    print(table(report))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {RESULTS}")
