"""`soldscope data`: per store and dataset, rows held, freshness and problems."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from soldscope_cli.fleet.config import format_time
from soldscope_cli.sync.freshness import DatasetHealth


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


def state_text(row: DatasetHealth) -> str:
    """'ok', 'stale (> 36 h)', problem codes after either."""
    parts = [f"stale (> {_limit(row.stale_after)})" if row.stale else "ok"]
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
    header = ("Store", "Dataset", "Rows", "Newest data", "Last sync", "Age", "State")
    cells = [
        (
            r.store,
            r.label,
            f"{r.rows:,}",
            r.newest or "-",
            "-" if r.last_sync_at is None else r.last_sync_at.strftime("%Y-%m-%d %H:%MZ"),
            age_text(r.age),
            state_text(r),
        )
        for r in rows
    ]
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
    for r in rows:
        for p in r.problems:
            out.append(f"{r.store} {r.dataset}: {p.code}: {p.message}")
    return "\n".join(out) + "\n"


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
