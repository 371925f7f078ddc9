"""Terminal policy (TTY, colour, NO_COLOR) and the renderers for tables and JSON."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any

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


@dataclass(frozen=True)
class OutputPolicy:
    """Decided once per process: is stdout a terminal, and may we use colour."""

    stdout_tty: bool
    stderr_tty: bool
    color: bool

    @property
    def rich(self) -> bool:
        """Rich tables and progress when a person is watching."""
        return self.stdout_tty

    @classmethod
    def decide(
        cls,
        env: Mapping[str, str],
        *,
        stdout_tty: bool,
        stderr_tty: bool,
        no_color_flag: bool = False,
    ) -> OutputPolicy:
        """--no-color > NO_COLOR > FORCE_COLOR > TTY (TERM=dumb: no colour)."""
        if no_color_flag or env.get("NO_COLOR"):
            color = False
        elif env.get("FORCE_COLOR"):
            color = True
        else:
            color = stdout_tty and env.get("TERM") != "dumb"
        return cls(stdout_tty=stdout_tty, stderr_tty=stderr_tty, color=color)


def make_console(stream: IO[str], policy: OutputPolicy, *, is_tty: bool) -> Console:
    """A Rich console with the colour decision passed explicitly (never frozen at import)."""
    from rich.console import Console

    class PipeConsole(Console):
        """Leaves a closed pipe to cli.py (exit 141): Rich's default exits 1 ("unhealthy")."""

        def on_broken_pipe(self) -> None:
            self.quiet = True  # nothing more is written to a reader that went away
            raise BrokenPipeError

    return PipeConsole(
        file=stream,
        force_terminal=is_tty or policy.color,
        no_color=not policy.color,
        color_system="auto" if policy.color else None,
        highlight=False,
        soft_wrap=not is_tty,
        emoji=False,
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


def print_json(stream: IO[str], data: Any) -> None:
    """Machine output, key order kept: an array one element per line, anything else indented."""
    if isinstance(data, list) and data:
        # One compact element a line: grep- and diff-friendly, and json's C encoder only runs
        # without indent (indenting 1,000 stores in pure Python costs 20-40 ms).
        body = ",\n".join(json.dumps(item, ensure_ascii=False) for item in data)
        stream.write("[\n" + body + "\n]\n")
    else:
        stream.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    stream.flush()


def stderr_write(text: str) -> None:
    """Fallback error writer used before a context exists."""
    sys.stderr.write(text + "\n")
