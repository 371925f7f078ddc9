"""`soldscope export`: stream one dataset's synced rows out as CSV or JSON Lines."""

from __future__ import annotations

from typing import Annotated

import typer

from soldscope_cli.commands.common import (
    complete_choices,
    complete_datasets,
    complete_store_names,
    get_context,
    output_file,
    parse_date_option,
)
from soldscope_cli.errors import UsageError

FORMATS = ("csv", "jsonl")


def export_command(
    ctx: typer.Context,
    dataset: Annotated[
        str,
        typer.Argument(
            metavar="DATASET",
            help="inventory, finances or brand-analytics (ba).",
            autocompletion=complete_datasets,
            show_default=False,
        ),
    ],
    names: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[NAME]...",
            help="Stores to export (default: all).",
            autocompletion=complete_store_names,
            show_default=False,
        ),
    ] = None,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            metavar="csv|jsonl",
            autocompletion=complete_choices(*FORMATS),
            help="csv: a header row, then one row per record; jsonl: one JSON object a line.",
        ),
    ] = "csv",
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="DATE",
            help="Only rows dated on or after DATE (UTC): inventory's last update, a "
            "transaction's posted date, a Brand Analytics week's start.",
            show_default=False,
        ),
    ] = None,
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
    """Export a synced dataset as CSV or JSON Lines, streamed from the state database.

    Memory stays flat however many rows there are. Amounts are exact decimal text, as stored. With -o the file appears only once complete, readable by you alone (synced data is private). Reads only the state database: no network, no keyring.

    Examples:
      soldscope export inventory > inventory.csv
      soldscope export finances acme-us --since 2026-01-01 -o finances.csv
      soldscope export ba --format jsonl | gzip > search-terms.jsonl.gz
    """
    from soldscope_cli.sync.export import run_export

    app = get_context(ctx)
    kind = fmt.strip().lower()
    if kind not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}", hint="use one of: " + ", ".join(FORMATS))
    # Checked before the export runs: a long export must not end on a typo in the path.
    path = None if output is None or output == "-" else output_file("--output", output)
    rows = run_export(
        app.config(), app.database(), dataset, names or [], parse_date_option("--since", since)
    )
    from soldscope_cli.output.export import write_csv, write_jsonl

    write = write_csv if kind == "csv" else write_jsonl
    if path is None:
        write(app.stdout, rows.columns, rows.batches)
        app.stdout.flush()
        return
    from soldscope_cli.fleet.files import atomic_file

    with atomic_file(path, newline="" if kind == "csv" else None, make_parents=False) as handle:
        count = write(handle, rows.columns, rows.batches)
    app.err.print(f"{count:,} rows written to {output}", markup=False)
