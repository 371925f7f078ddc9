"""`soldscope connect`: add or renew a store; for now by importing a self-authorized refresh token."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import typer

from soldscope_cli.commands.common import complete_store_names, get_context
from soldscope_cli.config import Config, StoreRecord, parse_time, validate_store_name
from soldscope_cli.context import AppContext
from soldscope_cli.errors import IncompleteError, UnhealthyError, UsageError
from soldscope_cli.listing import StoreRow, build_rows
from soldscope_cli.marketplaces import Region, parse_region, resolve
from soldscope_cli.redact import register_secret
from soldscope_cli.store import CHECK_APP_ERROR, CHECK_INCOMPLETE, CHECK_OK

if TYPE_CHECKING:
    # Imported where used at run time: health pulls in httpx, which `list` must not load.
    from soldscope_cli.health import HealthClients, StoreCheck

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


@dataclass(frozen=True)
class ConnectResult:
    """The stored connection, whether it replaced an existing one, and its first check."""

    row: StoreRow
    renewed: bool
    check: StoreCheck


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
    name = validate_store_name(request.name)
    existing = config.stores.get(name)
    region_wide = False
    if request.marketplaces and request.region is not None:
        raise UsageError(
            "--marketplace and --region exclude each other",
            hint="use --marketplace CC for chosen marketplaces or --region for all of a region",
        )
    if request.marketplaces:
        region, codes = resolve(request.marketplaces)
    elif request.region is not None:
        # Filled from the seller's participations by the check that proves the token.
        region, codes, region_wide = request.region, [], True
    elif existing is not None:
        # Renewal keeps the store's marketplaces; a region-wide store rediscovers them.
        region, region_wide = existing.region, existing.region_wide
        codes = [] if region_wide else list(existing.marketplaces)
    else:
        raise UsageError(
            "no marketplace given",
            hint="pass --marketplace CC (repeatable) or --region na|eu|fe",
        )
    authorized_at = request.authorized_at or now
    if authorized_at > now + _FUTURE_SLACK:
        raise UsageError(
            f"--authorized-at {authorized_at:%Y-%m-%d %H:%MZ} is in the future",
            hint="give the date Amazon showed the token, or leave it out for now",
        )
    seller = request.selling_partner_id or (existing.selling_partner_id if existing else None)
    if seller is not None:
        for other in config.stores.values():
            if other.name != name and other.selling_partner_id == seller and other.region == region:
                raise UsageError(
                    f"seller {seller} in region {region} is already connected as {other.name!r}",
                    hint=f"renew that store instead: soldscope connect {other.name} "
                    "--refresh-token-stdin",
                )
    return StoreRecord(
        name=name,
        region=region,
        marketplaces=codes,
        authorized_at=authorized_at,
        selling_partner_id=seller,
        region_wide=region_wide,
        self_authorized=True,
    )


def prove(
    record: StoreRecord, refresh_token: str, clients: HealthClients
) -> tuple[StoreRecord, StoreCheck]:
    """Check the token live: the record to store (region-wide: with its marketplaces), or raise."""
    from soldscope_cli.health import APP_REJECTED_MESSAGE, check_store

    check = check_store(record, refresh_token, clients)
    if check.outcome == CHECK_APP_ERROR:
        raise UnhealthyError(APP_REJECTED_MESSAGE + "; nothing was stored")
    if check.outcome == CHECK_INCOMPLETE:
        raise IncompleteError(
            f"could not verify the token: {check.reason}; nothing was stored",
            hint="try again in a few minutes",
        )
    if check.outcome != CHECK_OK:
        raise UnhealthyError(
            f"Amazon did not accept the connection ({check.code}: {check.message}); "
            "nothing was stored",
            hint="check that the token belongs to this app, this seller and this region "
            "(a new self-authorization gives a new token)",
        )
    if not record.region_wide:
        return record, check
    if not check.participating:
        raise UnhealthyError(
            f"the seller participates in no marketplace of region {record.region}; "
            "nothing was stored",
            hint="was the token created in another region? use that region's token",
        )
    discovered = dataclasses.replace(record, marketplaces=list(check.participating))
    # Nothing was "added": the marketplaces were discovered now, and that is what gets stored.
    return discovered, dataclasses.replace(check, added=(), message=None)


def run_import(
    ctx: AppContext,
    request: ImportRequest,
    *,
    make_clients: Callable[[], HealthClients] | None = None,
) -> ConnectResult:
    """Prove a refresh token live, then store it with its record and first check."""
    from soldscope_cli.connections import save_connection

    now = ctx.clock()
    planned = plan_record(ctx.config(), request, now)
    if make_clients is None:
        from soldscope_cli.amazon import AmazonClients

        clients: HealthClients = AmazonClients.from_context(ctx)
    else:
        clients = make_clients()
    record, check = prove(planned, request.refresh_token, clients)
    db = ctx.database()
    renewed = save_connection(
        ctx.config_file, ctx.secret_store(), db, record, request.refresh_token, now
    )
    ctx.config(reload=True)
    db.record_check(check.to_record(ctx.clock(), "connect"))
    rows = build_rows([record], db.states([record.name]), ctx.clock())
    return ConnectResult(row=rows[0], renewed=renewed, check=check)


def parse_authorized_at(value: str | None) -> datetime | None:
    """--authorized-at: a date (midnight UTC) or an RFC 3339 time."""
    if value is None:
        return None
    try:
        return parse_time(value)
    except ValueError:
        raise UsageError(
            f"--authorized-at {value!r} is not a date",
            hint="use YYYY-MM-DD or an RFC 3339 time such as 2026-01-05T10:00:00Z",
        ) from None


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
    refresh_token_stdin: Annotated[
        bool,
        typer.Option(
            "--refresh-token-stdin",
            help="Read a self-authorized refresh token (Atzr|...) from stdin.",
        ),
    ] = False,
    selling_partner_id: Annotated[
        str | None,
        typer.Option(
            "--selling-partner-id",
            metavar="ID",
            help="The seller's id (Amazon's token does not reveal it).",
            show_default=False,
        ),
    ] = None,
    authorized_at: Annotated[
        str | None,
        typer.Option(
            "--authorized-at",
            metavar="DATE",
            help="When the token was issued (default: now); the 365 days count from it.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Connect a seller account as a store, or renew an existing one in place.

    With --refresh-token-stdin the token is proved live (token refresh and the seller's
    marketplaces) before anything is stored; a rejected token stores nothing. Renewing keeps the
    store's history and resets its 365 days.

    Examples:
      soldscope connect acme-us --marketplace US --marketplace CA --refresh-token-stdin < token.txt
      soldscope connect acme-eu --region eu --selling-partner-id A1B2C3 --refresh-token-stdin
    """
    app = get_context(ctx)
    if not refresh_token_stdin:
        raise UsageError(
            "connecting through the browser consent is not available yet",
            hint="import a self-authorized token: soldscope connect NAME --marketplace CC "
            "--refresh-token-stdin",
        )
    request = ImportRequest(
        name=name,
        refresh_token=read_refresh_token(app.stdin.read()),
        marketplaces=list(marketplace or []),
        region=parse_region(region) if region is not None else None,
        selling_partner_id=(selling_partner_id or "").strip() or None,
        authorized_at=parse_authorized_at(authorized_at),
    )
    result = run_import(app, request)
    render_connected(app, result)


def render_connected(app: AppContext, result: ConnectResult) -> None:
    """The stored row on stdout; what happened on stderr."""
    from soldscope_cli.output import render_store_table

    record = result.row.record
    verb = "Renewed" if result.renewed else "Connected"
    app.err.print(
        f"{verb} {record.name} ({record.region}: {', '.join(record.marketplaces)}); "
        "the token works.",
        markup=False,
    )
    render_store_table(app.out, [result.row], app.policy)
