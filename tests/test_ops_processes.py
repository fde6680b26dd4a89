"""The long-running processes as an operator runs them: ``drugfree dispatcher`` delivers the
outbox apart from any worker, and ``worker.py`` serves its operations port with our series and
the Temporal SDK's; both answer /readyz and stop cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import asyncpg
import httpx
import pytest

from tests.conftest import Database

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def process(argv: list[str], **env: str) -> Iterator[tuple[subprocess.Popen[bytes], IO[bytes]]]:
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, cwd=ROOT, env={**os.environ, **env},
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        try:
            yield proc, err
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)


async def until_ready(url: str, proc: subprocess.Popen[bytes], err: IO[bytes],
                      within: float = 90.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    async with httpx.AsyncClient(timeout=5) as http:
        while loop.time() < deadline:
            if proc.poll() is not None:
                err.seek(0)
                raise AssertionError(f"exited {proc.returncode}: {err.read()[-2000:]!r}")
            try:
                if (await http.get(f"{url}/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise AssertionError(f"{url}/readyz not ready after {within} s")


def stopped_cleanly(proc: subprocess.Popen[bytes], err: IO[bytes]) -> bool:
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(30)
    err.seek(0)
    assert code == 0, f"exit {code}: {err.read()[-3000:].decode(errors='replace')}"
    return True


async def test_the_dispatcher_delivers_apart_from_workers(migrated_database: Database) -> None:
    admin = await asyncpg.connect(migrated_database.admin_url)
    try:
        await admin.execute(
            "INSERT INTO outbox (id, case_id, template, to_role, params, channel) "
            "VALUES ('ops-test:0:log', 'conversion:tra-vinh-2025:84010', 'reminder', "
            "'commune_ubnd', $1::jsonb, 'log')",
            '{"commune": "84010", "plan": "tra-vinh-2025", "deadline": "phase_1_report", '
            '"due": "2025-03-01", "days_before": 7}')
        port = free_port()
        with process([sys.executable, "-m", "cli.main", "dispatcher"],
                     DATABASE_URL=migrated_database.app_url,
                     DRUGFREE_METRICS_PORT=str(port)) as (proc, err):
            await until_ready(f"http://127.0.0.1:{port}", proc, err)
            for _ in range(200):
                if await admin.fetchval("SELECT delivered_at IS NOT NULL FROM outbox "
                                        "WHERE id = 'ops-test:0:log'"):
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("the dispatcher did not deliver the notice")
            async with httpx.AsyncClient() as http:
                text = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
            assert 'drugfree_notifications_sent_total{channel="log"} 1.0' in text
            assert "drugfree_outbox_oldest_seconds 0.0" in text
            assert "temporal_" not in text  # no Temporal client in this process
            assert stopped_cleanly(proc, err)
    finally:
        await admin.close()


async def test_the_dispatcher_refuses_the_owners_url(migrated_database: Database) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cli.main", "dispatcher", cwd=ROOT,
        env={**os.environ, "DATABASE_URL": migrated_database.admin_url},
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    _, raw = await asyncio.wait_for(proc.communicate(), 60)
    stderr = raw.decode()
    assert proc.returncode == 2 and "can write the events table" in stderr, stderr
    assert "Traceback" not in stderr


@pytest.mark.timeout(240)
async def test_the_worker_serves_metrics_and_readiness(migrated_database: Database) -> None:
    port, sdk = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k != "TEMPORAL_ADDRESS"}
    with process([sys.executable, str(ROOT / "worker.py")], **{
            **env, "DATABASE_URL": migrated_database.app_url,
            "DRUGFREE_INSECURE_NO_IDENTITY": "1", "DRUGFREE_METRICS_PORT": str(port),
            "DRUGFREE_SDK_METRICS_PORT": str(sdk)}) as (proc, err):
        await until_ready(f"http://127.0.0.1:{port}", proc, err, within=180)
        async with httpx.AsyncClient() as http:
            text = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
            live = await http.get(f"http://127.0.0.1:{port}/livez")
        assert live.status_code == 200
        assert "temporal_num_pollers" in text  # the SDK's own, merged in
        assert "# TYPE drugfree_event_append_seconds histogram" in text
        assert "process_resident_memory_bytes" in text
        assert stopped_cleanly(proc, err)
