"""Taking a signed checkpoint of the event log (mốc kiểm toán) and keeping it outside the
database: a file in a directory the province backs up elsewhere, and/or a webhook (e.g. a
server of the provincial inspectorate that keeps its own copies).

Run by ``workflows.checkpoints`` on a Temporal schedule (hourly by default). A checkpoint
is never overwritten: its file name carries the tree size and the time.
"""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from pathlib import Path

import httpx
from pydantic import BaseModel
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain import checkpoint as notes
from domain.identity import Signer
from eventstore.store import EventStore
from service.audit import KEY_ENV, Audit, signing_key


class CheckpointTaken(BaseModel):
    size: int
    root: str  # hex
    file: str | None = None
    delivered: bool = False


DIR_ENV = "DRUGFREE_CHECKPOINT_DIR"
WEBHOOK_ENV = "DRUGFREE_CHECKPOINT_WEBHOOK"


class Checkpoints:
    def __init__(self, store: EventStore, signer: Signer | None, folder: Path | None = None,
                 webhook: str | None = None) -> None:
        """``signer`` None: this worker has no checkpoint key, and says so when asked."""
        self.store, self.signer, self.folder, self.webhook = store, signer, folder, webhook

    @classmethod
    def from_env(cls, store: EventStore) -> Checkpoints:
        """The key (``DRUGFREE_CHECKPOINT_KEY``), folder (``DRUGFREE_CHECKPOINT_DIR``) and
        webhook (``DRUGFREE_CHECKPOINT_WEBHOOK``) of this worker's environment."""
        signer = signing_key() if os.environ.get(KEY_ENV) else None
        folder = os.environ.get(DIR_ENV, "").strip()
        return cls(store, signer, Path(folder) if folder else None,
                   os.environ.get(WEBHOOK_ENV, "").strip() or None)

    @activity.defn(name="take_checkpoint")
    async def take(self) -> CheckpointTaken:
        if self.signer is None:
            raise ApplicationError(f"this worker has no checkpoint key ({KEY_ENV})",
                                   type="audit.no_key", non_retryable=True)
        if self.folder is None and not self.webhook:
            raise ApplicationError(f"nowhere to keep checkpoints: set {DIR_ENV} or "
                                   f"{WEBHOOK_ENV}", type="audit.no_destination",
                                   non_retryable=True)
        now = datetime.now(UTC)
        note = await Audit(self.store).checkpoint(self.signer, now)
        head = notes.parse(note)
        taken = CheckpointTaken(size=head.size, root=head.root.hex())
        if self.folder is not None:
            path = self.folder / f"checkpoint-{now:%Y%m%dT%H%M%SZ}-{head.size}.txt"
            await asyncio.to_thread(_write_new, path, note)
            taken.file = str(path)
        if self.webhook:
            async with httpx.AsyncClient(timeout=30) as http:
                r = await http.post(self.webhook, content=note.encode(),
                                    headers={"Content-Type": "text/plain; charset=utf-8"})
            if r.status_code >= 300:  # retried by the workflow's policy
                raise ApplicationError(f"the checkpoint webhook answered {r.status_code}",
                                       type="checkpoint.webhook_failed")
            taken.delivered = True
        return taken


def _write_new(path: Path, note: str) -> None:
    """Write ``note`` to a new file; the same note already there (a retry within the same
    second: Ed25519 signs deterministically) is fine; a different one is never overwritten."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with path.open("x", encoding="utf-8") as out:
            out.write(note)
    except FileExistsError:
        if path.read_text(encoding="utf-8") != note:
            raise ApplicationError(f"{path} holds another checkpoint; not overwritten",
                                   type="checkpoint.file_exists") from None
