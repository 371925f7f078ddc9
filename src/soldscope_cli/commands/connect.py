"""`soldscope connect`: add or renew a store through Seller Central's consent, or import a token."""

from __future__ import annotations

from typing import Annotated

import typer

from soldscope_cli.amazon.marketplaces import Region, parse_region
from soldscope_cli.commands.common import (
    MarketplacesOption,
    NoNotify,
    RegionOption,
    complete_store_names,
    get_context,
    say_notify_failures,
)
from soldscope_cli.context import AppContext
from soldscope_cli.errors import ExitCode, UsageError
from soldscope_cli.onboarding.consent_flow import (
    DEFAULT_TIMEOUT_SECONDS,
    ConnectResult,
    ConsentRequest,
    run_consent,
)
from soldscope_cli.onboarding.token_import import (
    ImportRequest,
    parse_authorized_at,
    read_refresh_token,
    run_import,
)
from soldscope_cli.output.connect import TerminalConsentUi, render_connected


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
    marketplace: MarketplacesOption = None,
    region: RegionOption = None,
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
            # Round brackets: Rich reads "[default: 300]" in help text as markup and drops it.
            help=f"How long to wait for Amazon's answer (default: {DEFAULT_TIMEOUT_SECONDS:g}).",
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
    no_notify: NoNotify = False,
) -> None:
    """Connect a seller account as a store, or renew an existing one in place.

    Prints a Seller Central consent link (and opens it in a browser when run in a terminal), catches Amazon's answer on 127.0.0.1, exchanges the code at once and checks the connection live before storing anything; any failure stores nothing. Without a terminal the link is printed and soldscope still waits, but never opens a browser or prompts. --manual takes the address the browser ended on instead. An existing NAME is renewed: new token, 365 days from now, history kept. --refresh-token-stdin imports a private app's self-authorized token. A store that was announced in error, expired or expiring is announced active again (docs/alerts.md).

    Examples:
      soldscope connect acme-us --marketplace US --marketplace CA
      soldscope connect acme-eu --region eu --no-browser
      soldscope connect acme-us       # renew: same seller and marketplaces
      soldscope connect acme-us --marketplace US --manual
      soldscope connect acme-us --marketplace US --refresh-token-stdin < token.txt
    """
    app = get_context(ctx)
    marketplaces = list(marketplace or [])
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
        result = _import_token(
            app, name, marketplaces, parsed_region, selling_partner_id, authorized_at
        )
    else:
        _refuse(
            "only for --refresh-token-stdin (a consent tells soldscope the seller and the time)",
            selling_partner_id=selling_partner_id is not None,
            authorized_at=authorized_at is not None,
        )
        consent = ConsentRequest(
            name=name,
            marketplaces=marketplaces,
            region=parsed_region,
            manual=manual,
            port=port,
            timeout=DEFAULT_TIMEOUT_SECONDS if timeout is None else timeout,
            force=force,
            # Decided here, once: a browser opens only for a person at a terminal who asked for it.
            open_browser=app.can_prompt and not no_browser,
        )
        result = _consent(app, consent)
    render_connected(app, result)
    if not no_notify:
        _notify(app, result)
    if result.row.status.unhealthy:  # e.g. a token imported with an --authorized-at over a year ago
        raise typer.Exit(int(ExitCode.UNHEALTHY))


def _notify(app: AppContext, result: ConnectResult) -> None:
    from soldscope_cli.notify.announce import after_connect, announce_observed

    observed = after_connect(result.row, renewed=result.renewed)
    failures = announce_observed(app.notifier(), app.database(), app.config(), observed, app.clock)
    say_notify_failures(app, failures)


def _consent(app: AppContext, request: ConsentRequest) -> ConnectResult:
    """The consent path: link, listener (or paste), code exchange, live check, store."""
    if request.manual and request.port is not None:
        raise UsageError(
            "--port and --manual exclude each other: with --manual nothing listens",
            hint="leave out --port, or leave out --manual",
        )
    ui = TerminalConsentUi(app)
    try:
        return run_consent(app, request, ui)
    finally:
        ui.close()


def _import_token(
    app: AppContext,
    name: str,
    marketplaces: list[str],
    region: Region | None,
    selling_partner_id: str | None,
    authorized_at: str | None,
) -> ConnectResult:
    """The token-import path: read the token from stdin, prove it live, store it."""
    request = ImportRequest(
        name=name,
        refresh_token=read_refresh_token(app.stdin.read()),
        marketplaces=marketplaces,
        region=region,
        selling_partner_id=(selling_partner_id or "").strip() or None,
        authorized_at=parse_authorized_at(authorized_at),
    )
    return run_import(app, request)


def _refuse(what: str, **used: bool) -> None:
    """A usage error naming the flags that do not belong to this way of connecting."""
    flags = [f"--{name.replace('_', '-')}" for name, on in used.items() if on]
    if flags:
        verb = "is" if len(flags) == 1 else "are"
        raise UsageError(f"{', '.join(flags)} {verb} {what}", hint="see `soldscope connect --help`")
