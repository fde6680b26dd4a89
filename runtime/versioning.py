"""Worker versioning (phiên bản worker): how a new build of the workflow code takes over from
the running one without a moment when two builds share the task queue unasked.

A worker with ``DRUGFREE_BUILD_ID`` joins the Worker Deployment ``DRUGFREE_DEPLOYMENT_NAME``
as the version of that build. Temporal sends it workflow tasks only once an operator makes the
version current (or ramping: a share of new workflows), after ``drugfree audit replay-code``
has passed on it; until then the old build keeps the work, and promoting the old build back
is the rollback.

Every workflow is AUTO_UPGRADE, never PINNED: a case lives a year, and pinning it to its
starting build would keep that build's workers alive for the year. A running case moves to the
new current build at its next task, which is safe because every behaviour change is behind
``workflow.patched`` and the replay check proves it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from temporalio.common import VersioningBehavior, WorkerDeploymentVersion
from temporalio.worker import WorkerDeploymentConfig

if TYPE_CHECKING:
    from runtime.settings import Settings

BEHAVIOUR = VersioningBehavior.AUTO_UPGRADE


def deployment_config(cfg: Settings) -> WorkerDeploymentConfig | None:
    """The worker's versioning, or None for an unversioned worker (no build id)."""
    if not cfg.build_id:
        return None
    return WorkerDeploymentConfig(
        version=WorkerDeploymentVersion(deployment_name=cfg.deployment_name,
                                        build_id=cfg.build_id),
        use_worker_versioning=True, default_versioning_behavior=BEHAVIOUR)
