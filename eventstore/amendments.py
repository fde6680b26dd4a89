"""Amendments (văn bản sửa đổi) kept in PostgreSQL: one immutable row per amendment id.

The real run of ``drugfree plans amend`` keeps the amendment before it sends it to any case,
so every ``case.amended`` event names an amendment whose document can be read back: readers
rebuild the plan a case runs on (``domain.amendment.amend``) without the file. The same id
with the same content again is a no-op; with other content it is refused
(``amendment.id_reused``): an id means one text forever (migration 0055).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import rfc8785

from domain.amendment import Amendment
from domain.errors import InputError
from eventstore import disk
from eventstore.pool import Pool

_INSERT = """INSERT INTO amendments (amendment_id, content_hash, document, applied_by)
             VALUES ($1, $2, $3, $4::jsonb) ON CONFLICT (amendment_id) DO NOTHING"""
_HASH = "SELECT content_hash FROM amendments WHERE amendment_id = $1"
_LOAD = "SELECT amendment_id, document FROM amendments WHERE amendment_id = ANY($1::text[])"


def document(amendment: Amendment) -> bytes:
    """The amendment as canonical JSON (RFC 8785): what is stored and hashed."""
    return rfc8785.dumps(amendment.model_dump(mode="json", by_alias=True))


class Amendments:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    async def keep(self, amendment: Amendment, applied_by: dict[str, Any] | None) -> str:
        """Store ``amendment`` (once); its content hash. Refused if the id names other text."""
        body = document(amendment)
        digest = hashlib.sha256(body).hexdigest()
        with disk.watched():
            status = await self.pool.execute(
                _INSERT, amendment.id, digest, body.decode(),
                json.dumps(applied_by) if applied_by is not None else None)
        if status == "INSERT 0 1":  # a row was written (not one kept before)
            disk.cleared()
        stored = await self.pool.fetchval(_HASH, amendment.id)
        if stored != digest:
            raise InputError(
                "amendment.id_reused",
                f"amendment {amendment.id} was already applied with other content "
                f"(hash {stored[:16]}); give the new text a new id",
                f"văn bản sửa đổi {amendment.id} đã được áp dụng với nội dung khác "
                f"(mã băm {stored[:16]}); hãy đặt mã mới cho văn bản mới")
        return digest

    async def load(self, ids: list[str]) -> dict[str, Amendment]:
        """The stored amendments of ``ids`` (those not stored are absent)."""
        rows = await self.pool.fetch(_LOAD, ids)
        return {r["amendment_id"]: Amendment.model_validate_json(r["document"]) for r in rows}
