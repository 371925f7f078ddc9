"""Importing a self-authorized refresh token: read it, plan the record, prove it live, store it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from soldscope_cli.amazon.marketplaces import Region
from soldscope_cli.errors import UsageError
from soldscope_cli.fleet.config import (
    TIME_RANGE,
    Config,
    StoreRecord,
    in_time_range,
    parse_time,
    validate_seller_id,
)
from soldscope_cli.onboarding.consent_flow import (
    ConnectResult,
    duplicate_error,
    find_duplicate,
    plan_target,
    prove,
    seller_checks,
    store_connection,
)
from soldscope_cli.redact import register_secret
from soldscope_cli.services import Services

if TYPE_CHECKING:
    # Imported where used at run time: the checks pull in httpx, which `list` must not load.
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
    if request.selling_partner_id is not None:
        validate_seller_id(request.selling_partner_id)
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
    ctx: Services,
    request: ImportRequest,
    *,
    make_clients: Callable[[], HealthClients] | None = None,
) -> ConnectResult:
    """Prove a refresh token live, then store it with its record and first check."""
    now = ctx.clock()
    planned = plan_record(ctx.config(), request, now)
    if make_clients is None:
        clients: HealthClients = ctx.amazon_clients()
    else:
        clients = make_clients()
    record, check = prove(
        planned,
        request.refresh_token,
        clients,
        again="check that the token belongs to this app, this seller and this region "
        "(a new self-authorization gives a new token)",
        extra=" --refresh-token-stdin",
    )
    verify = seller_checks(record, force=False, self_authorized=True)
    return store_connection(ctx, record, request.refresh_token, check, now, verify=verify)


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
