"""A consent through an invitation link, as `soldscope serve` runs it: click, consent, callback.

Each click on a pending invitation mints a fresh OAuth state (192 random bits, stored hashed,
single use, valid CONSENT_STATE_LIFETIME) bound to that invitation. The callback spends the state,
exchanges the code at once, proves the token live and only then stores token and record: the same
steps, checks and storage `connect` uses (consent_flow). Nothing here prints or speaks HTTP: the
web layer turns the results and the exceptions into pages.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, cast
from urllib.parse import parse_qs

from soldscope_cli.amazon.marketplaces import Region
from soldscope_cli.db.model import INVITE_PENDING, INVITE_RENEWAL, Invitation
from soldscope_cli.errors import IncompleteError, UnhealthyError
from soldscope_cli.onboarding.consent_flow import (
    ConnectResult,
    ConsentClients,
    NotTheSeller,
    SellerConflict,
    Target,
    check_seller,
    exchange_code,
    plan_target,
    prove,
    seller_checks,
    store_connection,
)
from soldscope_cli.onboarding.invitations import token_hash
from soldscope_cli.redact import redact
from soldscope_cli.services import Services
from soldscope_cli.untrusted import is_printable, printable

if TYPE_CHECKING:
    from soldscope_cli.fleet.app_credentials import AppCredentials

# Long enough to sign in to Seller Central and read the consent page; the code Amazon then hands
# back lives 5 minutes more (FACTS §1).
CONSENT_STATE_LIFETIME = timedelta(minutes=10)
_MAX_QUERY_FIELDS = 50

# --- what can go wrong, as the web layer needs to tell it -----------------------------------------


class InvitationNotFound(Exception):
    """No invitation has this token (404)."""


class InvitationGone(Exception):
    """The invitation exists but can no longer start or finish a consent (410)."""

    def __init__(self, invitation: Invitation, status: str) -> None:
        super().__init__(f"invitation for {invitation.name} is {status}")
        self.invitation = invitation
        self.status = status  # used, expired, revoked, or store_gone


class CallbackRefused(Exception):
    """A callback whose state is missing, unknown or already spent: forged or replayed (400)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"callback refused: {reason}")
        self.reason = reason  # no_state, unknown, used


# The kinds of ConsentFailure; the web layer has a page for each.
CANCELLED = "cancelled"  # the seller pressed Cancel
DENIED = "denied"  # Amazon answered with another error
SLOW = "slow"  # the consent took longer than its state lives
INCOMPLETE = "incomplete"  # no code or no seller id in the answer
OTHER_SELLER = "other_seller"  # a renewal consented by a different seller
DUPLICATE = "duplicate"  # the seller is already connected as another store
UNREACHABLE = "unreachable"  # Amazon could not be reached or did not answer in time
REJECTED = "rejected"  # Amazon refused the code or the new token


class ConsentFailure(Exception):
    """A callback that named a real invitation but stored nothing; the invitation stays usable."""

    def __init__(self, kind: str, invitation: Invitation, detail: str) -> None:
        super().__init__(f"{invitation.name}: {detail}")
        self.kind = kind
        self.invitation = invitation
        self.detail = detail  # for the operator's log line; never shown to the seller


# --- the click ------------------------------------------------------------------------------------


def _target(services: Services, invitation: Invitation) -> Target:
    """The store the invitation connects, planned against the config as it is now."""
    config = services.config()
    if invitation.kind == INVITE_RENEWAL and invitation.name not in config.stores:
        raise InvitationGone(invitation, "store_gone")
    region = cast(Region, invitation.region) if invitation.region_wide else None
    codes = [] if invitation.region_wide else list(invitation.marketplaces)
    if not codes and region is None and invitation.name in config.stores:
        return plan_target(config, invitation.name, [], None)
    return plan_target(config, invitation.name, codes, region)


def _pending(services: Services, invitation: Invitation) -> None:
    status = invitation.status(services.clock())
    if status != INVITE_PENDING:
        raise InvitationGone(invitation, status)


def _credentials(services: Services) -> AppCredentials:
    from soldscope_cli.fleet.app_credentials import resolve_app

    creds = resolve_app(services.config().app, services.env, services.secret_store)
    creds.require(redirect=True)
    return creds


def begin_consent(services: Services, token: str) -> str:
    """The Seller Central consent URL for one click on an invitation link, with a fresh state."""
    from soldscope_cli.consent.listener import consent_url, new_state

    db = services.database()
    invitation = db.invitations.by_token_hash(token_hash(token))
    if invitation is None:
        raise InvitationNotFound()
    _pending(services, invitation)
    target = _target(services, invitation)
    creds = _credentials(services)
    assert creds.application_id is not None and creds.redirect_uri is not None  # by require()
    base = services.endpoints.seller_central_base(
        region=target.region, marketplace=target.marketplaces[0] if target.marketplaces else None
    )
    state = new_state(None)
    now = services.clock()
    db.invitations.add_state(token_hash(state), invitation.id, now, now + CONSENT_STATE_LIFETIME)
    return consent_url(base, creds.application_id, state, creds.redirect_uri, creds.draft)


# --- the callback ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Completed:
    """A consent through an invitation that was stored."""

    invitation: Invitation
    result: ConnectResult


def _single(params: Mapping[str, list[str]], key: str) -> str | None:
    values = params.get(key, [])
    return values[0] if len(values) == 1 and values[0] else None


# What an `invitation_failed` event keeps of the failure's words (Amazon's text among them).
_MESSAGE_LIMIT = 300


def _fail(services: Services, kind: str, invitation: Invitation, detail: str) -> ConsentFailure:
    """Record the failed attempt (`log`, `invites` show it) and build the exception for the page."""
    services.database().log_event(
        "invitation_failed",
        services.clock(),
        invitation.name,
        {
            "invitation_id": invitation.id,
            "reason": kind,
            "message": printable(redact(detail), limit=_MESSAGE_LIMIT),
        },
    )
    return ConsentFailure(kind, invitation, detail)


def complete_consent(
    services: Services,
    query: str,
    *,
    lock: threading.Lock,
    make_clients: Callable[[], ConsentClients] | None = None,
) -> Completed:
    """Check Amazon's answer, exchange the code, prove the token, store it; or raise, storing nothing.

    `lock` serialises the stores of one process; the config lock and database transactions keep
    other processes (CLI commands, other serve processes) consistent.
    """
    from soldscope_cli.consent.listener import ConsentDenied

    try:
        params = parse_qs(query, keep_blank_values=True, max_num_fields=_MAX_QUERY_FIELDS)
    except ValueError:
        params = {}
    state = _single(params, "state")
    if state is None:
        raise CallbackRefused("no_state")
    db = services.database()
    claim = db.invitations.claim_state(token_hash(state), services.clock())
    invitation = claim.invitation
    if invitation is None:
        raise CallbackRefused(claim.problem or "unknown")
    _pending(services, invitation)
    if claim.problem == "expired":
        raise _fail(services, SLOW, invitation, "the consent took longer than its state lives")
    error = _single(params, "error")
    if error is not None:
        denied = ConsentDenied(error, _single(params, "error_description"), connect_args="NAME")
        kind = CANCELLED if denied.error == "access_denied" else DENIED
        raise _fail(services, kind, invitation, denied.message)
    code = _single(params, "spapi_oauth_code")
    seller = _single(params, "selling_partner_id")
    if code is None or seller is None or not is_printable(seller):
        raise _fail(services, INCOMPLETE, invitation, "Amazon's answer had no code or seller id")
    with lock:
        return _store(services, invitation, code, seller, make_clients)


def _store(
    services: Services,
    invitation: Invitation,
    code: str,
    seller: str,
    make_clients: Callable[[], ConsentClients] | None,
) -> Completed:
    # Read again under the lock: a CLI command or another callback may have changed things.
    invitation = services.database().invitations.by_id(invitation.id) or invitation
    _pending(services, invitation)
    services.config(reload=True)
    target = _target(services, invitation)
    creds = _credentials(services)
    assert creds.redirect_uri is not None  # by require()
    try:
        check_seller(services.config(), target, seller, force=False)
    except SellerConflict as exc:
        stored = target.existing.selling_partner_id if target.existing else None
        kind = OTHER_SELLER if stored and stored != seller else DUPLICATE
        raise _fail(services, kind, invitation, exc.message) from None
    clients: ConsentClients = make_clients() if make_clients else services.amazon_clients()
    try:
        refresh_token = exchange_code(clients, code, creds.redirect_uri, target.name)
        now = services.clock()
        record, check = prove(
            target.record(seller, now), refresh_token, clients, again="open the link again"
        )
    except IncompleteError as exc:
        raise _fail(services, UNREACHABLE, invitation, exc.message) from None
    except UnhealthyError as exc:
        raise _fail(services, REJECTED, invitation, exc.message) from None
    db = services.database()
    # Claim the link in the database before anything is stored: of two consents through one link
    # (two browsers, their callbacks in two serve processes or on two team hosts) exactly one
    # wins; the other's token is dropped and its page says the link was already used.
    if not db.invitations.mark_used(invitation.id, now, seller):
        db.log_event(
            "invitation_failed",
            now,
            invitation.name,
            {"invitation_id": invitation.id, "reason": "used", "selling_partner_id": seller},
        )
        raise InvitationGone(invitation, "used")
    try:
        # The seller checks again, with Amazon's answer for the token (its store names), where
        # the store is written: a connect or another link may have stored this seller meanwhile.
        result = store_connection(
            services, record, refresh_token, check, now, verify=seller_checks(record, force=False)
        )
    except SellerConflict as exc:
        db.invitations.release(invitation.id, now, seller)
        kind = OTHER_SELLER if isinstance(exc, NotTheSeller) else DUPLICATE
        raise _fail(services, kind, invitation, exc.message) from None
    except BaseException:
        db.invitations.release(invitation.id, now, seller)
        raise
    db.log_event(
        "invitation_used",
        now,
        target.name,
        {"invitation_id": invitation.id, "kind": invitation.kind, "selling_partner_id": seller},
    )
    used = db.invitations.by_id(invitation.id) or invitation
    return Completed(used, result)
