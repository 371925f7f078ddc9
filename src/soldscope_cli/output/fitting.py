"""Fitting a table to the terminal's width without splitting a value, shared by every table.

A table too wide for the terminal gives way step by step, as its `Layout` says: a column is
abbreviated ("short") or hidden ("drop"); steps that overshot are then taken back. The caller
renders the `TableView` (Rich's boxed table, or aligned text past `RICH_TABLE_MAX_ROWS` rows),
moves the long text it abbreviated below the table and says, with `hidden_note`, what it hid.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

# Rich's Table costs about 1 ms a row to lay out; past this many rows a terminal gets the same
# columns as aligned text with ANSI colours, written without Rich (1,000 rows in ~10 ms).
RICH_TABLE_MAX_ROWS = 100


@dataclass(frozen=True)
class Layout:
    """A table's columns (key, header) in order, how it gives way, and what abbreviating hides."""

    headers: tuple[tuple[str, str], ...]
    # ("short", key) abbreviates a column, ("drop", key) hides it; columns never named stay.
    steps: tuple[tuple[str, str], ...] = ()
    right: frozenset[str] = frozenset()  # right-justified columns
    # What the abbreviated form of a column leaves out, for the hidden note ("seller IDs").
    short_hides: tuple[tuple[str, str], ...] = ()

    @property
    def keys(self) -> tuple[str, ...]:
        """Column keys in table order."""
        return tuple(key for key, _ in self.headers)

    def header(self, key: str) -> str:
        """The header of column `key`."""
        return dict(self.headers)[key]


@dataclass(frozen=True)
class TableView:
    """Which columns a table shows, which of them abbreviated, and which it hid to fit."""

    layout: Layout
    columns: tuple[str, ...]
    short: frozenset[str] = frozenset()
    width: int = 0  # the table's width in characters
    room: int = 0  # the terminal's width it was fitted to (0: not fitted)

    @property
    def hidden(self) -> tuple[str, ...]:
        """Headers of the columns left out, in table order."""
        return tuple(h for k, h in self.layout.headers if k not in self.columns)

    @property
    def hidden_keys(self) -> tuple[str, ...]:
        """Keys of the columns left out, in table order."""
        return tuple(k for k in self.layout.keys if k not in self.columns)

    def shows_full(self, key: str) -> bool:
        """True when column `key` is shown, not abbreviated."""
        return key in self.columns and key not in self.short

    def select(self, full: Mapping[str, Any], short: Mapping[str, Any]) -> list[Any]:
        """One row's shown cells, from its full and abbreviated cells by key."""
        return [short[k] if k in self.short else full[k] for k in self.columns]


def table_width(widths: Sequence[int], *, boxed: bool) -> int:
    """Characters a table of these column widths takes: Rich's box, or two spaces between."""
    if boxed:  # "┃" around and between, one space of padding inside (pad_edge=False)
        return sum(widths) + 3 * len(widths) - 1
    return sum(widths) + 2 * (len(widths) - 1)


def widest(layout: Layout, rows: Sequence[Mapping[str, str]]) -> dict[str, int]:
    """Each column's widest cell (or header) over `rows`, cells by key; absent keys: header only."""
    widths = {key: len(header) for key, header in layout.headers}
    for row in rows:
        for key, cell in row.items():
            if len(cell) > widths[key]:
                widths[key] = len(cell)
    return widths


def fit(
    layout: Layout,
    full: Mapping[str, int],
    short: Mapping[str, int],
    width: int,
    *,
    boxed: bool,
    columns: Sequence[str] | None = None,
) -> TableView:
    """The columns (full or abbreviated) that fit `width`, given each column's widest cell.

    With `columns` (chosen by the user), exactly those, unabbreviated and not fitted.
    """

    def total(keys: Sequence[str], shortened: frozenset[str]) -> int:
        return table_width([short[k] if k in shortened else full[k] for k in keys], boxed=boxed)

    if columns is not None:
        keys = tuple(columns)
        return TableView(layout, keys, width=total(keys, frozenset()))
    keys = layout.keys
    shortened: frozenset[str] = frozenset()
    dropped: list[str] = []
    for action, key in layout.steps:
        if total(keys, shortened) <= width:
            break
        if action == "short":
            shortened |= {key}
        else:
            keys = tuple(k for k in keys if k != key)
            dropped.append(key)
    # Steps can overshoot: take back what fits again, the most valuable first.
    for key in reversed(dropped):
        candidate = tuple(k for k in layout.keys if k in keys or k == key)
        if total(candidate, shortened) <= width:
            keys = candidate
    for key in sorted(shortened):
        if key in keys and total(keys, shortened - {key}) <= width:
            shortened -= {key}
    return TableView(layout, keys, shortened, total(keys, shortened), width)


def wrap_lines(lines: Sequence[str], width: int) -> list[str]:
    """Lines wrapped at words to `width` (0: never), continuation lines indented."""
    if not width:
        return list(lines)
    import textwrap

    return [
        textwrap.fill(
            line, width, subsequent_indent="  ", break_long_words=False, break_on_hyphens=False
        )
        for line in lines
    ]


def hidden_note(view: TableView, how: str) -> str | None:
    """'Hidden to fit 80 columns: Seller ID, Last checked; <how>', wrapped at word boundaries."""
    hides = dict(view.layout.short_hides)
    what = [*view.hidden, *(hides[k] for k in view.layout.keys if k in view.short and k in hides)]
    if not what or not view.room:
        return None
    import textwrap

    text = f"Hidden to fit {view.room} columns: {', '.join(what)}; {how}"
    return textwrap.fill(text, width=view.room, break_long_words=False, break_on_hyphens=False)


def print_rich_table(console: Console, view: TableView, rows: Sequence[Sequence[Any]]) -> None:
    """Rich's boxed table of the view's columns; `rows` are shown cells (str or Rich Text)."""
    from rich.table import Table

    table = Table(show_header=True, header_style="bold", expand=False, pad_edge=False)
    for key in view.columns:
        table.add_column(
            view.layout.header(key),
            justify="right" if key in view.layout.right else "left",
            no_wrap=True,  # a value is never split: fit() chose columns that fit
            overflow="ellipsis",
        )
    for row in rows:
        table.add_row(*row)
    if view.width <= console.width:
        console.print(table)
        return
    # Wider than the terminal only when asked (--wide, --columns): let the terminal wrap lines
    # rather than Rich squeeze or cut values.
    width = console.width
    console.width = view.width
    try:
        console.print(table, crop=False)
    finally:
        console.width = width


# SGR codes of the styles tables use, for the aligned text that skips Rich altogether.
_ANSI = {
    "bold": "1",
    "green": "32",
    "yellow": "33",
    "red": "31",
    "bold green": "1;32",
    "bold yellow": "1;33",
    "bold red": "1;31",
}
ANSI_CODES = _ANSI  # SGR parameters of the styles tables use, for text written without Rich


def aligned_text(
    view: TableView,
    rows: Sequence[Sequence[str]],
    styles: Sequence[Sequence[str | None]],
    *,
    color: bool,
) -> str:
    """The view as aligned text (two spaces between columns), cells styled with ANSI codes.

    `rows` are the shown cells; `styles` the style of each (None: unstyled), when colour is allowed.
    """
    headers = [view.layout.header(k) for k in view.columns]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    right = [k in view.layout.right for k in view.columns]

    def paint(text: str, style: str | None) -> str:
        return f"\x1b[{_ANSI[style]}m{text}\x1b[0m" if color and style else text

    def pad(cells: Sequence[str]) -> list[str]:
        last = len(cells) - 1
        return [
            cell.rjust(widths[i]) if right[i] else cell if i == last else cell.ljust(widths[i])
            for i, cell in enumerate(cells)
        ]

    lines = [paint("  ".join(pad(headers)).rstrip(), "bold")]
    for cells, line_styles in zip(rows, styles, strict=True):
        padded = pad(cells)
        lines.append(
            "  ".join(paint(c, s) for c, s in zip(padded, line_styles, strict=True)).rstrip()
        )
    return "\n".join(lines)


def render_fitted(
    console: Console,
    layout: Layout,
    full: Sequence[Mapping[str, str]],
    short: Sequence[Mapping[str, str]],
    styles: Sequence[Mapping[str, str]],
    *,
    color: bool,
) -> TableView:
    """A table fitted to the console's width: Rich's boxed table, or aligned text when long.

    Each row is given by key: its full cells, the abbreviated cells of columns that have a short
    form, and the style of the cells that have one (used when colour is allowed).
    """
    boxed = 0 < len(full) <= RICH_TABLE_MAX_ROWS
    view = fit(layout, widest(layout, full), widest(layout, short), console.width, boxed=boxed)
    shown = [view.select(f, s) for f, s in zip(full, short, strict=True)]
    if not boxed:
        painted = [[st.get(k) for k in view.columns] for st in styles]
        console.file.write(aligned_text(view, shown, painted, color=color) + "\n")
        console.file.flush()
        return view
    from rich.text import Text

    cells = [
        [Text(c, style=st.get(k, "")) for c, k in zip(line, view.columns, strict=True)]
        for line, st in zip(shown, styles, strict=True)
    ]
    print_rich_table(console, view, cells)
    return view
