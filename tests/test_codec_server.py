"""The codec server (runtime/codec_server.py, drugfree codec-server): Temporal's codec server
protocol for operators only; CORS for the UI's origin only; every decode recorded; bad input
and unknown keys refused by name, never a traceback."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from temporalio.api.common.v1 import Payload
from typer.testing import CliRunner

from cli.main import app as cli_app
from domain.identity import Signer, issue_token
from domain.roles import Actor
from eventstore.store import EventStore
from runtime.codec import EncryptionCodec, KeyRing
from runtime.codec_server import create_codec_app, render_payloads
from service.access import Authenticator
from service.audit_reads import ReadLog, stream_of
from tests.conftest import Database

SSO = Signer.from_seed(bytes(range(32, 64)))
UI = "http://localhost:8233"
RING = KeyRing.fresh("k-now")
CODEC = EncryptionCodec(RING)
OPERATOR = Actor(person_id="op-1", role="operator", province_code="37")
POLICE = Actor(person_id="nb-001", role="province_police", province_code="37")
PLAIN = [Payload(metadata={"encoding": b"json/plain"}, data=b'{"commune": "14380"}'),
         Payload(metadata={"encoding": b"json/plain"}, data=b'{"metric": 3}')]


def token(actor: Actor) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(SSO, actor, datetime.now(UTC))}",
            "X-Namespace": "default"}


def client(reads: ReadLog | None = None) -> httpx.AsyncClient:
    server = create_codec_app(CODEC, Authenticator(SSO.ring()), UI, reads)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=server), base_url="http://codec")


def body(payloads: list[Payload]) -> dict[str, Any]:
    return render_payloads(payloads)


def payloads_of(answer: dict[str, Any]) -> list[Payload]:
    return [Payload(metadata={k: base64.b64decode(v) for k, v in p["metadata"].items()},
                    data=base64.b64decode(p["data"])) for p in answer["payloads"]]


async def test_decode_round_trip_and_encode_then_decode() -> None:
    sealed = await CODEC.encode(PLAIN)
    async with client() as http:
        answer = await http.post("/decode", json=body(sealed), headers=token(OPERATOR))
        assert answer.status_code == 200, answer.text
        assert payloads_of(answer.json()) == PLAIN
        encoded = await http.post("/encode", json=body(PLAIN), headers=token(OPERATOR))
        assert encoded.status_code == 200
        again = payloads_of(encoded.json())
        assert all(p.metadata["encryption-key-id"] == b"k-now" for p in again)
        assert b"14380" not in again[0].data
        back = await http.post("/decode", json=encoded.json(), headers=token(OPERATOR))
        assert payloads_of(back.json()) == PLAIN
        assert (await http.post("/decode", json={"payloads": []},
                                headers=token(OPERATOR))).json() == {"payloads": []}


async def test_cors_admits_the_ui_origin_only() -> None:
    preflight = {"Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "content-type,authorization,x-namespace"}
    async with client() as http:
        ok = await http.options("/decode", headers={"Origin": UI, **preflight})
        assert ok.status_code == 200
        assert ok.headers["access-control-allow-origin"] == UI
        assert ok.headers["access-control-allow-credentials"] == "true"
        assert "POST" in ok.headers["access-control-allow-methods"]
        other = await http.options("/decode", headers={"Origin": "https://evil.example",
                                                       **preflight})
        assert other.status_code == 400
        assert "access-control-allow-origin" not in other.headers
        answer = await http.post("/decode", json=body(await CODEC.encode(PLAIN)),
                                 headers={"Origin": UI, **token(OPERATOR)})
        assert answer.headers["access-control-allow-origin"] == UI


async def test_only_an_operator_with_a_valid_token() -> None:
    sealed = body(await CODEC.encode(PLAIN))
    async with client() as http:
        none = await http.post("/decode", json=sealed)
        assert none.status_code == 401
        assert none.json()["code"] == "identity.missing_token"
        assert set(none.json()) == {"code", "message_vi", "message_en"}
        forged = issue_token(Signer.generate(), OPERATOR, datetime.now(UTC))
        bad = await http.post("/decode", json=sealed,
                              headers={"Authorization": f"Bearer {forged}"})
        assert bad.status_code == 401
        police = await http.post("/decode", json=sealed, headers=token(POLICE))
        assert police.status_code == 403
        assert police.json()["code"] == "codec.wrong_role"
        assert "vận hành" in police.json()["message_vi"]
        assert (await http.post("/encode", json=body(PLAIN),
                                headers=token(POLICE))).status_code == 403


async def test_unknown_key_and_bad_input_are_named() -> None:
    elsewhere = await EncryptionCodec(KeyRing.fresh("k-lost")).encode(PLAIN)
    async with client() as http:
        lost = await http.post("/decode", json=body(elsewhere), headers=token(OPERATOR))
        assert lost.status_code == 422
        assert lost.json()["code"] == "codec.unknown_key"
        assert "k-lost" in lost.json()["message_en"] and "k-lost" in lost.json()["message_vi"]
        bad = await http.post("/decode", json={"payloads": [{"metadata": {}, "data": "!!"}]},
                              headers=token(OPERATOR))
        assert bad.status_code == 422
        assert bad.json()["code"] == "codec.bad_base64"
        assert "payloads[0].data" in bad.json()["message_en"]
        meta = await http.post("/decode", headers=token(OPERATOR), json={
            "payloads": [{"metadata": {"encoding": "%%"}, "data": ""}]})
        assert "payloads[0].metadata.encoding" in meta.json()["message_en"]
        junk = await http.post("/decode", content=b"{not json", headers=token(OPERATOR))
        assert junk.status_code == 422 and junk.json()["code"] == "codec.bad_json"
        shape = await http.post("/decode", json={"payloads": "x"}, headers=token(OPERATOR))
        assert shape.status_code == 422 and shape.json()["code"] == "codec.bad_payloads"
        big = await http.post("/decode", content=b"x" * ((1 << 20) + 1),
                              headers=token(OPERATOR))
        assert big.status_code == 413


async def test_every_decode_is_recorded(fresh_database: Database) -> None:
    sealed = body(await CODEC.encode(PLAIN))
    async with await EventStore.connect(fresh_database.app_url) as store:
        async with client(ReadLog(store)) as http:
            for _ in range(2):
                ok = await http.post("/decode", json=sealed,
                                     headers={**token(OPERATOR), "X-Namespace": "drugfree"})
                assert ok.status_code == 200
            assert (await http.post("/encode", json=body(PLAIN),
                                    headers=token(OPERATOR))).status_code == 200
            assert (await http.post("/decode", json=sealed,
                                    headers=token(POLICE))).status_code == 403
            headers = {"Authorization": token(OPERATOR)["Authorization"]}
            assert (await http.post("/cli-ns/decode", json=sealed,
                                    headers=headers)).status_code == 200
        looked = await store.read(stream_of(OPERATOR))
        assert [e.type for e in looked] == ["audit.read"] * 3
        assert looked[0].payload["operation"] == "payload_decode"
        assert looked[0].payload["target"] == "drugfree"
        assert looked[0].payload["role"] == "operator"
        assert looked[2].payload["target"] == "cli-ns"  # the CLI's /{namespace}/decode
        assert await store.version(stream_of(POLICE)) == 0  # refused: nothing read


def test_the_command_refuses_to_start_without_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DRUGFREE_PAYLOAD_KEYS_FILE", "DRUGFREE_PAYLOAD_KEY"):
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(cli_app, ["codec-server", "--port", "1"])
    assert result.exit_code == 2
    assert "DRUGFREE_PAYLOAD_KEY" in result.output
    assert result.output.strip().count("\n") == 0


def test_the_operator_has_no_part_in_cases_or_rounds() -> None:
    from catalog import get_plan
    from domain.case import territory_scope
    from service import ServiceError
    from service.access import check
    from service.round_reads import readable_plans

    plan = get_plan("tra-vinh-2025")
    operator = OPERATOR.model_copy(update={"province_code": "84"})
    with pytest.raises(ServiceError) as info:
        check(operator, "read", plan, territory_scope(plan))
    assert info.value.code.endswith(".wrong_role")
    assert readable_plans(operator) == []


async def test_only_the_configured_namespace_is_decoded(fresh_database: Database) -> None:
    """The keys are for one namespace: a request naming another is refused and not recorded."""
    sealed = body(await CODEC.encode(PLAIN))
    async with await EventStore.connect(fresh_database.app_url) as store:
        server = create_codec_app(CODEC, Authenticator(SSO.ring()), UI, ReadLog(store),
                                  namespace="drugfree")
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=server),
                                     base_url="http://codec") as http:
            other = await http.post("/decode", json=sealed,
                                    headers={**token(OPERATOR), "X-Namespace": "khac"})
            in_path = await http.post("/khac/decode", json=sealed, headers={
                "Authorization": token(OPERATOR)["Authorization"]})
            ours = await http.post("/decode", json=sealed,
                                   headers={**token(OPERATOR), "X-Namespace": "drugfree"})
        assert other.status_code == 403 and other.json()["code"] == "codec.wrong_namespace"
        assert in_path.status_code == 403
        assert ours.status_code == 200 and payloads_of(ours.json()) == PLAIN
        looked = await store.read(stream_of(OPERATOR))
        assert [e.payload["target"] for e in looked] == ["drugfree"]
