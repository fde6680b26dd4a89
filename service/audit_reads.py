"""Who looked (ai đã xem): every audit read is itself an event.

A read of a case's record for audit (its history, its page, a proof, a verification) appends
``audit.read`` to the reader's own stream, ``audit-reads:<province>:<person>``: who, in which
role, from which interface, which operation on which case, and when (the event's time). The
events are hash-chained and checkpointed like every other, so the record of who looked cannot
be quietly edited either. One stream per person keeps writers from contending; a concurrent
read by the same person retries on the next version.
"""

from __future__ import annotations

import uuid
from typing import Literal

from domain.events import AuditRead
from domain.roles import Actor
from eventstore.errors import ConcurrencyError
from eventstore.records import NewEvent
from eventstore.store import EventStore

Interface = Literal["api", "web", "cli"]
ATTEMPTS = 5


def stream_of(actor: Actor) -> str:
    return f"audit-reads:{actor.province_code}:{actor.person_id}"


class ReadLog:
    def __init__(self, store: EventStore | None) -> None:
        self.store = store

    async def record(self, actor: Actor, interface: Interface, operation: str,
                     target: str) -> None:
        """Append the read before its answer is given (no record, no answer)."""
        if self.store is None:
            return
        event = AuditRead(reader=actor.person_id, role=actor.role,
                          province_code=actor.province_code, interface=interface,
                          operation=operation, target=target)
        new = NewEvent(f"audit-read-{uuid.uuid4()}", event.TYPE, event.SCHEMA_VERSION,
                       event.payload())
        stream = stream_of(actor)
        for attempt in range(ATTEMPTS):
            try:
                await self.store.append(stream, await self.store.version(stream), [new])
                return
            except ConcurrencyError:
                if attempt == ATTEMPTS - 1:
                    raise
