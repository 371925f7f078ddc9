"""`soldscope calendar`: the renewal dates as an iCalendar file to subscribe to."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from soldscope_cli.commands.common import get_context


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
) -> None:
    """Write an iCalendar (.ics) file: one all-day event per store on the day its authorization expires, with a reminder 30 days before, and one for rotating the app's client secret.

    Each event says how to renew (`soldscope connect NAME`, or `soldscope invite NAME` for an invitation link). Event UIDs stay the same from run to run, so a calendar that imports the file again updates its events instead of duplicating them. Reads only local state: no network, no keyring.

    Examples:
      soldscope calendar > renewals.ics
      soldscope calendar --output ~/Calendars/soldscope.ics
    """
    from soldscope_cli.monitoring.ical import calendar_text
    from soldscope_cli.monitoring.snapshot import fleet_snapshot

    app = get_context(ctx)
    text = calendar_text(fleet_snapshot(app))
    if output is None or output == "-":
        app.stdout.write(text)
        app.stdout.flush()
        return
    from soldscope_cli.fleet.files import atomic_write

    atomic_write(Path(output), text)
    app.err.print(f"{len(app.config().stores)} stores written to {output}", markup=False)
