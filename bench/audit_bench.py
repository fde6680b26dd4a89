"""Audit benchmark (make bench-audit): verify and checkpoint a log of 1,000,000 events, check a
consistency proof, replay a case of 1,000 events; each against a plain scan of the same rows
in the same run.

- baseline: ``SELECT stream, version, canonical, hash, prev_hash FROM events ORDER BY stream,
  version`` read through a server-side cursor (what any verifier must at least read);
- verify: ``EventStore.verify()`` (every hash and link re-derived), events/s and its ratio to
  the scan;
- checkpoint: ``Audit.checkpoint`` over the whole log (RFC 6962 tree, signed), seconds;
- consistency: a proof between the tree at half the log and the whole, verified (ms);
- replay: one case of 1,000 events read and folded (``domain.replay``), ms.

Writes bench/results/audit.json with a ``targets`` object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from bench.eventstore_bench import fill, fresh
from catalog import get_plan
from domain.identity import Signer
from domain.merkle import consistency_proof, verify_consistency
from domain.replay import replay
from eventstore import EventStore, NewEvent, transparency
from eventstore.embedded import database
from service.audit import Audit

RESULTS = Path(__file__).parent / "results" / "audit.json"
SCAN = """SELECT stream, version, canonical, hash, prev_hash FROM events
          ORDER BY stream, version"""


async def plain_scan(url: str) -> tuple[float, int]:
    conn = await asyncpg.connect(url)
    try:
        start, rows = time.perf_counter(), 0
        async with conn.transaction():
            async for _ in conn.cursor(SCAN, prefetch=5000):
                rows += 1
        return time.perf_counter() - start, rows
    finally:
        await conn.close()


def case_events(n: int) -> list[NewEvent]:
    """A case of ``n`` events: opened, then reports and metrics, as a long year produces."""
    base = f"bench-{uuid.uuid4().hex[:8]}"
    events = [NewEvent(f"{base}/0", "case.opened", 1, {
        "plan_id": "tra-vinh-2025", "commune_code": "29236", "district_code": "842",
        "province_code": "84", "opened_by": "p-district_ubnd",
        "opened_by_role": "district_ubnd"})]
    for i in range(1, n):
        if i % 2:
            events.append(NewEvent(f"{base}/{i}", "metrics.recorded", 1, {
                "purpose": "report", "metrics": {"hotspots": i % 3, "population": 9000},
                "classification": "less_complex", "classification_reasons": ["bench"]}))
        else:
            events.append(NewEvent(f"{base}/{i}", "reminder.sent", 1, {
                "deadline_id": "phase_1_report", "due": "2025-06-30", "days_before": 3,
                "to_role": "commune_ubnd"}))
    return events


async def main(events: int, runs: int) -> dict[str, Any]:
    async with database() as server:
        admin, app = await fresh(server)
        fill_seconds = await fill(admin, events)
        store = await EventStore.connect(app, min_size=1, max_size=2)
        # `drugfree audit verify` runs with the owner's URL (DATABASE_URL), as here
        owner = await EventStore.connect(admin, min_size=1, max_size=1)
        try:
            load_before = os.getloadavg()[0]
            scans, verifies, checkpoints = [], [], []
            for _ in range(runs):  # interleaved, so both see the same machine
                seconds, rows = await plain_scan(admin)
                scans.append(rows / seconds)
                start = time.perf_counter()
                report = await owner.verify()
                verifies.append(report.events / (time.perf_counter() - start))
                if not report.ok or report.events != rows:
                    raise SystemExit(f"verify failed on generated data: {report}")
                start = time.perf_counter()
                await Audit(store).checkpoint(Signer.generate(), datetime.now(UTC))
                checkpoints.append(time.perf_counter() - start)

            # a consistency proof from half the log to all of it, verified
            async with store.pool.acquire() as conn, \
                    conn.transaction(isolation="repeatable_read", readonly=True):
                whole = await transparency.tree(conn, keep=True)
                half = await transparency.tree(conn, size=whole.size // 2)
            proof = consistency_proof(half.size, whole.size, whole.leaf)
            start = time.perf_counter()
            for _ in range(100):
                verify_consistency(half.size, whole.size, proof, half.root, whole.root)
            proof_ms = (time.perf_counter() - start) * 1000 / 100

            # one case of 1,000 events: read and folded
            stream = "conversion:tra-vinh-2025:29236"
            await store.append(stream, 0, case_events(1000))
            plan = get_plan("tra-vinh-2025")
            replays = []
            for _ in range(runs):
                start = time.perf_counter()
                state = replay(plan, await store.read(stream),
                               datetime.now(UTC) + timedelta(days=1))
                replays.append((time.perf_counter() - start) * 1000)
            assert state.total == 1000
            load_after = os.getloadavg()[0]
        finally:
            await store.close()
            await owner.close()
        conn = await asyncpg.connect(server)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{admin.rsplit("/", 1)[-1]}" '
                               "WITH (FORCE)")
        except asyncpg.PostgresError:
            pass
        finally:
            await conn.close()

    best = {"scan": max(scans), "verify": max(verifies), "checkpoint_s": min(checkpoints),
            "replay_ms": min(replays)}
    ratio = max(v / s for v, s in zip(verifies, scans, strict=True))
    checks: dict[str, tuple[float, float, bool]] = {
        "verify_events_per_second": (best["verify"], 200_000, best["verify"] >= 200_000),
        "verify_vs_plain_scan": (ratio, 0.3, ratio >= 0.3),
        "checkpoint_1m_seconds": (best["checkpoint_s"], 10.0, best["checkpoint_s"] < 10.0),
        "consistency_proof_verify_ms": (proof_ms, 10.0, proof_ms < 10.0),
    }
    return {
        "environment": {"python": platform.python_version(), "cpus": os.cpu_count(),
                        "events": events, "runs": runs, "fill_seconds": round(fill_seconds, 1),
                        "load_average_1min": [round(load_before, 2), round(load_after, 2)]},
        "events_per_second": {"plain_scan": round(best["scan"], 1),
                              "verify": round(best["verify"], 1)},
        "checkpoint_seconds": round(best["checkpoint_s"], 3),
        "consistency_proof": {"old_size": half.size, "new_size": whole.size,
                              "hashes": len(proof), "verify_ms": round(proof_ms, 4)},
        "replay_1000_events_ms": round(best["replay_ms"], 2),
        "targets": {name: {"value": round(v, 4), "target": t, "met": met}
                    for name, (v, t, met) in checks.items()},
    }


def table(report: dict[str, Any]) -> str:
    env = report["environment"]
    lines = [f"| measure ({env['events']:,} events) | value |", "|---|---:|",
             f"| plain scan (events/s) | {report['events_per_second']['plain_scan']:,.0f} |",
             f"| verify (events/s) | {report['events_per_second']['verify']:,.0f} |",
             f"| checkpoint of the whole log (s) | {report['checkpoint_seconds']} |",
             f"| consistency proof {report['consistency_proof']['old_size']:,} -> "
             f"{report['consistency_proof']['new_size']:,} verified (ms) | "
             f"{report['consistency_proof']['verify_ms']} |",
             f"| replay of a 1,000-event case (ms) | {report['replay_1000_events_ms']} |",
             "", "| target | value | needed | met |", "|---|---:|---:|---|"]
    for name, t in report["targets"].items():
        lines.append(f"| {name} | {t['value']:,} | {t['target']:,} | "
                     f"{'yes' if t['met'] else 'NO'} |")
    load = env["load_average_1min"]
    lines.append(f"\n(load average before/after: {load[0]} / {load[1]} on {env['cpus']} CPUs)")
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print("audit benchmark", flush=True)
    result = asyncio.run(main(args.events, args.runs))
    print(table(result))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {RESULTS}")
