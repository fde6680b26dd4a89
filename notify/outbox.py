"""The transactional outbox: notifications are rows written with the events that caused them.

The append activity calls :func:`enqueue` on the connection of its event-store transaction,
after ``eventstore_append`` (which must be the transaction's first write). Events and
notifications then commit or roll back together: no notice for an event that was never
stored, no stored event whose notice was lost. Delivery is the dispatcher's job.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import asyncpg

from domain.notices import Notice

# One statement for the whole batch; ON CONFLICT makes a retried append a no-op.
_INSERT = """
INSERT INTO outbox (id, case_id, template, to_role, params, channel)
SELECT u.id, u.case_id, u.template, u.to_role, u.params::jsonb, u.channel
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
       AS u(id, case_id, template, to_role, params, channel)
ON CONFLICT (id) DO NOTHING
"""


def row_id(key: str, index: int, channel: str) -> str:
    """The outbox id of notice ``index`` of the append ``key`` on ``channel``."""
    return f"{key}:{index}:{channel}"


async def enqueue(
    conn: asyncpg.Connection, notices: Sequence[Notice], key: str, channels: Sequence[str]
) -> int:
    """Insert one row per (notice, channel); return how many were new.

    ``key`` must be deterministic for the append (e.g. its first event id), so an activity
    retry after a lost commit acknowledgement finds its rows and inserts nothing.
    """
    rows = [
        (row_id(key, i, ch), n.case_id, n.template, n.to_role,
         json.dumps(n.params, ensure_ascii=False, sort_keys=True), ch)
        for i, n in enumerate(notices)
        for ch in channels
    ]
    if not rows:
        return 0
    status = await conn.execute(_INSERT, *(list(col) for col in zip(*rows, strict=True)))
    return int(status.rsplit(" ", 1)[1])  # "INSERT 0 <count>"
