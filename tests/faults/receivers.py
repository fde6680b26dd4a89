"""The world outside the project, as real local servers of its protocols: a mail relay
(aiosmtpd) and a webhook receiver (HTTP), each of which can be taken down (the relay refuses
every message with 451, the webhook answers 500) and brought back. Both record every notice
they accept by its id (the webhook's ``X-Drugfree-Notice-Id``; the mail's Message-ID, which
the dispatcher derives from the notice id), so the suite counts deliveries per notice."""

from __future__ import annotations

import email
import email.policy
import hashlib
import socket
import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def message_id_of(notice_id: str) -> str:
    """The Message-ID the email channel gives a notice (notify/channels.py)."""
    return f"<{hashlib.sha256(notice_id.encode()).hexdigest()[:32]}@drugfree.notify>"


@dataclass
class Receiver:
    """What one channel's far end accepted, and whether it is up."""

    up: bool = True
    accepted: Counter[str] = field(default_factory=Counter)  # notice key -> deliveries
    refused: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, key: str) -> bool:
        with self.lock:
            if not self.up:
                self.refused += 1
                return False
            self.accepted[key] += 1
            return True


class MailRelay(Receiver):
    def __init__(self) -> None:
        super().__init__()
        self.port = free_port()  # aiosmtpd probes its port, so it cannot be given 0
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        mail = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        if not self.take(str(mail["Message-ID"])):
            return "451 4.3.0 relay unavailable, try again later"
        return "250 Message accepted"

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()


class WebhookReceiver(Receiver):
    def __init__(self) -> None:
        super().__init__()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server API)
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                ok = receiver.take(self.headers.get("X-Drugfree-Notice-Id", ""))
                self.send_response(200 if ok else 500)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/notify"

    def start(self) -> None:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
