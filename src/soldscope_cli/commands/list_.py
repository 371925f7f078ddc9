"""`soldscope list`: the status table, from local state only (no network, no keyring)."""

from __future__ import annotations

from typing import Annotated

import typer

from soldscope_cli.commands.common import (
    ExpectStores,
    check_expected_stores,
    complete_store_names,
    get_context,
)
from soldscope_cli.errors import ExitCode, UsageError
from soldscope_cli.fleet.listing import any_unhealthy, run_list, summary
from soldscope_cli.output.store_table import needs_rich
from soldscope_cli.status import Status


def parse_status(value: str) -> Status:
    """A status filter from the command line (expiring-soon and expiring_soon both work)."""
    normalized = value.strip().lower().replace("-", "_").replace(" ", "_")
    try:
        return Status(normalized)
    except ValueError:
        raise UsageError(
            f"unknown status {value!r}",
            hint="use one of: active, expiring_soon, expired, error",
        ) from None


def list_command(
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
    status: Annotated[
        list[str] | None,
        typer.Option(
            "--status",
            help="Only stores with this status: active, expiring_soon, expired, error (repeatable).",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array.")] = False,
    expect_stores: ExpectStores = None,
) -> None:
    """Show every connection's status and days left before the 365-day re-authorization.

    Reads only local files: no network, no keyring. Exit 1 when a listed store is in error or
    expired, so CI can fail on it.

    Examples:
      soldscope list
      soldscope list --status error --status expired
      soldscope list --json | jq '.[] | select(.days_left < 30) | .name'
    """
    app = get_context(ctx)
    check_expected_stores(app, expect_stores)
    wanted = [parse_status(s) for s in status or []]
    result = run_list(app.config(), app.paths.database, names or [], wanted, app.clock())
    if as_json:
        from soldscope_cli.output.jsonout import print_json

        print_json(app.stdout, [row.to_json() for row in result.rows])
    elif result.total_configured == 0:
        app.err.print(
            "No stores yet. Connect one with `soldscope connect NAME --marketplace US`.",
            markup=False,
        )
    elif not needs_rich(result.rows, app.policy):
        # Without importing Rich at all: list must stay fast at 1,000 stores.
        from soldscope_cli.output.store_table import store_table_text

        app.stdout.write(store_table_text(result.rows, app.policy))
        app.stdout.write(summary(result.rows) + "\n")
    else:
        from soldscope_cli.output.store_table import render_store_table

        render_store_table(app.out, result.rows, app.policy)
        app.out.print(summary(result.rows), markup=False)
    if any_unhealthy(result.rows):
        raise typer.Exit(int(ExitCode.UNHEALTHY))
