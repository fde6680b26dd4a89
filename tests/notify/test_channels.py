"""Channels against real servers: SMTP (aiosmtpd) and an HTTP webhook receiver."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest
from pydantic import ValidationError

from notify.channels import (
    EmailChannel,
    LogChannel,
    Message,
    NotifySettings,
    WebhookChannel,
    WebhookError,
    channels_from_settings,
)
from notify.templates import render
from tests.notify.conftest import Mailbox, Webhook

PARAMS = {"commune": "84010", "plan": "tra-vinh-2025", "deadline": "phase_1_report",
          "due": "2025-04-30", "days_before": 7}
SECRET = "s3cret-shared-with-the-receiver"


def message(to_role: str = "commune_ubnd", lang: str = "vi") -> Message:
    subject, body = render("reminder", PARAMS, lang, to_role=to_role,
                           case_id="tra-vinh-2025/84010")
    return Message(id="ev-1:0:x", case_id="tra-vinh-2025/84010", template="reminder",
                   to_role=to_role, subject=subject, body=body, params=PARAMS)


async def test_email_arrives_with_the_vietnamese_subject(smtp_server: Mailbox) -> None:
    channel = EmailChannel(smtp_server.host, smtp_server.port, "thongbao@drugfree.test",
                           "truc@drugfree.test", {"district_ubnd": "huyen@drugfree.test"})
    await channel.send(message("commune_ubnd"))
    await channel.send(message("district_ubnd"))

    (to_commune, mail), (to_district, _) = smtp_server.messages
    assert to_commune == ["truc@drugfree.test"] and to_district == ["huyen@drugfree.test"]
    assert mail["Subject"] == ("[tra-vinh-2025] Nhắc hạn: báo cáo kết quả giai đoạn 1 "
                               "của xã 84010 (còn 7 ngày)")
    assert mail["From"] == "thongbao@drugfree.test"
    assert "Kính gửi: UBND cấp xã" in mail.get_content()
    assert mail["Message-ID"] == channel.build(message())["Message-ID"]  # stable per notice


async def test_email_to_a_closed_port_fails() -> None:
    from tests.notify.conftest import _free_port

    channel = EmailChannel("127.0.0.1", _free_port(), "a@drugfree.test", "b@drugfree.test",
                           timeout=2)
    with pytest.raises(OSError):
        await channel.send(message())


async def test_webhook_body_carries_a_verifiable_signature(webhook_server: Webhook) -> None:
    await WebhookChannel(webhook_server.url, SECRET).send(message())

    [(headers, body)] = webhook_server.accepted()
    expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-Drugfree-Signature"], f"sha256={expected}")
    assert headers["X-Drugfree-Notice-Id"] == "ev-1:0:x"
    doc = json.loads(body)
    assert doc["template"] == "reminder" and doc["params"] == PARAMS
    assert doc["subject"].startswith("[tra-vinh-2025] Nhắc hạn")


async def test_webhook_non_2xx_is_a_failure(webhook_server: Webhook) -> None:
    webhook_server.status = 500
    with pytest.raises(WebhookError, match="500"):
        await WebhookChannel(webhook_server.url, SECRET).send(message())


async def test_log_line_carries_ids_and_codes_only() -> None:
    lines: list[tuple[str, dict[str, Any]]] = []

    class Recorder:
        def info(self, event: str, **kw: Any) -> None:
            lines.append((event, kw))

    await LogChannel(Recorder()).send(message())
    [(event, fields)] = lines
    assert event == "notification"
    assert fields == {"notice_id": "ev-1:0:x", "case_id": "tra-vinh-2025/84010",
                      "template": "reminder", "to_role": "commune_ubnd", "commune": "84010",
                      "plan": "tra-vinh-2025", "deadline": "phase_1_report"}


def test_settings_choose_the_channels(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SMTP_HOST", "SMTP_FROM", "SMTP_TO", "WEBHOOK_URL", "WEBHOOK_SECRET"):
        monkeypatch.delenv(f"DRUGFREE_{name}", raising=False)
    assert set(channels_from_settings(NotifySettings())) == {"log"}

    monkeypatch.setenv("DRUGFREE_SMTP_HOST", "mail.example.vn")
    monkeypatch.setenv("DRUGFREE_SMTP_PORT", "2525")
    monkeypatch.setenv("DRUGFREE_SMTP_FROM", "thongbao@example.vn")
    monkeypatch.setenv("DRUGFREE_SMTP_TO", "truc@example.vn")
    monkeypatch.setenv("DRUGFREE_SMTP_ROLE_TO", '{"province_police": "catinh@example.vn"}')
    monkeypatch.setenv("DRUGFREE_WEBHOOK_URL", "https://hooks.example.vn/drugfree")
    monkeypatch.setenv("DRUGFREE_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("DRUGFREE_NOTIFY_LANG", "en")
    settings = NotifySettings()
    channels = channels_from_settings(settings)
    assert set(channels) == {"log", "email", "webhook"}
    email = channels["email"]
    assert isinstance(email, EmailChannel) and email.port == 2525
    assert email.recipient("province_police") == "catinh@example.vn"
    assert email.recipient("commune_ubnd") == "truc@example.vn"
    assert settings.notify_lang == "en" and SECRET not in repr(settings)


def test_a_half_configured_channel_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRUGFREE_WEBHOOK_URL", "https://hooks.example.vn/drugfree")
    monkeypatch.delenv("DRUGFREE_WEBHOOK_SECRET", raising=False)
    with pytest.raises(ValidationError, match="WEBHOOK_SECRET"):
        NotifySettings()
