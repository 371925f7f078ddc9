"""Insert-or-update of synced rows, counting what was added and what changed."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any


def upsert(
    tx: sqlite3.Connection,
    table: str,
    columns: Sequence[str],
    key: Sequence[str],
    rows: Sequence[Sequence[Any]],
) -> tuple[int, int]:
    """Insert or update rows by key; returns (added, updated). Unchanged rows are not rewritten.

    A row counts as updated only when its `raw` column differs, so re-reading data that did not
    change reports (0, 0) and leaves synced_at alone.
    """
    if not rows:
        return 0, 0
    key_index = [columns.index(k) for k in key]
    existing = _count_existing(tx, table, key, [[row[i] for i in key_index] for row in rows])
    before = tx.total_changes
    names = ", ".join(columns)
    marks = ", ".join("?" for _ in columns)
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in key)
    tx.executemany(
        f"INSERT INTO {table} ({names}) VALUES ({marks})"  # noqa: S608 (fixed identifiers)
        f" ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}"
        f" WHERE {table}.raw IS NOT excluded.raw",
        rows,
    )
    changed = tx.total_changes - before
    added = len({tuple(row[i] for i in key_index) for row in rows}) - existing
    return added, max(0, changed - added)


def _count_existing(
    tx: sqlite3.Connection, table: str, key: Sequence[str], keys: list[list[Any]]
) -> int:
    unique = {tuple(k) for k in keys}
    found = 0
    # SQLite limits bound parameters (32766 by default); stay far below it.
    step = max(1, 900 // len(key))
    ordered = list(unique)
    for start in range(0, len(ordered), step):
        part = ordered[start : start + step]
        tuple_marks = ", ".join("(" + ", ".join("?" for _ in key) + ")" for _ in part)
        params = [value for k in part for value in k]
        row = tx.execute(
            f"SELECT COUNT(*) FROM {table} WHERE ({', '.join(key)}) IN (VALUES {tuple_marks})",  # noqa: S608
            params,
        ).fetchone()
        found += int(row[0])
    return found
