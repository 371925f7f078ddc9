"""`soldscope demo`: see the whole product work offline, in one command."""

from __future__ import annotations

import dataclasses
import shlex
from typing import Annotated

import typer

from soldscope_cli.commands.common import get_context


def demo_command(
    ctx: typer.Context,
    keep: Annotated[
        bool,
        typer.Option("--keep", help="Keep the throwaway home for exploring and say how to use it."),
    ] = False,
) -> None:
    """Run soldscope end to end against the built-in local Amazon simulator.

    In a throwaway home (never your real config, keyring or data) it starts the simulator, registers a demo app, connects six stores across NA, EU and FE and a seventh through an invitation link answered by `soldscope serve`, makes one revoked, one expiring soon and one expired, validates them live, syncs their data, prints the status table and a sync summary, and sends renewal invitations to the stores that need them. Exit 0 when the demo ran as designed.

    Examples:
      soldscope demo
      soldscope demo --keep
    """
    from soldscope_cli.datasets.registry import NAMES as DATASET_NAMES
    from soldscope_cli.demo import run_demo
    from soldscope_cli.output.sync import render_table, store_line, summary_line
    from soldscope_cli.output.validate import render_validation

    app = get_context(ctx)

    def say(text: str) -> None:
        app.err.print(text, markup=False, style="dim" if app.policy.color else "")

    result = run_demo(app, keep=keep, say=say)
    if result.sync is not None:
        app.out.print()
        app.out.print("Sync:", markup=False, style="bold")
        if app.policy.rich:
            hidden = render_table(app.out, result.sync, DATASET_NAMES)
            if hidden:
                say(f"Hidden to fit {app.out.width} columns: {', '.join(hidden)}")
        else:
            for store in result.sync.stores:
                app.out.print(store_line(store), markup=False)
        app.out.print(summary_line(result.sync), markup=False)
    app.out.print()
    app.out.print("Connections (soldscope list):", markup=False, style="bold")
    # The live check's findings, shown with the rows as they are after the sync (last sync set).
    render_validation(
        app,
        dataclasses.replace(result.validate, rows=result.rows),
        as_json=False,
        hidden_how="a wider terminal shows them",
    )
    if result.renewals:
        app.out.print()
        app.out.print(
            "Renewal campaign (soldscope invite --renew): send each seller their link",
            markup=False,
            style="bold",
        )
        width = max(len(name) for name, _ in result.renewals)
        for name, link in result.renewals:
            app.out.print(f"  {name:<{width}}  {link}", markup=False, soft_wrap=True)
    app.out.print()
    if result.kept:
        home = shlex.quote(str(result.home))
        app.out.print(f"The demo home is kept at {result.home}. To explore it:", markup=False)
        lines = [
            f"export SOLDSCOPE_CONFIG_DIR={home}/config SOLDSCOPE_DATA_DIR={home}/data "
            "SOLDSCOPE_SECRETS=file",
            "soldscope list --wide",
            "soldscope log fern-au",
            "soldscope data",
            "soldscope export brand-analytics --format csv -o search-terms.csv",
            "soldscope invites",
        ]
        if result.scenario_file is not None:
            scenario = shlex.quote(str(result.scenario_file))
            lines += [
                "# to validate or sync again, serve the same simulated Amazon in another terminal:",
                f"soldscope simulator serve --port 8765 --scenario {scenario}",
                "# then paste the export lines it prints here, and: soldscope validate",
            ]
        for line in lines:
            app.out.print("  " + line, markup=False, soft_wrap=True)
    else:
        app.out.print(
            "The demo's throwaway home was removed; `soldscope demo --keep` keeps it for exploring.",
            markup=False,
        )
