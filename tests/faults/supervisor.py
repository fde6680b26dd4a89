"""A process supervisor for the fault suite, as systemd or Kubernetes would be in production:
each part of the stack is a process of its own (in its own process group, so a kill takes
every child with it, as a container's death does), its output in a log file, restarted after
a pause when it dies, whether the suite killed it or it exited by itself. Nobody ever restarts
anything by hand: an exit the suite did not cause is counted (``unplanned``) and reported."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

Ready = Callable[[], Awaitable[bool]]


def http_ready(url: str) -> Ready:
    """Ready when ``url`` answers 200."""
    async def check() -> bool:
        try:
            async with httpx.AsyncClient(timeout=3) as http:
                return (await http.get(url)).status_code == 200
        except httpx.HTTPError:
            return False
    return check


@dataclass
class Supervised:
    """One long-running process: how to start it and how to tell it is ready."""

    name: str
    argv: list[str]
    env: dict[str, str]
    cwd: Path
    log: Path
    ready: Ready
    user: str | None = None  # PostgreSQL refuses to run as root
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    unplanned: list[str] = field(default_factory=list)  # exits nobody asked for
    _expected_exit: bool = False

    def start(self) -> None:
        self.starts += 1
        self._expected_exit = False
        with self.log.open("ab") as out:
            out.write(f"\n=== start {self.starts} at {time.strftime('%H:%M:%S')} ===\n".encode())
            out.flush()
            self.proc = subprocess.Popen(
                self.argv, cwd=self.cwd, env=self.env, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True, user=self.user)

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal_group(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass

    def kill(self) -> None:
        """SIGKILL the whole process group (the fault), and wait for it to be gone."""
        self._expected_exit = True
        self.signal_group(signal.SIGKILL)
        assert self.proc is not None
        self.proc.wait(30)

    def stop(self) -> None:
        """The end of the run: SIGTERM, then SIGKILL if it does not go."""
        self._expected_exit = True
        if not self.running():
            return
        self.signal_group(signal.SIGTERM)
        assert self.proc is not None
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.signal_group(signal.SIGKILL)
            self.proc.wait(10)
        if self.proc.poll() is not None:
            self.signal_group(signal.SIGKILL)  # any child left in the group

    def tail(self, size: int = 3000) -> str:
        data = self.log.read_bytes() if self.log.exists() else b""
        return data[-size:].decode(errors="replace")


class Supervisor:
    """Starts the parts in order, restarts any that die (after ``pause`` seconds), and waits
    for readiness on request."""

    def __init__(self, pause: float = 1.0) -> None:
        self.parts: dict[str, Supervised] = {}
        self.pause = pause
        self._watch: asyncio.Task[None] | None = None
        self._held: set[str] = set()  # parts a fault keeps down for a while

    def add(self, part: Supervised) -> Supervised:
        self.parts[part.name] = part
        return part

    async def start_all(self, within: float = 180.0) -> None:
        for part in self.parts.values():
            part.start()
            await self.until_ready(part.name, within)
        self._watch = asyncio.create_task(self._restart_the_dead())

    async def until_ready(self, name: str, within: float = 180.0) -> float:
        """Wait until the part answers ready; the seconds it took."""
        part = self.parts[name]
        began = time.monotonic()
        while time.monotonic() - began < within:
            if await part.ready():
                return time.monotonic() - began
            await asyncio.sleep(0.25)
        raise AssertionError(f"{name} not ready after {within:.0f} s:\n{part.tail()}")

    async def all_ready(self, within: float = 180.0) -> None:
        for name in self.parts:
            await self.until_ready(name, within)

    async def kill_and_restart(self, name: str, down: float) -> None:
        """The fault: SIGKILL, ``down`` seconds without it, then the supervisor restarts it."""
        part = self.parts[name]
        self._held.add(name)
        await asyncio.to_thread(part.kill)
        await asyncio.sleep(down)
        part.start()
        self._held.discard(name)

    async def pause_and_resume(self, name: str, paused: float) -> None:
        """The fault: SIGSTOP the whole group for ``paused`` seconds, then SIGCONT."""
        part = self.parts[name]
        part.signal_group(signal.SIGSTOP)
        try:
            await asyncio.sleep(paused)
        finally:
            part.signal_group(signal.SIGCONT)

    async def _restart_the_dead(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            for part in self.parts.values():
                if part.name in self._held or part.proc is None or part.running():
                    continue
                if not part._expected_exit:
                    part.unplanned.append(f"exit {part.proc.returncode} at "
                                          f"{time.strftime('%H:%M:%S')}")
                await asyncio.sleep(self.pause)
                part.start()

    async def stop_all(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
        for part in reversed(list(self.parts.values())):
            await asyncio.to_thread(part.stop)
