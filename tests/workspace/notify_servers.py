"""Local receivers for notification tests: a webhook endpoint on 127.0.0.1 (a tiny
http.server thread that checks the signature) and an SMTP server (aiosmtpd)."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Receiver:
    """What a test endpoint answers (``statuses`` in turn, then 200) and what it received."""

    secret: str
    statuses: list[int] = field(default_factory=list)
    delay: float = 0.0
    received: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            stamp = self.headers["X-Prodsec-Timestamp"]
            expected = "sha256=" + hmac.new(receiver.secret.encode(), stamp.encode() + b"." + body,
                                            hashlib.sha256).hexdigest()
            receiver.received.append({
                "at": time.monotonic(), "event_id": self.headers["X-Prodsec-Event-Id"],
                "signed": hmac.compare_digest(expected, self.headers["X-Prodsec-Signature"]),
                "body": json.loads(body)})
            if receiver.delay:
                time.sleep(receiver.delay)
            status = receiver.statuses.pop(0) if receiver.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def webhook_receiver(receiver: Receiver) -> Iterator[Receiver]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/prodsec"
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def smtp_server() -> Iterator[list[Any]]:
    """An aiosmtpd server on 127.0.0.1; yields (port, messages) as a list [port, messages]."""
    from aiosmtpd.controller import Controller

    messages: list[Any] = []

    class Collect:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            messages.append(envelope)
            return "250 Message accepted for delivery"

    with socket.socket() as probe:  # aiosmtpd needs a fixed port: take a free one
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Collect(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield [port, messages]
    finally:
        controller.stop()
