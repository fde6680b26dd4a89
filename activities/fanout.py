"""Fan-out of one list decision to many cases: starts cases and sends them Temporal Updates.

The province campaign approves lists (communes selected, communes recognised) in one decision;
this activity delivers it to each commune's workflow and reports, per commune, "ok" or the
refusal's code and message. Update ids are the request ids, so a retried fan-out is deduplicated
by the server and by the workflows' own request memory.
"""

from __future__ import annotations

import asyncio

from temporalio import activity
from temporalio.client import (
    Client,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from activities.contracts import CaseCommand, FanoutResult

CONCURRENCY = 32


class CaseOps:
    def __init__(self, client: Client, task_queue: str) -> None:
        self.client = client
        self.task_queue = task_queue

    @activity.defn(name="fan_out")
    async def fan_out(self, commands: list[CaseCommand]) -> FanoutResult:
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(cmd: CaseCommand) -> tuple[str, str]:
            code = cmd.key
            async with gate:
                try:
                    if cmd.start is not None:
                        await self._start(cmd)
                    else:
                        handle = self.client.get_workflow_handle(cmd.workflow_id)
                        await handle.execute_update(
                            cmd.update, cmd.payload, id=str(cmd.payload.get("request_id")))
                    return code, "ok"
                except WorkflowUpdateFailedError as exc:
                    cause = exc.cause
                    if isinstance(cause, ApplicationError):
                        return code, f"{cause.type}: {cause.message}"
                    return code, f"refused: {cause}"
                except RPCError as exc:
                    return code, f"unavailable: {exc.message}"

        pairs = await asyncio.gather(*(one(c) for c in commands))
        return FanoutResult(results=dict(pairs))

    async def _start(self, cmd: CaseCommand) -> None:
        from workflows.conversion import CommuneConversionWorkflow
        from workflows.messages import CaseInput

        await self.client.start_workflow(
            CommuneConversionWorkflow.run,
            CaseInput.model_validate(cmd.start),
            id=cmd.workflow_id,
            task_queue=self.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
