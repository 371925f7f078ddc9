"""`soldscope list`: the status table, from local state only (no network, no keyring)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from soldscope_cli.commands.common import (
    ExpectStores,
    check_expected_stores,
    complete_choices,
    complete_marketplaces,
    complete_regions,
    complete_statuses,
    complete_store_names,
    get_context,
)
from soldscope_cli.errors import ExitCode, UsageError
from soldscope_cli.fleet.listing import (
    SORTS,
    ListQuery,
    StoreRow,
    any_unhealthy,
    run_list,
    summary,
)
from soldscope_cli.output.fitting import TableView, hidden_note
from soldscope_cli.output.store_table import (
    KEYS,
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


def _notes(app: AppContext, rows: list[StoreRow], view: TableView) -> None:
    """On a terminal: problems the table shows only as a code, then (stderr) the columns hidden."""
    for line in problem_notes(rows, view, app.policy.width):
        app.stdout.write(line + "\n")
    note = hidden_note(view, "`soldscope list --wide` shows them")
    if note is not None:
        app.stderr.write(note + "\n")


def parse_query(
    names: list[str],
    status: list[str],
    region: list[str],
    marketplace: list[str],
    expiring_within: int | None,
    sort: str,
) -> ListQuery:
    """The filters and order from the command line; a bad value is a usage error."""
    from soldscope_cli.amazon.marketplaces import lookup, parse_region

    if sort not in SORTS:
        raise UsageError(f"unknown sort {sort!r}", hint="use one of: " + ", ".join(SORTS))
    return ListQuery(
        names=names,
        statuses=[parse_status(s) for s in status],
        regions=list(dict.fromkeys(parse_region(r) for r in region)),
        marketplaces=list(dict.fromkeys(lookup(m).code for m in marketplace)),
        expiring_within=expiring_within,
        sort=sort,
    )


def output_format(fmt: str, as_json: bool, *, wide: bool, columns: str | None) -> str:
    """table, plain, json or csv; --json is --format json."""
    fmt = fmt.strip().lower()
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}", hint="use one of: " + ", ".join(FORMATS))
    if as_json and fmt not in ("json", "table"):
        raise UsageError(
            f"--json and --format {fmt} disagree", hint="use one of them (--json is --format json)"
        )
    fmt = "json" if as_json else fmt
    if fmt in ("json", "csv") and (wide or columns is not None):
        flag = "--wide" if wide else "--columns"
        raise UsageError(
            f"{flag} shapes the table, not --format {fmt}",
            hint=f"leave out {flag}; {fmt} always has every field",
        )
    return fmt


FORMATS = ("table", "plain", "json", "csv")


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
            metavar="STATUS",
            autocompletion=complete_statuses,
            help="Only stores with this status: active, expiring_soon, expired, error (repeatable).",
            show_default=False,
        ),
    ] = None,
    region: Annotated[
        list[str] | None,
        typer.Option(
            "--region",
            metavar="na|eu|fe",
            autocompletion=complete_regions,
            help="Only stores of this region (repeatable).",
            show_default=False,
        ),
    ] = None,
    marketplace: Annotated[
        list[str] | None,
        typer.Option(
            "--marketplace",
            metavar="CC",
            autocompletion=complete_marketplaces,
            help="Only stores selling in this marketplace, e.g. DE (repeatable: any of them).",
            show_default=False,
        ),
    ] = None,
    expiring_within: Annotated[
        int | None,
        typer.Option(
            "--expiring-within",
            metavar="DAYS",
            min=0,
            help="Only stores with at most DAYS left (expired ones included).",
            show_default=False,
        ),
    ] = None,
    sort: Annotated[
        str,
        typer.Option(
            "--sort",
            metavar="|".join(SORTS),
            autocompletion=complete_choices(*SORTS),
            help="Order: status (most urgent first), days-left (fewest first), name, "
            "last-sync (never or oldest first).",
        ),
    ] = "status",
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            metavar="|".join(FORMATS),
            autocompletion=complete_choices(*FORMATS),
            help="table: fitted to the terminal (plain when piped); plain: every column as "
            "aligned text; json: as --json; csv: a header row and one row per store.",
        ),
    ] = "table",
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON array (same as --format json).")
    ] = False,
    wide: Annotated[
        bool,
        typer.Option(
            "--wide",
            help="Show every column: a table when it fits, else one record per store.",
        ),
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
    expect_stores: ExpectStores = None,
) -> None:
    """Show every connection's status and days left before the 365-day re-authorization.

    Reads only local files: no network, no keyring. Exit 1 when a listed store is in error or expired, so CI can fail on it. On a terminal the table fits its width: columns that do not fit are hidden and named below it (--wide shows them all, --columns picks; either becomes one record per store when the table would not fit).

    Examples:
      soldscope list
      soldscope list --status error --status expired
      soldscope list --expiring-within 30 --sort days-left
      soldscope list --region eu --marketplace DE --format csv > eu-stores.csv
      soldscope list --json | jq '.[] | select(.days_left < 30) | .name'
    """
    app = get_context(ctx)
    check_expected_stores(app, expect_stores)
    query = parse_query(
        names or [], status or [], region or [], marketplace or [], expiring_within, sort
    )
    kind = output_format(fmt, as_json, wide=wide, columns=columns)
    picked = pick_columns(columns)
    result = run_list(app.config(), app.state_lookup(), query, app.clock())
    if kind == "json":
        from soldscope_cli.output.jsonout import print_json

        print_json(app.stdout, [row.to_json() for row in result.rows])
    elif kind == "csv":
        from soldscope_cli.output.csvout import store_csv

        app.stdout.write(store_csv(result.rows))
    elif result.total_configured == 0:
        app.err.print(
            "No stores yet. Connect one with `soldscope connect NAME --marketplace US`.",
            markup=False,
        )
    elif kind == "plain" or not needs_rich(result.rows, app.policy):
        # Without importing Rich at all: list must stay fast at 1,000 stores.
        plain = kind == "plain"
        text, view = store_table_text(
            result.rows, app.policy, wide=wide, columns=picked, plain=plain
        )
        app.stdout.write(text)
        app.stdout.write(summary(result.rows) + "\n")
        if app.policy.rich and not plain:
            _notes(app, result.rows, view)
    else:
        from soldscope_cli.output.store_table import render_store_table

        view = render_store_table(app.out, result.rows, app.policy, wide=wide, columns=picked)
        app.out.print(summary(result.rows), markup=False)
        _notes(app, result.rows, view)
    if any_unhealthy(result.rows):
        raise typer.Exit(int(ExitCode.UNHEALTHY))
