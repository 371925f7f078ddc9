"""`soldscope invites`: list invitations; `invites revoke NAME` ends a pending one."""

from __future__ import annotations

from typing import Annotated

import typer

from soldscope_cli.commands.common import complete_store_names, get_context

invites_app = typer.Typer(
    name="invites",
    help="List invitation links, or revoke one.",
    no_args_is_help=False,
    invoke_without_command=True,
    rich_markup_mode="rich",
)


@invites_app.callback()
def invites_command(
    ctx: typer.Context,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    everything: Annotated[
        bool, typer.Option("--all", help="Also used, expired and revoked invitations.")
    ] = False,
) -> None:
    """List pending invitations (with --all: every invitation) and their status.

    Each has a status: pending, used, expired or revoked, and its last failed attempt (the seller pressed Cancel, consented as another seller, or is already connected under another name), also in `soldscope log NAME`. Links are not shown: `soldscope invite NAME` prints a pending invitation's link again.

    Examples:
      soldscope invites
      soldscope invites --all --json
      soldscope invites revoke acme-us
    """
    if ctx.invoked_subcommand is not None:
        return
    app = get_context(ctx)
    from soldscope_cli.onboarding.invitations import last_failures, list_invitations
    from soldscope_cli.output.invite import render_invitation_list

    found = list_invitations(app, include_done=everything)
    render_invitation_list(
        app,
        found,
        last_failures(app, found),
        app.clock(),
        as_json=json_output,
        everything=everything,
    )


@invites_app.command("revoke")
def revoke_command(
    ctx: typer.Context,
    name: Annotated[
        str,
        typer.Argument(
            help="The store whose pending invitation ends.", autocompletion=complete_store_names
        ),
    ],
) -> None:
    """End the pending invitation of NAME: its link answers "no longer valid" from now on.

    Examples:
      soldscope invites revoke acme-us
    """
    app = get_context(ctx)
    from soldscope_cli.onboarding.invitations import revoke_invitation
    from soldscope_cli.output.invite import render_revoked

    render_revoked(app, revoke_invitation(app, name))
