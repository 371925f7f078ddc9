"""`soldscope data`: per store and dataset, rows held, freshness and problems.

On a terminal a table fitted to the width (a value is never split: times lose their hour, then
the columns that age and state make up for are hidden); piped, aligned columns never truncated.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from soldscope_cli.fleet.config import format_time
from soldscope_cli.output.fitting import Layout, TableView, render_fitted, wrap_lines
from soldscope_cli.sync.freshness import DatasetHealth

if TYPE_CHECKING:
    from rich.console import Console


def age_text(age: timedelta | None) -> str:
    """'never', '40 min', '5 h', '3 d'."""
    if age is None:
        return "never"
    minutes = int(age.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // (24 * 60)} d"


def _limit(value: timedelta) -> str:
    hours = int(value.total_seconds() // 3600)
    return f"{hours // 24} d" if hours % 24 == 0 and hours >= 72 else f"{hours} h"


def state_text(row: DatasetHealth, *, brief: bool = False) -> str:
    """'ok', 'stale (> 36 h)' ('stale' when brief), problem codes after either."""
    stale = "stale" if brief else f"stale (> {_limit(row.stale_after)})"
    parts = [stale if row.stale else "ok"]
    parts += [p.code for p in row.problems]
    return ", ".join(parts)


def health_json(row: DatasetHealth) -> dict[str, Any]:
    """The pinned --json shape of one store's dataset (docs/data.md)."""
    return {
        "store": row.store,
        "dataset": row.dataset,
        "rows": row.rows,
        "newest": row.newest,
        "last_sync_at": None if row.last_sync_at is None else format_time(row.last_sync_at),
        "age_hours": None if row.age is None else round(row.age.total_seconds() / 3600, 1),
        "stale_after_hours": round(row.stale_after.total_seconds() / 3600, 1),
        "stale": row.stale,
        "problems": [{"code": p.code, "message": p.message} for p in row.problems],
    }


def health_text(rows: Sequence[DatasetHealth]) -> str:
    """Aligned columns, then one line per problem (never truncated)."""
    header = tuple(h for _, h in LAYOUT.headers)
    cells = [tuple(_cells(r).values()) for r in rows]
    widths = [max(len(line[i]) for line in [header, *cells]) for i in range(len(header))]
    right = {2, 5}
    out = []
    for line in [header, *cells]:
        out.append(
            "  ".join(
                cell.rjust(w) if i in right else cell.ljust(w)
                for i, (cell, w) in enumerate(zip(line, widths, strict=True))
            ).rstrip()
        )
    out += problem_lines(rows)
    return "\n".join(out) + "\n"


LAYOUT = Layout(
    (
        ("store", "Store"),
        ("dataset", "Dataset"),
        ("rows", "Rows"),
        ("newest", "Newest data"),
        ("last-sync", "Last sync"),
        ("age", "Age"),
        ("state", "State"),
    ),
    (
        ("short", "newest"),  # date only
        ("short", "last-sync"),  # date only
        ("drop", "last-sync"),  # the age says it
        ("short", "state"),  # "stale" without its limit; problems are below the table anyway
        ("drop", "newest"),
        ("drop", "rows"),
    ),
    right=frozenset({"rows", "age"}),
    short_hides=(("state", "stale limits"),),
)


# A fraction of a second that is all zeros ("….000000Z", "….000Z"): --json keeps it as stored.
_ZERO_FRACTION = re.compile(r"\.0+Z\Z")


def _shown_time(value: str | None) -> str:
    """The newest data point as the table shows it: whole seconds are written without their
    zero fraction, so the column is as narrow as the data allows."""
    return "-" if not value else _ZERO_FRACTION.sub("Z", value)


def _cells(r: DatasetHealth) -> dict[str, str]:
    return {
        "store": r.store,
        "dataset": r.label,
        "rows": f"{r.rows:,}",
        "newest": _shown_time(r.newest),
        "last-sync": "-" if r.last_sync_at is None else r.last_sync_at.strftime("%Y-%m-%d %H:%MZ"),
        "age": age_text(r.age),
        "state": state_text(r),
    }


def problem_lines(rows: Sequence[DatasetHealth]) -> list[str]:
    """One line per problem: 'acme-us brand-analytics: not_authorized: …'."""
    return [f"{r.store} {r.dataset}: {p.code}: {p.message}" for r in rows for p in r.problems]


def _state_style(r: DatasetHealth) -> str:
    return "red" if r.problems else "yellow" if r.stale else "green"


def render_health(console: Console, rows: Sequence[DatasetHealth], *, color: bool) -> TableView:
    """The table fitted to the terminal, then its problems wrapped to the width below it."""
    short = [
        {
            "newest": (r.newest or "-")[:10],
            "last-sync": "-" if r.last_sync_at is None else r.last_sync_at.strftime("%Y-%m-%d"),
            "state": state_text(r, brief=True),
        }
        for r in rows
    ]
    styles = [{"state": _state_style(r)} for r in rows]
    view = render_fitted(console, LAYOUT, [_cells(r) for r in rows], short, styles, color=color)
    for line in wrap_lines(problem_lines(rows), view.room):
        console.print(line, markup=False, highlight=False)
    return view


def health_summary(rows: Sequence[DatasetHealth]) -> str:
    """'6 datasets of 2 stores: 4 current, 2 stale; 1 with problems'."""
    stores = len({r.store for r in rows})
    stale = sum(1 for r in rows if r.stale)
    problems = sum(1 for r in rows if r.problems)
    text = (
        f"{len(rows)} dataset{'s' if len(rows) != 1 else ''} of {stores} "
        f"store{'s' if stores != 1 else ''}: {len(rows) - stale} current, {stale} stale"
    )
    return text + (f"; {problems} with problems" if problems else "")
