"""The event store as a transparency log (nhật ký minh bạch): every event's hash, in global
order, is a leaf of one RFC 6962 Merkle tree (``domain.merkle``).

A tree covers the events below a horizon no later commit can precede (``pg_snapshot_xmin``,
as ``read_all`` uses): its size is the number of those events, its leaves their hashes in
position order, read in one REPEATABLE READ snapshot so size and leaves agree. A history
rewritten under an old checkpoint, even with every per-stream chain recomputed, changes the
leaves of that prefix, hence its root: the checkpoint's root no longer matches.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from domain.merkle import Frontier, leaf_hash
from eventstore.store import Connection

PAGE = 20_000
_HORIZON = "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint * 65536"
_HASHES = """SELECT position, hash FROM events WHERE position > $1 AND position < $2
             ORDER BY position LIMIT $3"""
_EVENT = "SELECT position, hash FROM events WHERE stream = $1 AND version = $2"
_INDEX = "SELECT count(*) FROM events WHERE position < $1"


@dataclass(frozen=True)
class Tree:
    """The tree over the first ``size`` events: its root, and the leaf hashes when kept."""

    size: int
    root: bytes
    horizon: int  # every event below this position is a leaf
    leaves: bytes | None = None  # 32 bytes per leaf, in order (for proofs)

    def leaf(self, index: int) -> bytes:
        assert self.leaves is not None
        return self.leaves[index * 32:(index + 1) * 32]


async def horizon(conn: Connection) -> int:
    """A position below which no event can commit any more."""
    return int(await conn.fetchval(_HORIZON))


async def leaf_hashes(conn: Connection, upto: int, limit: int | None = None
                      ) -> AsyncIterator[bytes]:
    """The leaf hashes of the events below position ``upto`` (at most ``limit`` of them),
    in position order, a page at a time."""
    after, left = 0, limit
    while left is None or left > 0:
        page = PAGE if left is None else min(PAGE, left)
        rows = await conn.fetch(_HASHES, after, upto, page)
        for row in rows:
            yield leaf_hash(bytes(row["hash"]))
        if len(rows) < page:
            return
        after = rows[-1]["position"]
        if left is not None:
            left -= len(rows)


async def tree(conn: Connection, *, size: int | None = None, keep: bool = False,
               upto: int | None = None) -> Tree:
    """The tree of the events below the horizon (or of the first ``size`` of them), in the
    caller's snapshot (open a REPEATABLE READ transaction around this and what it is
    compared with). ``keep``: keep the leaf hashes for proofs (32 bytes each)."""
    top = upto if upto is not None else await horizon(conn)
    frontier, kept = Frontier(), bytearray() if keep else None
    async for leaf in leaf_hashes(conn, top, size):
        frontier.append(leaf)
        if kept is not None:
            kept += leaf
    return Tree(frontier.size, frontier.root(), top, bytes(kept) if kept is not None else None)


async def leaf_index(conn: Connection, stream: str, version: int) -> tuple[int, bytes] | None:
    """An event's index among the leaves and its leaf hash (None: the stream has no such
    event)."""
    row = await conn.fetchrow(_EVENT, stream, version)
    if row is None:
        return None
    index = int(await conn.fetchval(_INDEX, row["position"]))
    return index, leaf_hash(bytes(row["hash"]))
