"""The API's file parameters (cases' and rounds' attachments): a file's SHA-256 in the path,
its name in the query, the raw upload body and the download answer, as OpenAPI states them.
Routes import them by name: FastAPI resolves a route's annotations in its own module."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Query

from api.schemas import SHA256_PATTERN

Sha256Path = Annotated[str, Path(pattern=SHA256_PATTERN, description="SHA-256 (hex) of the file")]
FileName = Annotated[str, Query(min_length=1, max_length=255,
                                description="Tên tệp / the file's name, e.g. bien-ban.pdf")]
# The upload's body: the file's bytes as they are (no multipart), its type in Content-Type.
RAW_FILE = {"requestBody": {"required": True, "content": {"application/octet-stream": {
    "schema": {"type": "string", "format": "binary"}}}}}
FILE_ANSWER: dict[int | str, dict[str, Any]] = {200: {
    "description": "tệp / the file's bytes, as uploaded",
    "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}}}
