"""How the command line reports a refusal: one line on stderr, exit code 2, no traceback."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import typer

from catalog import read_document
from domain.documents import MAX_METRICS_BYTES, syntax_for
from domain.errors import DomainError
from runtime.codec import PayloadKeyError

EXIT_BAD_INPUT = 2

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def payload_key_text(exc: PayloadKeyError) -> str:
    """No payload key, or not the one that sealed what was read: both languages, one line."""
    return f"{exc.text('vi')} / {exc.message} [payload_key]"


def payload_key_failure(exc: PayloadKeyError) -> NoReturn:
    fail(payload_key_text(exc))


def guarded(fn: F) -> F:
    """Turn domain refusals into a one-line message (in the command's ``--lang``) and exit 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except DomainError as exc:
            lang = str(kwargs.get("lang", "vi"))
            fail(f"{exc.text(lang)} [{exc.code}]")

    return wrapper  # type: ignore[return-value]


def read_metrics(path: Path) -> Any:
    """Read a metrics document the user named (JSON, or YAML by its suffix), strictly: a
    missing, oversized, badly encoded or malformed file is bad input (``domain.documents``)."""
    return read_document(path, max_bytes=MAX_METRICS_BYTES, syntax=syntax_for(path.name, "json"))
