"""The store status table: Rich on a terminal, aligned text with ANSI badges, plain when piped."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from soldscope_cli.output.policy import OutputPolicy
from soldscope_cli.status import Status

if TYPE_CHECKING:
    from rich.console import Console

    from soldscope_cli.fleet.listing import StoreRow

BADGE_STYLE = {
    Status.ACTIVE: "bold green",
    Status.EXPIRING_SOON: "bold yellow",
    Status.EXPIRED: "bold yellow",
    Status.ERROR: "bold red",
}
COLUMNS = (
    "Store",
    "Region",
    "Marketplaces",
    "Seller ID",
    "Status",
    "Expires",
    "Days left",
    "Last checked",
    "Last sync",
    "Problem",
)


def short_time(value: datetime | None) -> str:
    """A compact UTC time for tables: 2026-11-29 17:40Z."""
    return "-" if value is None else value.strftime("%Y-%m-%d %H:%MZ")


def row_cells(row: StoreRow) -> list[str]:
    """The text of each column for one store."""
    problem = "-"
    if row.problem is not None:
        problem = (
            f"{row.problem.code}: {row.problem.message}"
            if row.problem.message
            else row.problem.code
        )
    elif row.note:
        problem = row.note
    return [
        row.name,
        row.record.region,
        ",".join(row.record.marketplaces),
        row.record.selling_partner_id or "-",
        row.status.label,
        row.expires_at.strftime("%Y-%m-%d"),
        str(row.days_left),
        short_time(row.last_checked_at),
        short_time(row.last_sync_at),
        problem,
    ]


def plain_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Stable, untruncated, space-aligned text for pipes (last column not padded)."""
    widths = [len(h) for h in headers]
    for cells in rows:
        for i, cell in enumerate(cells):
            widths[i] = max(widths[i], len(cell))
    lines = []
    for cells in [list(headers), *rows]:
        padded = [cell.ljust(widths[i]) for i, cell in enumerate(cells[:-1])]
        lines.append("  ".join([*padded, cells[-1]]).rstrip())
    return "\n".join(lines)


# Rich's Table costs about 1 ms a row to lay out; past this many rows a terminal gets the same
# columns as aligned text with coloured badges, written without Rich (1,000 stores in ~10 ms).
RICH_TABLE_MAX_ROWS = 100


def needs_rich(rows: Sequence[StoreRow], policy: OutputPolicy) -> bool:
    """Only a terminal with few enough rows gets Rich's Table (and pays for importing Rich)."""
    return policy.rich and 0 < len(rows) <= RICH_TABLE_MAX_ROWS


def store_table_text(rows: Sequence[StoreRow], policy: OutputPolicy) -> str:
    """The table without Rich: plain when piped, aligned with ANSI badges on a terminal."""
    if not rows:
        return ""
    if policy.rich:
        return aligned_table(rows, color=policy.color) + "\n"
    return plain_table(COLUMNS, [row_cells(r) for r in rows]) + "\n"


def render_store_table(console: Console, rows: Sequence[StoreRow], policy: OutputPolicy) -> None:
    """The status table: Rich on a terminal, plain aligned text when piped."""
    if not needs_rich(rows, policy):
        console.file.write(store_table_text(rows, policy))
        return
    from rich.table import Table
    from rich.text import Text

    table = Table(show_header=True, header_style="bold", expand=False, pad_edge=False)
    for name in COLUMNS:
        table.add_column(
            name,
            justify="right" if name == "Days left" else "left",
            overflow="fold",
            no_wrap=name in ("Store", "Status", "Expires"),
        )
    for row in rows:
        cells: list[Any] = [Text(c) for c in row_cells(row)]
        cells[4] = Text(f" {row.status.label} ", style=BADGE_STYLE[row.status])
        table.add_row(*cells)
    console.print(table)


# SGR codes of the badge styles, for the aligned table that skips Rich altogether.
_ANSI = {"bold": "1", "bold green": "1;32", "bold yellow": "1;33", "bold red": "1;31"}


def aligned_table(rows: Sequence[StoreRow], *, color: bool) -> str:
    """The status table as aligned text, badges coloured with plain ANSI codes when allowed."""
    cells = [row_cells(r) for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(COLUMNS)]
    status = COLUMNS.index("Status")

    def paint(text: str, style: str) -> str:
        return f"\x1b[{_ANSI[style]}m{text}\x1b[0m" if color else text

    lines = [paint("  ".join(h.ljust(widths[i]) for i, h in enumerate(COLUMNS)).rstrip(), "bold")]
    for row, line in zip(rows, cells, strict=True):
        padded = [cell.ljust(widths[i]) for i, cell in enumerate(line[:-1])] + [line[-1]]
        padded[status] = paint(padded[status], BADGE_STYLE[row.status])
        lines.append("  ".join(padded).rstrip())
    return "\n".join(lines)
