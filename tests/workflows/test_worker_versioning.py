"""Worker versioning (issue 14, deploying workflow changes safely; ``runtime.versioning``): a
new build's worker polls beside the old one and receives nothing until an operator makes its
version current; then a running case moves to it at its next task (AUTO_UPGRADE), and making
the old version current again is the rollback.

On the module's own dev server (the time-skipping server has no Worker Deployments).
Commune 29380 (tra-vinh-2025) is this module's alone; its case is withdrawn at the end.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from temporalio.api.enums.v1 import RoutingConfigUpdateState, VersioningBehavior
from temporalio.api.workflowservice.v1 import (
    DescribeWorkerDeploymentRequest,
    SetWorkerDeploymentCurrentVersionRequest,
)
from temporalio.client import Client
from temporalio.service import RPCError

from catalog import get_plan
from domain.admin_units import registry
from eventstore.store import EventStore
from eventstore.urls import app_url
from runtime.settings import Settings
from runtime.versioning import deployment_config
from service import CaseService
from tests.workflows.conftest import TRUST
from tests.workflows.support import CLEAN, SIGNER, Case
from worker import running_worker

pytestmark = pytest.mark.asyncio(loop_scope="session")

PLAN = "tra-vinh-2025"
COMMUNE = "29380"
DEPLOYMENT = f"drugfree-test-{uuid.uuid4().hex[:6]}"


def versioned(build_id: str) -> dict[str, Any]:
    cfg = Settings(DRUGFREE_BUILD_ID=build_id, DRUGFREE_DEPLOYMENT_NAME=DEPLOYMENT)
    return {"deployment_config": deployment_config(cfg), "dispatch": False, "project": False}


async def make_current(client: Client, build_id: str) -> None:
    """What ``temporal worker deployment set-current-version`` does, once the version's
    worker has polled (the server learns a version from its pollers)."""
    for _ in range(100):
        try:
            await client.workflow_service.set_worker_deployment_current_version(
                SetWorkerDeploymentCurrentVersionRequest(
                    namespace=client.namespace, deployment_name=DEPLOYMENT, build_id=build_id,
                    identity="operator"))
            break
        except RPCError:  # not seen yet
            await asyncio.sleep(0.2)
    else:
        raise AssertionError(f"version {build_id} never became current")
    # the new routing reaches the task queues a moment later (as the CLI's command, which
    # also returns before it has)
    for _ in range(100):
        found = await client.workflow_service.describe_worker_deployment(
            DescribeWorkerDeploymentRequest(namespace=client.namespace,
                                            deployment_name=DEPLOYMENT))
        if found.worker_deployment_info.routing_config_update_state == \
                RoutingConfigUpdateState.ROUTING_CONFIG_UPDATE_STATE_COMPLETED:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"version {build_id}'s routing never reached the task queues")


async def current(client: Client) -> str:
    found = await client.workflow_service.describe_worker_deployment(
        DescribeWorkerDeploymentRequest(namespace=client.namespace, deployment_name=DEPLOYMENT))
    return str(found.worker_deployment_info.routing_config.current_deployment_version.build_id)


async def ran_on(client: Client, workflow_id: str) -> tuple[str, str]:
    """(build id, behaviour) of the version the run's last workflow task completed on."""
    info = (await client.get_workflow_handle(workflow_id).describe()).raw_description \
        .workflow_execution_info.versioning_info
    return info.deployment_version.build_id, VersioningBehavior.Name(info.behavior)


async def test_no_build_id_means_an_unversioned_worker() -> None:
    assert deployment_config(Settings()) is None
    config = deployment_config(Settings(DRUGFREE_BUILD_ID="1.4.0"))
    assert config is not None and config.use_worker_versioning
    assert config.version.deployment_name == "drugfree" and config.version.build_id == "1.4.0"


async def test_a_new_build_takes_over_only_when_made_current(
        dev_server: Client, case_db: str, store: EventStore) -> None:
    client, task_queue, url = dev_server, f"tq-ver-{uuid.uuid4().hex[:6]}", app_url(case_db)
    plan = get_plan(PLAN)
    c = registry(plan.structure).commune(COMMUNE)
    case = Case(client, None, PLAN, c.code, c.district_code,  # type: ignore[arg-type]
                c.province_code, task_queue, today=plan.local_date(datetime.now(UTC)))
    case.service = CaseService(client, task_queue, store, signer=SIGNER)

    async with running_worker(client, url, task_queue, trust=TRUST, **versioned("b1")):
        await make_current(client, "b1")
        await case.start()
        for _ in range(100):
            if await store.version(case.id) > 0:
                break
            await asyncio.sleep(0.1)
        assert (await ran_on(client, case.id))[0] == "b1"

        async with running_worker(client, url, task_queue, trust=TRUST, **versioned("b2")):
            # b2 polls the same queue, but b1 is current: the selection stays on b1
            await case.select()
            assert await current(client) == "b1"
            assert (await ran_on(client, case.id))[0] == "b1"

            await make_current(client, "b2")
            await case.submit(*first_report(case))
            # the running case moved to b2 at its next task: AUTO_UPGRADE
            assert await ran_on(client, case.id) == ("b2", "VERSIONING_BEHAVIOR_AUTO_UPGRADE")

            await make_current(client, "b1")  # the rollback
            await case.withdraw("kết thúc thử nghiệm / end of test")
            assert (await ran_on(client, case.id))[0] == "b1"
        result = await asyncio.wait_for(
            (await case.service.handle_for_result(case.id)).result(), 60)
    assert result.outcome == "withdrawn"


def first_report(case: Case) -> tuple[str, dict[str, Any]]:
    deadline = min((d for d in case.plan.deadlines if d.kind == "phase_report"),
                   key=lambda d: d.due)
    return deadline.id, CLEAN
