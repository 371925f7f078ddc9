"""The installed `soldscope serve` as a process, for the tests that drive it over real sockets."""

from __future__ import annotations

import signal
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field

from tests.e2e.conftest import SOLDSCOPE


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def two_sellers(first: str, second: str, *, auto_confirm: bool) -> dict[str, object]:
    """A simulator scenario with two US sellers; the consent page is signed in as `first`."""
    consent: dict[str, object] = {"signed_in_seller": first}
    if auto_confirm:
        consent = {"auto_confirm": True, **consent}
    return {
        "sellers": [
            {"selling_partner_id": seller, "region": "na", "marketplaces": ["US"]}
            for seller in (first, second)
        ],
        "consent": consent,
    }


@dataclass
class Serve:
    """A running `soldscope serve` and what it wrote on stderr so far."""

    base: str
    process: subprocess.Popen[bytes]
    err: bytearray = field(default_factory=bytearray)
    reader: threading.Thread | None = None

    @property
    def log(self) -> str:
        return bytes(self.err).decode()

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Signal it and wait; its exit code (killed if it does not stop)."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(15)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            if self.reader is not None:
                self.reader.join(5)
            if self.process.stderr is not None:
                self.process.stderr.close()


def start_serve(base: str, env: Mapping[str, str], *args: str) -> Serve:
    """`soldscope serve --listen ARGS` at base's host and port, once /healthz answers."""
    process = subprocess.Popen(
        [str(SOLDSCOPE), "serve", "--listen", base.removeprefix("http://"), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=dict(env),
    )
    serve = Serve(base, process)

    def read() -> None:
        assert process.stderr is not None
        while chunk := process.stderr.read1(4096):
            serve.err.extend(chunk)

    serve.reader = threading.Thread(target=read, daemon=True)
    serve.reader.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=1) as answer:
                if answer.status == 200:
                    return serve
        except OSError:
            time.sleep(0.1)
    serve.stop(signal.SIGKILL)
    raise AssertionError(f"serve did not start: {serve.log}")
