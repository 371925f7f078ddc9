"""The store status table: Rich on a terminal, aligned text with ANSI badges, plain when piped.

On a terminal the table fits the width: a value is never split over lines. Low-value columns are
abbreviated, then hidden (see `fit`), and the caller says which were hidden; `--wide` shows every
column and `--columns` picks them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
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
# Column keys (for --columns) and their headers, in the table's order.
HEADERS = {
    "store": "Store",
    "region": "Region",
    "marketplaces": "Marketplaces",
    "seller-id": "Seller ID",
    "status": "Status",
    "expires": "Expires",
    "days-left": "Days left",
    "last-checked": "Last checked",
    "last-sync": "Last sync",
    "problem": "Problem",
}
KEYS = tuple(HEADERS)
COLUMNS = tuple(HEADERS.values())
# How a table too wide for the terminal gives way, step by step: ("short", key) abbreviates a
# column, ("drop", key) hides it. Store, Status and Days left always stay.
SHRINK_STEPS = (
    ("short", "problem"),  # "invalid_grant: Login with Amazon refused…" → "invalid_grant"
    ("drop", "last-checked"),
    ("drop", "seller-id"),
    ("short", "last-sync"),  # date only
    ("drop", "region"),  # the marketplaces say it
    ("drop", "last-sync"),
    ("drop", "problem"),  # the status says it; the detail is below the table
    ("drop", "expires"),  # days left says it
    ("drop", "marketplaces"),
)


def short_time(value: datetime | None) -> str:
    """A compact UTC time for tables: 2026-11-29 17:40Z."""
    return "-" if value is None else value.strftime("%Y-%m-%d %H:%MZ")


def _problem(row: StoreRow) -> str:
    if row.problem is not None:
        if row.problem.message:
            return f"{row.problem.code}: {row.problem.message}"
        return row.problem.code
    return row.note or "-"


def row_cells(row: StoreRow) -> list[str]:
    """The full text of each column for one store."""
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
        _problem(row),
    ]


def short_cell(row: StoreRow, key: str) -> str:
    """The abbreviated text of a column that has a short form."""
    if key == "problem":
        if row.problem is not None:
            return row.problem.code
        return "see below" if row.note else "-"
    if key == "last-sync":
        return "-" if row.last_sync_at is None else row.last_sync_at.strftime("%Y-%m-%d")
    raise KeyError(key)


@dataclass(frozen=True)
class TableView:
    """Which columns a table shows, which of them abbreviated, and which it hid to fit."""

    columns: tuple[str, ...]
    short: frozenset[str] = frozenset()
    width: int = 0  # the table's width in characters
    room: int = 0  # the terminal's width it was fitted to (0: not fitted)

    @property
    def hidden(self) -> tuple[str, ...]:
        """Headers of the columns left out, in table order."""
        return tuple(HEADERS[k] for k in KEYS if k not in self.columns)

    @property
    def hidden_keys(self) -> tuple[str, ...]:
        """Keys of the columns left out, in table order."""
        return tuple(k for k in KEYS if k not in self.columns)

    @property
    def details_below(self) -> bool:
        """True when problems are not shown in full in the table (so they go below it)."""
        return "problem" not in self.columns or "problem" in self.short


def parse_columns(value: str) -> tuple[str, ...]:
    """`--columns store,status,days-left` → column keys; raises ValueError naming a bad key."""
    keys = [part.strip().lower().replace("_", "-") for part in value.split(",") if part.strip()]
    bad = [k for k in keys if k not in HEADERS]
    if bad or not keys:
        raise ValueError(", ".join(bad))
    return tuple(dict.fromkeys(keys))


class _Widths:
    """Each column's widest cell, full and abbreviated, measured once."""

    def __init__(self, rows: Sequence[StoreRow], cells: Sequence[Sequence[str]], badge: int):
        self.full = {k: len(h) for k, h in HEADERS.items()}
        for line in cells:
            for key, cell in zip(KEYS, line, strict=True):
                if len(cell) > self.full[key]:
                    self.full[key] = len(cell)
        # A Rich badge has a space either side of its label.
        self.full["status"] = max(len("Status"), *(len(r.status.label) + badge for r in rows))
        self.short = {
            key: max(len(HEADERS[key]), *(len(short_cell(r, key)) for r in rows))
            for key in ("problem", "last-sync")
        }

    def of(self, key: str, short: frozenset[str]) -> int:
        return self.short[key] if key in short else self.full[key]


def table_width(widths: Sequence[int], *, boxed: bool) -> int:
    """Characters a table of these column widths takes: Rich's box, or two spaces between."""
    if boxed:  # "┃" around and between, one space of padding inside (pad_edge=False)
        return sum(widths) + 3 * len(widths) - 1
    return sum(widths) + 2 * (len(widths) - 1)


def fit(
    rows: Sequence[StoreRow],
    cells: Sequence[Sequence[str]],
    width: int,
    *,
    boxed: bool,
    wide: bool = False,
    columns: Sequence[str] | None = None,
) -> TableView:
    """The columns (full or abbreviated) that fit `width`; every column with --wide or --columns."""
    measured = _Widths(rows, cells, badge=2 if boxed else 0)

    def total(keys: Sequence[str], short: frozenset[str]) -> int:
        return table_width([measured.of(k, short) for k in keys], boxed=boxed)

    if columns or wide:
        keys = tuple(columns or KEYS)
        return TableView(keys, width=total(keys, frozenset()))  # chosen, not fitted
    keys = KEYS
    short: frozenset[str] = frozenset()
    dropped: list[str] = []
    for action, key in SHRINK_STEPS:
        if total(keys, short) <= width:
            break
        if action == "short":
            short |= {key}
        else:
            keys = tuple(k for k in keys if k != key)
            dropped.append(key)
    # Steps can overshoot: take back what fits again, the most valuable first.
    for key in reversed(dropped):
        candidate = tuple(k for k in KEYS if k in keys or k == key)
        if total(candidate, short) <= width:
            keys = candidate
    for key in sorted(short):
        if key in keys and total(keys, short - {key}) <= width:
            short -= {key}
    return TableView(keys, short, total(keys, short), width)


def problem_notes(rows: Sequence[StoreRow], view: TableView, width: int | None = None) -> list[str]:
    """One line per store whose problem the table shows only as a code (or not at all).

    Wrapped at words to `width` (default: the width the table was fitted to; 0: never).
    """
    if not view.details_below:
        return []
    lines = [f"{row.name}: {_problem(row)}" for row in rows if row.problem or row.note]
    width = view.room if width is None else width
    if not width:
        return lines
    import textwrap

    # Wrapped at words to the terminal's width, continuation lines indented.
    return [
        textwrap.fill(
            line, width, subsequent_indent="  ", break_long_words=False, break_on_hyphens=False
        )
        for line in lines
    ]


def hidden_note(view: TableView, how: str) -> str | None:
    """'Hidden to fit 80 columns: Seller ID, Last checked; <how>', wrapped at word boundaries."""
    if not view.hidden or not view.room:
        return None
    import textwrap

    text = f"Hidden to fit {view.room} columns: {', '.join(view.hidden)}; {how}"
    return textwrap.fill(text, width=view.room, break_long_words=False, break_on_hyphens=False)


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


def _select(cells: Sequence[str], view: TableView, row: StoreRow) -> list[str]:
    by_key = dict(zip(KEYS, cells, strict=True))
    return [short_cell(row, k) if k in view.short else by_key[k] for k in view.columns]


def store_table_text(
    rows: Sequence[StoreRow],
    policy: OutputPolicy,
    *,
    wide: bool = False,
    columns: Sequence[str] | None = None,
    plain: bool = False,
) -> tuple[str, TableView]:
    """The table without Rich: plain when piped (or asked), aligned with ANSI badges on a terminal.

    Plain text is never fitted to a width: it shows every column (or the --columns picked); piped
    with colour forced (FORCE_COLOR), the same text gets coloured badges.
    """
    view = TableView(tuple(columns or KEYS))
    if not rows:
        return "", view
    cells = [row_cells(r) for r in rows]
    if policy.rich and not plain:
        view = fit(rows, cells, policy.width, boxed=False, wide=wide, columns=columns)
        return aligned_table(rows, cells, view, color=policy.color) + "\n", view
    if policy.color and not plain:
        # Piped, with colour forced (FORCE_COLOR): the same untruncated columns, badges coloured.
        return aligned_table(rows, cells, view, color=True) + "\n", view
    headers = [HEADERS[k] for k in view.columns]
    return plain_table(
        headers, [_select(c, view, r) for c, r in zip(cells, rows, strict=True)]
    ) + "\n", view


def render_store_table(
    console: Console,
    rows: Sequence[StoreRow],
    policy: OutputPolicy,
    *,
    wide: bool = False,
    columns: Sequence[str] | None = None,
) -> TableView:
    """The status table fitted to the console: Rich on a terminal, plain aligned text when piped."""
    if not needs_rich(rows, policy):
        text, view = store_table_text(rows, policy, wide=wide, columns=columns)
        console.file.write(text)
        return view
    from rich.table import Table
    from rich.text import Text

    cells = [row_cells(r) for r in rows]
    view = fit(rows, cells, console.width, boxed=True, wide=wide, columns=columns)
    table = Table(show_header=True, header_style="bold", expand=False, pad_edge=False)
    for key in view.columns:
        table.add_column(
            HEADERS[key],
            justify="right" if key == "days-left" else "left",
            no_wrap=True,  # a value is never split: fit() chose columns that fit
            overflow="ellipsis",
        )
    for row, line in zip(rows, cells, strict=True):
        texts: list[Any] = [Text(c) for c in _select(line, view, row)]
        if "status" in view.columns:
            texts[view.columns.index("status")] = Text(
                f" {row.status.label} ", style=BADGE_STYLE[row.status]
            )
        table.add_row(*texts)
    if view.width <= console.width:
        console.print(table)
        return view
    # Wider than the terminal only when asked (--wide, --columns): let the terminal wrap lines
    # rather than Rich squeeze or cut values.
    width = console.width
    console.width = view.width
    try:
        console.print(table, crop=False)
    finally:
        console.width = width
    return view


# SGR codes of the badge styles, for the aligned table that skips Rich altogether.
_ANSI = {"bold": "1", "bold green": "1;32", "bold yellow": "1;33", "bold red": "1;31"}


def aligned_table(
    rows: Sequence[StoreRow],
    cells: Sequence[Sequence[str]],
    view: TableView,
    *,
    color: bool,
) -> str:
    """The status table as aligned text, badges coloured with plain ANSI codes when allowed."""
    shown = [_select(c, view, r) for c, r in zip(cells, rows, strict=True)]
    headers = [HEADERS[k] for k in view.columns]
    widths = [max(len(h), *(len(c[i]) for c in shown)) for i, h in enumerate(headers)]
    status = view.columns.index("status") if "status" in view.columns else -1

    def paint(text: str, style: str) -> str:
        return f"\x1b[{_ANSI[style]}m{text}\x1b[0m" if color else text

    lines = [paint("  ".join(h.ljust(widths[i]) for i, h in enumerate(headers)).rstrip(), "bold")]
    for row, line in zip(rows, shown, strict=True):
        padded = [cell.ljust(widths[i]) for i, cell in enumerate(line[:-1])] + [line[-1]]
        if status >= 0:
            padded[status] = paint(padded[status], BADGE_STYLE[row.status])
        lines.append("  ".join(padded).rstrip())
    return "\n".join(lines)
