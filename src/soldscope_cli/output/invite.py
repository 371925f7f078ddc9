"""What `invite` and `invites` print: links on stdout, context on stderr, or JSON."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from soldscope_cli.db.model import Invitation, InvitationFailure
from soldscope_cli.fleet.config import format_time
from soldscope_cli.onboarding.invitations import InviteOutcome, invitation_json
from soldscope_cli.output.fitting import Layout, hidden_note, render_fitted, wrap_lines
from soldscope_cli.output.jsonout import print_json
from soldscope_cli.output.policy import Terminal


def _what(outcome: InviteOutcome) -> str:
    inv = outcome.invitation
    where = (
        f"region {inv.region}"
        if inv.region_wide or not inv.marketplaces
        else ", ".join(inv.marketplaces)
    )
    verb = "renew" if inv.kind == "renewal" else "connect"
    again = " (already pending: the same link)" if outcome.reused else ""
    return f"Invitation to {verb} {inv.name} ({where}), valid until {format_time(inv.expires_at)}{again}"


def render_invitation(
    app: Terminal, outcome: InviteOutcome, now: datetime, *, as_json: bool
) -> None:
    """One invitation: its link alone on stdout (for scripts), what it is on stderr."""
    if as_json:
        print_json(app.stdout, outcome.to_json(now))
        return
    app.err.print(_what(outcome) + ". Send this link to the seller:", markup=False, soft_wrap=True)
    app.stdout.write(outcome.link + "\n")
    app.stdout.flush()


def render_invitations(
    app: Terminal, outcomes: list[InviteOutcome], now: datetime, *, as_json: bool
) -> None:
    """The renewal campaign: one line per store, `NAME LINK`."""
    if as_json:
        print_json(app.stdout, [outcome.to_json(now) for outcome in outcomes])
        return
    if not outcomes:
        app.err.print("No store needs a renewal invitation.", markup=False)
        return
    for outcome in outcomes:
        app.err.print(_what(outcome), markup=False, soft_wrap=True)
    width = max(len(outcome.invitation.name) for outcome in outcomes)
    for outcome in outcomes:
        app.stdout.write(f"{outcome.invitation.name:<{width}}  {outcome.link}\n")
    app.stdout.flush()


def _failure(failure: InvitationFailure | None) -> str:
    """'cancelled 2026-12-01T09:20:11Z': the last consent through it that stored nothing."""
    if failure is None:
        return "-"
    return f"{failure.reason.replace('_', ' ')} {format_time(failure.at)}"


def render_invitation_list(
    app: Terminal,
    invitations: list[Invitation],
    failures: Mapping[int, InvitationFailure],
    now: datetime,
    *,
    as_json: bool,
    everything: bool,
) -> None:
    """`invites`: a table on a terminal, tab-free plain columns otherwise, or JSON."""
    if as_json:
        print_json(
            app.stdout, [invitation_json(inv, now, failures.get(inv.id)) for inv in invitations]
        )
        return
    if not invitations:
        tail = "" if everything else " (`soldscope invites --all` shows used, expired and revoked)"
        app.err.print(f"No pending invitations{tail}.", markup=False)
        return
    header = ("NAME", "KIND", "STATUS", "CREATED", "EXPIRES", "USED", "LAST FAILURE", "NOTE")
    rows = [
        (
            inv.name,
            inv.kind,
            inv.status(now),
            format_time(inv.created_at),
            format_time(inv.expires_at),
            format_time(inv.used_at) if inv.used_at else "-",
            _failure(failures.get(inv.id)),
            inv.note or "",
        )
        for inv in invitations
    ]
    if not app.policy.rich:
        # Piped: stable, untruncated columns whatever the width.
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
        for row in [header, *rows]:
            cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
            app.stdout.write("  ".join(cells).rstrip() + "\n")
        app.stdout.flush()
        return
    short: list[dict[str, str]] = [{} for _ in invitations]
    styles = [{"status": STATUS_STYLE.get(inv.status(now), "")} for inv in invitations]
    full = [dict(zip(LAYOUT.keys, row, strict=True)) for row in rows]
    view = render_fitted(app.out, LAYOUT, full, short, styles, color=app.policy.color)
    if "note" not in view.columns:
        notes = [f"{inv.name}: {inv.note}" for inv in invitations if inv.note]
        for line in wrap_lines(notes, view.room):
            app.out.print(line, markup=False, highlight=False)
    # What went wrong, in full: the reason alone rarely says what to do.
    notes = [
        f"{inv.name}: last attempt failed: {failure.message}"
        for inv in invitations
        if (failure := failures.get(inv.id)) is not None and failure.message
    ]
    if notes:
        for line in wrap_lines(notes, view.room):
            app.out.print(line, markup=False, highlight=False)
    note = hidden_note(view, "`soldscope invites --json` shows them")
    if note is not None:
        app.err.print(note, markup=False, soft_wrap=True)


# On a terminal the table fits the width: CREATED, then the note (it moves below the table), then
# USED, then LAST FAILURE give way (the failure's words are printed below the table anyway).
LAYOUT = Layout(
    (
        ("name", "NAME"),
        ("kind", "KIND"),
        ("status", "STATUS"),
        ("created", "CREATED"),
        ("expires", "EXPIRES"),
        ("used", "USED"),
        ("failure", "LAST FAILURE"),
        ("note", "NOTE"),
    ),
    (
        ("drop", "created"),
        ("drop", "note"),
        ("drop", "used"),
        ("drop", "failure"),
    ),
)
STATUS_STYLE = {"used": "green", "expired": "yellow", "revoked": "red"}


def render_revoked(app: Terminal, invitation: Invitation) -> None:
    """Confirm a revoke on stderr."""
    app.err.print(
        f"Revoked the pending invitation for {invitation.name}: its link no longer works.",
        markup=False,
    )
