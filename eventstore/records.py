"""The envelopes going into and coming out of the store, independent of the domain's types."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

ZERO_HASH = bytes(32)


class DomainEvent(Protocol):
    """What ``NewEvent.of`` needs from a ``domain.events.Event``."""

    TYPE: str
    SCHEMA_VERSION: int

    def payload(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class NewEvent:
    """An event to append. ``event_id`` is derived deterministically by the workflow, so an
    activity retry carries the same id and the append is a no-op."""

    event_id: str | UUID
    type: str
    schema_version: int
    payload: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, event_id: str | UUID, event: DomainEvent) -> NewEvent:
        return cls(event_id, event.TYPE, event.SCHEMA_VERSION, event.payload())


@dataclass(frozen=True)
class RecordedEvent:
    """A stored event. ``schema_version`` and ``payload`` are upcast to the current schema
    when read; ``hash`` covers the stored (not upcast) canonical bytes."""

    position: int
    stream: str
    version: int
    event_id: str
    type: str
    schema_version: int
    recorded_at: datetime
    payload: dict[str, Any]
    hash: bytes
    prev_hash: bytes


@dataclass(frozen=True)
class StreamInfo:
    stream: str
    version: int


@dataclass(frozen=True)
class ChainBreak:
    """The first broken link found by ``verify``: which row, and what is wrong with it."""

    stream: str
    version: int
    position: int | None
    event_id: str | None
    problem: str

    def __str__(self) -> str:
        where = f"stream {self.stream!r} version {self.version}"
        if self.position is not None:
            where += f" (position {self.position}, event {self.event_id})"
        return f"{where}: {self.problem}"


@dataclass(frozen=True)
class VerifyReport:
    events: int
    streams: int
    broken: ChainBreak | None = None

    @property
    def ok(self) -> bool:
        return self.broken is None
