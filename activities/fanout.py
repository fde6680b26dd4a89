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

from activities.admission import OPEN_REQUEST
from activities.contracts import CaseCommand, FanoutResult
from domain.identity import Signer, command_digest, prove
from domain.roles import Actor

CONCURRENCY = 32


class CaseOps:
    def __init__(self, client: Client, task_queue: str, relay: Signer | None = None) -> None:
        self.client = client
        self.task_queue = task_queue
        self.relay = relay  # None: an insecure deployment, no proofs (runtime.trust)

    def _relayed(self, cmd: CaseCommand) -> CaseCommand:
        """``cmd`` with a proof signed by the relay key for the same actor, marked ``via``
        the campaign that decided it (the case accepts it from its own campaign only)."""
        if self.relay is None:
            return cmd
        body = cmd.start if cmd.start is not None else cmd.payload
        actor = Actor.model_validate(body["opened_by"] if cmd.start is not None
                                     else body["actor"])
        request_id = OPEN_REQUEST if cmd.start is not None else str(body["request_id"])
        # the server's time of this attempt, the clock the workflows check proofs against
        now = activity.info().current_attempt_scheduled_time
        proof = prove(self.relay, actor, target=cmd.workflow_id, request_id=request_id,
                      digest=command_digest(body), now=now, via=cmd.via)
        signed = {**body, "proof": proof}
        if cmd.start is not None:
            return cmd.model_copy(update={"start": signed})
        return cmd.model_copy(update={"payload": signed})

    @activity.defn(name="fan_out")
    async def fan_out(self, commands: list[CaseCommand]) -> FanoutResult:
        gate = asyncio.Semaphore(CONCURRENCY)
        commands = [self._relayed(c) for c in commands]

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
