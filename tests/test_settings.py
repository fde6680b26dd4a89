"""One settings model (runtime/settings.py): every variable the product reads is declared
there, the README's table is generated from it, and a bad value stops a process in one line
naming the variable, never quoting a secret."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from runtime.settings import Settings, SettingsError, effective, env_name, load, markdown_table

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ["domain", "catalog", "service", "workflows", "activities", "notify", "eventstore",
           "runtime", "cli", "api", "web", "worker.py"]
# written by `drugfree dev env` for the user's shell, not read by any process
PRINTED_ONLY = {"DRUGFREE_DEV_DATABASE_URL", "DRUGFREE_REHEARSAL_SECONDS_PER_DAY",
                "DRUGFREE_REHEARSAL_LEAD_SECONDS", "DRUGFREE_TOKEN_OPERATOR"}


def _read_names() -> set[str]:
    names: set[str] = set()
    for part in PRODUCT:
        paths = [ROOT / part] if part.endswith(".py") else (ROOT / part).rglob("*.py")
        for path in paths:
            text = path.read_text(encoding="utf-8")
            names |= set(re.findall(r"\b((?:DRUGFREE|TEMPORAL|OTEL)_[A-Z0-9_]*[A-Z0-9]"
                                    r"|DATABASE_URL)\b", text))
    return names


def test_every_variable_the_product_reads_is_a_setting() -> None:
    declared = {env_name(info) for info in Settings.model_fields.values()}
    read = _read_names() - PRINTED_ONLY
    # the prefix families of the notification channels are declared field by field
    read -= {"DRUGFREE_SMTP", "DRUGFREE_WEBHOOK", "DRUGFREE_TOKEN_", "TEMPORAL_CODEC"}
    assert read - declared == set(), "declare these in runtime/settings.py"
    assert len(declared) == len(Settings.model_fields)  # one variable, one field


def test_the_readme_table_is_the_model() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    begin, end = "<!-- settings:begin -->\n", "<!-- settings:end -->"
    table = readme[readme.index(begin) + len(begin):readme.index(end)]
    assert table == markdown_table(), "regenerate: drugfree settings --markdown"


def test_defaults_are_the_safe_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    for info in Settings.model_fields.values():
        monkeypatch.delenv(env_name(info), raising=False)
    cfg = load()
    assert not (cfg.insecure_no_identity or cfg.insecure_plaintext or cfg.rehearsal_clocks)
    assert cfg.metrics_host == "127.0.0.1"  # the operations port is not public by default
    assert cfg.payload_key is None and cfg.payload_keys_file is None  # so nothing starts
    assert effective(cfg) == []


def test_bad_values_are_named_and_secrets_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRUGFREE_METRICS_PORT", "70000")
    monkeypatch.setenv("DRUGFREE_WORKFLOW_CACHE", "nhiều")
    monkeypatch.setenv("DRUGFREE_WEBHOOK_SECRET", "s3cr3t-webhook")
    with pytest.raises(SettingsError) as info:
        load()
    text = str(info.value)
    assert "DRUGFREE_METRICS_PORT" in text and "DRUGFREE_WORKFLOW_CACHE" in text
    assert "70000" not in text and "nhiều" not in text
    monkeypatch.setenv("DRUGFREE_METRICS_PORT", "9464")
    monkeypatch.setenv("DRUGFREE_WORKFLOW_CACHE", "0")
    monkeypatch.setenv("DRUGFREE_METRICS_PORT", "9465")
    with pytest.raises(SettingsError, match="must differ"):
        load()
    monkeypatch.setenv("DRUGFREE_METRICS_PORT", "0")
    shown = dict(effective(load()))
    assert shown["DRUGFREE_WEBHOOK_SECRET"] == "***" and shown["DRUGFREE_WORKFLOW_CACHE"] == "0"


@pytest.mark.parametrize("argv", [
    [sys.executable, str(ROOT / "worker.py")],
    [sys.executable, "-m", "cli.main", "dispatcher"],
    [sys.executable, "-m", "cli.main", "settings"],
])
def test_processes_stop_on_a_bad_setting_in_one_line(argv: list[str]) -> None:
    env = {**os.environ, "DRUGFREE_SMTP_PORT": "0", "DRUGFREE_INSECURE_NO_IDENTITY": "1"}
    r = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
                       check=False)
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert "cấu hình không hợp lệ" in lines[0] and "DRUGFREE_SMTP_PORT" in lines[0]
