"""``drugfree auth``: a key pair on disk, and tokens a verifier with the public half accepts."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from domain.identity import IdentityError, KeyRing, verify_token

runner = CliRunner()


def drugfree(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    code, out, _ = drugfree("auth", "keygen", "--out", str(tmp_path))
    assert code == 0 and "identity.pem" in out
    return tmp_path


def test_keygen_writes_a_private_key_for_its_owner_only_and_never_overwrites(keys: Path) -> None:
    assert stat.S_IMODE((keys / "identity.pem").stat().st_mode) == 0o600
    ring = KeyRing.from_jwks(json.loads((keys / "identity.jwks.json").read_text()))
    assert len(ring.keys) == 1
    code, _, err = drugfree("auth", "keygen", "--out", str(keys))
    assert code == 2 and "không ghi đè" in err
    code, _, err = drugfree("auth", "keygen", "--out", str(keys), "--lang", "en")
    assert code == 2 and "never overwritten" in err


def test_an_issued_token_verifies_for_its_person_and_expires(keys: Path) -> None:
    code, out, _ = drugfree("auth", "issue", "--key", str(keys / "identity.pem"),
                            "--role", "commune_ubnd", "--province", "84", "--district", "842",
                            "--commune", "29242", "--name", "Nguyễn Thị B", "--ttl", "30m",
                            "--json")
    assert code == 0, out
    issued = json.loads(out)
    ring = KeyRing.from_jwks(json.loads((keys / "identity.jwks.json").read_text()))
    now = datetime.now(UTC)
    actor = verify_token(ring, issued["token"], now)
    assert actor.role == "commune_ubnd" and actor.commune_code == "29242"
    assert actor.person_id == issued["person"]["person_id"]
    with pytest.raises(IdentityError) as info:
        verify_token(ring, issued["token"], now + timedelta(minutes=31))
    assert info.value.code == "identity.expired"


@pytest.mark.parametrize(("args", "code"), [
    (["--role", "commune_ubnd", "--province", "84"], "auth.missing_unit"),
    (["--role", "district_police", "--province", "84"], "auth.missing_unit"),
    (["--role", "mayor", "--province", "84"], "auth.bad_role"),
    (["--role", "district_ubnd", "--province", "38", "--district", "842"], "auth.bad_unit"),
    (["--role", "commune_ubnd", "--province", "84", "--district", "842", "--commune", "29311"],
     "auth.bad_unit"),
    (["--role", "province_police", "--province", "99"], "units.unknown"),
    (["--role", "province_police", "--province", "84", "--ttl", "2d"], "auth.bad_ttl"),
    (["--role", "province_police", "--province", "84", "--ttl", "8 hours"], "auth.bad_ttl"),
])
def test_bad_requests_name_what_is_wrong(keys: Path, args: list[str], code: str) -> None:
    exit_code, out, err = drugfree("auth", "issue", "--key", str(keys / "identity.pem"),
                                   "--name", "A", *args)
    assert exit_code == 2 and out == "" and f"[{code}]" in err, err
    assert len(err.strip().splitlines()) == 1


def test_no_key_or_a_bad_key_is_refused(tmp_path: Path) -> None:
    code, _, err = drugfree("auth", "issue", "--role", "province_police", "--province", "84",
                            "--name", "A")
    assert code == 2 and "DRUGFREE_SIGNING_KEY" in err
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key")
    code, _, err = drugfree("auth", "issue", "--key", str(bad), "--role", "province_police",
                            "--province", "84", "--name", "A")
    assert code == 2 and "identity.bad_key" in err
