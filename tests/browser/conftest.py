"""Headless Chromium and a static server for the relay page; skipped when Chromium is absent."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from tests.prerequisites import require

RELAY_PAGE = Path(__file__).resolve().parents[2] / "docs" / "relay" / "index.html"
CHROMIUM_TIMEOUT_SECONDS = 15.0


@dataclass
class RelayServer:
    """A static server for the relay page that records every request it sees."""

    port: int
    seen: list[tuple[str, str]] = field(default_factory=list)  # (Host header, path)

    def url(self, query: str) -> str:
        return f"http://127.0.0.1:{self.port}/relay/?{query}"


class _RelayHandler(BaseHTTPRequestHandler):
    server: _RelayHTTPServer

    def log_message(self, format: str, *args: object) -> None:
        return

    def do_GET(self) -> None:
        self.server.record.seen.append((self.headers.get("Host", ""), self.path))
        if self.path.split("?", 1)[0] in ("/relay/", "/relay/index.html"):
            body = RELAY_PAGE.read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
        else:
            body = b"trap: the relay page must not navigate here"
            self.send_response(404)
            self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _RelayHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    record: RelayServer


@pytest.fixture
def relay_server() -> Iterator[RelayServer]:
    server = _RelayHTTPServer(("127.0.0.1", 0), _RelayHandler)
    server.record = RelayServer(port=server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server.record
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@dataclass(frozen=True)
class Chromium:
    """Runs the page's JavaScript in headless Chromium and returns the final DOM."""

    binary: str
    profile: Path

    def dump_dom(self, url: str, *, trap_port: int, budget_ms: int = 5000) -> str:
        # Every host name resolves to the trap server, so any navigation away from 127.0.0.1
        # is recorded there instead of leaving the machine.
        command = [
            self.binary,
            "--headless",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-extensions",
            "--disable-sync",
            "--disable-domain-reliability",
            "--disable-client-side-phishing-detection",
            "--disable-features=NetworkTimeServiceQuerying,OptimizationHints,Translate,MediaRouter",
            "--no-pings",
            "--no-first-run",
            "--no-default-browser-check",
            f"--user-data-dir={self.profile}",
            f"--host-resolver-rules=MAP * 127.0.0.1:{trap_port}, EXCLUDE 127.0.0.1",
            f"--virtual-time-budget={budget_ms}",
            "--dump-dom",
            url,
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.insert(1, "--no-sandbox")  # Chromium refuses to sandbox as root
        process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        try:
            out, _ = process.communicate(timeout=CHROMIUM_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            pytest.fail(f"Chromium did not finish within {CHROMIUM_TIMEOUT_SECONDS} s")
        assert process.returncode == 0, f"Chromium exited with {process.returncode}"
        return out


@pytest.fixture
def chromium(tmp_path: Path) -> Chromium:
    binary = shutil.which("chromium")
    require(binary is not None, "no chromium binary on PATH (Debian: apt-get install chromium)")
    assert binary is not None
    return Chromium(binary=binary, profile=tmp_path / "chromium-profile")
