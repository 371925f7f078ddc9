"""Planning and running `soldscope serve`: what to serve where, then uvicorn until a signal.

uvicorn was chosen as the server because it is the reference ASGI server, pure Python with h11,
handles SIGINT/SIGTERM with a graceful shutdown, and lets soldscope hand it an already bound socket
(so a busy port is soldscope's one-line error, not a log record).
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import signal
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import Any
from urllib.parse import urlsplit

from soldscope_cli.errors import UsageError
from soldscope_cli.services import Services
from soldscope_cli.web.app import HEALTH_PATH, ServeSettings
from soldscope_cli.web.guard import Network, parse_networks, trusted

DEFAULT_LISTEN = "127.0.0.1:8400"
# From a connection's start (or its last response) to a whole request line and headers.
HEADER_TIMEOUT_SECONDS = 10.0
MAX_CONNECTIONS_PER_ADDRESS = 32  # a browser opens a handful; an office behind one NAT, more
MAX_CONNECTIONS = 500  # well below the usual limit of 1024 open files
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class ServePlan:
    """Where serve listens and what it serves."""

    host: str
    port: int
    settings: ServeSettings
    redirect_uri: str
    public_url: str


# How long SIGTERM waits for requests in flight (docs/serve.md).
GRACEFUL_SHUTDOWN_S = 5


def parse_listen(value: str) -> tuple[str, int]:
    """HOST:PORT (IPv6 in brackets); UsageError for anything else."""
    text = value.strip()
    host, sep, port_text = text.rpartition(":")
    host = host.strip("[]") if host.startswith("[") else host
    if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) <= 65535:
        raise UsageError(
            f"--listen {value!r} is not HOST:PORT", hint=f"e.g. --listen {DEFAULT_LISTEN}"
        )
    return host, int(port_text)


def _host_names(url: str) -> set[str]:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
    names = {f"{host}:{port}"}
    if port == _DEFAULT_PORTS.get(parts.scheme):
        names.add(host)
    return names


def _direct_port(url: str) -> int | None:
    """The port of an http:// URL on this machine (what only serve itself can answer), or None."""
    from soldscope_cli.amazon.endpoints import is_loopback_http

    return (urlsplit(url).port or _DEFAULT_PORTS["http"]) if is_loopback_http(url) else None


def _listens_on_loopback(host: str) -> bool:
    if host in ("localhost", "0.0.0.0", "::"):  # noqa: S104 (names, not binds)
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_reachable(host: str, port: int, redirect_uri: str, public_url: str) -> None:
    """Refuse to listen where no invitation link or callback can arrive (UsageError, exit 2).

    Only http:// URLs on this machine are checked: an https URL has a proxy in front, whose
    mapping serve cannot know. A home kept by `demo --keep` points at the demo's own port.
    """
    ports = {url: p for url in (redirect_uri, public_url) if (p := _direct_port(url)) is not None}
    if len(set(ports.values())) > 1:
        wanted = ports[redirect_uri]
        raise UsageError(
            f"invitation links ({public_url}) and the redirect URI ({redirect_uri}) point at "
            "different ports of this machine, and serve listens on one",
            hint=f"set [serve] public_url (or SOLDSCOPE_PUBLIC_URL) to "
            f"http://127.0.0.1:{wanted}, or leave it unset",
        )
    for url, wanted in ports.items():
        if wanted != port or not _listens_on_loopback(host):
            what = "the redirect URI points" if url == redirect_uri else "invitation links point"
            raise UsageError(
                f"serve would listen on {host}:{port}, but {what} at {url}: "
                "no seller's browser would reach it",
                hint=f"run `soldscope serve --listen 127.0.0.1:{wanted}`",
            )


def plan_serve(services: Services, listen: str, trusted_proxies: list[str]) -> ServePlan:
    """Everything serve needs, checked before anything listens (ConfigError/UsageError: exit 2)."""
    from soldscope_cli.fleet.app_credentials import resolve_app
    from soldscope_cli.onboarding.invitations import resolve_public_url

    host, port = parse_listen(listen)
    try:
        proxies = parse_networks(trusted_proxies)
    except ValueError as exc:
        raise UsageError(
            f"--trusted-proxy: {exc}",
            hint="give an address or network, e.g. 127.0.0.1 or 10.0.0.0/8",
        ) from None
    config = services.config()
    creds = resolve_app(config.app, services.env, services.secret_store)
    creds.require(redirect=True)
    assert creds.redirect_uri is not None  # by require()
    redirect = urlsplit(creds.redirect_uri)
    public_url = resolve_public_url(config, services.env, creds.redirect_uri)
    prefix = urlsplit(public_url).path.rstrip("/")
    callback_path = redirect.path or "/"
    if (
        redirect.query
        or callback_path.startswith(f"{prefix}/invite/")
        or callback_path == HEALTH_PATH
        or callback_path.rstrip("/") == f"{prefix}/invite"
    ):
        raise UsageError(
            f"serve cannot answer the redirect URI {creds.redirect_uri}: its path "
            f"{callback_path!r} {'has a query' if redirect.query else 'is taken by invitation links'}",
            hint="register and set a redirect URI such as https://agency.example/callback "
            "(`soldscope app set --redirect-uri URI`)",
        )
    if not proxies:
        _check_reachable(host, port, creds.redirect_uri, public_url)
    allowed = _host_names(creds.redirect_uri) | _host_names(public_url)
    allowed |= _host_names(f"http://{host}:{port}")
    if host in ("127.0.0.1", "0.0.0.0", "localhost", "::", "::1"):  # noqa: S104 (names, not binds)
        allowed |= {f"127.0.0.1:{port}", f"localhost:{port}"}
    settings = ServeSettings(
        callback_path=callback_path,
        invite_prefix=prefix,
        allowed_hosts=frozenset(allowed),
        trusted_proxies=proxies,
    )
    return ServePlan(host, port, settings, creds.redirect_uri, public_url)


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, or a UsageError naming why not."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise UsageError(
                f"{host}:{port} is already in use",
                hint="stop what holds it, or choose another address with --listen HOST:PORT",
            ) from None
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def guarded_protocol(
    trusted_proxies: list[Network], say: Callable[[str], None]
) -> type[asyncio.Protocol]:
    """uvicorn's h11 protocol with what it lacks against slowloris: a time limit on reading a
    request's headers, and a limit on the connections one address holds open.

    uvicorn's `timeout_keep_alive` only runs between requests and any byte received cancels it,
    so a connection that sends nothing, or a header line every few seconds, was held forever; and
    its `limit_concurrency` then answered everyone 503 (from uvicorn itself: no security headers,
    nothing in serve's log). Here a connection has HEADER_TIMEOUT_SECONDS from opening (or from its
    last response) to a complete request line and headers, or it is closed; one address may hold
    MAX_CONNECTIONS_PER_ADDRESS (a --trusted-proxy is exempt: it keeps its own limits), and serve
    as a whole MAX_CONNECTIONS. A connection over a limit is closed before anything is read.
    """
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    open_by_address: Counter[str] = Counter()
    refusing: set[str] = set()  # addresses told about, until they hold no connection ("": all)
    total = [0]

    class GuardedH11Protocol(H11Protocol):
        _header_timer: asyncio.TimerHandle | None = None
        _counted: str | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            address = self.client[0] if self.client else "-"
            exempt = trusted(address, trusted_proxies)
            over_address = not exempt and open_by_address[address] >= MAX_CONNECTIONS_PER_ADDRESS
            if over_address or total[0] >= MAX_CONNECTIONS:
                key = address if over_address else ""
                if key not in refusing:
                    refusing.add(key)
                    say(
                        f"refusing connections from {address}: too many connections from one "
                        f"address (at most {MAX_CONNECTIONS_PER_ADDRESS} at once)"
                        if over_address
                        else f"refusing connections: too many connections (at most {MAX_CONNECTIONS})"
                    )
                transport.abort()
                return
            total[0] += 1
            if not exempt:
                open_by_address[address] += 1
            self._counted = address if not exempt else ""
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            if self._counted is not None:
                total[0] -= 1
                if total[0] <= MAX_CONNECTIONS // 2:
                    refusing.discard("")
                if self._counted:
                    open_by_address[self._counted] -= 1
                    if open_by_address[self._counted] <= 0:  # its episode is over: say it again
                        del open_by_address[self._counted]
                        refusing.discard(self._counted)
                self._counted = None
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.conn.their_state is not h11.IDLE:  # the request line and headers are in
                self._disarm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
                self._arm()  # the next request's headers get the same time

        def _arm(self) -> None:
            self._disarm()
            self._header_timer = self.loop.call_later(HEADER_TIMEOUT_SECONDS, self._too_slow)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _too_slow(self) -> None:
            self._header_timer = None
            if not self.transport.is_closing():
                self.transport.close()

    return GuardedH11Protocol


def make_server(
    app: Any,
    on_stop: Callable[[int], None],
    *,
    trusted_proxies: list[Network] | None = None,
    say: Callable[[str], None] = lambda text: None,
) -> Any:
    """A uvicorn server for the app whose SIGINT/SIGTERM end it normally (`.run(sockets=...)`)."""
    import uvicorn

    class _Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            # uvicorn re-raises a captured signal after shutting down; serve ends normally.
            if self.should_exit and sig == signal.SIGINT:
                self.force_exit = True
            else:
                on_stop(sig)
                self.should_exit = True

    config = uvicorn.Config(
        app,
        http=guarded_protocol(trusted_proxies or [], say),
        log_config=None,
        log_level="warning",
        access_log=False,  # uvicorn's would print query strings: the Guard logs paths only
        server_header=False,
        proxy_headers=False,  # the Guard honours X-Forwarded-* from --trusted-proxy only
        lifespan="off",
        # No limit_concurrency: its 503 comes from uvicorn, past the Guard. Connections are
        # limited by the protocol above, requests in flight by the Guard (a 503 page it logs).
        limit_concurrency=None,
        timeout_keep_alive=5,
        h11_max_incomplete_event_size=16 * 1024,
        # SIGTERM: what is in flight gets this long, then serve exits anyway. Without a bound a
        # connection that never completes (a stuck client, an attack in progress) holds the
        # process for ever, and systemd's stop waits for it.
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
    )
    return _Server(config)


def run(
    app: Any,
    sock: socket.socket,
    on_stop: Callable[[int], None],
    *,
    trusted_proxies: list[Network],
    say: Callable[[str], None],
) -> None:
    """Serve until SIGINT or SIGTERM; both end a graceful shutdown, and this returns.

    Requests still running past the grace period (a callback waiting on Login with Amazon) are
    cancelled, but their handler threads cannot be: `abandoned_requests` counts them, so the
    process can end without waiting for them.
    """
    make_server(app, on_stop, trusted_proxies=trusted_proxies, say=say).run(sockets=[sock])


def abandoned_requests(wait: float = 0.5) -> int:
    """Handler threads still running once serve has stopped (given `wait` seconds in all)."""
    busy = [t for t in threading.enumerate() if t.name == "AnyIO worker thread" and t.is_alive()]
    # One deadline for all of them: a wait per thread would hold a stop for threads × `wait`.
    deadline = time.monotonic() + wait
    for thread in busy:
        thread.join(max(0.0, deadline - time.monotonic()))
    return sum(1 for t in busy if t.is_alive())


@contextmanager
def serving_in_thread(app: Any, sock: socket.socket) -> Iterator[None]:
    """Serve on a background thread while the block runs (the demo's serve); then stop it."""
    server = make_server(app, lambda sig: None)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started and thread.is_alive():
            threading.Event().wait(0.01)
        yield
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
