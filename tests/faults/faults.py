"""The faults, on a seeded schedule: each kills, pauses, fills or takes down one thing, holds
it for a seeded while, lets it come back (the supervisor restarts what died; nobody else
touches anything), and waits until every part answers ready again before the next one.

- ``kill``: SIGKILL of a part's whole process group, restarted on the same data after a pause;
- ``pause``: PostgreSQL stopped (SIGSTOP) for longer than the append activity's timeouts;
- ``disk_full``: PostgreSQL's tmpfs filled to the last byte, then freed;
- ``channel_down``: the mail relay refusing every message (451), or the webhook answering 500.
"""

from __future__ import annotations

import asyncio
import errno
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx

from tests.faults.driver import code_of
from tests.faults.stack import Stack

PARTS = ("worker", "api", "dispatcher", "temporal", "postgres")
MAX_HOLD = 90.0


@dataclass
class Fault:
    kind: str  # kill, pause, disk_full, channel_down
    target: str
    at: float  # seconds after the year began (planned)
    hold: float  # seconds the fault lasts
    started: float = 0.0
    recovered_in: float = 0.0  # seconds from the fault's end until every part was ready
    seen: list[str] = field(default_factory=list)  # what the system said meanwhile

    @property
    def name(self) -> str:
        return f"{self.kind}:{self.target}"


def schedule(seed: int, rounds: int, window: tuple[float, float]) -> list[Fault]:
    """``rounds`` of every fault, in a seeded order, at seeded moments spread over
    ``window`` (seconds after the year began), each with a seeded duration."""
    rng = random.Random(seed)
    kinds = [("kill", p) for p in PARTS] + [("pause", "postgres"), ("disk_full", "postgres"),
                                           ("channel_down", "email"),
                                           ("channel_down", "webhook")]
    planned: list[tuple[str, str]] = []
    for _ in range(rounds):
        one = kinds[:]
        rng.shuffle(one)
        planned += one
    begin, end = window
    slot = (end - begin) / len(planned)
    faults = []
    for i, (kind, target) in enumerate(planned):
        hold = {"kill": rng.uniform(1.0, 4.0), "pause": rng.uniform(12.0, 16.0),
                "disk_full": rng.uniform(8.0, 12.0),
                "channel_down": rng.uniform(10.0, 16.0)}[kind]
        faults.append(Fault(kind, target, begin + i * slot + rng.uniform(0, slot * 0.3), hold))
    return faults


async def inject(stack: Stack, fault: Fault, auditor: str) -> None:
    """Strike, hold, end the fault; then wait until every part is ready again. ``auditor``:
    a token of the province's auditor (whose reads are recorded)."""
    sup = stack.supervisor
    fault.started = time.monotonic()
    if fault.kind == "kill":
        await sup.kill_and_restart(fault.target, fault.hold)
    elif fault.kind == "pause":
        await sup.pause_and_resume(fault.target, fault.hold)
    elif fault.kind == "disk_full":
        await _disk_full(stack, fault, auditor)
    elif fault.kind == "channel_down":
        receiver = stack.mail if fault.target == "email" else stack.webhook
        refused = receiver.refused
        receiver.up = False
        try:  # down at least its while, and until it has turned notices away
            await _hold(fault, lambda: receiver.refused - refused >= 2)
        finally:
            receiver.up = True
        fault.seen.append(f"{receiver.refused - refused} notices refused")
    ended = time.monotonic()
    await sup.all_ready(within=240)
    fault.recovered_in = time.monotonic() - ended


async def _hold(fault: Fault, bit: Callable[[], bool], poll: Callable[[], Awaitable[None]]
                | None = None) -> None:
    """Keep the fault for its planned while and until ``bit()`` says it met the system
    (a quiet moment of the year may pass a fault by), at most ``MAX_HOLD`` seconds."""
    began = time.monotonic()
    while True:
        held = time.monotonic() - began
        if held >= fault.hold and bit() or held >= MAX_HOLD:
            fault.hold = held
            return
        if poll is not None:
            await poll()
        await asyncio.sleep(0.5)


async def _disk_full(stack: Stack, fault: Fault, auditor: str) -> None:
    """The tmpfs filled; meanwhile an auditor reads a case's history now and then (each read
    is recorded: a write that needs room), and the worker's and API's readiness are read."""
    filler = stack.mount / "filler"
    await asyncio.to_thread(fill, filler)
    answers: Counter[str] = Counter()
    async with httpx.AsyncClient(timeout=10) as http:
        async def poll() -> None:
            for url in (f"{stack.ops['worker']}/readyz", f"{stack.direct_api_url}/readyz"):
                try:
                    r = await http.get(url)
                    said = r.status_code != 200 or "degraded" in r.text
                    if said and r.text not in fault.seen:
                        fault.seen.append(r.text)
                except httpx.HTTPError:
                    pass
            case = await _any_case(stack)
            if case is None:
                return
            try:
                r = await http.get(f"{stack.direct_api_url}/cases/{case}/history",
                                   headers={"Authorization": f"Bearer {auditor}"})
                answers[f"history {r.status_code} {code_of(r)}"] += 1
            except httpx.HTTPError as exc:
                answers[f"history {type(exc).__name__}"] += 1

        try:
            # met: a readiness said so, or a write of the auditor's read failed
            await _hold(fault, lambda: any("disk" in s for s in fault.seen) or any(
                not k.startswith("history 200") for k in answers), poll)
        finally:
            filler.unlink()
    fault.seen.append(f"auditor's reads: {dict(answers)}")


async def _any_case(stack: Stack) -> str | None:
    try:
        conn = await asyncpg.connect(stack.owner_url, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return None
    try:
        found: str | None = await conn.fetchval(
            "SELECT stream FROM streams WHERE stream LIKE 'conversion:%' LIMIT 1")
        return found
    finally:
        await conn.close()


def fill(path: Path) -> None:
    """Write until the filesystem has not a byte left."""
    with path.open("wb", buffering=0) as f:
        for size in (1 << 20, 1 << 12, 1):
            block = b"\0" * size
            while True:
                try:
                    f.write(block)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
