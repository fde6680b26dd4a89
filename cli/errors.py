"""How the command line reports a refusal: one line on stderr, exit code 2, no traceback."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import typer

from catalog import read_document
from domain.documents import MAX_METRICS_BYTES, syntax_for
from domain.errors import DomainError, InputError
from runtime.codec import PayloadKeyError

EXIT_BAD_INPUT = 2

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    """The refusal: one line (a line break inside a message, from a key or value the user
    wrote, becomes a space), ``error: `` first, on stderr."""
    typer.echo(f"error: {' '.join(message.splitlines())}", err=True)
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
    missing, oversized, badly encoded or malformed file is bad input (``domain.documents``).
    Its contract is JSON's: a YAML date (``2025-01-01`` unquoted) is refused, naming its field,
    rather than failing when the document is sent to the API."""
    data = read_document(path, max_bytes=MAX_METRICS_BYTES, syntax=syntax_for(path.name, "json"))
    _refuse_dates(data, path)
    return data


def _refuse_dates(data: Any, path: Path) -> None:
    todo: list[tuple[str, Any]] = [("", data)]
    while todo:
        where, item = todo.pop()
        if isinstance(item, dict):
            todo.extend((f"{where}.{k}" if where else str(k), v) for k, v in item.items())
        elif isinstance(item, list):
            todo.extend((f"{where}.{i}" if where else str(i), v) for i, v in enumerate(item))
        elif isinstance(item, date):  # (a datetime is a date)
            field = " ".join(where.split()) or "-"
            raise InputError(
                "document.date",
                f"{path}: {field}: a date is not a value here; put it in quotes "
                "(\"2025-01-01\") if it is text",
                f"{path}: {field}: không dùng giá trị ngày tháng ở đây; đặt trong dấu nháy "
                "(\"2025-01-01\") nếu là chữ")
