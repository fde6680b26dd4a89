"""Remembered replies: a retried request (same request id) is answered, never applied twice.

Temporal deduplicates an update id while the workflow run lives; this memory also covers
requests retried after continue-as-new. It is bounded (oldest forgotten first) and carried.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel

R = TypeVar("R", bound=BaseModel)

MAX_REPLIES = 500


class ReplyMemory(Generic[R]):
    def __init__(self, carried: dict[str, R] | None = None, limit: int = MAX_REPLIES) -> None:
        self.limit = limit
        self.replies: dict[str, R] = dict(carried or {})
        self._trim()

    def get(self, request_id: str) -> R | None:
        return self.replies.get(request_id)

    def __contains__(self, request_id: object) -> bool:
        return request_id in self.replies

    def remember(self, request_id: str, reply: R) -> R:
        self.replies[request_id] = reply
        self._trim()
        return reply

    def _trim(self) -> None:
        while len(self.replies) > self.limit:
            self.replies.pop(next(iter(self.replies)))
