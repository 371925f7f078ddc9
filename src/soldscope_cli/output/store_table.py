"""The store status table: Rich on a terminal, aligned text with ANSI badges, plain when piped.

On a terminal the table fits the width: a value is never split over lines. Low-value columns are
abbreviated, then hidden (`SHRINK_STEPS`, applied by output/fitting.py), and the caller says which
were hidden; `--wide` shows every column and `--columns` picks them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from soldscope_cli.output.fitting import (
    ANSI_CODES,
    RICH_TABLE_MAX_ROWS,
    Layout,
    TableView,
    aligned_text,
    print_rich_table,
    widest,
    wrap_lines,
)
from soldscope_cli.output.fitting import fit as fit_layout
from soldscope_cli.output.policy import OutputPolicy
from soldscope_cli.status import Status

if TYPE_CHECKING:
    from rich.console import Console

    from soldscope_cli.fleet.listing import StoreRow

BADGE_STYLE = {
    Status.ACTIVE: "bold green",
    Status.EXPIRING_SOON: "bold yellow",  # act soon
    Status.EXPIRED: "bold red",  # broken, like an error: nothing syncs until it is renewed
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
LAYOUT = Layout(tuple(HEADERS.items()), SHRINK_STEPS, right=frozenset({"days-left"}))


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


def parse_columns(value: str) -> tuple[str, ...]:
    """`--columns store,status,days-left` → column keys; raises ValueError naming a bad key."""
    keys = [part.strip().lower().replace("_", "-") for part in value.split(",") if part.strip()]
    bad = [k for k in keys if k not in HEADERS]
    if bad or not keys:
        raise ValueError(", ".join(bad))
    return tuple(dict.fromkeys(keys))


def _widths(
    rows: Sequence[StoreRow], cells: Sequence[Sequence[str]], badge: int
) -> tuple[dict[str, int], dict[str, int]]:
    """Each column's widest cell, full and abbreviated."""
    full = widest(LAYOUT, [dict(zip(KEYS, line, strict=True)) for line in cells])
    # A Rich badge has a space either side of its label.
    full["status"] = max(len("Status"), *(len(r.status.label) + badge for r in rows))
    short = {
        key: max(len(HEADERS[key]), *(len(short_cell(r, key)) for r in rows))
        for key in ("problem", "last-sync")
    }
    return full, short


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
    full, short = _widths(rows, cells, badge=2 if boxed else 0)
    chosen = tuple(columns or KEYS) if columns or wide else None
    return fit_layout(LAYOUT, full, short, width, boxed=boxed, columns=chosen)


def details_below(view: TableView) -> bool:
    """True when problems are not shown in full in the table (so they go below it)."""
    return not view.shows_full("problem")


def problem_notes(rows: Sequence[StoreRow], view: TableView, width: int | None = None) -> list[str]:
    """One line per store whose problem the table shows only as a code (or not at all).

    Wrapped at words to `width` (default: the width the table was fitted to; 0: never).
    """
    if not details_below(view):
        return []
    lines = [f"{row.name}: {_problem(row)}" for row in rows if row.problem or row.note]
    return wrap_lines(lines, view.room if width is None else width)


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


def needs_rich(rows: Sequence[StoreRow], policy: OutputPolicy) -> bool:
    """Only a terminal with few enough rows gets Rich's Table (and pays for importing Rich)."""
    return policy.rich and 0 < len(rows) <= RICH_TABLE_MAX_ROWS


def _select(cells: Sequence[str], view: TableView, row: StoreRow) -> list[str]:
    short = {k: short_cell(row, k) for k in view.short}
    return view.select(dict(zip(KEYS, cells, strict=True)), short)


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
    view = TableView(LAYOUT, tuple(columns or KEYS))
    if not rows:
        return "", view
    cells = [row_cells(r) for r in rows]
    if policy.rich and not plain:
        view = fit(rows, cells, policy.width, boxed=False, wide=wide, columns=columns)
        if too_wide(view, policy, asked=wide or bool(columns)):
            return record_view(rows, view.columns, policy.width, color=policy.color), view
        return aligned_table(rows, cells, view, color=policy.color) + "\n", view
    if policy.color and not plain:
        # Piped, with colour forced (FORCE_COLOR): the same untruncated columns, badges coloured.
        return aligned_table(rows, cells, view, color=True) + "\n", view
    headers = [HEADERS[k] for k in view.columns]
    return plain_table(
        headers, [_select(c, view, r) for c, r in zip(cells, rows, strict=True)]
    ) + "\n", view


def too_wide(view: TableView, policy: OutputPolicy, *, asked: bool) -> bool:
    """Whether the columns asked for (--wide, --columns) make a table wider than the terminal."""
    return asked and policy.rich and view.width > policy.width


def record_view(
    rows: Sequence[StoreRow], columns: Sequence[str], width: int, *, color: bool
) -> str:
    """One record per store, a field per line, for columns no table of `width` can hold.

    The store's name heads its record; each value follows its label, and a long one (a
    problem) wraps between words under the values, never back at the left edge.
    """
    from soldscope_cli.output.wrap import wrap_line

    keys = [k for k in columns if k != "store"]
    label_width = max((len(HEADERS[k]) for k in keys), default=0)
    blocks: list[str] = []
    for row in rows:
        full = dict(zip(KEYS, row_cells(row), strict=True))
        lines = [f"\x1b[1m{row.name}\x1b[0m" if color else row.name]
        for key in keys:
            prefix = f"  {HEADERS[key].ljust(label_width)}  "
            value = full[key]
            if key == "status" and color:
                code = ANSI_CODES.get(BADGE_STYLE[row.status], "")
                value = f"\x1b[{code}m{value}\x1b[0m" if code else value
                lines.append(prefix + value)
                continue
            lines.extend(wrap_line(prefix + value, width, hang=len(prefix) - 2))
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


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
    from rich.text import Text

    cells = [row_cells(r) for r in rows]
    view = fit(rows, cells, console.width, boxed=True, wide=wide, columns=columns)
    if too_wide(view, replace(policy, width=console.width), asked=wide or bool(columns)):
        # Rows would wrap and split dates: a record per store reads at any width.
        console.file.write(record_view(rows, view.columns, console.width, color=policy.color))
        return view
    shown: list[list[Any]] = []
    for row, line in zip(rows, cells, strict=True):
        texts: list[Any] = [Text(c) for c in _select(line, view, row)]
        if "status" in view.columns:
            texts[view.columns.index("status")] = Text(
                f" {row.status.label} ", style=BADGE_STYLE[row.status]
            )
        shown.append(texts)
    print_rich_table(console, view, shown)
    return view


def aligned_table(
    rows: Sequence[StoreRow],
    cells: Sequence[Sequence[str]],
    view: TableView,
    *,
    color: bool,
) -> str:
    """The status table as aligned text, badges coloured with plain ANSI codes when allowed."""
    shown = [_select(c, view, r) for c, r in zip(cells, rows, strict=True)]
    styles = [
        [BADGE_STYLE[row.status] if k == "status" else None for k in view.columns] for row in rows
    ]
    # Left-justified throughout, as scripts reading FORCE_COLOR output have always had it.
    flat = replace(view, layout=replace(view.layout, right=frozenset()))
    return aligned_text(flat, shown, styles, color=color)
