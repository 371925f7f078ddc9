"""Headless Chromium and a static server for the relay page; skipped when Chromium is absent."""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

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

    def _command(self, trap_port: int, *args: str) -> list[str]:
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
            *args,
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.insert(1, "--no-sandbox")  # Chromium refuses to sandbox as root
        return command

    def dump_dom(self, url: str, *, trap_port: int, budget_ms: int = 5000) -> str:
        command = self._command(trap_port, f"--virtual-time-budget={budget_ms}", "--dump-dom", url)
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

    def dom_when(
        self, url: str, text: str, *, trap_port: int, timeout: float = CHROMIUM_TIMEOUT_SECONDS
    ) -> str:
        """The DOM once it contains `text` (or the last one seen when `timeout` passes).

        For pages that navigate on their own: `--dump-dom` with a virtual time budget dumps
        whatever is there when the budget runs out, and a navigation started in that instant
        leaves nothing to dump. Here Chromium is driven over its DevTools pipe and asked in real
        time until the expected page is there.
        """
        with _DevToolsPipe(
            self._command(trap_port, "--remote-debugging-pipe", "about:blank")
        ) as cdp:
            page = cdp.page_session()
            cdp.call("Page.navigate", {"url": url}, session=page)
            deadline = time.monotonic() + timeout
            dom = ""
            while time.monotonic() < deadline:
                try:
                    found = cdp.call(
                        "Runtime.evaluate",
                        {"expression": "document.documentElement.outerHTML", "returnByValue": True},
                        session=page,
                    )
                except _Refused:
                    found = {}  # asked mid-navigation: the next page is on its way
                dom = str(found.get("result", {}).get("value") or dom)
                if text in dom:
                    break
                time.sleep(0.1)
            return dom


class _Refused(AssertionError):
    """Chromium answered a DevTools command with an error."""


class _DevToolsPipe:
    """Chromium's DevTools protocol over `--remote-debugging-pipe`: JSON messages ended by NUL,
    commands written to the browser's fd 3 and answers read from its fd 4."""

    def __init__(self, command: list[str]) -> None:
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        # The child sees the pipe ends as fds 3 and 4, where Chromium looks for them.
        os.set_inheritable(to_browser_r, True)
        os.set_inheritable(from_browser_w, True)

        def wire() -> None:
            os.dup2(to_browser_r, 3)
            os.dup2(from_browser_w, 4)

        self._process = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=wire,
            close_fds=False,
            start_new_session=True,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0

    def __enter__(self) -> _DevToolsPipe:
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._process.pid, signal.SIGKILL)
        self._process.wait()
        os.close(self._to_browser)
        os.close(self._from_browser)

    def call(
        self, method: str, params: dict[str, object] | None = None, *, session: str | None = None
    ) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, object] = {"id": self._next_id, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + CHROMIUM_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            answer = self._read(deadline)
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise _Refused(f"Chromium refused {method}: {answer['error']}")
                return dict(answer.get("result", {}))
        pytest.fail(f"Chromium did not answer {method} within {CHROMIUM_TIMEOUT_SECONDS} s")

    def page_session(self) -> str:
        targets = self.call("Target.getTargets")["targetInfos"]
        page = next(t["targetId"] for t in targets if t["type"] == "page")
        return str(
            self.call("Target.attachToTarget", {"targetId": page, "flatten": True})["sessionId"]
        )

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            ready, _, _ = select.select(
                [self._from_browser], [], [], max(0.0, deadline - time.monotonic())
            )
            if not ready:
                pytest.fail(f"Chromium said nothing within {CHROMIUM_TIMEOUT_SECONDS} s")
            chunk = os.read(self._from_browser, 65536)
            if not chunk:
                pytest.fail(f"Chromium closed its DevTools pipe (exit {self._process.poll()})")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return dict(json.loads(message))


@pytest.fixture
def chromium(tmp_path: Path) -> Chromium:
    binary = shutil.which("chromium")
    require(binary is not None, "no chromium binary on PATH (Debian: apt-get install chromium)")
    assert binary is not None
    return Chromium(binary=binary, profile=tmp_path / "chromium-profile")
