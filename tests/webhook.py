"""A webhook receiver on 127.0.0.1 for Apprise's json:// URLs: the alerts' real destination."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PASSWORD = "hunter2-webhook-secret"
TOKEN = "tok3n-in-the-path-0042"


class Receiver:
    """A webhook that keeps every JSON body posted to it."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        received = self.messages

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                received.append(json.loads(self.rfile.read(length) or b"{}"))
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"json://soldscope:{PASSWORD}@127.0.0.1:{self.port}/{TOKEN}"

    def wait_for(self, count: int, timeout: float = 15) -> list[dict[str, Any]]:
        """The messages once `count` have arrived (for senders that answer first, then send)."""
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.messages


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    receiver.thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()


def no_secret(*texts: str) -> None:
    """None of the texts shows the webhook's password or its path token."""
    for text in texts:
        assert PASSWORD not in text
        assert TOKEN not in text
