"""`soldscope invite`: an invitation link for a new store, a renewal, or a renewal campaign."""

from __future__ import annotations

from typing import Annotated

import typer

from soldscope_cli.amazon.marketplaces import parse_region
from soldscope_cli.commands.common import (
    MarketplacesOption,
    RegionOption,
    complete_store_names,
    get_context,
)
from soldscope_cli.errors import UsageError


def invite_command(
    ctx: typer.Context,
    names: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[NAME]...",
            help="The store to invite (an existing name is a renewal); with --renew, any number.",
            autocompletion=complete_store_names,
            show_default=False,
        ),
    ] = None,
    marketplace: MarketplacesOption = None,
    region: RegionOption = None,
    expires_in: Annotated[
        int | None,
        typer.Option(
            "--expires-in",
            metavar="DAYS",
            min=1,
            max=90,
            help="How long the link can be used (default: 14 days).",
            show_default=False,
        ),
    ] = None,
    note: Annotated[
        str | None,
        typer.Option(
            "--note",
            metavar="TEXT",
            help="A note for `invites` (never shown to the seller).",
            show_default=False,
        ),
    ] = None,
    renew: Annotated[
        bool,
        typer.Option(
            "--renew",
            help="Renewal invitations: for the named stores, or for every store that needs one.",
        ),
    ] = False,
    expiring_within: Annotated[
        int | None,
        typer.Option(
            "--expiring-within",
            metavar="DAYS",
            min=0,
            help="With --renew and no NAME: stores expired, in error from a rejected grant, or expiring within DAYS (default: 30).",
            show_default=False,
        ),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Create an invitation link that lets a seller connect (or renew) a store through `soldscope serve`.

    The seller opens the link, signs in to Seller Central and confirms; serve stores the store. A NAME that exists makes a renewal invitation (same seller, new token, history kept). A store with a pending invitation gets the same link again rather than a second one. --renew makes one renewal invitation per named store, or, without names, per store that is expired, in error from a rejected grant, or expiring within --expiring-within days.

    Examples:
      soldscope invite acme-us --marketplace US --marketplace CA
      soldscope invite acme-eu --region eu --expires-in 7 --note "call on Tuesday"
      soldscope invite acme-us                 # renewal of an existing store
      soldscope invite --renew --expiring-within 30 --json
    """
    # Imported here: every command pays for the modules imported when the CLI starts.
    from soldscope_cli.onboarding.invitations import (
        InviteRequest,
        create_invitation,
        renew_invitations,
    )
    from soldscope_cli.output.invite import render_invitation, render_invitations

    app = get_context(ctx)
    chosen = list(names or [])
    now = app.clock()
    if renew:
        used = [
            flag
            for flag, on in (
                ("--marketplace", bool(marketplace)),
                ("--region", region is not None),
                ("--expires-in", expires_in is not None),
                ("--note", note is not None),
            )
            if on
        ]
        if used:
            raise UsageError(
                f"{', '.join(used)} cannot be used with --renew (renewals keep each store's "
                "marketplaces)",
                hint="see `soldscope invite --help`",
            )
        outcomes = renew_invitations(app, chosen, expiring_within)
        render_invitations(app, outcomes, now, as_json=json_output)
        return
    if expiring_within is not None:
        raise UsageError("--expiring-within needs --renew", hint="see `soldscope invite --help`")
    if len(chosen) != 1:
        raise UsageError(
            "give exactly one store NAME" if chosen else "missing store NAME",
            hint="e.g. `soldscope invite acme-us --marketplace US`; for several stores use --renew",
        )
    request = InviteRequest(
        name=chosen[0],
        marketplaces=tuple(marketplace or ()),
        region=parse_region(region) if region is not None else None,
        expires_in_days=expires_in,
        note=note.strip() if note and note.strip() else None,
    )
    render_invitation(app, create_invitation(app, request), now, as_json=json_output)
