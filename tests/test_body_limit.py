"""The API process's body bounds: 1 MiB for every body, an attachment's own bound for uploads,
and room for the commune's form with its files; a page gets a page when refused."""

from __future__ import annotations

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from api.app import BodyLimit
from workflows.messages import MAX_ATTACHMENTS

pytestmark = pytest.mark.asyncio

LIMIT, UPLOAD = 1000, 5000


async def echo(scope: Scope, receive: Receive, send: Send) -> None:
    """Reads the whole body and answers its length."""
    size, more = 0, True
    while more:
        message = await receive()
        size += len(message.get("body", b""))
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": str(size).encode()})


async def post(path: str, size: int) -> httpx.Response:
    app = BodyLimit(echo, limit=LIMIT, upload_limit=UPLOAD)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://api") as http:
        return await http.post(path, content=b"x" * size)


async def test_each_route_gets_its_bound() -> None:
    assert (await post("/cases/c/decisions", LIMIT)).text == str(LIMIT)
    refused = await post("/cases/c/decisions", LIMIT + 1)
    assert refused.status_code == 413 and refused.json()["code"] == "input.too_large"
    assert (await post("/cases/c/attachments", UPLOAD)).status_code == 200
    big = await post("/cases/c/attachments", UPLOAD + 1)
    assert big.status_code == 413 and big.json()["code"] == "attachment.too_large"
    form = UPLOAD * MAX_ATTACHMENTS + LIMIT  # every file at its bound, and the fields
    assert (await post("/ui/cases/c/submit", form)).text == str(form)
    page = await post("/ui/cases/c/submit", form + 1)
    assert page.status_code == 413 and "Nội dung quá lớn" in page.text
    assert page.headers["content-type"].startswith("text/html")
    other_page = await post("/ui/cases/c/decision", LIMIT + 1)
    assert other_page.status_code == 413 and "<h1>" in other_page.text
