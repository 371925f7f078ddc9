"""`soldscope digest`: one summary of what expires soon, what is broken and what is stale."""

from __future__ import annotations

from typing import Annotated

import typer

from soldscope_cli.commands.common import NoNotify, get_context, say_notify_failures


def digest_command(
    ctx: typer.Context,
    expiring_within: Annotated[
        int,
        typer.Option(
            "--expiring-within",
            metavar="DAYS",
            min=0,
            max=365,
            help="List stores whose authorization expires within DAYS days.",
        ),
    ] = 30,
    as_json: Annotated[bool, typer.Option("--json", help="Print the digest as JSON.")] = False,
    no_notify: NoNotify = False,
) -> None:
    """Print a summary of the fleet and send it to every alert target that takes digests.

    The summary lists broken stores (error or expired), stores expiring within --expiring-within days, datasets whose last successful sync is older than their \\[stale] limit, and the app's client secret when its 180-day rotation is due within 30 days, each with the command that fixes it. It is sent every time, also when nothing is wrong, so a weekly cron line proves the alerts still arrive. A target with a stores filter gets only its stores. Reads only local state (no Amazon calls). A target that cannot be reached is named on stderr; the exit code stays 0.

    Examples:
      soldscope digest
      soldscope digest --expiring-within 60 --no-notify
    """
    from soldscope_cli.monitoring.snapshot import fleet_snapshot
    from soldscope_cli.notify.digest import build_digest, digest_json, digest_message, send_digest

    app = get_context(ctx)
    snapshot = fleet_snapshot(app)
    digest = build_digest(
        snapshot.rows, snapshot.datasets, snapshot.secret_due_at, snapshot.now, expiring_within
    )
    if as_json:
        from soldscope_cli.output.jsonout import print_json

        print_json(app.stdout, digest_json(digest))
    else:
        title, body = digest_message(digest)
        if app.policy.stdout_tty:
            # On a terminal: wrapped between words, each store's continuation indented under it.
            from soldscope_cli.output.wrap import wrap_text

            title, body = wrap_text(title, app.policy.width), wrap_text(body, app.policy.width)
        app.out.print(title, markup=False, soft_wrap=True)
        app.out.print("", markup=False)
        app.out.print(body, markup=False, soft_wrap=True)
    if no_notify:
        return
    deliveries = send_digest(app.notifier(), app.database(), digest, app.clock)
    say_notify_failures(app, [d for d in deliveries if not d.ok])
    sent = sum(d.ok for d in deliveries)
    if sent:
        app.err.print(f"digest sent to {sent} target{'s' if sent != 1 else ''}", markup=False)
