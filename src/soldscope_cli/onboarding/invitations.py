"""Invitation links: create, reuse, list and revoke them (`soldscope invite` and `invites`).

An invitation asks one seller to connect (or renew) one store through `soldscope serve`. Its link
carries a token derived from the home's invitation key (in the secret store) and the invitation's
random uid; the database keeps only the token's hash. So a copy of the database opens nothing,
while this home can print a pending invitation's link again instead of minting a duplicate.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast
from urllib.parse import urlsplit

from soldscope_cli.amazon.marketplaces import Region
from soldscope_cli.db.model import (
    INVITE_NEW,
    INVITE_RENEWAL,
    Invitation,
    InvitationFailure,
    NewInvitation,
)
from soldscope_cli.errors import ConfigError, UsageError
from soldscope_cli.fleet.config import (
    Config,
    format_time,
    public_url_problem,
    select_stores,
    validate_store_name,
)
from soldscope_cli.fleet.listing import build_rows
from soldscope_cli.onboarding.consent_flow import Target, plan_target
from soldscope_cli.services import Services
from soldscope_cli.status import INVALID_GRANT, Status
from soldscope_cli.untrusted import printable

PUBLIC_URL_ENV = "SOLDSCOPE_PUBLIC_URL"
INVITE_PATH = "/invite/"
DEFAULT_LIFETIME_DAYS = 14
MAX_LIFETIME_DAYS = 90
DEFAULT_EXPIRING_WITHIN_DAYS = 30
_TOKEN_CONTEXT = b"soldscope-invitation-link:"


# --- tokens and links -----------------------------------------------------------------------------


def token_hash(token: str) -> str:
    """What the database keeps of a link token (and of a consent state)."""
    return hashlib.sha256(token.encode()).hexdigest()


def derive_token(key: str, uid: str) -> str:
    """The link token of the invitation `uid` (256 bits, URL-safe)."""
    digest = hmac.new(key.encode(), _TOKEN_CONTEXT + uid.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def invitation_key(services: Services) -> str:
    """The home's invitation key, created on first use."""
    from soldscope_cli.fleet.secrets import INVITATION_KEY

    store = services.secret_store()
    key = store.get(INVITATION_KEY)
    if not key:
        key = secrets.token_urlsafe(32)
        store.set(INVITATION_KEY, key)
    return key


def resolve_public_url(config: Config, env: Mapping[str, str], redirect_uri: str | None) -> str:
    """SOLDSCOPE_PUBLIC_URL, else [serve] public_url, else the redirect URI's scheme and host."""
    configured = (env.get(PUBLIC_URL_ENV) or "").strip()
    if configured:
        problem = public_url_problem(configured)
        if problem:
            raise ConfigError(
                f"{PUBLIC_URL_ENV} {problem}",
                hint="e.g. SOLDSCOPE_PUBLIC_URL=https://agency.example",
            )
        return configured.rstrip("/")
    if config.serve.public_url:
        return config.serve.public_url.rstrip("/")
    if redirect_uri:
        parts = urlsplit(redirect_uri)
        return f"{parts.scheme}://{parts.netloc}"
    raise ConfigError(
        "no public URL for invitation links",
        hint="set [serve] public_url in config.toml (or SOLDSCOPE_PUBLIC_URL), or the app's "
        "redirect URI with `soldscope app set --redirect-uri URI`",
    )


def invite_link(public_url: str, token: str) -> str:
    """The address a seller opens: `<public URL>/invite/<token>`."""
    return f"{public_url.rstrip('/')}{INVITE_PATH}{token}"


def public_url_of(services: Services) -> str:
    """The public URL this home's invitation links use."""
    from soldscope_cli.fleet.app_credentials import resolve_app

    config = services.config()
    creds = resolve_app(config.app, services.env, None)
    return resolve_public_url(config, services.env, creds.redirect_uri)


# --- creating -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InviteRequest:
    """What `soldscope invite NAME` asked for."""

    name: str
    marketplaces: tuple[str, ...] = ()
    region: Region | None = None
    expires_in_days: int | None = None  # None: DEFAULT_LIFETIME_DAYS (or keep a reused one's)
    note: str | None = None


@dataclass(frozen=True)
class InviteOutcome:
    """An invitation and its link; `reused` when it was already pending."""

    invitation: Invitation
    link: str
    reused: bool

    def to_json(self, now: datetime) -> dict[str, Any]:
        """The pinned --json shape of `invite` (docs/invite.md)."""
        inv = self.invitation
        return {
            "name": inv.name,
            "kind": inv.kind,
            "link": self.link,
            "status": inv.status(now),
            "region": inv.region,
            "marketplaces": list(inv.marketplaces),
            "note": inv.note,
            "created_at": format_time(inv.created_at),
            "expires_at": format_time(inv.expires_at),
            "reused": self.reused,
        }


def _lifetime(days: int | None) -> timedelta:
    if days is None:
        return timedelta(days=DEFAULT_LIFETIME_DAYS)
    if not 1 <= days <= MAX_LIFETIME_DAYS:
        raise UsageError(
            f"--expires-in must be between 1 and {MAX_LIFETIME_DAYS} days, not {days}",
            hint=f"leave it out for {DEFAULT_LIFETIME_DAYS} days",
        )
    return timedelta(days=days)


def _same_target(found: Invitation, target: Target) -> bool:
    return (
        found.region == target.region
        and found.region_wide == target.region_wide
        and list(found.marketplaces) == list(target.marketplaces)
    )


def create_invitation(services: Services, request: InviteRequest) -> InviteOutcome:
    """A pending invitation for the store (renewal when it exists); an equal pending one is reused."""
    config = services.config()
    name = validate_store_name(request.name)
    # Shown on the seller's page, in `invites` and in alerts: often pasted from elsewhere.
    note = printable(request.note) if request.note is not None else None
    lifetime = _lifetime(request.expires_in_days)
    public_url = public_url_of(services)
    db = services.database()
    now = services.clock()
    pending = db.invitations.pending_for(name, now)
    asked = bool(request.marketplaces) or request.region is not None
    if pending is not None and not asked and name not in config.stores:
        # `invite NAME` again for a new store: the pending invitation says what it connects.
        region = cast(Region, pending.region)
        target = Target(name, region, list(pending.marketplaces), pending.region_wide, None)
    else:
        target = plan_target(config, name, list(request.marketplaces), request.region)
    key = invitation_key(services)
    kind = INVITE_RENEWAL if target.renewal else INVITE_NEW
    if pending is not None:
        differs = (
            pending.kind != kind
            or (asked and not _same_target(pending, target))
            or (note is not None and note != pending.note)
            or request.expires_in_days is not None
        )
        if differs:
            raise UsageError(
                f"{target.name} already has a pending invitation "
                f"(expires {format_time(pending.expires_at)})",
                hint=f"run `soldscope invite {target.name}` alone to print its link again, or "
                f"`soldscope invites revoke {target.name}` first to make a new one",
            )
        token = derive_token(key, pending.uid)
        if hmac.compare_digest(token_hash(token), pending.token_hash):
            return InviteOutcome(pending, invite_link(public_url, token), True)
        # Made with an invitation key this home no longer has: its link cannot be shown again.
        db.invitations.revoke(pending.id, now)
    uid = secrets.token_hex(16)
    token = derive_token(key, uid)
    created = db.invitations.create(
        NewInvitation(
            uid=uid,
            token_hash=token_hash(token),
            name=target.name,
            kind=kind,
            region=target.region,
            marketplaces=tuple(target.marketplaces),
            region_wide=target.region_wide,
            note=note,
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    db.log_event(
        "invited",
        now,
        target.name,
        {"kind": kind, "invitation_id": created.id, "expires_at": format_time(created.expires_at)},
    )
    return InviteOutcome(created, invite_link(public_url, token), False)


def renewal_candidates(services: Services, expiring_within: int) -> list[str]:
    """Stores that are expired, in error from a rejected grant, or expiring within the days."""
    config = services.config()
    now = services.clock()
    rows = build_rows(config.stores.values(), services.database().states(), now)
    return sorted(
        row.name
        for row in rows
        if row.status == Status.EXPIRED
        or (row.status == Status.ERROR and row.problem and row.problem.code == INVALID_GRANT)
        or row.days_left <= expiring_within
    )


def renew_invitations(
    services: Services, names: list[str], expiring_within: int | None
) -> list[InviteOutcome]:
    """One renewal invitation per named store, or per store that needs one (pending ones reused)."""
    if names and expiring_within is not None:
        raise UsageError(
            "--expiring-within chooses the stores itself: give it or store names, not both",
            hint="e.g. `soldscope invite --renew --expiring-within 30`",
        )
    if names:
        chosen = [record.name for record in select_stores(services.config(), names)]
    else:
        days = DEFAULT_EXPIRING_WITHIN_DAYS if expiring_within is None else expiring_within
        if days < 0:
            raise UsageError("--expiring-within must be 0 or more days")
        chosen = renewal_candidates(services, days)
    return [create_invitation(services, InviteRequest(name=name)) for name in chosen]


# --- listing and revoking -------------------------------------------------------------------------


def invitation_json(
    invitation: Invitation, now: datetime, failure: InvitationFailure | None = None
) -> dict[str, Any]:
    """The pinned --json shape of one `invites` entry (docs/invite.md), with its last failure."""
    return {
        "name": invitation.name,
        "kind": invitation.kind,
        "status": invitation.status(now),
        "region": invitation.region,
        "marketplaces": list(invitation.marketplaces),
        "note": invitation.note,
        "created_at": format_time(invitation.created_at),
        "expires_at": format_time(invitation.expires_at),
        "used_at": None if invitation.used_at is None else format_time(invitation.used_at),
        "last_failure": None if failure is None else failure_json(failure),
    }


def failure_json(failure: InvitationFailure) -> dict[str, Any]:
    """An invitation's last failed consent in `invites --json` (docs/invite.md)."""
    return {"at": format_time(failure.at), "reason": failure.reason, "message": failure.message}


def list_invitations(services: Services, *, include_done: bool) -> list[Invitation]:
    """Pending invitations, or every invitation ever made with include_done."""
    return services.database().invitations.listing(services.clock(), include_done=include_done)


def last_failures(
    services: Services, invitations: Sequence[Invitation]
) -> dict[int, InvitationFailure]:
    """Each invitation's last consent that stored nothing (Cancel, another seller...), by id."""
    return services.database().invitations.last_failures(invitations)


def revoke_invitation(services: Services, name: str) -> Invitation:
    """End the pending invitation of a store name; its link then answers 410."""
    db = services.database()
    now = services.clock()
    pending = db.invitations.pending_for(name, now)
    if pending is None or not db.invitations.revoke(pending.id, now):
        raise UsageError(
            f"no pending invitation for {name!r}", hint="see `soldscope invites --all`"
        )
    db.log_event("invitation_revoked", now, name, {"invitation_id": pending.id})
    revoked = db.invitations.by_id(pending.id)
    assert revoked is not None
    return revoked
