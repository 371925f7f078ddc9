"""`soldscope notify test`: prove every alert target is reachable."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from soldscope_cli.commands.common import get_context
from soldscope_cli.context import AppContext
from soldscope_cli.errors import ExitCode, UsageError

if TYPE_CHECKING:
    from soldscope_cli.notify.sender import Delivery

notify_app = typer.Typer(
    name="notify",
    help="Alert targets: send a test message.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)


@notify_app.command("test")
def notify_test_command(ctx: typer.Context) -> None:
    """Send a test message to every alert target and say which failed (exit 1 if one did).

    Targets are Apprise URLs from SOLDSCOPE_NOTIFY_URLS (separated by spaces or commas) and the notify tables of config.toml (docs/alerts.md). URLs are secrets: output names a target by its number and kind, never by its URL.

    Examples:
      SOLDSCOPE_NOTIFY_URLS=json://host/hook soldscope notify test
      soldscope notify test
    """
    from soldscope_cli.notify.testmessage import send_test

    app = get_context(ctx)
    notifier = app.notifier()
    if not notifier.targets:
        raise UsageError(
            "no alert targets configured",
            hint="set SOLDSCOPE_NOTIFY_URLS to Apprise URLs or add [[notify]] tables with url = "
            "... to config.toml (see docs/alerts.md)",
        )
    deliveries = send_test(notifier, len(app.config().stores))
    _record(app, deliveries)
    for delivery in deliveries:
        if delivery.ok:
            app.out.print(f"sent    {delivery.target.label}", markup=False)
        else:
            app.out.print(f"failed  {delivery.target.label}: {delivery.error}", markup=False)
    failed = [d for d in deliveries if not d.ok]
    if failed:
        app.err.print(f"{len(failed)} of {len(deliveries)} targets failed", markup=False)
        raise typer.Exit(int(ExitCode.UNHEALTHY))


def _record(app: AppContext, deliveries: list[Delivery]) -> None:
    """Remember how each delivery went, so doctor can tell a target that stopped answering."""
    from soldscope_cli.notify.announce import delivery_entries

    now = app.clock()
    app.database().log_notified(now, delivery_entries(deliveries, now))
