"""Published plan versions (phiên bản kế hoạch) in PostgreSQL: numbered, immutable rows.

Each row keeps the plan's canonical JSON (RFC 8785) exactly, so its content hash can be
recomputed from the row; a version is never changed or removed (the application role may
only read and insert: migration 0053). Adding the same content again answers the version it
already has. Two publishers at once take a per-plan advisory lock, so versions stay gapless.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from eventstore import disk
from eventstore.pool import Pool

Source = Literal["catalogue", "published"]

_COLUMNS = "plan_id, version, content_hash, source, published_by, published_at"
_LOCK = "SELECT pg_advisory_xact_lock($1)"
_BY_HASH = f"SELECT {_COLUMNS} FROM plan_versions WHERE plan_id = $1 AND content_hash = $2"
_LATEST = f"""SELECT {_COLUMNS} FROM plan_versions WHERE plan_id = $1
              ORDER BY version DESC LIMIT 1"""
_ALL = f"SELECT {_COLUMNS} FROM plan_versions ORDER BY plan_id, version"
_DOCUMENT = "SELECT document FROM plan_versions WHERE plan_id = $1 AND content_hash = $2"
_INSERT = f"""INSERT INTO plan_versions
                  (plan_id, version, content_hash, document, source, published_by)
              SELECT $1, coalesce(max(version), 0) + 1, $2, $3, $4, $5::jsonb
              FROM plan_versions WHERE plan_id = $1
              RETURNING {_COLUMNS}"""


@dataclass(frozen=True)
class PlanVersion:
    """One published version of a plan, without its document (read that with ``document``)."""

    plan_id: str
    version: int
    content_hash: str
    source: Source
    published_by: dict[str, Any] | None
    published_at: datetime


def _version(row: Any) -> PlanVersion:
    by = row["published_by"]
    return PlanVersion(plan_id=row["plan_id"], version=row["version"],
                       content_hash=row["content_hash"], source=row["source"],
                       published_by=json.loads(by) if isinstance(by, str) else by,
                       published_at=row["published_at"])


def _lock_key(plan_id: str) -> int:
    return int.from_bytes(hashlib.sha256(f"plan {plan_id}".encode()).digest()[:8], "big") >> 1


class PlanVersions:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    async def add(self, plan_id: str, content_hash: str, document: bytes, source: Source,
                  published_by: dict[str, Any] | None = None) -> tuple[PlanVersion, bool]:
        """Store ``document`` as the plan's next version; ``(version, True)``. The same content
        stored before: ``(that version, False)``, nothing written."""
        with disk.watched():
            async with self.pool.acquire() as conn, conn.transaction():
                await conn.execute(_LOCK, _lock_key(plan_id))
                row = await conn.fetchrow(_BY_HASH, plan_id, content_hash)
                if row is not None:
                    return _version(row), False
                row = await conn.fetchrow(
                    _INSERT, plan_id, content_hash, document.decode(), source,
                    None if published_by is None else json.dumps(published_by))
        disk.cleared()
        return _version(row), True

    async def latest(self, plan_id: str) -> PlanVersion | None:
        row = await self.pool.fetchrow(_LATEST, plan_id)
        return None if row is None else _version(row)

    async def find(self, plan_id: str, content_hash: str) -> PlanVersion | None:
        row = await self.pool.fetchrow(_BY_HASH, plan_id, content_hash)
        return None if row is None else _version(row)

    async def all(self) -> list[PlanVersion]:
        """Every version of every plan, by plan id then version."""
        return [_version(r) for r in await self.pool.fetch(_ALL)]

    async def document(self, plan_id: str, content_hash: str) -> bytes | None:
        """The stored canonical JSON of one version (None: no such version)."""
        text = await self.pool.fetchval(_DOCUMENT, plan_id, content_hash)
        return None if text is None else str(text).encode()
