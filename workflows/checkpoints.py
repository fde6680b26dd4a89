"""The log's hourly checkpoint (mốc kiểm toán định kỳ): a Temporal schedule starts this
workflow; it takes, signs and delivers one checkpoint (``activities.checkpoints``)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.checkpoints import Checkpoints, CheckpointTaken

SCHEDULE_ID = "audit-checkpoints"


@workflow.defn(name="CheckpointWorkflow")
class CheckpointWorkflow:
    @workflow.run
    async def run(self) -> CheckpointTaken:
        return await workflow.execute_activity_method(
            Checkpoints.take, start_to_close_timeout=timedelta(minutes=10),
            retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=5),
                                     maximum_attempts=12))
