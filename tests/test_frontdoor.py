"""The front door's configuration: a province's own sign-on (its JWKS served over HTTP and its
issuer), a key file, and refusals when nothing is configured."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from domain.identity import Signer, issue_token
from domain.roles import Actor
from runtime.frontdoor import FrontDoorConfig
from runtime.trust import TrustError
from service import ServiceError
from service.access import Authenticator

SSO = Signer.from_seed(bytes(range(96, 128)))
ISSUER = "https://sso.ninhbinh.gov.vn"
PERSON = Actor(person_id="nb-001", role="province_police", province_code="37")


@pytest.fixture
def jwks_url() -> Iterator[str]:
    """A province's sign-on publishing its keys (JWKS), served locally."""
    document = json.dumps(SSO.ring().jwks()).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(document)

        def log_message(self, *_: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/.well-known/jwks.json"
    server.shutdown()


def test_a_province_sign_on_by_jwks_url_and_issuer(
        jwks_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    front = tmp_path / "front-door.pem"
    front.write_bytes(Signer.generate().pem())
    monkeypatch.setenv("DRUGFREE_TOKEN_JWKS_URL", jwks_url)
    monkeypatch.setenv("DRUGFREE_TOKEN_ISSUER", ISSUER)
    monkeypatch.setenv("DRUGFREE_FRONT_DOOR_KEY", str(front))
    door = FrontDoorConfig.from_env()
    auth = Authenticator(door.tokens, door.issuer)
    now = datetime.now(UTC)
    assert auth.authenticate(issue_token(SSO, PERSON, now, issuer=ISSUER)).actor == PERSON
    with pytest.raises(ServiceError) as info:  # right key, another issuer
        auth.authenticate(issue_token(SSO, PERSON, now, issuer="https://elsewhere"))
    assert info.value.code == "identity.wrong_issuer"
    with pytest.raises(ServiceError) as info:  # another key
        auth.authenticate(issue_token(Signer.generate(), PERSON, now, issuer=ISSUER))
    assert info.value.code == "identity.unknown_key"


def test_nothing_configured_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DRUGFREE_TOKEN_KEYS", "DRUGFREE_TOKEN_JWKS_URL", "DRUGFREE_FRONT_DOOR_KEY",
                 "DRUGFREE_INSECURE_NO_IDENTITY"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(TrustError) as info:
        FrontDoorConfig.from_env()
    assert "DRUGFREE_TOKEN_KEYS" in info.value.message
    monkeypatch.setenv("DRUGFREE_TOKEN_JWKS_URL", "http://127.0.0.1:9/jwks.json")
    with pytest.raises(TrustError) as info:  # a sign-on that does not answer
        FrontDoorConfig.from_env()
    assert info.value.code == "trust.bad_keys"
    monkeypatch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:9")
    monkeypatch.setenv("DATABASE_URL", "postgresql://x@127.0.0.1:9/x")
    result = CliRunner().invoke(app, ["api"])
    assert result.exit_code == 2 and "DRUGFREE_TOKEN_JWKS_URL" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
