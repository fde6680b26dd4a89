"""Errors of the event store: each one says what went wrong and what was (not) written."""

from __future__ import annotations


class EventStoreError(Exception):
    """Base of every error raised by the event store."""


class InvalidEventError(EventStoreError, ValueError):
    """An event was refused before anything was written (bad payload, name or size)."""


class PayloadTooLargeError(InvalidEventError):
    """A payload's canonical JSON is larger than the store accepts."""


class UnsafeNumberError(InvalidEventError):
    """A number outside JSON's safe range (|n| > 2^53-1): other readers would round it."""


class ConcurrencyError(EventStoreError):
    """The stream's version is not the one the writer expected; nothing was written."""

    def __init__(self, stream: str, expected_version: int, actual_version: int) -> None:
        self.stream = stream
        self.expected_version = expected_version
        self.actual_version = actual_version
        super().__init__(
            f"stream {stream!r} is at version {actual_version}, "
            f"expected {expected_version}: nothing was appended"
        )


class DuplicateEventError(EventStoreError):
    """An event id already stored with different content (never silently overwritten)."""

    def __init__(self, event_id: str, detail: str) -> None:
        self.event_id = event_id
        super().__init__(f"event id {event_id!r} {detail}: nothing was appended")


class StreamNotFoundError(EventStoreError, LookupError):
    """Reading a stream that has no events."""

    def __init__(self, stream: str) -> None:
        self.stream = stream
        super().__init__(f"stream {stream!r} does not exist")


class MigrationError(EventStoreError):
    """A migration could not be applied, or an applied one was edited afterwards."""


class NotMigratedError(EventStoreError):
    """The database lacks a shipped migration: the owner runs ``drugfree db migrate``."""
