"""The ASGI layer in front of every page: proxies, Host, size, rate, headers and the access log.

Pure ASGI (no framework) so it also covers what Starlette never sees: a wrong Host, an oversized
request, a flood from one address.
"""

from __future__ import annotations

import ipaddress
import re
import threading
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from soldscope_cli.consent import pages
from soldscope_cli.untrusted import printable

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_TARGET_BYTES = 4096  # path and query; Amazon's callback is a few hundred bytes
MAX_BODY_BYTES = 1024  # nothing served takes a body
RATE_WINDOW_SECONDS = 60.0
RATE_LIMIT = 60  # requests per client address and window
RATE_MAX_ADDRESSES = 10_000  # addresses remembered at once
MAX_IN_FLIGHT = 100  # requests being answered at once; past it a 503 page, with the headers
HSTS = "max-age=31536000"
# Invitation and calendar feed tokens are secrets: the access log shows that a link was opened,
# never which.
_TOKEN_IN_PATH = re.compile(r"(/invite/|/calendar/)[^/]+")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(values: Iterable[str]) -> list[Network]:
    """--trusted-proxy values: addresses or networks (ValueError for anything else)."""
    return [ipaddress.ip_network(value.strip(), strict=False) for value in values]


UNKNOWN_CLIENT = "unknown"


def forwarded_address(text: str) -> str:
    """One X-Forwarded-For entry as an address: `ip`, `ip:port`, `[v6]`, `[v6]:port`; anything
    else (`unknown`, an obfuscated name) is "unknown", so it can neither raise nor reach the log."""
    value = text.strip()
    if value.startswith("["):
        value = value[1:].partition("]")[0]
    elif value.count(":") == 1:
        value = value.partition(":")[0]
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return UNKNOWN_CLIENT


def is_loopback(address: str | None) -> bool:
    """Whether a client address is this machine's (False for anything that is not an address)."""
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def trusted(address: str | None, networks: list[Network]) -> bool:
    if not address or not networks:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)


@dataclass
class RateLimiter:
    """At most `limit` requests per address in any `window` seconds (a sliding log per address).

    Addresses are kept least recently seen first (an OrderedDict), so a request costs the same
    however many addresses were seen, and past `max_addresses` the longest-quiet one is forgotten:
    memory stays bounded when a flood comes from ever new addresses.
    """

    clock: Callable[[], float]
    limit: int = RATE_LIMIT
    window: float = RATE_WINDOW_SECONDS
    max_addresses: int = RATE_MAX_ADDRESSES
    _seen: OrderedDict[str, deque[float]] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def allow(self, address: str) -> bool:
        """Count a request from `address`; False when it is over its limit."""
        now = self.clock()
        with self._lock:
            log = self._seen.get(address)
            if log is None:
                log = self._seen[address] = deque()
                if len(self._seen) > self.max_addresses:
                    self._seen.popitem(last=False)
            else:
                self._seen.move_to_end(address)
            while log and log[0] <= now - self.window:
                log.popleft()
            if len(log) >= self.limit:
                return False
            log.append(now)
            return True

    def __len__(self) -> int:
        return len(self._seen)


def log_path(path: str) -> str:
    """A request path as the access log shows it: no query string, no link token, and on one
    line without control characters (the path arrives percent-decoded: `/%0a…` or `/%1b[2J`
    would forge a log line or drive the operator's terminal)."""
    return printable(_TOKEN_IN_PATH.sub(r"\1…", path))


@dataclass
class Guard:
    """Wraps the app: every response passes through here."""

    app: ASGIApp
    allowed_hosts: frozenset[str]
    trusted_proxies: list[Network]
    limiter: RateLimiter
    log: Callable[[str], None]
    agency: Callable[[], str | None] = lambda: None
    max_in_flight: int = MAX_IN_FLIGHT
    _in_flight: int = 0  # only the event loop's thread touches it

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        client = (scope.get("client") or ("-", 0))[0]
        host = headers.get("host", "")
        if trusted(client, self.trusted_proxies):
            forwarded_for = [
                forwarded_address(a)
                for a in headers.get("x-forwarded-for", "").split(",")
                if a.strip()
            ]
            outside = [a for a in forwarded_for if not trusted(a, self.trusted_proxies)]
            if outside:
                client = outside[-1]  # the nearest address the proxies did not add themselves
            host = headers.get("x-forwarded-host", host).split(",")[0].strip()
            proto = headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
            if proto in ("http", "https"):
                scope["scheme"] = proto
            scope["client"] = (client, 0)
        status_seen: list[int] = []

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_seen.append(int(message["status"]))
                extra = [
                    (b"cache-control", b"no-store"),
                    (b"strict-transport-security", HSTS.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"x-frame-options", b"DENY"),
                    (b"content-security-policy", pages.PAGE_CSP.encode()),
                ]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        path = scope.get("path", "")
        try:
            problem = self._refuse(scope, headers, host, client)
            if problem is None and self._in_flight >= self.max_in_flight:
                problem = (
                    503,
                    pages.invitation_page(
                        "info",
                        "Temporarily busy",
                        "The connection service is busy right now. Nothing was changed. "
                        "Please try again in a minute.",
                        self.agency(),
                        retry=True,
                    ),
                )
            if problem is not None:
                await _page(send_with_headers, *problem)
            else:
                self._in_flight += 1
                try:
                    await self.app(scope, receive, send_with_headers)
                finally:
                    self._in_flight -= 1
        finally:
            status = status_seen[0] if status_seen else 0
            self.log(f"{client} {scope.get('method', '-')} {log_path(path)} {status}")

    def _refuse(
        self, scope: Scope, headers: dict[str, str], host: str, client: str
    ) -> tuple[int, str] | None:
        if not self.limiter.allow(client):
            return 429, pages.invitation_page(
                "info",
                "Too many requests",
                "Too many requests came from your address. Wait a minute and try again.",
                self.agency(),
                retry=False,
            )
        if host.lower() not in self.allowed_hosts:
            return 421, pages.not_found_page()
        target = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
        if target > MAX_TARGET_BYTES:
            return 414, pages.not_found_page()
        try:
            length = int(headers.get("content-length", "0") or "0")
        except ValueError:
            length = MAX_BODY_BYTES + 1
        if length > MAX_BODY_BYTES or "transfer-encoding" in headers:
            return 413, pages.not_found_page()
        if scope.get("method") not in ("GET", "HEAD"):
            return 405, pages.not_found_page()
        return None


async def _page(send: Send, status: int, body: str) -> None:
    data = body.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/html; charset=utf-8"),
                (b"content-length", str(len(data)).encode()),
                *([(b"allow", b"GET, HEAD")] if status == 405 else []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})
