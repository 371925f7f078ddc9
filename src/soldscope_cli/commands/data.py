"""`soldscope data`: what the state database holds per store and dataset, and how fresh it is."""

from __future__ import annotations

from typing import Annotated

import typer

from soldscope_cli.commands.common import complete_store_names, get_context
from soldscope_cli.errors import ExitCode


def data_command(
    ctx: typer.Context,
    names: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[NAME]...",
            help="Stores to show (default: all).",
            autocompletion=complete_store_names,
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array.")] = False,
    fail_stale: Annotated[
        bool,
        typer.Option("--fail-stale", help="Exit 1 when a dataset shown is stale (for cron or CI)."),
    ] = False,
) -> None:
    """Show, per store and dataset, the rows held, the newest data point and how stale it is.

    A dataset is stale when its last successful sync is older than its \\[stale] limit in config.toml (inventory 36 h, finances 48 h, brand analytics 10 days by default), or it never synced. Problems: the app lacks the dataset's role (not_authorized), the last sync failed, a Brand Analytics report Amazon answered FATAL, or one stuck in flight. Reads only the state database: no network, no keyring.

    Examples:
      soldscope data
      soldscope data acme-us --json
      soldscope data --fail-stale || echo "a sync is overdue"
    """
    from soldscope_cli.sync.freshness import any_stale, run_data

    app = get_context(ctx)
    rows = run_data(app.config(), app.database(), names or [], app.clock())
    if as_json:
        from soldscope_cli.output.datasets import health_json
        from soldscope_cli.output.jsonout import print_json

        print_json(app.stdout, [health_json(r) for r in rows])
    elif not rows:
        app.err.print(
            "No stores yet. Connect one with `soldscope connect NAME --marketplace US`.",
            markup=False,
        )
    elif app.policy.rich:
        from soldscope_cli.output.datasets import health_summary, render_health
        from soldscope_cli.output.fitting import hidden_note

        view = render_health(app.out, rows, color=app.policy.color)
        app.out.print(health_summary(rows), markup=False, highlight=False)
        note = hidden_note(view, "`soldscope data --json` shows them")
        if note is not None:
            app.err.print(note, markup=False, soft_wrap=True)
    else:
        from soldscope_cli.output.datasets import health_summary, health_text

        app.stdout.write(health_text(rows))
        app.stdout.write(health_summary(rows) + "\n")
    if fail_stale and any_stale(rows):
        raise typer.Exit(int(ExitCode.UNHEALTHY))
