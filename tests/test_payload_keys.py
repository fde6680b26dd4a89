"""Payload encryption keys (runtime/codec.py, drugfree keys): named keys, rotation, old
payloads still opening, a payload under a key this process lacks refused naming the key."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from temporalio.api.common.v1 import Payload
from typer.testing import CliRunner

from cli.main import app
from domain.identity import Signer
from runtime import logs
from runtime.codec import (
    ENCODING,
    ENV_KEY,
    ENV_KEYS_FILE,
    ENV_PLAINTEXT,
    KEY_ID,
    EncryptionCodec,
    KeyRing,
    PayloadKeyError,
    codec_from_env,
)
from runtime.temporal import _warn_plaintext, data_converter

ROOT = Path(__file__).resolve().parents[1]

PLAIN = Payload(metadata={"encoding": b"json/plain"}, data=b'{"commune": "29236"}')


async def test_rotation_seals_with_the_new_key_and_opens_the_old() -> None:
    old = KeyRing.fresh("k-old")
    sealed_old = (await EncryptionCodec(old).encode([PLAIN]))[0]
    assert sealed_old.metadata["encoding"] == ENCODING
    assert sealed_old.metadata["encryption-key-id"] == b"k-old"
    assert b"29236" not in sealed_old.data
    new = old.rotated("k-new")
    codec = EncryptionCodec(new)
    sealed_new = (await codec.encode([PLAIN]))[0]
    assert sealed_new.metadata["encryption-key-id"] == b"k-new"
    assert await codec.decode([sealed_old, sealed_new]) == [PLAIN, PLAIN]


async def test_a_payload_under_an_unknown_key_is_refused_naming_it() -> None:
    sealed = (await EncryptionCodec(KeyRing.fresh("k-lost")).encode([PLAIN]))[0]
    with pytest.raises(PayloadKeyError) as info:
        await EncryptionCodec(KeyRing.fresh("k-other")).decode([sealed])
    assert "'k-lost'" in str(info.value) and "k-other" in str(info.value)
    # the same id with another key: not opened either, said so
    with pytest.raises(PayloadKeyError) as info:
        await EncryptionCodec(KeyRing.fresh("k-lost")).decode([sealed])
    assert "does not open" in str(info.value)


def test_a_ring_names_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(PayloadKeyError, match="not among"):
        KeyRing({"a": b"\x01" * 32}, "b")
    bad = tmp_path / "keys.json"
    bad.write_text(json.dumps({"current": "a", "keys": {"a": "zz"}}), encoding="utf-8")
    with pytest.raises(PayloadKeyError, match="64 hexadecimal"):
        KeyRing.load(bad)
    bad.write_text("[]", encoding="utf-8")
    with pytest.raises(PayloadKeyError, match="expected"):
        KeyRing.load(bad)


def test_the_environment_key_keeps_its_old_id(monkeypatch: pytest.MonkeyPatch) -> None:
    """Recorded histories were sealed by the single environment key as drugfree-key-1."""
    monkeypatch.delenv(ENV_KEYS_FILE, raising=False)
    monkeypatch.setenv(ENV_KEY, "ab" * 32)
    codec = codec_from_env()
    assert codec is not None and codec.ring.current == KEY_ID


def test_drugfree_keys_new_rotate_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_KEYS_FILE, raising=False)
    file = tmp_path / "keys" / "payload.json"
    runner = CliRunner()
    r = runner.invoke(app, ["keys", "new", "--file", str(file), "--id", "k-1"])
    assert r.exit_code == 0, r.output
    assert stat.S_IMODE(os.stat(file).st_mode) == 0o600
    r = runner.invoke(app, ["keys", "new", "--file", str(file)])
    assert r.exit_code != 0 and "không ghi đè" in r.output
    r = runner.invoke(app, ["keys", "rotate", "--file", str(file), "--id", "k-2"])
    assert r.exit_code == 0 and "k-2" in r.output
    r = runner.invoke(app, ["keys", "rotate", "--file", str(file), "--id", "k-2"])
    assert r.exit_code != 0 and "đã có trong tệp khóa" in r.output  # Vietnamese by default
    r = runner.invoke(app, ["keys", "rotate", "--file", str(file), "--id", "k-2", "--lang", "en"])
    assert r.exit_code != 0 and "already" in r.output
    r = runner.invoke(app, ["keys", "list", "--file", str(file), "--lang", "en"])
    assert r.output.splitlines() == ["k-1", "k-2 (current)"]
    assert "k-1" in KeyRing.load(file).keys and KeyRing.load(file).current == "k-2"
    assert KeyRing.load(file).keys["k-1"].hex() not in r.output  # ids only
    monkeypatch.setenv(ENV_KEYS_FILE, str(file))
    codec = codec_from_env()
    assert codec is not None and codec.ring.current == "k-2"


def _no_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (ENV_KEY, ENV_KEYS_FILE, ENV_PLAINTEXT):
        monkeypatch.delenv(name, raising=False)


def test_without_a_key_nothing_starts_naming_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Encryption is the default: no key is a refusal in both languages, not plain payloads."""
    _no_keys(monkeypatch)
    with pytest.raises(PayloadKeyError) as info:
        codec_from_env()
    assert ENV_KEYS_FILE in info.value.message and ENV_PLAINTEXT in info.value.message
    assert info.value.text("vi").startswith("thiếu khóa mã hóa dữ liệu")
    with pytest.raises(PayloadKeyError):
        data_converter()


class _Recorder:
    def __init__(self) -> None:
        self.warnings: list[tuple[str, dict[str, object]]] = []

    def warning(self, event: str, **fields: object) -> None:
        self.warnings.append((event, fields))


def test_plaintext_is_an_explicit_logged_opt_out(monkeypatch: pytest.MonkeyPatch) -> None:
    _no_keys(monkeypatch)
    monkeypatch.setenv(ENV_PLAINTEXT, "1")
    # the process's logger stands in for the global configuration, which later tests share
    recorder = _Recorder()
    monkeypatch.setattr(logs, "log", recorder)
    _warn_plaintext.cache_clear()
    converter = data_converter()
    assert converter.payload_codec is None
    assert [(e, f["setting"]) for e, f in recorder.warnings] == [("payloads.plaintext",
                                                                   ENV_PLAINTEXT)]
    _warn_plaintext.cache_clear()
    # a key wins over the opt-out: set both, and payloads are sealed
    monkeypatch.setenv(ENV_KEY, "cd" * 32)
    assert isinstance(data_converter().payload_codec, EncryptionCodec)


def test_a_malformed_environment_key_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    _no_keys(monkeypatch)
    monkeypatch.setenv(ENV_KEY, "ab" * 31)
    with pytest.raises(PayloadKeyError) as info:
        codec_from_env()
    assert ENV_KEY in info.value.message and "not 31" in info.value.message
    assert "không phải 31" in info.value.text("vi")


@pytest.mark.parametrize("argv", [
    [sys.executable, str(ROOT / "worker.py")],
    [sys.executable, "-m", "cli.main", "api"],
    [sys.executable, "-m", "cli.main", "codec-server"],
    [sys.executable, "-m", "cli.main", "audit", "crosscheck", "conversion:p:1",
     "--temporal-address", "127.0.0.1:1", "--database-url", "postgresql://x@127.0.0.1:1/x"],
])
def test_processes_refuse_to_start_without_a_key(argv: list[str], tmp_path: Path) -> None:
    """Each process that talks to the workflow service: one line, exit 2, nothing started."""
    env = {k: v for k, v in os.environ.items()
           if k not in (ENV_KEY, ENV_KEYS_FILE, ENV_PLAINTEXT, "DATABASE_URL")}
    # past every other check that comes first (trust, addresses), so the key is what is missing
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(Signer.generate().ring().jwks()), encoding="utf-8")
    front = tmp_path / "front.pem"
    front.write_bytes(Signer.generate().pem())
    env.update({"DRUGFREE_INSECURE_NO_IDENTITY": "1", "TEMPORAL_ADDRESS": "127.0.0.1:1",
                "DATABASE_URL": "postgresql://drugfree_app@127.0.0.1:1/x",
                "DRUGFREE_TOKEN_KEYS": str(jwks), "DRUGFREE_FRONT_DOOR_KEY": str(front)})
    r = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
                       check=False)
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert "thiếu khóa mã hóa dữ liệu" in lines[0] and ENV_KEYS_FILE in lines[0]
