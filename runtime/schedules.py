"""The Temporal schedules the deployment keeps: the log's hourly checkpoint."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from workflows.checkpoints import SCHEDULE_ID, CheckpointWorkflow


def checkpoint_schedule(task_queue: str, every: timedelta) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(CheckpointWorkflow.run, id="audit-checkpoint",
                                           task_queue=task_queue),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        # a slow run is not stacked on: the next one covers everything anyway
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP))


async def ensure_checkpoint_schedule(client: Client, task_queue: str,
                                     every: timedelta = timedelta(hours=1)) -> bool:
    """Create the checkpoint schedule, or bring an existing one to ``every``; True when it
    was created now."""
    schedule = checkpoint_schedule(task_queue, every)
    try:
        # the first checkpoint at once: a fresh deployment has one to keep from the start
        await client.create_schedule(SCHEDULE_ID, schedule, trigger_immediately=True)
        return True
    except ScheduleAlreadyRunningError:
        def update(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)

        await client.get_schedule_handle(SCHEDULE_ID).update(update)
        return False
