"""The attachment store: files of the commune's submissions, by SHA-256 (migration 0054).

The bytes are kept once per hash (``attachment_blobs``); each case lists the files uploaded to
it (``case_attachments``), which is what a submission may name and a reader of the case may
download. Adding is idempotent: the same bytes again change nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

import asyncpg

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


# -- pruning what no submission kept ------------------------------------------------------------

# Files uploaded to a stream that no event of that stream names: a form abandoned, a submission
# refused. They hold personal data nobody recorded a use for (Decree 13/2023/NĐ-CP: kept no
# longer than needed), so the owner removes them after a grace period that covers a submission
# still in flight. Events are never touched.
_ORPHANS = """SELECT l.stream, l.sha256 FROM case_attachments l
               WHERE l.uploaded_at < $1
                 AND NOT EXISTS (
                     SELECT 1 FROM events e
                      WHERE e.stream = l.stream AND e.payload ? 'attachments'
                        AND e.payload->'attachments' @>
                            jsonb_build_array(jsonb_build_object('sha256', l.sha256)))
               FOR UPDATE OF l"""
_DROP_LINK = "DELETE FROM case_attachments WHERE stream = $1 AND sha256 = $2"
_DROP_BLOBS = """DELETE FROM attachment_blobs b
                  WHERE b.sha256 = ANY($1::text[])
                    AND NOT EXISTS (SELECT 1 FROM case_attachments l WHERE l.sha256 = b.sha256)
              RETURNING b.size"""


@dataclass(frozen=True)
class Pruned:
    links: int  # uploads to a stream that no event of it names
    files: int  # stored files no stream lists any more
    bytes: int


async def prune(owner_url: str, uploaded_before: datetime, dry_run: bool = False) -> Pruned:
    """Remove the uploads made before ``uploaded_before`` that no event of their stream names,
    and the stored files left without an upload; as the database owner (the application role
    never deletes). ``dry_run``: count only, in a transaction rolled back."""
    conn = await asyncpg.connect(owner_url)
    try:
        tr = conn.transaction()
        await tr.start()
        try:
            orphans = await conn.fetch(_ORPHANS, uploaded_before)
            await conn.executemany(_DROP_LINK, [(r["stream"], r["sha256"]) for r in orphans])
            freed = await conn.fetch(_DROP_BLOBS, sorted({r["sha256"] for r in orphans}))
        except BaseException:
            await tr.rollback()
            raise
        if dry_run:
            await tr.rollback()
        else:
            await tr.commit()
        return Pruned(len(orphans), len(freed), sum(int(r["size"]) for r in freed))
    finally:
        await conn.close()
