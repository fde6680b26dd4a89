"""Payload encryption keys (runtime/codec.py, drugfree keys): named keys, rotation, old
payloads still opening, a payload under a key this process lacks refused naming the key."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from temporalio.api.common.v1 import Payload
from typer.testing import CliRunner

from cli.main import app
from runtime.codec import (
    ENCODING,
    ENV_KEY,
    ENV_KEYS_FILE,
    KEY_ID,
    EncryptionCodec,
    KeyRing,
    PayloadKeyError,
    codec_from_env,
)

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
    assert r.exit_code != 0 and "already" in r.output
    r = runner.invoke(app, ["keys", "list", "--file", str(file), "--lang", "en"])
    assert r.output.splitlines() == ["k-1", "k-2 (current)"]
    assert "k-1" in KeyRing.load(file).keys and KeyRing.load(file).current == "k-2"
    assert KeyRing.load(file).keys["k-1"].hex() not in r.output  # ids only
    monkeypatch.setenv(ENV_KEYS_FILE, str(file))
    codec = codec_from_env()
    assert codec is not None and codec.ring.current == "k-2"
