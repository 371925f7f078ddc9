"""`soldscope calendar`: the renewal dates as an iCalendar file to subscribe to."""

from __future__ import annotations

from typing import Annotated

import typer

from soldscope_cli.commands.common import get_context, output_file
from soldscope_cli.errors import UsageError


def calendar_command(
    ctx: typer.Context,
    output: Annotated[
        str | None,
        typer.Option(
            "-o",
            "--output",
            metavar="FILE",
            help="Write to FILE (atomically, mode 0600) instead of stdout; - is stdout.",
            show_default=False,
        ),
    ] = None,
    url: Annotated[
        bool,
        typer.Option(
            "--url",
            help="Print the secret URL where `soldscope serve` publishes this calendar, to "
            "subscribe to it.",
        ),
    ] = False,
    new_url: Annotated[
        bool,
        typer.Option(
            "--new-url",
            help="Replace that URL with a new one (the old one stops working) and print it.",
        ),
    ] = False,
) -> None:
    """Write an iCalendar (.ics) file: one all-day event per store on the day its authorization expires, with a reminder 30 days before, and one for rotating the app's client secret.

    Each event says how to renew (`soldscope connect NAME`, or `soldscope invite NAME` for an invitation link). Event UIDs stay the same from run to run, so a calendar that imports the file again updates its events instead of duplicating them. Reads only local state: no network, no keyring.

    `soldscope serve` also publishes it at <public URL>/calendar/<token>.ics; --url prints that address (a secret: anyone who has it sees the store names and dates) and --new-url replaces it.

    Examples:
      soldscope calendar > renewals.ics
      soldscope calendar --output ~/Calendars/soldscope.ics
      soldscope calendar --url
    """
    app = get_context(ctx)
    if url or new_url:
        if output is not None:
            raise UsageError(
                "--output writes the calendar; --url and --new-url print its address",
                hint="use one of them at a time",
            )
        from soldscope_cli.monitoring.feed import feed_url

        app.out.print(feed_url(app, renew=new_url), markup=False, soft_wrap=True)
        if new_url:
            app.err.print("The previous calendar URL no longer works.", markup=False)
        return
    from soldscope_cli.monitoring.ical import calendar_text
    from soldscope_cli.monitoring.snapshot import fleet_snapshot

    text = calendar_text(fleet_snapshot(app))
    if output is None or output == "-":
        app.stdout.write(text)
        app.stdout.flush()
        return
    from soldscope_cli.fleet.files import atomic_write

    atomic_write(output_file("--output", output), text, make_parents=False)
    app.err.print(f"{len(app.config().stores)} stores written to {output}", markup=False)
