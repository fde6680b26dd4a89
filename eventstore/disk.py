"""The database's disk is full (đĩa đầy): one state per process, said once in the logs and in
readiness, left by itself when a write commits again.

PostgreSQL refuses a write it cannot make room for with SQLSTATE 53100 (``disk_full``, asyncpg's
``DiskFullError``: "could not extend file ...: No space left on device") and still answers
``SELECT 1``. The writers (the store's ``append``, the append activity's transaction, the
read-model projector, the notification dispatcher, the API's own inserts) pass their failures
to ``noted`` and call ``cleared`` once a write of theirs commits. Entering the state logs one
warning, ``eventstore.disk_full``; leaving it one info line, ``eventstore.disk_recovered``
(``seconds``: how long it lasted; ``by``: ``write`` when a write committed, ``quiet`` when no
write failed for ``WINDOW`` seconds); the retries in between log nothing more. While the state
holds, ``check`` raises ``DiskFull``, so readiness (runtime/ops.py ``ping``, the API's
``/readyz``) answers 503 naming the database and why. Nothing here stops a writer: Temporal
retries the append activity, the background loops retry on their own, and the first write that
commits resumes the rest. Logs carry the SQLSTATE only, never a payload, a parameter or a path.

Vietnamese text: "cơ sở dữ liệu hết dung lượng đĩa" = the database's disk is full; "tạm dừng
ghi" = writes pause; "tự tiếp tục khi có chỗ" = they resume by themselves when there is room.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import asyncpg
import structlog

from eventstore.errors import EventStoreError

SQLSTATE = "53100"  # disk_full
REASON = "disk_full"  # readiness's ``reasons`` value
# A worker's append activity retries at least once a minute (workflows/event_log.py
# APPEND_RETRY) while the disk stays full, which keeps the state fresh; past this many seconds
# without a failure nothing is writing any more, and a stale "full" would hold readiness down.
WINDOW = 90.0
LOG_TEXT = ("cơ sở dữ liệu hết dung lượng đĩa; tạm dừng ghi, tự tiếp tục khi có chỗ / the "
            "database's disk is full: writes pause and resume by themselves when space is freed")
READY_TEXT = "cơ sở dữ liệu hết dung lượng đĩa / database: disk full"
RECOVERED_TEXT = "cơ sở dữ liệu ghi được trở lại / the database takes writes again"


class DiskFull(EventStoreError):
    """Raised by ``check`` while the database's disk is full: a readiness failure with a
    reason (``reason`` and the text are ours, never the driver's)."""

    reason = REASON

    def __init__(self) -> None:
        super().__init__(READY_TEXT)


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc``, its cause or context, or a member of an exception group is
    PostgreSQL's disk-full refusal."""
    todo, seen = [exc], set()
    while todo:
        e = todo.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, asyncpg.DiskFullError) or getattr(e, "sqlstate", None) == SQLSTATE:
            return True
        if isinstance(e, BaseExceptionGroup):
            todo.extend(e.exceptions)
        if e.__cause__ is not None:
            todo.append(e.__cause__)
        if e.__context__ is not None and not e.__suppress_context__:
            todo.append(e.__context__)
    return False


class DiskState:
    """Active while the latest disk-full failure is under ``window`` seconds old and no write
    has committed since. ``clock``: monotonic seconds."""

    def __init__(self, window: float = WINDOW,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self._clock = clock
        self._lock = threading.Lock()  # activities may run on the SDK's threads
        self._since: float | None = None  # the first failure of this episode
        self._last = 0.0  # the latest failure

    def noted(self, exc: BaseException) -> bool:
        """Note a failed write; True if it was a full disk (the first one logs a warning)."""
        if not is_disk_full(exc):
            return False
        with self._lock:
            now = self._clock()
            self._lapse(now)
            if self._since is None:
                self._since = now
                _log().warning("eventstore.disk_full", detail=LOG_TEXT, sqlstate=SQLSTATE)
            self._last = now
        return True

    def cleared(self) -> None:
        """A write committed: the disk takes writes again."""
        with self._lock:
            now = self._clock()
            self._lapse(now)
            if self._since is not None:
                self._end(now - self._since, "write")

    def active(self) -> bool:
        with self._lock:
            self._lapse(self._clock())
            return self._since is not None

    def _lapse(self, now: float) -> None:
        if self._since is not None and now - self._last >= self.window:
            self._end(self._last - self._since, "quiet")

    def _end(self, lasted: float, by: str) -> None:
        self._since = None
        _log().info("eventstore.disk_recovered", detail=RECOVERED_TEXT, seconds=round(lasted, 1),
                    by=by)


def _log() -> structlog.typing.FilteringBoundLogger:
    # Looked up at each transition (two an episode): it follows the logging configuration in
    # force then, not one a module-level logger cached on first use.
    logger: structlog.typing.FilteringBoundLogger = structlog.get_logger("drugfree.eventstore")
    return logger


STATE = DiskState()  # the process's


def noted(exc: BaseException) -> bool:
    """``STATE.noted``: call it with a write's failure (any failure; others are ignored)."""
    return STATE.noted(exc)


def cleared() -> None:
    """``STATE.cleared``: call it once a write has committed."""
    STATE.cleared()


def active() -> bool:
    return STATE.active()


def check() -> None:
    """Raise ``DiskFull`` while the database's disk is full (a readiness check)."""
    if STATE.active():
        raise DiskFull


@contextmanager
def watched() -> Iterator[None]:
    """Note a disk-full failure of the block (re-raised; the caller clears on commit)."""
    try:
        yield
    except BaseException as exc:
        noted(exc)
        raise
