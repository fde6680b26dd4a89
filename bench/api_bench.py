"""API benchmark (issue 9): the local stack under 20 concurrent reviewers, and ``GET /inbox``.

    python -m bench.api_bench [--quick] [--seconds 180] [--warmup 15] [--reviewers 20]
                              [--cases-per-reviewer 5] [--inbox-cases 3321] [--inbox-rounds 300]

The local stack exactly as ``drugfree dev`` assembles it (``runtime.stack.running_stack``, in
this process, in a temporary directory, on free ports): the Temporal dev server with its SQLite
file, an embedded PostgreSQL (fsync on), the worker with its projector and notifier, and the
API served by uvicorn. Everything below goes through HTTP (``httpx.AsyncClient``) with identity
tokens signed by the stack's identity key, except the inbox's 3,321 cases, whose events are
appended through the event store and projected by the stack's own projector.

1. Inbox: the read model filled with ``bench.inbox_bench``'s 3,321 open cases of one province
   (Trà Vinh, 20 districts), then ``GET /inbox`` timed one request at a time for a province role,
   a district role and a commune role (20 warm-up requests, then ``--inbox-rounds`` each).
2. Decisions: ``reviewers x cases-per-reviewer`` real cases of ``ninh-binh-2027`` (the plan that
   runs now, on its own dates: no rehearsal clock) are started, selected and submitted through
   the API until each dossier is in the approval chain. Then each of the 20 clients (a desk: a
   provincial police officer, a provincial department officer and the communes' officers, each
   with a token of their own) keeps exactly one decision in flight, round-robin over its cases:
   ``approve`` (police signs the first level) -> ``reject`` (the department returns the
   dossier, with a reason) -> ``resubmit`` (the commune sends it again, a new round) -> ...
   Every decision is a Temporal update whose handler appends its event before it answers (see
   README), so the request's latency is "request to persisted event"; a sample of decisions is
   checked against the store right after the answer (its stream's version has moved).

Writes ``bench/results/api.json`` (``--quick``: only with ``--out``): the environment (load
average at start and end), both parts' numbers and ``targets``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil

from bench.common import environment, free_port, loads, target_lines
from bench.inbox_bench import PROVINCE as INBOX_PROVINCE
from bench.inbox_bench import case_events
from bench.workflows_bench import _cpu, _postmaster, _temporal_server

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).parent / "results" / "api.json"
PLAN_ID = "ninh-binh-2027"
TARGET_P99_MS = 200.0
TARGET_ERRORS = 0
TARGET_INBOX_P95_MS = 50.0
SAMPLE_EVERY = 5  # every n-th decision is checked against the store after its answer


def quantiles(xs: list[float]) -> dict[str, float | int] | None:
    if len(xs) < 2:
        return None
    q = statistics.quantiles(xs, n=100, method="inclusive")
    return {"count": len(xs), "p50": round(q[49], 2), "p90": round(q[89], 2),
            "p95": round(q[94], 2), "p99": round(q[98], 2), "max": round(max(xs), 2),
            "mean": round(statistics.fmean(xs), 2)}


def _busy_cpu() -> float:
    t = psutil.cpu_times()
    return float(sum(v for k, v in t._asdict().items()
                     if k not in ("idle", "iowait", "guest", "guest_nice")))


def _cpu_of(proc: psutil.Process) -> float:
    with contextlib.suppress(psutil.Error):
        t = proc.cpu_times()
        return float(t.user + t.system)
    return 0.0


class Tokens:
    """One token per person, signed by the stack's identity key (a sign-on's job)."""

    def __init__(self, root: Path) -> None:
        from runtime.stack import StackKeys

        self.signer = StackKeys.load_or_create(root / "keys").identity
        self._made: dict[str, dict[str, str]] = {}

    def headers(self, person: str, role: str, province: str, district: str | None = None,
                commune: str | None = None) -> dict[str, str]:
        from domain.identity import issue_token
        from domain.roles import Actor

        if person not in self._made:
            actor = Actor(person_id=person, role=role, province_code=province,
                          district_code=district, commune_code=commune)
            token = issue_token(self.signer, actor, datetime.now(UTC), timedelta(hours=4))
            self._made[person] = {"Authorization": f"Bearer {token}"}
        return self._made[person]


# -- part 1: the inbox --------------------------------------------------------------------------

async def fill_inbox(database_url: str, cases: int) -> dict[str, Any]:
    """Append ``cases`` open cases' events (bench.inbox_bench) and wait for the stack's
    projector to have read every one of them."""
    from eventstore import EventStore, NewEvent

    async with await EventStore.connect(database_url, max_size=4) as store:
        start = time.perf_counter()
        for i in range(cases):
            stream, events = case_events(i)
            await store.append(stream, 0, [NewEvent.of(f"{stream}:{n}", e)  # type: ignore[arg-type]
                                           for n, e in enumerate(events)])
        appended = time.perf_counter() - start
        last = await store.pool.fetchval("SELECT max(position) FROM events")
        while True:
            seen = await store.pool.fetchval(
                "SELECT position FROM projection_checkpoints WHERE name = 'case_status'")
            if seen is not None and seen >= last:
                break
            await asyncio.sleep(0.1)
        projected = time.perf_counter() - start - appended
        rows = await store.pool.fetchval(
            "SELECT count(*) FROM pending_decisions WHERE province_code = $1", INBOX_PROVINCE)
        open_cases = await store.pool.fetchval(
            "SELECT count(*) FROM case_status WHERE province_code = $1 AND outcome IS NULL",
            INBOX_PROVINCE)
    return {"cases": cases, "open_cases": open_cases, "pending_rows": rows,
            "append_s": round(appended, 1), "projector_lag_s": round(projected, 2)}


async def time_inbox(http: httpx.AsyncClient, tokens: Tokens, rounds: int) -> dict[str, Any]:
    who = {
        "province_police (province 84)": tokens.headers(
            "bench-inbox-pp", "province_police", INBOX_PROVINCE),
        "district_labour (district 852)": tokens.headers(
            "bench-inbox-dl", "district_labour", INBOX_PROVINCE, "852"),
        "commune_ubnd (commune 10002)": tokens.headers(
            "bench-inbox-cu", "commune_ubnd", INBOX_PROVINCE, "852", "10002"),
    }
    out: dict[str, Any] = {}
    for label, headers in who.items():
        for _ in range(20):
            (await http.get("/inbox", headers=headers)).raise_for_status()
        samples: list[float] = []
        errors = 0
        total = 0
        for _ in range(rounds):
            start = time.perf_counter()
            r = await http.get("/inbox", headers=headers)
            samples.append((time.perf_counter() - start) * 1000)
            if r.status_code != 200:
                errors += 1
            else:
                total = r.json()["total"]
        out[label] = {**(quantiles(samples) or {}), "errors": errors, "in_inbox": total}
        print(f"   inbox {label:<32} p50 {out[label]['p50']:6.2f} ms  p95 "
              f"{out[label]['p95']:6.2f} ms  max {out[label]['max']:7.2f} ms  "
              f"({total} in the inbox)", file=sys.stderr, flush=True)
    return out


# -- part 2: decisions ----------------------------------------------------------------------------

@dataclass
class Desk:
    """One of the concurrent clients: its people and its cases' positions in the cycle."""

    index: int
    communes: list[str]
    step: dict[str, int] = field(default_factory=dict)  # case id -> 0 approve, 1 reject, 2 resub


@dataclass
class Sample:
    at: float  # seconds since the run began, when the request was sent
    ms: float
    kind: str
    status: int
    code: str = ""


CYCLE = ("approve", "reject", "resubmit")


async def prepare(http: httpx.AsyncClient, tokens: Tokens, communes: list[str],
                  concurrency: int) -> dict[str, Any]:
    """Start, select and submit every case through the API until its dossier is in the chain."""
    import catalog
    from domain.agenda import CASE_DEADLINE_KINDS
    from service.access import roles_for
    from tests.workflows.support import BASELINE, CLEAN

    plan = catalog.get_plan(PLAN_ID)
    province = plan.province_code
    opener = tokens.headers("bench-opener", roles_for(plan, "start")[0], province)
    selector = tokens.headers("bench-selector", roles_for(plan, "select")[0], province)
    dossier_due = plan.deadline("dossier").due
    submissions = sorted((d for d in plan.deadlines
                          if d.kind in CASE_DEADLINE_KINDS and d.due <= dossier_due),
                         key=lambda d: d.due)
    gate = asyncio.Semaphore(concurrency)
    latencies: list[float] = []
    per_case: list[float] = []

    async def post(path: str, body: dict[str, Any], headers: dict[str, str]) -> httpx.Response:
        start = time.perf_counter()
        r = await http.post(path, json=body, headers=headers)
        latencies.append((time.perf_counter() - start) * 1000)
        if r.status_code >= 300:
            raise RuntimeError(f"{path} {body.get('kind') or body.get('deadline_id') or ''}: "
                               f"{r.status_code} {r.text[:300]}")
        return r

    async def one(code: str) -> None:
        async with gate:
            start = time.perf_counter()
            r = await post("/cases", {"plan_id": PLAN_ID, "commune_code": code,
                                      "baseline": BASELINE}, opener)
            case_id = r.json()["case_id"]
            await post(f"/cases/{case_id}/decisions", {"kind": "select"}, selector)
            commune = tokens.headers(f"bench-commune-{code}", "commune_ubnd", province,
                                     None, code)
            for d in submissions:
                r = await post(f"/cases/{case_id}/submissions", {
                    "deadline_id": d.id, "summary": "bench",
                    "metrics": CLEAN if d.kind in ("phase_report", "dossier") else None},
                    commune)
            if r.json().get("criteria_met") is not True:
                raise RuntimeError(f"{case_id}: the dossier does not meet the criteria")
            per_case.append(time.perf_counter() - start)

    start = time.perf_counter()
    await asyncio.gather(*(one(c) for c in communes))
    wall = time.perf_counter() - start
    return {"cases": len(communes), "requests": len(latencies), "wall_s": round(wall, 1),
            "cases_per_s": round(len(communes) / wall, 2),
            "requests_per_s": round(len(latencies) / wall, 1),
            "request_ms": quantiles(latencies), "case_s": quantiles(per_case),
            "concurrency": concurrency}


async def decisions(http: httpx.AsyncClient, tokens: Tokens, desks: list[Desk],
                    database_url: str, warmup: float, seconds: float) -> dict[str, Any]:
    import catalog
    from eventstore import EventStore
    from workflows.names import case_id as case_id_of

    plan = catalog.get_plan(PLAN_ID)
    province, first = plan.province_code, plan.approval_chain[0]
    police_role, dept_role = first.roles[0], first.roles[1]
    samples: list[Sample] = []
    checks: Counter[str] = Counter()
    failures: Counter[str] = Counter()
    t0 = time.perf_counter()
    stop_at = warmup + seconds

    async with await EventStore.connect(database_url, max_size=4) as store:

        async def resync(case_id: str) -> int:
            """After a refusal: where the case's chain stands now (the next step)."""
            r = await http.get(f"/cases/{case_id}", headers=tokens.headers(
                "bench-reader", "auditor", province))
            chain = r.json().get("chain") or {}
            if chain.get("status") == "returned":
                return 2
            return 1 if police_role in (chain.get("signed") or {}) else 0

        async def desk(d: Desk) -> None:
            police = tokens.headers(f"bench-police-{d.index}", police_role, province)
            dept = tokens.headers(f"bench-dept-{d.index}", dept_role, province)
            n = 0
            while time.perf_counter() - t0 < stop_at:
                code = d.communes[n % len(d.communes)]
                n += 1
                case_id = case_id_of(PLAN_ID, code)
                step = d.step.get(case_id, 0)
                kind = CYCLE[step]
                body: dict[str, Any] = {"kind": kind}
                if kind == "approve":
                    headers = police
                    body["level"] = first.id
                elif kind == "reject":
                    headers = dept
                    body.update(level=first.id, reason="thiếu biên bản họp dân (bench)")
                else:
                    headers = tokens.headers(f"bench-commune-{code}", "commune_ubnd",
                                             province, None, code)
                check = n % SAMPLE_EVERY == 0
                before = await store.version(case_id) if check else 0
                sent = time.perf_counter()
                try:
                    r = await http.post(f"/cases/{case_id}/decisions", json=body,
                                        headers={**headers,
                                                 "Idempotency-Key": uuid.uuid4().hex})
                    ms = (time.perf_counter() - sent) * 1000
                    status, code_ = r.status_code, ""
                    if status != 200:
                        with contextlib.suppress(ValueError, KeyError, TypeError):
                            code_ = str(r.json()["code"])
                except httpx.HTTPError as exc:
                    ms = (time.perf_counter() - sent) * 1000
                    status, code_ = 0, type(exc).__name__
                samples.append(Sample(at=sent - t0, ms=ms, kind=kind, status=status,
                                      code=code_))
                if status == 200:
                    d.step[case_id] = (step + 1) % len(CYCLE)
                    if check:
                        after = await store.version(case_id)
                        checks["persisted" if after > before else "not_persisted"] += 1
                else:
                    failures[f"{kind}: {status} {code_}"] += 1
                    with contextlib.suppress(httpx.HTTPError, ValueError):
                        d.step[case_id] = await resync(case_id)

        me = psutil.Process()
        server = _temporal_server()
        pg = _postmaster(database_url)  # started by pg_ctl: not our child

        def cpu_now() -> dict[str, float]:
            return {"stack_process": _cpu_of(me), "temporal_server": _cpu(server),
                    "postgres": _cpu(pg, children=True), "machine": _busy_cpu()}

        cpu0 = cpu_now()
        load_start = loads()
        await asyncio.gather(*(desk(d) for d in desks))
        wall = time.perf_counter() - t0
        cpu1 = cpu_now()
        load_end = loads()

    measured = [s for s in samples if warmup <= s.at < stop_at]
    ok = [s.ms for s in measured if s.status == 200]
    errors = [s for s in measured if s.status != 200]
    window = seconds
    by_kind = {k: quantiles([s.ms for s in measured if s.status == 200 and s.kind == k])
               for k in CYCLE}
    cpu = {k: round(cpu1[k] - cpu0[k], 1) for k in cpu0}
    cpu["other"] = round(cpu["machine"] - cpu["stack_process"] - cpu["temporal_server"]
                         - cpu["postgres"], 1)
    return {
        "clients": len(desks), "cases": sum(len(d.communes) for d in desks),
        "warmup_s": warmup, "measured_s": seconds, "wall_s": round(wall, 1),
        "decisions": len(measured), "accepted": len(ok), "errors": len(errors),
        "errors_by_kind": dict(Counter(f"{s.kind}: {s.status} {s.code}" for s in errors)),
        "refusals_all_run": dict(failures),
        "decisions_per_s": round(len(ok) / window, 1),
        "latency_ms": quantiles(ok), "latency_ms_by_kind": by_kind,
        "warmup_decisions": sum(1 for s in samples if s.at < warmup),
        "persisted_checks": dict(checks),
        "cpu_s": cpu, "cpu_note": "CPU seconds over the run: stack_process is this process "
        "(API, worker, projector and the clients), then the Temporal dev server, our "
        "PostgreSQL (postmaster and backends), the machine's busy total and the rest (other "
        "sessions)",
        "load_start": load_start, "load_end": load_end,
    }


# -- the run ------------------------------------------------------------------------------------

def targets(report: dict[str, Any]) -> dict[str, Any]:
    d, inbox = report["decisions"], report["inbox"]["queries"]
    p99 = (d["latency_ms"] or {}).get("p99")
    worst = max(q["p95"] for q in inbox.values())
    return {
        "decision_p99_ms": {"value": p99, "target": TARGET_P99_MS,
                            "met": p99 is not None and p99 < TARGET_P99_MS},
        "decision_errors": {"value": d["errors"], "target": TARGET_ERRORS,
                            "met": d["errors"] <= TARGET_ERRORS},
        "inbox_p95_ms": {"value": worst, "target": TARGET_INBOX_P95_MS,
                         "met": worst < TARGET_INBOX_P95_MS,
                         "note": "the worst p95 of the three roles"},
    }


def table(report: dict[str, Any]) -> str:
    d, env = report["decisions"], report["environment"]
    lat = d["latency_ms"] or {}
    lines = [
        f"{d['clients']} clients x {d['measured_s']:.0f} s (after {d['warmup_s']:.0f} s warm-up) "
        f"on {d['cases']} cases of `{PLAN_ID}`; {env['cpus']} CPUs, load "
        f"{env['load_average_start'][0]} at start, {env['load_average_end'][0]} at end.", "",
        "| measure | count | errors | per s | p50 ms | p99 ms | max ms |",
        "|---|---:|---:|---:|---:|---:|---:|",
        f"| decisions (request -> persisted event) | {d['decisions']:,} | {d['errors']} "
        f"| {d['decisions_per_s']} | {lat.get('p50', '-')} | {lat.get('p99', '-')} "
        f"| {lat.get('max', '-')} |"]
    one = report.get("decisions_one_client")
    if one and one["latency_ms"]:
        q = one["latency_ms"]
        lines.append(f"| one client alone (baseline, {one['measured_s']:.0f} s) "
                     f"| {one['decisions']:,} | {one['errors']} | {one['decisions_per_s']} "
                     f"| {q['p50']} | {q['p99']} | {q['max']} |")
    for kind, q in d["latency_ms_by_kind"].items():
        if q:
            lines.append(f"| - {kind} | {q['count']:,} | | | {q['p50']} | {q['p99']} "
                         f"| {q['max']} |")
    lines += ["", f"`GET /inbox`, {report['inbox']['fill']['open_cases']:,} open cases "
              f"({report['inbox']['fill']['pending_rows']:,} pending rows) in one province, "
              "one request at a time:", "",
              "| role | requests | in inbox | p50 ms | p95 ms | max ms |",
              "|---|---:|---:|---:|---:|---:|"]
    for label, q in report["inbox"]["queries"].items():
        lines.append(f"| {label} | {q['count']} | {q['in_inbox']:,} | {q['p50']} | {q['p95']} "
                     f"| {q['max']} |")
    lines.append("")
    lines += target_lines(report["targets"])
    return "\n".join(lines)


async def main(args: argparse.Namespace) -> dict[str, Any]:
    from runtime import logs
    from runtime.stack import running_stack

    logs.configure("WARNING")
    report: dict[str, Any] = {"environment": environment(
        "other sessions share this machine; decisions.cpu_s.other is their use"),
        "settings": {k: v for k, v in vars(args).items() if k != "out"}}
    import catalog
    from domain.admin_units import registry

    plan = catalog.get_plan(PLAN_ID)
    units = sorted(c.code for c in registry(plan.structure).communes.values()
                   if c.province_code == plan.province_code)
    need = args.reviewers * args.cases_per_reviewer
    if need > len(units):
        raise SystemExit(f"{PLAN_ID} has {len(units)} communes: at most that many cases")
    with tempfile.TemporaryDirectory(prefix="drugfree-bench-api-") as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        async with running_stack(root, api_port=free_port(), temporal_port=free_port(),
                                 ui_port=free_port(), sample_plan=PLAN_ID) as info:
            report["environment"]["stack_start_s"] = round(time.perf_counter() - started, 1)
            tokens = Tokens(root)
            limits = httpx.Limits(max_connections=args.reviewers + 5,
                                  max_keepalive_connections=args.reviewers + 5)
            async with httpx.AsyncClient(base_url=info.api_url, limits=limits,
                                         timeout=httpx.Timeout(30.0)) as http:
                print(f"== inbox: {args.inbox_cases} open cases", file=sys.stderr, flush=True)
                fill = await fill_inbox(info.database_url, args.inbox_cases)
                print(f"   {fill}", file=sys.stderr, flush=True)
                report["inbox"] = {"fill": fill, "rounds": args.inbox_rounds,
                                   "queries": await time_inbox(http, tokens, args.inbox_rounds)}
                print(f"== decisions: preparing {need} cases", file=sys.stderr, flush=True)
                report["preparation"] = await prepare(http, tokens, units[:need],
                                                      args.reviewers)
                print(f"   {report['preparation']}", file=sys.stderr, flush=True)
                desks = [Desk(i, units[i * args.cases_per_reviewer:
                                      (i + 1) * args.cases_per_reviewer])
                         for i in range(args.reviewers)]
                print("== decisions: 1 client (the unloaded baseline), 3 s warm-up + "
                      f"{args.baseline:.0f} s", file=sys.stderr, flush=True)
                report["decisions_one_client"] = await decisions(
                    http, tokens, desks[:1], info.database_url, 3.0, args.baseline)
                print(f"   {report['decisions_one_client']['latency_ms']}", file=sys.stderr,
                      flush=True)
                print(f"== decisions: {args.reviewers} clients, {args.warmup:.0f} s warm-up + "
                      f"{args.seconds:.0f} s", file=sys.stderr, flush=True)
                report["decisions"] = await decisions(http, tokens, desks, info.database_url,
                                                      args.warmup, args.seconds)
    report["targets"] = targets(report)
    report["environment"]["load_average_end"] = loads()
    return report


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="a smoke: 20 s of decisions, 5 s warm-up, 100 inbox rounds, "
                        "5 s baseline")
    parser.add_argument("--seconds", type=float, default=180.0, help="measured decision time")
    parser.add_argument("--warmup", type=float, default=15.0, help="seconds not measured")
    parser.add_argument("--reviewers", type=int, default=20, help="concurrent clients")
    parser.add_argument("--baseline", type=float, default=20.0,
                        help="seconds of one client alone first (the unloaded latency)")
    parser.add_argument("--cases-per-reviewer", type=int, default=5)
    parser.add_argument("--inbox-cases", type=int, default=3321)
    parser.add_argument("--inbox-rounds", type=int, default=300)
    parser.add_argument("--out", type=Path, default=None,
                        help=f"JSON file (default {RESULTS.relative_to(ROOT)}; none with --quick)")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.warmup, args.inbox_rounds, args.baseline = 20.0, 5.0, 100, 5.0
    report = asyncio.run(main(args))
    text = table(report)
    print(text)
    out = args.out if args.out is not None else (None if args.quick else RESULTS)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({**report, "table": text}, indent=2, ensure_ascii=False)
                       + "\n")
        print(f"\nwrote {out}", file=sys.stderr)


if __name__ == "__main__":
    cli()
