"""How the command line reports a refusal: one line on stderr, exit code 2, no traceback."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import typer

from domain.errors import DomainError

EXIT_BAD_INPUT = 2

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def guarded(fn: F) -> F:
    """Turn domain refusals into a one-line message and exit 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except DomainError as exc:
            fail(f"{exc.message} [{exc.code}]")

    return wrapper  # type: ignore[return-value]


def read_json(path: Path) -> Any:
    """Read a JSON document the user named; a missing or malformed file is bad input."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}")
