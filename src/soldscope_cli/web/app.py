"""The Starlette app `soldscope serve` runs: invitation links, the consent callback, the pages.

Starlette was chosen for its small, typed, well-kept core (routing, responses, a test client on
httpx, which soldscope already uses) without a framework's worth of dependencies; the handlers are
plain functions Starlette runs on its thread pool, because the consent steps below them block.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from soldscope_cli.consent import pages
from soldscope_cli.errors import SoldscopeError
from soldscope_cli.monitoring.feed import FeedKeyBusy, FeedTokens
from soldscope_cli.notify.sender import Notifier
from soldscope_cli.onboarding import invite_consent as flow
from soldscope_cli.redact import redact
from soldscope_cli.services import Services
from soldscope_cli.web.guard import Guard, Network, RateLimiter, is_loopback

HEALTH_PATH = "/healthz"
METRICS_PATH = "/metrics"

_GONE = {
    "used": (
        "This link was already used",
        "This invitation link has already been used to "
        "connect the account, so it cannot be used again.",
    ),
    "expired": ("This link has expired", "This invitation link has expired."),
    "revoked": ("This link is no longer valid", "This invitation link was withdrawn."),
    "store_gone": (
        "This link is no longer valid",
        "The account this link was meant to renew is no longer managed here.",
    ),
}

# kind -> (HTTP status, title, what the seller reads, whether the link can be used again)
_FAILURES: dict[str, tuple[HTTPStatus, str, str, bool]] = {
    flow.CANCELLED: (
        HTTPStatus.OK,
        "Authorization cancelled",
        "You cancelled the authorization on Amazon's page. Nothing was connected.",
        True,
    ),
    flow.DENIED: (
        HTTPStatus.BAD_REQUEST,
        "Amazon did not authorize the connection",
        "Amazon did not complete the authorization. Nothing was connected. Make sure "
        "you are signed in as the account's primary Seller Central user.",
        True,
    ),
    flow.SLOW: (
        HTTPStatus.BAD_REQUEST,
        "The authorization took too long",
        "The authorization took longer than the few minutes it may take. Nothing was connected.",
        True,
    ),
    flow.INCOMPLETE: (
        HTTPStatus.BAD_REQUEST,
        "Amazon's answer was incomplete",
        "Amazon's answer did not contain what is needed. Nothing was connected.",
        True,
    ),
    flow.OTHER_SELLER: (
        HTTPStatus.CONFLICT,
        "A different seller account authorized",
        "You signed in to a different Amazon seller account than the one this "
        "link renews, so nothing was changed. Sign in to the right account and "
        "open the link again.",
        True,
    ),
    flow.DUPLICATE: (
        HTTPStatus.CONFLICT,
        "This seller account is already connected",
        "This Amazon seller account is already connected under another name, so "
        "nothing was changed.",
        False,
    ),
    flow.UNREACHABLE: (
        HTTPStatus.SERVICE_UNAVAILABLE,
        "Amazon could not be reached",
        "Amazon could not be reached to finish the connection. Nothing was "
        "connected. Please try again in a few minutes.",
        True,
    ),
    flow.REJECTED: (
        HTTPStatus.BAD_GATEWAY,
        "Amazon did not accept the connection",
        "Amazon did not accept the new connection. Nothing was connected. Make sure "
        "you sign in to the seller account and marketplace you were asked to "
        "connect.",
        True,
    ),
}


@dataclass(frozen=True)
class ServeSettings:
    """What the app serves where, and for whom."""

    callback_path: str
    invite_prefix: str  # the public URL's path, "" at the root
    allowed_hosts: frozenset[str]
    trusted_proxies: list[Network]


class LiveSettings:
    """What serve takes from config.toml while it runs: the agency's name and the alert targets."""

    def __init__(
        self,
        services: Services,
        say: Callable[[str], None],
        notifier: Callable[[], Notifier] | None,
    ) -> None:
        self._services = services
        self._say = say
        self._make_notifier = notifier
        self._lock = threading.Lock()
        self._config: object | None = None
        self._agency: str | None = None
        self._notifier: Notifier | None = None
        self._trouble: str | None = None

    def agency(self) -> str | None:
        """`[serve] agency_name` as config.toml says now."""
        return self._current()[0]

    def notifier(self) -> Notifier | None:
        """The alert targets as SOLDSCOPE_NOTIFY_URLS and config.toml's [[notify]] say now."""
        return self._current()[1]

    def known_agency(self) -> str | None:
        """The agency's name as last read, without reading anything (for the event loop)."""
        return self._agency

    def _current(self) -> tuple[str | None, Notifier | None]:
        try:
            config = self._services.config()  # the same object until config.toml changes
        except Exception as exc:  # a half-edited file: keep serving with what was read last
            reason = exc.message if isinstance(exc, SoldscopeError) else type(exc).__name__
            with self._lock:
                if reason != self._trouble:
                    self._trouble = reason
                    self._say(f"error: config.toml: {redact(reason)}; serve keeps its settings")
                return self._agency, self._notifier
        with self._lock:
            self._trouble = None
            if config is not self._config:
                agency = config.serve.agency_name
                notifier = self._make_notifier() if self._make_notifier else None
                if self._config is not None:
                    self._say(
                        f"config.toml changed: agency name {agency or '(not set)'}, "
                        f"{len(notifier.targets) if notifier else 0} alert target(s)"
                    )
                self._config, self._agency, self._notifier = config, agency, notifier
            return self._agency, self._notifier


def _html(status: int, body: str) -> HTMLResponse:
    return HTMLResponse(body, status_code=status)


def build_app(
    services: Services,
    settings: ServeSettings,
    *,
    say: Callable[[str], None],
    access_log: Callable[[str], None],
    monotonic: Callable[[], float],
    notifier: Callable[[], Notifier] | None = None,
) -> Guard:
    """The ASGI application: routes behind the Guard.

    `[serve] agency_name` and the alert targets are read from the config as it is now (it is read
    again when config.toml changes), so editing them needs no restart; the change is logged.
    """
    live = LiveSettings(services, say, notifier)
    live.agency()  # read now: a change is then logged against what serve started with
    lock = threading.Lock()
    feed_tokens = FeedTokens(services, monotonic)

    def announce(done: flow.Completed) -> None:
        """Tell the alert targets, off the seller's request: a slow target never delays a page."""
        notifier = live.notifier()
        if notifier is None or not notifier.targets:
            return

        def run() -> None:
            from soldscope_cli.notify.announce import (
                after_connect,
                announce_observed,
                failure_line,
            )

            result = done.result
            observed = after_connect(
                result.row, renewed=result.renewed, invitation_id=done.invitation.id
            )
            try:
                failures = announce_observed(
                    notifier, services.database(), services.config(), observed, services.clock
                )
            except Exception as exc:  # alerts must never take serve down
                say(f"notify: {redact(type(exc).__name__ + ': ' + str(exc))}")
                return
            line = failure_line(failures)
            if line:
                say(line)

        threading.Thread(target=run, name="soldscope-announce", daemon=True).start()

    def trouble(exc: BaseException) -> HTMLResponse:
        text = exc.message if isinstance(exc, SoldscopeError) else type(exc).__name__
        say(f"error: {redact(text)}")
        return _html(
            HTTPStatus.SERVICE_UNAVAILABLE,
            pages.invitation_page(
                "bad",
                "Temporarily unavailable",
                "The connection service cannot finish this right now. Nothing was connected.",
                live.agency(),
                retry=True,
            ),
        )

    def gone(exc: flow.InvitationGone) -> HTMLResponse:
        title, detail = _GONE.get(exc.status, _GONE["revoked"])
        return _html(
            HTTPStatus.GONE,
            pages.invitation_page(
                "info",
                title,
                detail + " Ask for a new link if you still need to connect.",
                live.agency(),
                retry=False,
            ),
        )

    def invite(request: Request) -> Response:
        token = str(request.path_params["token"])
        try:
            url = flow.begin_consent(services, token)
        except flow.InvitationNotFound:
            return _html(HTTPStatus.NOT_FOUND, pages.not_found_page())
        except flow.InvitationGone as exc:
            return gone(exc)
        except Exception as exc:  # the seller gets a page, the operator the reason
            return trouble(exc)
        return RedirectResponse(url, status_code=HTTPStatus.FOUND)

    def callback(request: Request) -> Response:
        try:
            done = flow.complete_consent(services, request.url.query, lock=lock)
        except flow.CallbackRefused as exc:
            say(f"refused a callback ({exc.reason} state); nothing was stored")
            return _html(
                HTTPStatus.BAD_REQUEST,
                pages.invitation_page(
                    "bad",
                    "This answer cannot be used",
                    "This page was reached without a valid, unused authorization in progress, "
                    "so nothing was connected. Open your invitation link to start again.",
                    live.agency(),
                    retry=False,
                ),
            )
        except flow.InvitationGone as exc:
            say(f"{exc.invitation.name}: not stored: its invitation is {exc.status}")
            return gone(exc)
        except flow.ConsentFailure as exc:
            status, title, detail, retry = _FAILURES[exc.kind]
            say(f"{exc.invitation.name}: not stored ({exc.kind}): {redact(exc.detail)}")
            return _html(
                status, pages.invitation_page("bad", title, detail, live.agency(), retry=retry)
            )
        except Exception as exc:
            return trouble(exc)
        result = done.result
        verb = "renewed" if result.renewed else "connected"
        say(
            f"{result.row.name}: {verb} through its invitation "
            f"(seller {result.row.record.selling_partner_id}, {result.row.record.region})"
        )
        announce(done)
        return _html(HTTPStatus.OK, pages.connected_page(live.agency()))

    async def health(request: Request) -> Response:
        # On the event loop, not the thread pool: busy handlers never delay a health check.
        return PlainTextResponse("ok\n")

    def metrics(request: Request) -> Response:
        # The fleet's store names are the agency's business: only a scraper on this machine (or
        # behind the trusted proxy, from the proxy's own host) gets them, never a client on the
        # public side of the proxy that invitation links face.
        if not is_loopback(request.client.host if request.client else None):
            return PlainTextResponse(
                "metrics are served to this machine only\n", status_code=HTTPStatus.FORBIDDEN
            )
        # Imported here: a serve that is never scraped does not load prometheus_client.
        from soldscope_cli.monitoring.metrics import CONTENT_TYPE, metrics_text
        from soldscope_cli.monitoring.snapshot import fleet_snapshot

        try:
            text = metrics_text(fleet_snapshot(services))
        except Exception as exc:
            return unavailable("/metrics", "metrics", exc)
        return Response(text, media_type=CONTENT_TYPE)

    def unavailable(where: str, what: str, exc: Exception) -> Response:
        """The operator's log gets why (never a secret), the client a plain 503."""
        reason = exc.message if isinstance(exc, SoldscopeError) else type(exc).__name__
        say(f"error: {where}: {redact(reason)}")
        return PlainTextResponse(
            f"{what} unavailable\n", status_code=HTTPStatus.SERVICE_UNAVAILABLE
        )

    def calendar(request: Request) -> Response:
        # The feed's URL is its only credential: a wrong token looks like any unknown page.
        try:
            if not feed_tokens.matches(str(request.path_params["token"])):
                return _html(HTTPStatus.NOT_FOUND, pages.not_found_page())
            from soldscope_cli.monitoring.ical import calendar_text
            from soldscope_cli.monitoring.snapshot import fleet_snapshot

            text = calendar_text(fleet_snapshot(services))
        except FeedKeyBusy:
            return PlainTextResponse(
                "calendar unavailable\n", status_code=HTTPStatus.SERVICE_UNAVAILABLE
            )
        except Exception as exc:
            return unavailable("calendar feed", "calendar", exc)
        return Response(text, media_type="text/calendar; charset=utf-8")

    def not_found(request: Request, exc: Exception) -> Response:
        return _html(HTTPStatus.NOT_FOUND, pages.not_found_page())

    routes = [
        Route(f"{settings.invite_prefix}/invite/{{token}}", invite, methods=["GET"]),
        Route(settings.callback_path, callback, methods=["GET"]),
        Route(HEALTH_PATH, health, methods=["GET"]),
        Route(METRICS_PATH, metrics, methods=["GET"]),
        Route(f"{settings.invite_prefix}/calendar/{{token}}", calendar, methods=["GET"]),
    ]
    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: not_found})
    # Starlette would answer `/callback/?code=…` with a redirect to `/callback?code=…` built from
    # the request's own scheme and Host: Amazon's code sent on to a plain-http URL. Paths are exact.
    app.router.redirect_slashes = False
    return Guard(
        app,
        allowed_hosts=settings.allowed_hosts,
        trusted_proxies=settings.trusted_proxies,
        limiter=RateLimiter(clock=monotonic),
        log=access_log,
        agency=live.known_agency,
    )
