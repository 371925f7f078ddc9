"""Amazon's website consent round trip: state, consent URL, loopback listener, manual paste."""

from __future__ import annotations

import errno
import hmac
import re
import secrets
import socketserver
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self
from urllib.parse import parse_qs, quote, urlencode, urlsplit

from soldscope_cli.consent import pages as consent_pages
from soldscope_cli.errors import UnhealthyError, UsageError
from soldscope_cli.untrusted import is_printable, printable

CALLBACK_PATH = "/callback"
PING_PATH = "/ping"
LISTEN_HOST = "127.0.0.1"
CODE_LIFETIME_SECONDS = 300  # FACTS §1: spapi_oauth_code dies 5 minutes after consent
MIN_RELAY_PORT = 1024  # the relay page refuses privileged ports (docs/relay/index.html)
MAX_PORT = 65535
_STATE_RANDOM_BYTES = 24  # 192 bits: RFC 6749 §10.12 wants a state nobody can guess
TICK_SECONDS = 1.0  # how often wait() re-reads the clock and calls on_tick
_MAX_QUERY_FIELDS = 50
_HANDLER_TIMEOUT_SECONDS = 10.0
_MD_CODE = re.compile(r"\bMD\d{4}\b", re.IGNORECASE)
_INVALID_ACCESS = re.compile(r"invalid\s+access", re.IGNORECASE)

# Amazon shows these on its own consent page (and may pass them in error_description).
# Source: developer-docs.amazon.com/sp-api/docs/authorization-errors and FACTS §1.
MD_ERRORS: Mapping[str, str] = {
    "MD1000": "the app is still in Draft, so the consent link needs version=beta "
    "(mark the app as draft in soldscope and connect again)",
    "MD5101": "the redirect URI is not registered for the app: it must match one under "
    "Developer Central → Edit App → OAuth Redirect URIs exactly",
    "MD5110": "the redirect URI contains '#', which Amazon refuses: register and use one "
    "without a fragment",
    "MD9100": "Amazon could not start the authorization for this app, usually because its "
    "OAuth login or redirect URIs are not set up in Developer Central (meaning unconfirmed)",
}
INVALID_ACCESS_MEANING = (
    "only the seller's primary Seller Central user can authorize apps; "
    "ask the account owner to open the link"
)
_OAUTH_ERRORS: Mapping[str, str] = {
    "access_denied": "the seller pressed Cancel, or Amazon refused the authorization",
    "invalid_request": "Amazon rejected the consent link (a parameter is missing or wrong)",
    "unauthorized_client": "Amazon does not allow this app to ask for consent this way",
    "server_error": "Amazon had an internal error; try again in a few minutes",
    "temporarily_unavailable": "Amazon is temporarily unavailable; try again in a few minutes",
}


def explain_consent_error(text: str) -> str | None:
    """The meaning of the first MD error code (or "Invalid Access") found in Amazon's text."""
    match = _MD_CODE.search(text)
    if match:
        code = match.group(0).upper()
        meaning = MD_ERRORS.get(code)
        return f"{code}: {meaning}" if meaning else None
    if _INVALID_ACCESS.search(text):
        return f"Invalid Access: {INVALID_ACCESS_MEANING}"
    return None


def _clean(text: str, limit: int = 200) -> str:
    # Amazon's error text is untrusted and ends up in a terminal: no escape sequences, one line.
    return printable(text, limit=limit)


class ConsentError(UnhealthyError):
    """The consent round trip did not yield a usable authorization code."""

    title = "The authorization did not complete"


class StateMismatch(ConsentError):
    """A callback whose state is missing or differs from the one this attempt sent."""

    title = "This answer belongs to another consent link"


class ConsentDenied(ConsentError):
    """Amazon redirected back with an `error` parameter instead of a code."""

    title = "Amazon did not authorize the app"

    def __init__(self, error: str, description: str | None = None, *, connect_args: str) -> None:
        self.error = _clean(error, 60) or "unknown_error"
        self.description = _clean(description) if description else None
        self.explanation = explain_consent_error(
            f"{self.error} {self.description or ''}"
        ) or _OAUTH_ERRORS.get(self.error)
        detail = f" ({self.description})" if self.description else ""
        super().__init__(
            f"Amazon did not authorize the app: {self.error}{detail}",
            hint=(
                f"{self.explanation}; then run `soldscope connect {connect_args}` again"
                if self.explanation
                else f"run `soldscope connect {connect_args}` again when the seller is ready"
            ),
        )


class MissingCode(ConsentError):
    """The callback or pasted address has no spapi_oauth_code (or no selling_partner_id)."""

    title = "Amazon's answer was incomplete"


class ConsentTimeout(ConsentError):
    """No valid callback arrived before the deadline."""

    title = "No answer from Amazon in time"

    def __init__(self, seconds: float, mismatched: int, *, connect_args: str) -> None:
        self.seconds = seconds
        self.mismatched = mismatched
        seen = (
            f"; ignored {mismatched} answer(s) whose state did not match "
            "(an old link, or a request that did not come from Amazon)"
            if mismatched
            else ""
        )
        super().__init__(
            f"no answer from Amazon within {seconds:g} s{seen}",
            hint=(
                "if the browser shows soldscope's relay page with an address to copy, run "
                f"`soldscope connect {connect_args} --manual` within 5 minutes of consenting and "
                f"paste it; otherwise run `soldscope connect {connect_args}` again"
            ),
        )


@dataclass(frozen=True)
class ConsentResult:
    """What Amazon handed back after the seller consented."""

    code: str = field(repr=False)  # secret: exchange it within 5 minutes, never print it
    state: str
    selling_partner_id: str
    raw_query: str = field(repr=False)  # contains the code


def new_state(port: int | None) -> str:
    """A fresh OAuth state; `<port>.<random>` when a relay page must find the listener."""
    token = secrets.token_urlsafe(_STATE_RANDOM_BYTES)  # alphabet has no '.', so the prefix parses
    if port is None:
        return token
    if not MIN_RELAY_PORT <= port <= MAX_PORT:
        raise UsageError(
            f"port {port} cannot be used with a relay page",
            hint=f"choose a port between {MIN_RELAY_PORT} and {MAX_PORT}",
        )
    return f"{port}.{token}"


def consent_url(
    seller_central_base: str, application_id: str, state: str, redirect_uri: str, draft: bool
) -> str:
    """The Seller Central consent URL the seller opens."""
    if "#" in redirect_uri:
        raise UsageError(
            "the redirect URI contains '#', which Amazon refuses (MD5110)",
            hint="register and configure a redirect URI without a fragment",
        )
    params = [("application_id", application_id), ("state", state), ("redirect_uri", redirect_uri)]
    if draft:
        params.append(("version", "beta"))  # FACTS §1: without it a Draft app fails with MD1000
    query = urlencode(params, quote_via=quote)
    return f"{seller_central_base.rstrip('/')}/apps/authorize/consent?{query}"


def _same_state(received: str, expected: str) -> bool:
    return hmac.compare_digest(received.encode(), expected.encode())


def _check(
    params: Mapping[str, list[str]], raw_query: str, expected_state: str, connect_args: str
) -> ConsentResult:
    states = params.get("state", [])
    if not states:
        raise StateMismatch(
            "Amazon's answer has no state parameter",
            hint="use the link soldscope printed for this attempt",
        )
    if len(states) != 1 or not _same_state(states[0], expected_state):
        raise StateMismatch(
            "the answer's state does not match this consent attempt",
            hint=f"use the link the latest `soldscope connect {connect_args}` printed; "
            "answers to older links cannot be used",
        )
    errors = params.get("error", [])
    if errors:
        descriptions = params.get("error_description", [])
        raise ConsentDenied(
            errors[0], descriptions[0] if descriptions else None, connect_args=connect_args
        )
    codes = params.get("spapi_oauth_code", [])
    if len(codes) != 1 or not codes[0]:
        raise MissingCode(
            "Amazon's answer has no single spapi_oauth_code",
            hint=f"run `soldscope connect {connect_args}` again",
        )
    seller_ids = params.get("selling_partner_id", [])
    if len(seller_ids) != 1 or not seller_ids[0] or not is_printable(seller_ids[0]):
        raise MissingCode(
            "Amazon's answer has no selling_partner_id",
            hint=f"run `soldscope connect {connect_args}` again",
        )
    return ConsentResult(codes[0], states[0], seller_ids[0], raw_query)


def _parse_query(query: str) -> dict[str, list[str]]:
    try:
        return parse_qs(query, keep_blank_values=True, max_num_fields=_MAX_QUERY_FIELDS)
    except ValueError:
        return {}


def parse_callback(
    url_or_query: str, expected_state: str, *, connect_args: str = "NAME"
) -> ConsentResult:
    """Parse a pasted callback address (loopback, relay page or redirect URI) or bare query."""
    # Terminals wrap long URLs and users paste them quoted; none of that is part of the URL.
    text = "".join(url_or_query.split()).strip("\"'`<>").replace("&amp;", "&")
    query = text.split("?", 1)[1] if "?" in text else text
    query = query.split("#", 1)[0]
    if not text:
        raise MissingCode(
            "nothing was pasted",
            hint="paste the whole address the browser shows after the seller consents, "
            "starting with http:// or https://, then press Enter",
        )
    params = _parse_query(query)
    if not {"spapi_oauth_code", "state", "error"} & params.keys():
        raise MissingCode(
            "what was pasted has no spapi_oauth_code",
            hint="paste the whole address the browser shows after the seller consents, "
            "starting with http:// or https://",
        )
    if "error" in params and "state" not in params:
        descriptions = params.get("error_description", [])
        raise ConsentDenied(
            params["error"][0], descriptions[0] if descriptions else None, connect_args=connect_args
        )
    return _check(params, query, expected_state, connect_args)


@dataclass(frozen=True)
class _Reply:
    status: HTTPStatus
    body: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    outcome: ConsentResult | ConsentError | None = None


def _failure(exc: ConsentError) -> str:
    action = exc.hint or "close this tab and look at the terminal"
    detail = exc.message
    if isinstance(exc, ConsentDenied) and exc.explanation:
        detail = f"{detail}. {exc.explanation[0].upper()}{exc.explanation[1:]}."
    return consent_pages.failure_page(exc.title, detail, action)


class _Server(ThreadingHTTPServer):
    # A browser's idle preconnect must not block the callback, hence one thread per request.
    daemon_threads = True
    # On Windows SO_REUSEADDR lets another process bind the same port and steal the callback.
    allow_reuse_address = sys.platform != "win32"
    listener: CallbackListener

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse DNS lookup we neither need nor want to wait on.
        socketserver.TCPServer.server_bind(self)
        self.server_name = LISTEN_HOST
        self.server_port = int(self.socket.getsockname()[1])

    def handle_error(self, request: object, client_address: object) -> None:
        # The default prints a traceback to stderr; a dropped browser connection is not news.
        return


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = _HANDLER_TIMEOUT_SECONDS
    server_version = "soldscope"
    sys_version = ""

    def log_message(self, format: str, *args: object) -> None:
        # Request lines carry the authorization code: never write them anywhere.
        return

    def do_GET(self) -> None:
        self._answer()

    def do_HEAD(self) -> None:
        self._answer()

    def do_OPTIONS(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def _answer(self) -> None:
        reply = self.server.listener._dispatch(self.command, self.path, self.headers.get("Host"))
        try:
            data = reply.body.encode()
            self.send_response(reply.status)
            for name, value in reply.headers:
                self.send_header(name, value)
            if data:
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Security-Policy", consent_pages.PAGE_CSP)
                self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("Referrer-Policy", "no-referrer")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            self.wfile.flush()
        finally:
            # Published only after the page went out, so closing cannot cut the browser off.
            if reply.outcome is not None:
                self.server.listener._publish(reply.outcome)


class CallbackListener:
    """A one-shot HTTP listener on 127.0.0.1 that catches Amazon's consent redirect.

    The first callback on a redirect path whose state matches ends the wait: a code gives a
    ConsentResult; an `error` (the seller pressed Cancel, or Amazon refused) raises
    ConsentDenied, since only the real consent page knows the state. Callbacks with a wrong
    or missing state are answered with a failure page and otherwise ignored, so a forged
    request cannot abort a real consent; a timeout reports how many were seen.
    """

    def __init__(
        self,
        *,
        label: str,
        port: int = 0,
        state: str | None = None,
        port_in_state: bool = False,
        connect_args: str = "NAME",
        callback_path: str = CALLBACK_PATH,
        clock: Callable[[], float] = time.monotonic,
        tick_seconds: float = TICK_SECONDS,
    ) -> None:
        self._label = label
        self._tick = tick_seconds
        self._connect_args = connect_args
        self._clock = clock
        self._paths = {CALLBACK_PATH, _checked_path(callback_path)}
        self._callback_path = callback_path
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._claimed = False
        self._closed = False
        self._mismatched = 0
        self._outcome: ConsentResult | ConsentError | None = None
        if not 0 <= port <= MAX_PORT:
            raise UsageError(
                f"port {port} does not exist", hint=f"choose a port between 1 and {MAX_PORT}"
            )
        try:
            self._server = _Server((LISTEN_HOST, port), _Handler, bind_and_activate=True)
        except OSError as exc:
            raise _bind_error(port, exc) from None
        self._server.listener = self
        self.port: int = self._server.server_port
        self._hosts = {f"{LISTEN_HOST}:{self.port}", f"localhost:{self.port}"}
        try:
            self.state: str = (
                state if state is not None else new_state(self.port if port_in_state else None)
            )
        except UsageError:
            self._server.server_close()
            raise
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"soldscope-consent-{self.port}",
            daemon=True,
        )
        self._thread.start()

    def redirect_uri(self, path: str | None = None) -> str:
        """The loopback redirect URI for this listener; a given path is accepted from now on."""
        chosen = self._callback_path if path is None else _checked_path(path)
        with self._lock:
            self._paths.add(chosen)
        return f"http://{LISTEN_HOST}:{self.port}{chosen}"

    @property
    def mismatched_callbacks(self) -> int:
        """How many callbacks with a wrong or missing state were rejected so far."""
        with self._lock:
            return self._mismatched

    def wait(
        self, timeout: float, *, on_tick: Callable[[float], None] | None = None
    ) -> ConsentResult:
        """Block until the consent callback arrives; the listener is closed afterwards."""
        deadline = self._clock() + timeout
        try:
            while not self._done.is_set():
                remaining = deadline - self._clock()
                if remaining <= 0:
                    raise ConsentTimeout(
                        timeout, self.mismatched_callbacks, connect_args=self._connect_args
                    )
                if self._closed:
                    raise RuntimeError("the consent listener was closed before an answer came")
                if on_tick is not None:
                    on_tick(remaining)
                self._done.wait(min(self._tick, remaining))
        finally:
            self.close()
        outcome = self._outcome
        if isinstance(outcome, ConsentError):
            raise outcome
        assert outcome is not None  # _done is only set together with an outcome
        return outcome

    def close(self) -> None:
        """Stop serving and free the port; safe to call more than once."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _publish(self, outcome: ConsentResult | ConsentError) -> None:
        with self._lock:
            self._outcome = outcome
        self._done.set()

    def _dispatch(self, method: str, target: str, host: str | None) -> _Reply:
        if (host or "").lower() not in self._hosts:
            # Only a browser addressing 127.0.0.1 directly is expected; this blunts DNS rebinding.
            return _Reply(HTTPStatus.MISDIRECTED_REQUEST, consent_pages.not_found_page())
        parts = urlsplit(target)
        if parts.path == PING_PATH:
            return _ping(method)
        with self._lock:
            known = parts.path in self._paths
        if not known:
            return _Reply(HTTPStatus.NOT_FOUND, consent_pages.not_found_page())
        if method != "GET":
            # Only the browser's redirect may use up the one answer this listener takes.
            return _Reply(HTTPStatus.METHOD_NOT_ALLOWED, headers=(("Allow", "GET"),))
        return self._callback(parts.query)

    def _callback(self, query: str) -> _Reply:
        with self._lock:
            if self._claimed:
                return _Reply(HTTPStatus.OK, consent_pages.already_used_page())
            try:
                result = _check(_parse_query(query), query, self.state, self._connect_args)
            except StateMismatch as exc:
                self._mismatched += 1
                return _Reply(HTTPStatus.BAD_REQUEST, _failure(exc))
            except ConsentError as exc:
                self._claimed = True
                return _Reply(HTTPStatus.OK, _failure(exc), outcome=exc)
            self._claimed = True
        page = consent_pages.received_page(self._label, result.selling_partner_id)
        return _Reply(HTTPStatus.OK, page, outcome=result)


def _ping(method: str) -> _Reply:
    # The relay page probes this cross-origin before navigating; CORS lets it read the status
    # and the Private Network Access header lets Chromium allow a public page to ask.
    cors = (("Access-Control-Allow-Origin", "*"),)
    if method == "OPTIONS":
        return _Reply(
            HTTPStatus.NO_CONTENT,
            headers=(
                *cors,
                ("Access-Control-Allow-Methods", "GET"),
                ("Access-Control-Allow-Private-Network", "true"),
                ("Access-Control-Max-Age", "60"),
            ),
        )
    if method in ("GET", "HEAD"):
        return _Reply(HTTPStatus.NO_CONTENT, headers=cors)
    return _Reply(HTTPStatus.METHOD_NOT_ALLOWED, headers=(("Allow", "GET, OPTIONS"),))


def _checked_path(path: str) -> str:
    if not path.startswith("/") or any(ch in path for ch in "?#") or path == PING_PATH:
        raise ValueError(f"not a usable callback path: {path!r}")
    return path


def _bind_error(port: int, exc: OSError) -> UsageError:
    if exc.errno in (errno.EADDRINUSE, 10048):  # 10048: WSAEADDRINUSE on Windows
        return UsageError(
            f"port {port} on {LISTEN_HOST} is already in use",
            hint="choose another port, or leave it unset to use any free port",
        )
    if exc.errno in (errno.EACCES, 10013):  # 10013: WSAEACCES on Windows
        return UsageError(
            f"not allowed to listen on {LISTEN_HOST}:{port}",
            hint=f"choose a port between {MIN_RELAY_PORT} and {MAX_PORT}",
        )
    return UsageError(f"cannot listen on {LISTEN_HOST}:{port}: {exc.strerror or exc}")
