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

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"

    def __reduce__(self) -> tuple[type[DomainError], tuple[str, str]]:
        # Keep the error picklable / copyable with its code (multiprocessing, deepcopy).
        return (type(self), (self.code, self.message))


class InputError(DomainError):
    """The caller sent data that does not satisfy the contract (never silently fixed)."""
