"""Checks of the SP-API application: credentials, secret age, redirect URI, draft, limits."""

from __future__ import annotations

from datetime import datetime

from soldscope_cli.amazon.endpoints import is_loopback_http
from soldscope_cli.doctor.model import CheckResult, Level
from soldscope_cli.errors import UsageError
from soldscope_cli.fleet.app_credentials import (
    AppCredentials,
    check_redirect_uri,
    secret_due,
    secret_rotation_state,
)
from soldscope_cli.fleet.config import Config, format_time

SET_IDS = (
    "soldscope app set --app-id amzn1.sp.solution.… --client-id amzn1.application-oa2-client.…"
)
SET_SECRET = 'printf %s "$NEW_SECRET" | soldscope app set --client-secret-stdin'
# Amazon's authorization limits (FACTS §1): an unlisted public app may hold 25 seller OAuth
# authorizations, a private app 10 self-authorizations; listed Appstore apps have no limit.
OAUTH_LIMIT = 25
SELF_AUTH_LIMIT = 10
NEAR_LIMIT = 0.8


def check_app_credentials(creds: AppCredentials, secret_stored: bool | None) -> CheckResult:
    """Application id, LWA client id and secret: present, and where each comes from.

    secret_stored: whether the secret store holds the client secret (None: it could not be read).
    """
    title = "App credentials"
    missing = [
        label
        for label, value in (
            ("application id", creds.application_id),
            ("LWA client id", creds.client_id),
        )
        if not value
    ]
    if missing:
        return CheckResult(
            "app",
            title,
            Level.FAIL,
            f"the SP-API app is not configured: missing {', '.join(missing)}",
            f"run `{SET_IDS}` (see docs/app.md)",
        )
    parts = [
        f"application id ({creds.sources.get('application_id', 'config')})",
        f"LWA client id ({creds.sources.get('client_id', 'config')})",
    ]
    if "client_secret" in creds.sources:
        parts.append(f"client secret ({creds.sources['client_secret']})")
    elif secret_stored:
        parts.append("client secret (secret store)")
    elif secret_stored is None:
        return CheckResult(
            "app",
            title,
            Level.WARN,
            ", ".join(parts) + "; the client secret could not be looked up because the secret "
            "store is unusable (see above)",
            "fix the secret store first",
        )
    else:
        return CheckResult(
            "app",
            title,
            Level.FAIL,
            ", ".join(parts) + "; no LWA client secret is stored",
            f"run `{SET_SECRET}`",
        )
    return CheckResult("app", title, Level.OK, ", ".join(parts))


def check_secret_rotation(
    creds: AppCredentials,
    set_at: datetime | None,
    now: datetime,
    *,
    stored: bool | None = None,
    queue: bool = False,
) -> CheckResult:
    """The client secret's age against Amazon's 180-day expiry.

    `stored`: whether the secret-store probe found the client secret (None: not probed).
    `queue`: whether a rotation queue is set up, so that `app rotate` can renew a secret that
    still works (an expired one cannot ask Amazon for its successor)."""
    title = "Client secret age"
    source = creds.sources.get("client_secret", "")
    if source.startswith("env "):
        return CheckResult(
            "secret-rotation",
            title,
            Level.OK,
            f"the secret comes from {source.removeprefix('env ')}, so soldscope cannot tell its "
            "age; Amazon expires client secrets every 180 days",
        )
    state = secret_rotation_state(set_at, now)
    if set_at is None:
        if not source and not stored:
            return CheckResult(
                "secret-rotation", title, Level.SKIP, "no client secret is configured"
            )
        return CheckResult(
            "secret-rotation",
            title,
            Level.WARN,
            "the date the secret was set is not recorded, so its 180-day expiry is unknown",
            f"after the next rotation store the new one with `{SET_SECRET}`, which records the date",
        )
    due = format_time(secret_due(set_at))
    age = (now - set_at).days
    if state == "overdue":
        return CheckResult(
            "secret-rotation",
            title,
            Level.FAIL,
            f"set {age} days ago; Amazon expired it on {due} (180 days): every token request "
            "fails with invalid_client",
            "generate a new secret in Solution Provider Portal (Develop Apps → the app's LWA credentials), "
            f"then `{SET_SECRET}`",
        )
    if state == "due_soon":
        return CheckResult(
            "secret-rotation",
            title,
            Level.WARN,
            f"set {age} days ago; Amazon expires it on {due} (180 days)",
            "run `soldscope app rotate` before then"
            if queue
            else "rotate it before then in Solution Provider Portal (Develop Apps → the app's "
            f"LWA credentials), then `{SET_SECRET}`",
        )
    return CheckResult(
        "secret-rotation", title, Level.OK, f"set {age} days ago; due for rotation on {due}"
    )


def check_redirect(creds: AppCredentials) -> CheckResult:
    """Amazon's rules for the redirect URI: https and no '#'; loopback http is simulator-only."""
    title = "Redirect URI"
    uri = creds.redirect_uri
    if not uri:
        return CheckResult(
            "redirect-uri",
            title,
            Level.WARN,
            "none configured: importing self-authorized tokens works, browser consent will not",
            "register the https URL of the relay page with Amazon, then "
            "`soldscope app set --redirect-uri https://…` (see docs/relay.md)",
        )
    where = creds.sources.get("redirect_uri", "config")
    try:
        check_redirect_uri(uri)
    except UsageError as exc:
        return CheckResult("redirect-uri", title, Level.FAIL, f"{exc.message} ({where})", exc.hint)
    if is_loopback_http(uri):
        return CheckResult(
            "redirect-uri",
            title,
            Level.WARN,
            f"{uri} ({where}) is a loopback http address: only the local simulator accepts it; "
            "Amazon requires https",
            "for real sellers, register the relay page's https URL and "
            "`soldscope app set --redirect-uri https://…` (see docs/relay.md)",
        )
    return CheckResult("redirect-uri", title, Level.OK, f"{uri} ({where}): https, no fragment")


def check_draft(creds: AppCredentials) -> CheckResult:
    """What the draft flag does to consent links (Amazon cannot be asked whether it is right)."""
    if creds.draft:
        return CheckResult(
            "draft",
            "Draft app",
            Level.OK,
            "draft = true: consent links carry version=beta, which Amazon requires while the app "
            "is in Draft; once the app is published, run `soldscope app set --no-draft`",
        )
    return CheckResult(
        "draft",
        "Draft app",
        Level.OK,
        "draft = false: consent links carry no version=beta; if Amazon's consent page shows "
        "MD1000 the app is still in Draft: run `soldscope app set --draft`",
    )


def _sellers(config: Config, *, self_authorized: bool) -> tuple[int, int]:
    """(distinct sellers, connections) among stores of one kind; a store without an id counts once."""
    records = [r for r in config.stores.values() if r.self_authorized == self_authorized]
    sellers = {r.selling_partner_id or f"store:{r.name}" for r in records}
    return len(sellers), len(records)


def check_authorization_limits(config: Config) -> CheckResult:
    """Connected stores against Amazon's 25 OAuth / 10 self-authorization limits."""
    title = "Authorization limits"
    oauth, oauth_conn = _sellers(config, self_authorized=False)
    private, private_conn = _sellers(config, self_authorized=True)
    counts = (
        f"{oauth} seller(s) by OAuth consent ({oauth_conn} connection(s)), "
        f"{private} self-authorized ({private_conn} connection(s))"
    )
    if not config.stores:
        return CheckResult("authorization-limits", title, Level.OK, "no stores yet")
    notes: list[str] = []
    level = Level.OK
    if private >= SELF_AUTH_LIMIT * NEAR_LIMIT:
        level = Level.WARN
        notes.append(
            f"a private app may hold {SELF_AUTH_LIMIT} self-authorizations"
            + ("; this is over it" if private > SELF_AUTH_LIMIT else "; this is close to it")
        )
    if oauth >= OAUTH_LIMIT * NEAR_LIMIT:
        level = Level.WARN
        notes.append(
            f"an unlisted public app may hold {OAUTH_LIMIT} seller authorizations"
            + ("; this is over it" if oauth > OAUTH_LIMIT else "; this is close to it")
            + " (Appstore-listed apps have no limit)"
        )
    if level is Level.OK:
        return CheckResult("authorization-limits", title, Level.OK, counts)
    return CheckResult(
        "authorization-limits",
        title,
        Level.WARN,
        f"{counts}; " + "; ".join(notes),
        "remove authorizations you no longer use (Manage Authorizations in Solution Provider Portal or Seller Central, then "
        "`soldscope delete NAME`), list the app in the Appstore, or split stores across apps",
    )
