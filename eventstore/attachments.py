"""The attachment store: files of the commune's submissions, by SHA-256 (migration 0054).

The bytes are kept once per hash (``attachment_blobs``); each case lists the files uploaded to
it (``case_attachments``), which is what a submission may name and a reader of the case may
download. Adding is idempotent: the same bytes again change nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from eventstore import disk
from eventstore.store import EventStore

_ADD_BLOB = """INSERT INTO attachment_blobs (sha256, size, content) VALUES ($1, $2, $3)
               ON CONFLICT (sha256) DO NOTHING"""
_ADD_LINK = """INSERT INTO case_attachments (stream, sha256, name, media_type, uploaded_by)
               VALUES ($1, $2, $3, $4, $5) ON CONFLICT (stream, sha256) DO NOTHING"""
_SIZES = """SELECT l.sha256, b.size FROM case_attachments l
              JOIN attachment_blobs b USING (sha256)
             WHERE l.stream = $1 AND l.sha256 = ANY($2::text[])"""
_READ = """SELECT l.name, l.media_type, b.size, b.content FROM case_attachments l
             JOIN attachment_blobs b USING (sha256)
            WHERE l.stream = $1 AND l.sha256 = $2"""


@dataclass(frozen=True)
class StoredFile:
    sha256: str
    size: int
    name: str  # as first uploaded to the case
    media_type: str
    content: bytes = b""


async def add(store: EventStore, stream: str, content: bytes, name: str, media_type: str,
              uploaded_by: str) -> StoredFile:
    """Store ``content`` (once per hash) and list it under ``stream``; the same bytes again
    keep the first upload's name and type."""
    sha256 = hashlib.sha256(content).hexdigest()
    with disk.watched():
        async with store.pool.acquire() as conn, conn.transaction():
            await conn.execute(_ADD_BLOB, sha256, len(content), content)
            await conn.execute(_ADD_LINK, stream, sha256, name, media_type, uploaded_by)
    disk.cleared()
    return StoredFile(sha256, len(content), name, media_type)


async def sizes(store: EventStore, stream: str, hashes: list[str]) -> dict[str, int]:
    """The size of each of ``hashes`` uploaded to ``stream`` (the others are absent)."""
    rows = await store.pool.fetch(_SIZES, stream, hashes)
    return {str(r["sha256"]): int(r["size"]) for r in rows}


async def read(store: EventStore, stream: str, sha256: str) -> StoredFile | None:
    """The file ``sha256`` as uploaded to ``stream``, or None."""
    row = await store.pool.fetchrow(_READ, stream, sha256)
    if row is None:
        return None
    return StoredFile(sha256, int(row["size"]), str(row["name"]), str(row["media_type"]),
                      bytes(row["content"]))
