"""Size bounds set by configuration, read by the API and the command line alike."""

from __future__ import annotations

import os

ENV_MAX_ATTACHMENT = "DRUGFREE_MAX_ATTACHMENT_BYTES"
MAX_ATTACHMENT = 10 << 20  # 10 MiB: a scanned meeting record or plan, not a video


def attachment_limit() -> int:
    """An attachment's size bound in bytes: ``DRUGFREE_MAX_ATTACHMENT_BYTES``, or 10 MiB."""
    raw = os.environ.get(ENV_MAX_ATTACHMENT, "").strip()
    if not raw:
        return MAX_ATTACHMENT
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{ENV_MAX_ATTACHMENT}={raw!r}: expected a positive number of bytes")
    return int(raw)
