"""`soldscope list`: the status table, from local state only (no network, no keyring)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from soldscope_cli.commands.common import complete_store_names, get_context
from soldscope_cli.errors import ExitCode, UsageError
from soldscope_cli.fleet.listing import StoreRow, any_unhealthy, run_list, summary
from soldscope_cli.output.store_table import (
    KEYS,
    TableView,
    hidden_note,
    needs_rich,
    parse_columns,
    problem_notes,
    store_table_text,
)
from soldscope_cli.status import Status

if TYPE_CHECKING:
    from soldscope_cli.context import AppContext


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


def pick_columns(value: str | None) -> tuple[str, ...] | None:
    """`--columns store,status` → column keys (None: fit the terminal)."""
    if value is None:
        return None
    try:
        return parse_columns(value)
    except ValueError as exc:
        bad = str(exc)
        raise UsageError(
            f"unknown column {bad!r}" if bad else "--columns needs at least one column",
            hint="use any of: " + ",".join(KEYS),
        ) from None


def _notes(app: AppContext, rows: list[StoreRow], view: TableView, *, rich: bool) -> None:
    """On a terminal: problems the table shows only as a code, then (stderr) the columns hidden."""
    if rich or app.policy.rich:
        for line in problem_notes(rows, view):
            app.stdout.write(line + "\n")
        note = hidden_note(view, "`soldscope list --wide` shows them")
        if note is not None:
            app.stderr.write(note + "\n")


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
    wide: Annotated[
        bool,
        typer.Option("--wide", help="Show every column, even wider than the terminal."),
    ] = False,
    columns: Annotated[
        str | None,
        typer.Option(
            "--columns",
            metavar="A,B,...",
            help="Show these columns, in this order: " + ", ".join(KEYS) + ".",
            show_default=False,
        ),
    ] = None,
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
    wanted = [parse_status(s) for s in status or []]
    picked = pick_columns(columns)
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
        text, view = store_table_text(result.rows, app.policy, wide=wide, columns=picked)
        app.stdout.write(text)
        app.stdout.write(summary(result.rows) + "\n")
        _notes(app, result.rows, view, rich=False)
    else:
        from soldscope_cli.output.store_table import render_store_table

        view = render_store_table(app.out, result.rows, app.policy, wide=wide, columns=picked)
        app.out.print(summary(result.rows), markup=False)
        _notes(app, result.rows, view, rich=True)
    if any_unhealthy(result.rows):
        raise typer.Exit(int(ExitCode.UNHEALTHY))
