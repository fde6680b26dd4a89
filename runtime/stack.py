"""The local stack (``drugfree dev``): every part of drugfree on one machine, kept across runs.

Under one directory (``var/dev`` by default): the keys (generated on the first run), the
PostgreSQL cluster (``postgres/``) and the Temporal dev server's database (``temporal.db``),
so a second run resumes the same cases. It runs the Temporal dev server (with its Web UI),
PostgreSQL, the worker with its notification dispatcher, and the HTTP API, all stopped
cleanly on Ctrl-C. Payloads are encrypted with the stack's own key. ``DATABASE_URL`` and
``TEMPORAL_ADDRESS`` point it at real servers instead of the embedded ones.

The keys: ``identity.pem`` signs people's tokens (what a province's sign-on would do; the API
trusts ``identity.jwks.json``), ``front-door.pem`` signs the API's command proofs (workers
trust it), ``relay.pem`` is the worker's relay key, ``payload.key`` the AES-256 payload key.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shlex
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from domain.clock import PlanClock
from domain.identity import Signer, issue_token
from domain.plan import Plan
from domain.roles import Actor

TASK_QUEUE = "drugfree"
# A rehearsed case's plan begins this long after it is started: its first deadlines are ahead.
REHEARSAL_LEAD = timedelta(seconds=10)


def rehearsal_clock(seconds_per_day: float, now: datetime | None = None) -> PlanClock:
    """The compressed calendar a case started at ``now`` runs on in a rehearsal: its plan's
    first day begins ``REHEARSAL_LEAD`` later and each plan day lasts ``seconds_per_day``."""
    return PlanClock(seconds_per_day=seconds_per_day,
                     origin=(now or datetime.now(UTC)) + REHEARSAL_LEAD)


@dataclass(frozen=True)
class StackKeys:
    identity: Signer
    front_door: Signer
    relay: Signer
    payload_key: str  # 64 hex digits

    @classmethod
    def load_or_create(cls, folder: Path) -> StackKeys:
        """The stack's keys from ``folder``, made there (owner-only files) on the first run."""
        folder.mkdir(parents=True, exist_ok=True)

        def signer(name: str) -> Signer:
            path = folder / f"{name}.pem"
            if path.exists():
                return Signer.from_pem(path.read_bytes())
            made = Signer.generate()
            _write_private(path, made.pem())
            (folder / f"{name}.jwks.json").write_text(
                json.dumps(made.ring().jwks(), indent=1) + "\n", encoding="utf-8")
            return made

        key_file = folder / "payload.key"
        if not key_file.exists():
            _write_private(key_file, secrets.token_hex(32).encode())
        signer("checkpoint")  # the log's checkpoint key (its file is what the worker reads)
        return cls(identity=signer("identity"), front_door=signer("front-door"),
                   relay=signer("relay"), payload_key=key_file.read_text().strip())


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


@dataclass(frozen=True)
class StackInfo:
    api_url: str
    temporal_address: str
    ui_url: str | None
    tokens: dict[str, str]  # role -> a ready token
    database_url: str = ""  # the event store, as the application role (benchmarks fill it)
    checkpoint_vkey: str = ""  # the verifier key of the stack's checkpoints
    rehearsal: float | None = None  # seconds per plan day; None: the plans' real dates
    codec_url: str | None = None  # the codec server, for operators (role operator)
    ops_url: str | None = None  # the operations port: /metrics, /livez, /readyz


def sample_people(plan_id: str) -> list[tuple[Actor, str]]:
    """One person per role the plan uses, in its province (and its first commune)."""
    import catalog
    from activities.admission import territory

    if plan_id not in catalog.plan_ids():
        plan_id = "ninh-binh-2026"
    plan = catalog.get_plan(plan_id)
    first, district = next(iter(sorted(territory(plan).items())))
    roles = ["commune_ubnd", "district_ubnd", "province_police", "province_ubnd",
             *(r for lv in plan.approval_chain for r in lv.roles), "auditor"]
    people: list[tuple[Actor, str]] = []
    for role in dict.fromkeys(roles):
        scope = {"commune_ubnd": "commune"}.get(role, "district" if role.startswith(
            "district_") else "province")
        if scope == "district" and district is None:
            continue  # no districts after the 2025 reform
        actor = Actor(person_id=f"dev-{role}", role=role,
                      province_code=plan.province_code,
                      district_code=district if scope != "province" else None,
                      commune_code=first if scope == "commune" else None)
        people.append((actor, f"Người dùng thử ({role})"))
    return people


@asynccontextmanager
async def running_stack(root: Path, *, api_port: int = 8000, temporal_port: int = 7233,
                        ui_port: int = 8233, sample_plan: str = "ninh-binh-2027",
                        rehearsal: float | None = None, codec_port: int = 0,
                        on_line: Callable[[str], None] = print) -> AsyncIterator[StackInfo]:
    """Start every part (resuming what ``root`` holds) and stop them all on exit.
    ``rehearsal``: seconds per plan day, new cases and campaigns on ``rehearsal_clock`` (and a
    worker that accepts it); None: on their plans' real dates. ``codec_port``: also serve the
    codec server there, with a sample operator's token (0: not)."""
    if rehearsal is not None and not rehearsal > 0:
        raise ValueError(f"rehearsal: seconds per plan day must be positive, not {rehearsal}")
    from temporalio.testing import WorkflowEnvironment

    from api.app import create_app
    from eventstore.embedded import database
    from eventstore.migrate import migrate
    from eventstore.store import EventStore
    from eventstore.urls import app_url
    from runtime import metrics, ops, settings
    from runtime import temporal as rt
    from runtime.codec import EncryptionCodec, codec_from_env
    from runtime.codec_server import CODEC_ROLE, DEFAULT_UI_ORIGIN, create_codec_app
    from runtime.schedules import ensure_checkpoint_schedule
    from runtime.telemetry import instrument_app, setup_tracing
    from runtime.trust import Trust
    from service import CaseService
    from service.access import Authenticator
    from service.audit import signing_key, verifier_of
    from service.audit_reads import ReadLog
    from web.app import DemoPerson
    from worker import running_worker

    setup_tracing("drugfree-dev")  # the API and the worker in one process
    keys = StackKeys.load_or_create(root / "keys")
    cfg = settings.load()
    # the SDK's metrics on the operations port too, when this process has no runtime yet
    sdk = ops.sdk_metrics_address(cfg) if not rt.runtime.cache_info().currsize else None
    if sdk:
        rt.enable_sdk_metrics(sdk)
    os.environ.setdefault("DRUGFREE_PAYLOAD_KEY", keys.payload_key)  # before any client
    # hourly signed checkpoints of the log, kept beside the stack's data (outside PostgreSQL)
    os.environ.setdefault("DRUGFREE_CHECKPOINT_KEY", str(root / "keys" / "checkpoint.pem"))
    os.environ.setdefault("DRUGFREE_CHECKPOINT_DIR", str(root / "checkpoints"))
    external_db = os.environ.get("DATABASE_URL")
    async with database(None if external_db else root / "postgres") as owner_url:
        if not external_db:
            await migrate(owner_url)  # as the owner, a step of its own
        db_url = app_url(owner_url) if not external_db else external_db
        env: WorkflowEnvironment | None = None
        address = os.environ.get("TEMPORAL_ADDRESS")
        if address:
            client = await rt.connect(address, tracing=True)
            ui_url = None
        else:
            env = await WorkflowEnvironment.start_local(
                data_converter=rt.data_converter(), runtime=rt.runtime(),
                interceptors=rt.interceptors(True),
                dev_server_existing_path=rt._binary("temporal"), port=temporal_port,
                ui=True, ui_port=ui_port,
                dev_server_database_filename=str(root / "temporal.db"))
            client, address = env.client, f"127.0.0.1:{temporal_port}"
            ui_url = f"http://127.0.0.1:{ui_port}"
        try:
            trust = Trust.of(keys.front_door, relay=keys.relay,
                             rehearsals=rehearsal is not None)
            async with running_worker(client, db_url, task_queue=TASK_QUEUE, trust=trust), \
                    await EventStore.connect(db_url) as store:
                await ensure_checkpoint_schedule(client, TASK_QUEUE)
                service = CaseService(client, TASK_QUEUE, store, signer=keys.front_door,
                                      local_appends=cfg.local_appends)

                async def ready() -> None:
                    await client.service_client.check_health()
                    await store.pool.fetchval("SELECT 1")

                def clock_for(_: Plan) -> PlanClock:
                    return PlanClock() if rehearsal is None else rehearsal_clock(rehearsal)

                now = datetime.now(UTC)
                people = [DemoPerson(key=a.role, name=name, actor=a, token=issue_token(
                    keys.identity, a, now, timedelta(hours=8), name=name))
                    for a, name in sample_people(sample_plan)]
                tokens = {p.key: p.token for p in people}
                # the pages' sign-in lists the sample people (this local stack only)
                app = instrument_app(create_app(
                    service, Authenticator(keys.identity.ring()), ready=ready,
                    clock_for=clock_for, people=people))
                async with AsyncExitStack() as servers:
                    await servers.enter_async_context(serving(app, "127.0.0.1", api_port))
                    ops_url = await servers.enter_async_context(ops.operations(
                        cfg, {"temporal": client.service_client.check_health,
                              "database": lambda: ops.ping(store.pool)},
                        collect=lambda: metrics.refresh_gauges(store.pool),
                        sdk=sdk is not None))
                    codec_url = None
                    if codec_port:
                        # an operator reads payloads through it (temporal --codec-endpoint)
                        operator = Actor(person_id="dev-operator", role=CODEC_ROLE,
                                         province_code=people[0].actor.province_code)
                        tokens[CODEC_ROLE] = issue_token(keys.identity, operator, now,
                                                         timedelta(hours=8),
                                                         name="Người vận hành thử")
                        codec = create_codec_app(
                            codec_from_env() or EncryptionCodec(bytes.fromhex(
                                keys.payload_key)), Authenticator(keys.identity.ring()),
                            ui_url or DEFAULT_UI_ORIGIN, ReadLog(store),
                            namespace=client.namespace)
                        await servers.enter_async_context(
                            serving(codec, "127.0.0.1", codec_port))
                        codec_url = f"http://127.0.0.1:{codec_port}"
                    yield StackInfo(api_url=f"http://127.0.0.1:{api_port}",
                                    temporal_address=address, ui_url=ui_url, tokens=tokens,
                                    database_url=db_url, rehearsal=rehearsal,
                                    checkpoint_vkey=verifier_of(signing_key()),
                                    codec_url=codec_url, ops_url=ops_url)
        finally:
            if env is not None:
                await env.shutdown()


@asynccontextmanager
async def serving(app: Any, host: str, port: int) -> AsyncIterator[None]:
    """Serve ``app`` (uvicorn, in this event loop) for the block; raise if it cannot start."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning",
                                           lifespan="off"))
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()  # the port is taken, say: raise it here
                raise OSError(f"the API did not start on {host}:{port}")
            await asyncio.sleep(0.05)
        yield
    finally:
        server.should_exit = True
        await task


def describe(info: StackInfo, root: Path) -> list[str]:
    """What ``drugfree dev`` prints once everything is up (Vietnamese, then English)."""
    lines = [
        "drugfree dev: sẵn sàng / ready",
        f"  API:                 {info.api_url}   (tài liệu / docs: {info.api_url}/docs, "
        f"OpenAPI: {info.api_url}/openapi.json)",
        f"  Trang web / pages:   {info.api_url}/ui   (đăng nhập bằng người dùng mẫu / "
        "sign in as a sample person)",
        f"  Temporal:            {info.temporal_address}",
    ]
    if info.ui_url:
        lines.append(f"  Temporal Web UI:     {info.ui_url}")
    if info.ops_url:
        lines.append(f"  Vận hành / operations: {info.ops_url}/metrics, /livez, /readyz")
    if info.codec_url:
        lines += [f"  Máy chủ giải mã / codec server: {info.codec_url}   (người vận hành / "
                  "operators; thẻ / token: operator)",
                  f"      temporal workflow show -w <id> --address {info.temporal_address} "
                  f"--codec-endpoint {info.codec_url} --codec-auth \"Bearer "
                  "$DRUGFREE_TOKEN_OPERATOR\""]
    if info.rehearsal is not None:
        lead = REHEARSAL_LEAD.total_seconds()
        lines += [
            f"  !!! DIỄN TẬP / REHEARSAL: 1 ngày kế hoạch = {info.rehearsal:g} giây / one plan "
            f"day = {info.rehearsal:g} s !!!",
            f"      hồ sơ, chiến dịch mới bắt đầu kế hoạch sau {lead:g} giây, không theo ngày "
            "thật / new cases and campaigns start their plan",
            f"      {lead:g} s after they are started, not on its real dates",
        ]
    lines += [f"  dữ liệu / data:      {root}  (chạy lại để tiếp tục / run again to resume)",
              "  thẻ định danh mẫu (8 giờ) / sample tokens (8 h):"]
    lines += [f"    {role:<20} {token}" for role, token in info.tokens.items()]
    lines += ["  ví dụ / e.g.:  export DRUGFREE_API=" + info.api_url,
              "                 export DRUGFREE_TOKEN=<thẻ ở trên / a token above>",
              "  Ctrl-C để dừng / to stop"]
    return lines


def write_tokens(info: StackInfo, root: Path) -> Path:
    """The sample tokens as a shell file (``source var/dev/tokens.env``)."""
    path = root / "tokens.env"
    text = "".join(f"export DRUGFREE_TOKEN_{role.upper()}={token}\n"
                   for role, token in info.tokens.items())
    if info.database_url:  # for `drugfree audit ...` against the stack's event store
        text += f"export DRUGFREE_DEV_DATABASE_URL={shlex.quote(info.database_url)}\n"
    if info.checkpoint_vkey:
        text += f"export DRUGFREE_CHECKPOINT_VKEY={shlex.quote(info.checkpoint_vkey)}\n"
    if info.rehearsal is not None:  # what a script needs to know when a case's days fall
        text += (f"export DRUGFREE_REHEARSAL_SECONDS_PER_DAY={info.rehearsal:g}\n"
                 f"export DRUGFREE_REHEARSAL_LEAD_SECONDS={REHEARSAL_LEAD.total_seconds():g}\n")
    path.write_text(f"export DRUGFREE_API={info.api_url}\n{text}", encoding="utf-8")
    return path
