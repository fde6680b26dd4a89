"""Starting on trusted terms: a case or campaign is admitted by the worker before it writes.

The check itself is the activity ``activities.admission`` (the worker's keys and catalogue);
its answer is recorded in the history, so a replay with other keys follows the same path.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.admission import Admission, AdmissionRequest
    from workflows.errors import refuse, vi_of
    from workflows.event_log import local_enabled, local_then_regular
    from workflows.messages import CampaignInput, CaseInput, RoundInput

ADMIT_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=30))
# With local appends the admission is local too (a check of keys and catalogue, no writes):
# a few quick attempts, then the regular activity.
LOCAL_ADMIT_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200),
                                maximum_attempts=3)


async def admit(workflow_id: str, kind: Literal["case", "campaign", "round"],
                inp: CaseInput | CampaignInput | RoundInput) -> None:
    """Return once the worker admits this start; refuse it with the admission's code if not."""
    req = AdmissionRequest(kind=kind, workflow_id=workflow_id,
                           started_at=workflow.info().start_time,
                           start=inp.model_dump(mode="json"))
    try:
        if local_enabled(inp.local_appends):
            await local_then_regular(
                Admission.admit, req, local_timeout=timedelta(seconds=10),
                local_retry=LOCAL_ADMIT_RETRY, regular_timeout=timedelta(seconds=30),
                retry=ADMIT_RETRY)
        else:
            await workflow.execute_activity_method(
                Admission.admit, req,
                start_to_close_timeout=timedelta(seconds=30), retry_policy=ADMIT_RETRY)
    except ActivityError as exc:
        cause = exc.cause
        if isinstance(cause, ApplicationError) and cause.non_retryable:
            refuse(cause.type or "admission.refused", cause.message, vi_of(cause.details))
        raise
