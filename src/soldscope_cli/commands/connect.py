"""`soldscope connect`: add or renew a store through Seller Central's consent, or import a token."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import typer

from soldscope_cli.amazon.marketplaces import Region, parse_region
from soldscope_cli.commands.common import complete_store_names, get_context
from soldscope_cli.context import AppContext
from soldscope_cli.errors import UsageError
from soldscope_cli.fleet.config import (
    TIME_RANGE,
    Config,
    StoreRecord,
    in_time_range,
    parse_time,
)
from soldscope_cli.onboarding.consent_flow import (
    DEFAULT_TIMEOUT_SECONDS,
    ConnectResult,
    ConsentLink,
    ConsentRequest,
    duplicate_error,
    find_duplicate,
    plan_target,
    prove,
    run_consent,
    store_connection,
)
from soldscope_cli.redact import register_secret

if TYPE_CHECKING:
    # Imported where used at run time: health pulls in httpx, which `list` must not load.
    from soldscope_cli.checks.live import HealthClients

# Amazon's refresh tokens start "Atzr|"; an access token ("Atza|") pasted by mistake works for an
# hour and then never again, so it is refused up front.
REFRESH_TOKEN_PREFIX = "Atzr|"
# A little slack for clocks that disagree; an authorization in the future is a typo.
_FUTURE_SLACK = timedelta(minutes=5)


@dataclass(frozen=True)
class ImportRequest:
    """What the user asked `connect --refresh-token-stdin` to store."""

    name: str
    refresh_token: str
    marketplaces: list[str]
    region: Region | None
    selling_partner_id: str | None
    authorized_at: datetime | None


def read_refresh_token(text: str) -> str:
    """The refresh token from stdin: one line, whitespace stripped, shaped like Amazon's."""
    token = text.strip()
    if not token:
        raise UsageError(
            "no refresh token on stdin",
            hint="pipe it in, e.g. `pbpaste | soldscope connect NAME --marketplace US "
            "--refresh-token-stdin`",
        )
    register_secret(token)
    if any(ch.isspace() for ch in token):
        raise UsageError(
            "stdin holds more than one word; expected only the refresh token",
            hint="pass exactly the Atzr|... value Amazon showed",
        )
    if not token.startswith(REFRESH_TOKEN_PREFIX):
        raise UsageError(
            "that is not a refresh token (Amazon's start with Atzr|)",
            hint="copy the refresh token from Solution Provider Portal → Develop Apps → Authorize "
            "app, not the access token or client secret",
        )
    return token


def plan_record(config: Config, request: ImportRequest, now: datetime) -> StoreRecord:
    """The record to store (before the live check), or a UsageError; nothing is written."""
    target = plan_target(config, request.name, request.marketplaces, request.region)
    authorized_at = request.authorized_at or now
    if authorized_at > now + _FUTURE_SLACK:
        raise UsageError(
            f"--authorized-at {authorized_at:%Y-%m-%d %H:%MZ} is in the future",
            hint="give the date Amazon showed the token, or leave it out for now",
        )
    existing = target.existing
    seller = request.selling_partner_id or (existing.selling_partner_id if existing else None)
    if seller is not None:
        other = find_duplicate(config, target.name, seller, target.region)
        if other is not None:
            raise duplicate_error(
                other, seller, f"soldscope connect {other.name} --refresh-token-stdin"
            )
    return StoreRecord(
        name=target.name,
        region=target.region,
        marketplaces=list(target.marketplaces),
        authorized_at=authorized_at,
        selling_partner_id=seller,
        region_wide=target.region_wide,
        self_authorized=True,
    )


def run_import(
    ctx: AppContext,
    request: ImportRequest,
    *,
    make_clients: Callable[[], HealthClients] | None = None,
) -> ConnectResult:
    """Prove a refresh token live, then store it with its record and first check."""
    now = ctx.clock()
    planned = plan_record(ctx.config(), request, now)
    if make_clients is None:
        from soldscope_cli.amazon.clients import AmazonClients

        clients: HealthClients = AmazonClients.from_context(ctx)
    else:
        clients = make_clients()
    record, check = prove(
        planned,
        request.refresh_token,
        clients,
        again="check that the token belongs to this app, this seller and this region "
        "(a new self-authorization gives a new token)",
    )
    return store_connection(ctx, record, request.refresh_token, check, now)


def parse_authorized_at(value: str | None) -> datetime | None:
    """--authorized-at: a date (midnight UTC) or an RFC 3339 time."""
    if value is None:
        return None
    try:
        parsed = parse_time(value)
    except ValueError:
        raise UsageError(
            f"--authorized-at {value!r} is not a date",
            hint="use YYYY-MM-DD or an RFC 3339 time such as 2026-01-05T10:00:00Z",
        ) from None
    if not in_time_range(parsed):
        raise UsageError(
            f"--authorized-at {value!r} is not a plausible time (the year must be {TIME_RANGE})",
            hint="give the date Amazon showed the token as YYYY-MM-DD, e.g. 2026-09-14",
        )
    return parsed


def _duration(seconds: float) -> str:
    """4:59 — minutes and seconds, rounded up so the countdown never shows 0:00 early."""
    whole = max(0, int(-(-seconds // 1)))
    return f"{whole // 60}:{whole % 60:02d}"


class TerminalConsentUi:
    """A consent on stderr: the link on a line of its own, a countdown on a terminal, the paste."""

    def __init__(self, app: AppContext) -> None:
        self.app = app
        self._counting = False

    def _say(self, text: str) -> None:
        self.close()
        # Never wrapped: the link must survive copy and paste from the terminal in one piece.
        self.app.err.print(text, markup=False, soft_wrap=True)

    def link(self, link: ConsentLink) -> None:
        """Print the consent link and what happens next."""
        verb = "renew" if link.renewal else "connect"
        self._say(
            f"To {verb} {link.name}, the seller's primary Seller Central user opens this link "
            "and confirms:"
        )
        self._say(link.url)
        if link.listen_url is None:
            self._say(
                f"Then paste the address the browser ends on (it starts with "
                f"{link.redirect_uri}) and press Enter; Amazon's code expires 5 minutes after "
                "the consent."
            )
            return
        via = f" through the relay page {link.redirect_uri}" if link.relay else ""
        self._say(
            f"Waiting up to {_duration(link.timeout)} for Amazon's answer{via} at "
            f"{link.listen_url} (Ctrl-C to stop)."
        )

    def browser(self, opened: bool) -> None:
        """Say when the browser could not be opened, so the link is used by hand."""
        if not opened:
            self._say("Could not open a browser: open the link above, or send it to the seller.")

    def tick(self, remaining: float) -> None:
        """Rewrite the countdown in place; only a person at a terminal wants one."""
        if not self.app.stderr_tty:
            return
        self.app.stderr.write(f"\r{_duration(remaining)} left ")
        self.app.stderr.flush()
        self._counting = True

    def paste(self, link: ConsentLink) -> str:
        """One line from a terminal; all of stdin from a pipe (wrapped lines are rejoined)."""
        if self.app.stdin_tty:
            self.app.stderr.write("Address: ")
            self.app.stderr.flush()
            return self.app.stdin.readline()
        return self.app.stdin.read()

    def step(self, text: str) -> None:
        """Progress after Amazon's answer."""
        self._say(f"{text[:1].upper()}{text[1:]}…")

    def close(self) -> None:
        """Erase the countdown line, so the next message starts clean."""
        if self._counting:
            self.app.stderr.write("\r\x1b[K")
            self.app.stderr.flush()
            self._counting = False


def connect_command(
    ctx: typer.Context,
    name: Annotated[
        str,
        typer.Argument(
            help="Store name: 1-64 of a-z, 0-9, - and _ (an existing name is renewed).",
            autocompletion=complete_store_names,
            show_default=False,
        ),
    ],
    marketplace: Annotated[
        list[str] | None,
        typer.Option(
            "--marketplace",
            metavar="CC",
            help="Marketplace country code, e.g. US, UK, DE (repeatable; one region).",
            show_default=False,
        ),
    ] = None,
    region: Annotated[
        str | None,
        typer.Option(
            "--region",
            metavar="na|eu|fe",
            help="Instead of --marketplace: every marketplace of the region the seller sells in.",
            show_default=False,
        ),
    ] = None,
    no_browser: Annotated[
        bool,
        typer.Option("--no-browser", help="Print the consent link only; never open a browser."),
    ] = False,
    manual: Annotated[
        bool,
        typer.Option(
            "--manual",
            help="No listener: paste the address the browser ends on (or the relay page's).",
        ),
    ] = False,
    port: Annotated[
        int | None,
        typer.Option(
            "--port",
            metavar="N",
            min=1,
            max=65535,
            help="Listen on 127.0.0.1:N (default: the loopback redirect URI's port, else any).",
            show_default=False,
        ),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout",
            metavar="SECONDS",
            min=1,
            max=3600,
            help=f"How long to wait for Amazon's answer [default: {DEFAULT_TIMEOUT_SECONDS:g}].",
            show_default=False,
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Renew even when Amazon names another seller than the stored one."
        ),
    ] = False,
    refresh_token_stdin: Annotated[
        bool,
        typer.Option(
            "--refresh-token-stdin",
            help="Read a self-authorized refresh token (Atzr|...) from stdin instead.",
        ),
    ] = False,
    selling_partner_id: Annotated[
        str | None,
        typer.Option(
            "--selling-partner-id",
            metavar="ID",
            help="With --refresh-token-stdin: the seller's id (the token does not reveal it).",
            show_default=False,
        ),
    ] = None,
    authorized_at: Annotated[
        str | None,
        typer.Option(
            "--authorized-at",
            metavar="DATE",
            help="With --refresh-token-stdin: when the token was issued (default: now).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Connect a seller account as a store, or renew an existing one in place.

    Prints a Seller Central consent link (and opens it in a browser when run in a terminal),
    catches Amazon's answer on 127.0.0.1, exchanges the code at once and checks the connection
    live before storing anything; any failure stores nothing. Without a terminal the link is
    printed and soldscope still waits, but never opens a browser or prompts. --manual takes the
    address the browser ended on instead. An existing NAME is renewed: new token, 365 days from
    now, history kept. --refresh-token-stdin imports a private app's self-authorized token.

    \b
    Examples:
      soldscope connect acme-us --marketplace US --marketplace CA
      soldscope connect acme-eu --region eu --no-browser
      soldscope connect acme-us                       # renew: same seller, same marketplaces
      soldscope connect acme-us --marketplace US --manual
      soldscope connect acme-us --marketplace US --refresh-token-stdin < token.txt
    """
    app = get_context(ctx)
    parsed_region = parse_region(region) if region is not None else None
    if refresh_token_stdin:
        _refuse(
            "for the browser consent, not for --refresh-token-stdin",
            manual=manual,
            no_browser=no_browser,
            port=port is not None,
            timeout=timeout is not None,
            force=force,
        )
        request = ImportRequest(
            name=name,
            refresh_token=read_refresh_token(app.stdin.read()),
            marketplaces=list(marketplace or []),
            region=parsed_region,
            selling_partner_id=(selling_partner_id or "").strip() or None,
            authorized_at=parse_authorized_at(authorized_at),
        )
        render_connected(app, run_import(app, request))
        return
    _refuse(
        "only for --refresh-token-stdin (a consent tells soldscope the seller and the time)",
        selling_partner_id=selling_partner_id is not None,
        authorized_at=authorized_at is not None,
    )
    if manual and port is not None:
        raise UsageError(
            "--port and --manual exclude each other: with --manual nothing listens",
            hint="leave out --port, or leave out --manual",
        )
    consent = ConsentRequest(
        name=name,
        marketplaces=list(marketplace or []),
        region=parsed_region,
        manual=manual,
        port=port,
        timeout=DEFAULT_TIMEOUT_SECONDS if timeout is None else timeout,
        force=force,
        # Decided here, once: a browser opens only for a person at a terminal who did not opt out.
        open_browser=app.can_prompt and not no_browser,
    )
    ui = TerminalConsentUi(app)
    try:
        result = run_consent(app, consent, ui)
    finally:
        ui.close()
    render_connected(app, result)


def _refuse(what: str, **used: bool) -> None:
    """A usage error naming the flags that do not belong to this way of connecting."""
    flags = [f"--{name.replace('_', '-')}" for name, on in used.items() if on]
    if flags:
        verb = "is" if len(flags) == 1 else "are"
        raise UsageError(f"{', '.join(flags)} {verb} {what}", hint="see `soldscope connect --help`")


def render_connected(app: AppContext, result: ConnectResult) -> None:
    """The stored row on stdout; what happened on stderr."""
    from soldscope_cli.output.terminal import render_store_table

    record = result.row.record
    verb = "Renewed" if result.renewed else "Connected"
    markets = ", ".join(record.marketplaces)
    scope = (
        f"{record.region}, region-wide: {markets}"
        if record.region_wide
        else (f"{record.region}: {markets}")
    )
    seller = f" for seller {record.selling_partner_id}" if record.selling_partner_id else ""
    app.err.print(f"{verb} {record.name} ({scope}){seller}; the token works.", markup=False)
    render_store_table(app.out, [result.row], app.policy)
