"""The loopback HTTP server: one base URL serving LWA, Seller Central consent, SP-API and /_admin."""

from __future__ import annotations

import contextlib
import logging
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from soldscope_cli.amazon.endpoints import LWA_URL_ENV, SELLER_CENTRAL_URL_ENV, SPAPI_URL_ENV
from soldscope_cli.simulator.clock import Clock, Sleep
from soldscope_cli.simulator.demo import demo_scenario
from soldscope_cli.simulator.engine import Engine
from soldscope_cli.simulator.lwa import TOKEN_PATH
from soldscope_cli.simulator.scenario import Scenario, load_scenario
from soldscope_cli.simulator.tokens import request_id
from soldscope_cli.simulator.web import Request, Response, spapi_error

log = logging.getLogger("soldscope_cli.simulator")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # benchmarks open hundreds of store connections at once

    def __init__(self, address: tuple[str, int], engine: Engine) -> None:
        self.engine = engine
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that went away mid-answer (a killed process, a closed tab) is routine here.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and chunked transfer encoding
    timeout = 60  # idle keep-alive connections are dropped, so handler threads do not pile up
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without this, Nagle plus delayed ACKs add
        # ~40 ms to every response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.server.connections_lock:
                self.server.connections.discard(self.connection)

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            self._send(spapi_error(400, "InvalidInput", "Invalid Content-Length header."))
            return
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
        request = Request(
            method="GET" if self.command == "HEAD" else self.command,
            path=unquote(parts.path),
            query=parse_qs(parts.query, keep_blank_values=True),
            headers={key.lower(): value for key, value in self.headers.items()},
            body=body,
            base_url=f"http://{host}",
        )
        try:
            response = self.server.engine.handle(request)
        except Exception:  # a simulator bug must come back as a 500, not a dropped connection
            log.exception("simulator error on %s %s", self.command, parts.path)
            response = spapi_error(500, "InternalFailure", "The simulator failed on this request.")
            response.headers["x-amzn-RequestId"] = request_id()
        self._send(response)

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        body = response.body
        if isinstance(body, bytes):
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            return
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if self.command == "HEAD":
            return
        try:
            for chunk in body:
                if chunk:
                    self.wfile.write(b"%x\r\n%b\r\n" % (len(chunk), chunk))
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            # The client stopped reading (e.g. it only wanted the first rows): stop generating.
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        # The query string is left out on purpose: it can carry tokens and signatures.
        log.debug(
            "%s %s %s", self.command, urlsplit(self.path).path, args[1] if len(args) > 1 else ""
        )


class Simulator(Engine):
    """The local Amazon: `start()` serves it on loopback; the admin methods work before and after."""

    def __init__(
        self,
        scenario: Scenario | None = None,
        *,
        clock: Clock | None = None,
        sleep: Sleep | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(
            scenario if scenario is not None else demo_scenario(), clock=clock, sleep=sleep
        )
        self.host = host
        self.port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._url: str | None = None

    @classmethod
    def demo(cls, **options: Any) -> Simulator:
        """A simulator playing the built-in demo scenario."""
        return cls(demo_scenario(), **options)

    @classmethod
    def from_file(cls, path: Path, **options: Any) -> Simulator:
        """A simulator playing a TOML or JSON scenario file (ScenarioError when it is bad)."""
        return cls(load_scenario(path), **options)

    def start(self) -> str:
        """Listen and serve in a daemon thread; returns the base URL."""
        if self._server is not None:
            return self.url
        self._server = _Server((self.host, self.port), self)
        host, port = self._server.server_address[:2]
        # A wildcard bind is reachable on loopback; print that, not the wildcard.
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else str(host)  # noqa: S104
        self._url = f"http://{shown}:{port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.01},  # stop() waits up to one poll
            name="soldscope-simulator",
            daemon=True,
        )
        self._thread.start()
        return self._url

    def stop(self) -> None:
        """Stop serving and drop open connections."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        with server.connections_lock:
            open_connections = list(server.connections)
        for connection in open_connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    @property
    def url(self) -> str:
        """Base URL (after start)."""
        if self._url is None:
            raise RuntimeError("the simulator is not started; call start() first")
        return self._url

    @property
    def running(self) -> bool:
        """Whether the server is listening."""
        return self._server is not None

    def env(self) -> dict[str, str]:
        """The SOLDSCOPE_* variables that point soldscope at this simulator."""
        return {
            LWA_URL_ENV: self.url + TOKEN_PATH,
            SPAPI_URL_ENV: self.url,
            SELLER_CENTRAL_URL_ENV: self.url,
        }

    def consent_url(
        self, *, state: str = "state", redirect_uri: str | None = None, beta: bool = False
    ) -> str:
        """The consent page URL for this app, as soldscope would build it."""
        params = {"application_id": self.scenario.app.application_id, "state": state}
        if redirect_uri is not None:
            params["redirect_uri"] = redirect_uri
        if beta:
            params["version"] = "beta"
        return f"{self.url}/apps/authorize/consent?{urlencode(params)}"

    def __enter__(self) -> Simulator:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
