"""Domain errors: one small, generic exception type the rest of the engine can subclass.

Every refusal the domain makes carries a stable machine ``code`` (for clients, tests and
metrics, e.g. ``"metrics.invalid"``, ``"rules.unknown"``) and an English ``message`` that
names the offending field or id. Callers show the message; they branch on the code.
"""

from __future__ import annotations


class DomainError(Exception):
    """A rule of the domain was broken (bad input, unknown id, refused decision...)."""

    code: str
    message: str
    message_vi: str | None

    def __init__(self, code: str, message: str, message_vi: str | None = None) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message
        self.message_vi = message_vi

    def text(self, lang: str = "vi") -> str:
        """The message in ``lang`` ("vi" or "en"); English when no Vietnamese wording exists."""
        return self.message_vi if lang == "vi" and self.message_vi else self.message

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"

    def __reduce__(self) -> tuple[type[DomainError], tuple[str, str, str | None]]:
        # Keep the error picklable / copyable with its code (multiprocessing, deepcopy).
        return (type(self), (self.code, self.message, self.message_vi))


class InputError(DomainError):
    """The caller sent data that does not satisfy the contract (never silently fixed)."""
