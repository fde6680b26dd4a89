"""The command line's HTTP client: every ``drugfree case`` and ``drugfree campaign`` command talks
to the API (``api.app``) through here, never to Temporal or the event store.

The server comes from ``--api`` or ``DRUGFREE_API`` (default ``http://127.0.0.1:8000``), the
person's identity token from ``--token`` or ``DRUGFREE_TOKEN``. A refusal the server answers
(``{code, message_vi, message_en}``) becomes ``ApiError``; a server that cannot be reached (or
answers with something that is not the API) becomes ``Unreachable``. Each POST carries an
``Idempotency-Key``; a request that may not have arrived (connection refused or reset, timeout)
is retried a few times with the same key, so the server applies it at most once.
"""

from __future__ import annotations

import functools
import mimetypes
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

import httpx
import typer

from cli.errors import EXIT_BAD_INPUT, fail
from cli.lang import Lang
from domain.errors import DomainError

ENV_API = "DRUGFREE_API"
ENV_TOKEN = "DRUGFREE_TOKEN"
DEFAULT_API = "http://127.0.0.1:8000"
EXIT_UNREACHABLE = 1
# The domain's local time (Asia/Ho_Chi_Minh has no daylight saving: a fixed +07:00, as
# domain.plan uses).
VN_TIME = timezone(timedelta(hours=7), "ICT")

ApiOption = Annotated[str, typer.Option(
    "--api", envvar=ENV_API, help="Địa chỉ API / API server URL")]
TokenOption = Annotated[str | None, typer.Option(
    "--token", envvar=ENV_TOKEN, show_default=False,
    help="Thẻ định danh (drugfree auth issue) / identity token")]
JsonOption = Annotated[bool, typer.Option("--json", help="In JSON / print JSON")]


def say(lang: Lang | str, vi: str, en: str) -> str:
    return vi if str(lang) == "vi" else en


class ApiError(Exception):
    """A refusal: answered by the server (``status``) or found before sending (``status`` 0)."""

    def __init__(self, status: int, code: str, message_vi: str, message_en: str) -> None:
        super().__init__(code, message_en)
        self.status, self.code = status, code
        self.message_vi, self.message_en = message_vi, message_en

    def text(self, lang: Lang | str) -> str:
        return say(lang, self.message_vi, self.message_en)


class Unreachable(Exception):
    """No answer from the API (or no answer that the API would give)."""

    def __init__(self, message_vi: str, message_en: str) -> None:
        super().__init__(message_en)
        self.message_vi, self.message_en = message_vi, message_en

    def text(self, lang: Lang | str) -> str:
        return say(lang, self.message_vi, self.message_en)


def local_time(value: str | datetime | None) -> str:
    """``dd/mm/yyyy HH:MM`` in Viet Nam's time for an ISO instant (``-`` for none)."""
    if value is None:
        return "-"
    instant = datetime.fromisoformat(value) if isinstance(value, str) else value
    if instant.tzinfo is None:  # the API always answers with an offset; assume UTC otherwise
        instant = instant.replace(tzinfo=UTC)
    return instant.astimezone(VN_TIME).strftime("%d/%m/%Y %H:%M")


def new_key() -> str:
    return f"cli-{uuid.uuid4().hex}"


class Api:
    """One person talking to one API server."""

    def __init__(self, base_url: str, token: str | None, *, timeout: float = 30.0,
                 retries: int = 2, transport: httpx.BaseTransport | None = None) -> None:
        url = base_url.strip().rstrip("/")
        if not url.startswith(("http://", "https://")) or len(url) > 2000:
            raise ApiError(0, "cli.bad_api_url",
                           f"--api {base_url!r}: cần một địa chỉ http:// hoặc https://",
                           f"--api {base_url!r}: expected an http:// or https:// URL")
        if not token or not token.strip():
            raise ApiError(0, "identity.missing_token",
                           f"thiếu thẻ định danh: --token hoặc {ENV_TOKEN} "
                           "(cấp bằng drugfree auth issue)",
                           f"no identity token: --token or {ENV_TOKEN} "
                           "(issued by drugfree auth issue)")
        self.base_url, self.retries = url, retries
        self._http = httpx.Client(base_url=url, timeout=timeout, transport=transport,
                                  headers={"Authorization": f"Bearer {token.strip()}",
                                           "Accept": "application/json"})

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        return self._send("GET", path, params=clean)

    def pages(self, path: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Every item of a paged list (``{items, total}``), 500 at a time."""
        items: list[dict[str, Any]] = []
        while True:
            page = self.get(path, {**(params or {}), "limit": 500, "offset": len(items)})
            items.extend(page["items"])
            if not page["items"] or len(items) >= page["total"]:
                return items

    def post(self, path: str, body: Any = None, key: str | None = None) -> Any:
        """POST ``body`` with ``Idempotency-Key: key`` (a new key unless given): the same key on
        every retry of this request, a new one for each request."""
        return self._send("POST", path, json=body if body is not None else {},
                          headers={"Idempotency-Key": key or new_key()})

    def upload(self, path: str, content: bytes, name: str, media_type: str) -> Any:
        """POST a file's bytes as they are (``?name=``, ``Content-Type``). Storing the same
        bytes twice changes nothing, so a retry needs no key of its own."""
        return self._send("POST", path, params={"name": name}, content=content,
                          headers={"Content-Type": media_type})

    def attach(self, path: str, files: list[tuple[Path, bytes]], lang: Lang | str,
               quiet: bool = False) -> list[dict[str, Any]]:
        """Upload each file to ``path`` (the attachments of a case or a unit's report), saying
        each one's SHA-256 unless ``quiet``; the stored files, each with its local path."""
        uploaded = []
        for file, content in files:
            media_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
            stored = self.upload(path, content, file.name, media_type)
            uploaded.append({**stored, "path": str(file)})
            if not quiet:
                typer.echo(say(lang, f"đã tải lên {file.name}: sha256 {stored['sha256']}",
                               f"uploaded {file.name}: sha256 {stored['sha256']}"))
        return uploaded

    def fetch(self, path: str) -> bytes:
        """GET a file's bytes (a document the server made); a refusal as ``get``'s."""
        response = self._http.request("GET", path)
        if response.is_success:
            return response.content
        return self._answer(response)  # type: ignore[no-any-return]  # raises

    def _send(self, method: str, path: str, **kw: Any) -> Any:
        delay = 0.2
        for attempt in range(self.retries + 1):
            try:
                response = self._http.request(method, path, **kw)
                break
            except (httpx.TransportError, OSError) as exc:
                # refused, reset, timed out: not answered. Retry (same key), then give up.
                if attempt == self.retries:
                    raise Unreachable(
                        f"không kết nối được máy chủ API {self.base_url} "
                        f"({type(exc).__name__}); máy chủ có đang chạy không? (--api, "
                        f"{ENV_API})",
                        f"cannot reach the API server at {self.base_url} "
                        f"({type(exc).__name__}); is it running? (--api, {ENV_API})") from None
                time.sleep(delay)
                delay *= 3
        return self._answer(response)

    def _answer(self, response: httpx.Response) -> Any:
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.is_success and body is not None:
            return body
        if isinstance(body, dict) and isinstance(body.get("code"), str):
            en = str(body.get("message_en") or body["code"])
            raise ApiError(response.status_code, body["code"],
                           str(body.get("message_vi") or en), en)
        raise Unreachable(
            f"máy chủ {self.base_url} trả lời HTTP {response.status_code}, không phải API "
            "drugfree",
            f"the server at {self.base_url} answered HTTP {response.status_code}, not as the "
            "drugfree API")


def round_path(plan_id: str, round_id: str, *rest: str) -> str:
    return "/".join([f"/rounds/{quote(plan_id.strip(), safe='')}/"
                     f"{quote(round_id.strip(), safe='')}", *rest])


def case_path(case_id: str, *rest: str) -> str:
    return "/".join([f"/cases/{quote(case_id.strip(), safe=':')}", *rest])


def campaign_path(plan_id: str, *rest: str) -> str:
    return "/".join([f"/campaigns/{quote(plan_id.strip(), safe='')}", *rest])


F = TypeVar("F", bound=Callable[..., Any])


def api_command(fn: F) -> F:
    """A command that talks to the API: a refusal is one line on stderr (``error: <message>
    [code]``, in the command's ``--lang``) and exit 2; an unreachable or failing server is one
    line and exit 1. Never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        lang = str(kwargs.get("lang", "vi"))
        try:
            return fn(*args, **kwargs)
        except ApiError as exc:
            code = EXIT_UNREACHABLE if exc.status >= 500 else EXIT_BAD_INPUT
            fail(f"{exc.text(lang)} [{exc.code}]", code)
        except Unreachable as exc:
            fail(f"{exc.text(lang)} [api.unreachable]", EXIT_UNREACHABLE)
        except DomainError as exc:
            fail(f"{exc.text(lang)} [{exc.code}]")

    return wrapper  # type: ignore[return-value]
