"""The codec server (máy chủ giải mã): Temporal's codec server protocol, for operators only.

Payloads in the workflow service are encrypted (runtime/codec.py), so the Temporal Web UI
shows nothing readable. The UI (or ``temporal --codec-endpoint``) sends them here:
``POST /decode`` and ``POST /encode``, body ``{"payloads": [{"metadata": {key: base64},
"data": base64}]}`` (the ``Payloads`` protobuf as JSON), answered in the same shape; the
namespace in ``X-Namespace`` (or the path: ``/{namespace}/decode``, the CLI's templating).

- Only a system operator (role ``operator``) with a valid identity token
  (``Authorization: Bearer``, verified like the API's) is answered: no token 401, another
  role 403, as ``{code, message_vi, message_en}``.
- Every decode is recorded before it is answered (``audit.read``, operation
  ``payload_decode``, the namespace as its target: service.audit_reads).
- CORS admits the configured UI origin only, with credentials.
- A payload under a key this process lacks is refused naming the key id (422); a malformed
  body names what is wrong (422); bodies are bounded (413 past 1 MiB), never a traceback.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp
from temporalio.api.common.v1 import Payload

from domain.roles import Actor
from runtime.codec import EncryptionCodec, PayloadKeyError
from service.access import Authenticator
from service.audit_reads import ReadLog
from service.errors import ServiceError

MAX_BODY = 1 << 20  # 1 MiB, as the API's bodies (api.app.MAX_BODY)
DEFAULT_UI_ORIGIN = "http://localhost:8233"
CODEC_ROLE = "operator"
MAX_PAYLOADS = 10_000


def _error(status: int, code: str, message_en: str, message_vi: str) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"code": code, "message_vi": message_vi, "message_en": message_en},
                        status_code=status, headers=headers)


class _Refused(Exception):
    def __init__(self, status: int, code: str, message_en: str, message_vi: str) -> None:
        super().__init__(message_en)
        self.response = _error(status, code, message_en, message_vi)


def _b64(value: Any, where: str) -> bytes:
    if not isinstance(value, str):
        raise _Refused(422, "codec.bad_payload", f"{where}: expected a base64 string",
                       f"{where}: cần một chuỗi base64")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise _Refused(422, "codec.bad_base64", f"{where}: not valid base64",
                       f"{where}: không phải base64 hợp lệ") from None


def parse_payloads(raw: bytes) -> list[Payload]:
    """The ``Payloads`` of a request body (protobuf JSON); ``_Refused`` naming what is wrong."""
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise _Refused(422, "codec.bad_json", "the body is not JSON",
                       "nội dung không phải JSON") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("payloads", []), list):
        raise _Refused(422, "codec.bad_payloads", 'expected {"payloads": [...]}',
                       'cần dạng {"payloads": [...]}')
    items = doc.get("payloads", [])
    if len(items) > MAX_PAYLOADS:
        raise _Refused(422, "codec.too_many", f"at most {MAX_PAYLOADS} payloads",
                       f"tối đa {MAX_PAYLOADS} payload")
    out = []
    for i, item in enumerate(items):
        where = f"payloads[{i}]"
        if not isinstance(item, dict):
            raise _Refused(422, "codec.bad_payload", f"{where}: expected an object",
                           f"{where}: cần một đối tượng")
        meta = item.get("metadata", {})
        if not isinstance(meta, dict):
            raise _Refused(422, "codec.bad_payload", f"{where}.metadata: expected an object",
                           f"{where}.metadata: cần một đối tượng")
        metadata = {str(k): _b64(v, f"{where}.metadata.{k}") for k, v in meta.items()}
        data = _b64(item.get("data", ""), f"{where}.data")
        out.append(Payload(metadata=metadata, data=data))
    return out


def render_payloads(payloads: list[Payload]) -> dict[str, Any]:
    return {"payloads": [
        {"metadata": {k: base64.b64encode(v).decode() for k, v in p.metadata.items()},
         "data": base64.b64encode(p.data).decode()} for p in payloads]}


def create_codec_app(codec: EncryptionCodec, authenticator: Authenticator,
                     ui_origin: str = DEFAULT_UI_ORIGIN,
                     reads: ReadLog | None = None, namespace: str | None = None) -> ASGIApp:
    """The codec server: ``/decode`` and ``/encode`` for operators, CORS for ``ui_origin``,
    each decode recorded in ``reads`` (None or a store-less log: not recorded). ``namespace``:
    the one namespace whose payloads these keys are for; a request naming another is
    refused (403), so the keys never serve a namespace they were not given for."""
    from api.app import BodyLimit
    from runtime.telemetry import instrument_app

    app = FastAPI(title="drugfree codec server", docs_url=None, redoc_url=None,
                  openapi_url=None)
    log = reads or ReadLog(None)

    def operator(request: Request) -> Actor:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise _Refused(401, "identity.missing_token",
                           "send Authorization: Bearer <identity token>",
                           "cần tiêu đề Authorization: Bearer <thẻ định danh>")
        try:
            actor = authenticator.authenticate(token).actor
        except ServiceError as exc:
            raise _Refused(401, exc.code, exc.message, exc.message_vi or exc.message) from None
        if actor.role != CODEC_ROLE:
            raise _Refused(403, "codec.wrong_role",
                           "decoded payloads are for system operators (role operator)",
                           "chỉ người vận hành hệ thống (vai trò operator) được xem dữ liệu "
                           "đã giải mã")
        return actor

    async def answer(request: Request, decode: bool, in_path: str = "") -> JSONResponse:
        try:
            actor = operator(request)
            payloads = parse_payloads(await request.body())
            asked = (request.headers.get("x-namespace", "").strip() or in_path
                     or namespace or "default")
            if namespace is not None and asked != namespace:
                raise _Refused(403, "codec.wrong_namespace",
                               f"this codec server decodes the namespace {namespace!r} only",
                               f"máy chủ giải mã này chỉ phục vụ namespace {namespace!r}")
            try:
                result = await (codec.decode(payloads) if decode else codec.encode(payloads))
            except PayloadKeyError as exc:
                raise _Refused(422, "codec.unknown_key", str(exc),
                               f"không giải mã được: {exc}") from None
            except Exception:  # noqa: BLE001 - a payload that does not parse: never a traceback
                raise _Refused(422, "codec.bad_payload", "a payload does not decode",
                               "một payload không giải mã được") from None
            if decode:  # who looked, recorded before the answer (no record, no answer)
                await log.record(actor, "api", "payload_decode", asked[:200])
        except _Refused as refused:
            return refused.response
        return JSONResponse(render_payloads(result))

    @app.post("/decode")
    async def decode(request: Request) -> JSONResponse:
        return await answer(request, True)

    @app.post("/encode")
    async def encode(request: Request) -> JSONResponse:
        return await answer(request, False)

    # the CLI's ``--codec-endpoint 'http://host:8081/{namespace}'`` puts the namespace in the path
    @app.post("/{namespace}/decode")
    async def decode_in(namespace: str, request: Request) -> JSONResponse:
        return await answer(request, True, namespace)

    @app.post("/{namespace}/encode")
    async def encode_in(namespace: str, request: Request) -> JSONResponse:
        return await answer(request, False, namespace)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    instrument_app(app)  # a server span per request (runtime.telemetry; not /healthz)
    bounded = BodyLimit(app, MAX_BODY)
    return CORSMiddleware(bounded, allow_origins=[ui_origin], allow_methods=["POST", "OPTIONS"],
                          allow_headers=["Content-Type", "Authorization", "X-Namespace"],
                          allow_credentials=True)
