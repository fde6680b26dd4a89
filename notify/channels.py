"""Delivery channels (kênh thông báo): a structured log line, email, a signed webhook.

A channel's ``send`` returns on success and raises on any failure; the dispatcher turns the
exception into a retry. Channels are configured from ``DRUGFREE_*`` environment variables.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any, Protocol

import aiosmtplib
import httpx
import structlog

from runtime.settings import Settings

SIGNATURE_HEADER = "X-Drugfree-Signature"
NOTICE_ID_HEADER = "X-Drugfree-Notice-Id"


@dataclass(frozen=True)
class Message:
    """One outbox row, rendered: what a channel delivers."""

    id: str
    case_id: str
    template: str
    to_role: str
    subject: str
    body: str
    params: Mapping[str, Any] = field(default_factory=dict)


class Channel(Protocol):
    async def send(self, message: Message) -> None: ...


class WebhookError(Exception):
    """The webhook answered with a status outside 2xx."""


# Params that are codes, not counts or dates: the only ones a log line may carry.
_LOGGED_CODES = ("commune", "plan", "deadline", "level")


class LogChannel:
    """One JSON log line per notice: ids and codes, never the rendered text."""

    def __init__(self, logger: Any = None) -> None:
        self._log = logger or structlog.get_logger("drugfree.notify")

    async def send(self, message: Message) -> None:
        codes = {k: message.params[k] for k in _LOGGED_CODES if k in message.params}
        self._log.info("notification", notice_id=message.id, case_id=message.case_id,
                       template=message.template, to_role=message.to_role, **codes)


class EmailChannel:
    """Plain-text UTF-8 mail through one SMTP relay; the recipient is chosen by role."""

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        default_to: str,
        role_to: Mapping[str, str] | None = None,
        *,
        username: str | None = None,
        password: str | None = None,
        start_tls: bool | None = None,
        timeout: float = 20.0,
    ) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.default_to, self.role_to = default_to, dict(role_to or {})
        self.username, self.password = username, password
        self.start_tls, self.timeout = start_tls, timeout

    def recipient(self, role: str) -> str:
        return self.role_to.get(role, self.default_to)

    def build(self, message: Message) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = self.recipient(message.to_role)
        mail["Subject"] = message.subject
        mail["Date"] = formatdate(localtime=False)
        # Same notice, same Message-ID: a redelivery after a crash is recognisable as a copy.
        digest = hashlib.sha256(message.id.encode()).hexdigest()[:32]
        mail["Message-ID"] = f"<{digest}@drugfree.notify>"
        mail.set_content(message.body, charset="utf-8")
        return mail

    async def send(self, message: Message) -> None:
        await aiosmtplib.send(
            self.build(message), hostname=self.host, port=self.port,
            username=self.username, password=self.password if self.username else None,
            start_tls=self.start_tls, timeout=self.timeout,
        )


def sign(secret: bytes, body: bytes) -> str:
    """The signature header value: ``sha256=<hex HMAC-SHA256(secret, body)>``."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


class WebhookChannel:
    """POST a JSON document signed with a shared secret; only a 2xx answer counts."""

    def __init__(
        self, url: str, secret: str, *, client: httpx.AsyncClient | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.url, self._secret, self._client, self.timeout = url, secret.encode(), client, timeout

    def body(self, message: Message) -> bytes:
        doc = {
            "id": message.id, "case_id": message.case_id, "template": message.template,
            "to_role": message.to_role, "params": dict(message.params),
            "subject": message.subject, "body": message.body,
        }
        return json.dumps(doc, ensure_ascii=False, sort_keys=True,
                          separators=(",", ":")).encode()

    async def send(self, message: Message) -> None:
        body = self.body(message)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            SIGNATURE_HEADER: sign(self._secret, body),
            # Delivery is at least once: the receiver deduplicates on this id.
            NOTICE_ID_HEADER: message.id,
        }
        if self._client is not None:
            response = await self._client.post(self.url, content=body, headers=headers,
                                               timeout=self.timeout)
        else:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                response = await client.post(self.url, content=body, headers=headers)
        if not response.is_success:
            raise WebhookError(f"webhook answered HTTP {response.status_code}")


# The channels' settings are part of the product's one model (runtime/settings.py).
NotifySettings = Settings


def channels_from_settings(settings: NotifySettings) -> dict[str, Channel]:
    """``log`` always; ``email`` and ``webhook`` when configured. Keys are outbox channels."""
    channels: dict[str, Channel] = {"log": LogChannel()}
    if settings.smtp_host:
        assert settings.smtp_from and settings.smtp_to  # checked by the validator
        channels["email"] = EmailChannel(
            settings.smtp_host, settings.smtp_port, settings.smtp_from, settings.smtp_to,
            settings.smtp_role_to, username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password
            else None,
            start_tls=settings.smtp_starttls,
        )
    if settings.webhook_url:
        assert settings.webhook_secret
        channels["webhook"] = WebhookChannel(settings.webhook_url,
                                             settings.webhook_secret.get_secret_value())
    return channels
