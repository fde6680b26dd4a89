"""The event store: append-only, hash-chained case histories in PostgreSQL (asyncpg, no ORM).

Start with ``EventStore.connect(app_url(admin_url))`` after ``migrate(admin_url)``.
"""

from eventstore.errors import (
    ConcurrencyError,
    DuplicateEventError,
    EventStoreError,
    InvalidEventError,
    MigrationError,
    NotMigratedError,
    PayloadTooLargeError,
    StreamNotFoundError,
    UnsafeNumberError,
)
from eventstore.migrate import migrate
from eventstore.projection import CaseStatus
from eventstore.projector import Projector, read_status
from eventstore.records import (
    ChainBreak,
    NewEvent,
    RecordedEvent,
    StreamInfo,
    VerifyReport,
)
from eventstore.store import EventStore
from eventstore.urls import APP_ROLE, app_url, with_database

__all__ = [
    "APP_ROLE",
    "CaseStatus",
    "ChainBreak",
    "ConcurrencyError",
    "DuplicateEventError",
    "EventStore",
    "EventStoreError",
    "InvalidEventError",
    "MigrationError",
    "NewEvent",
    "NotMigratedError",
    "PayloadTooLargeError",
    "Projector",
    "RecordedEvent",
    "StreamInfo",
    "StreamNotFoundError",
    "UnsafeNumberError",
    "VerifyReport",
    "app_url",
    "migrate",
    "read_status",
    "with_database",
]
