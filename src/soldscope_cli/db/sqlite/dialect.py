"""SQLite's side of the shared SQL: `?` markers as they are, times as fixed-width UTC text,
JSON as text, lists of ids through json_each, and the upsert that counts with total_changes."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import suppress
from datetime import datetime
from functools import lru_cache
from itertools import chain
from typing import Any

from soldscope_cli.datasets.schema import Column, Kind
from soldscope_cli.db.model import from_db_time, to_db_time
from soldscope_cli.db.sql import Ids, Json, Tx, upsert_sql

TYPES: Mapping[Kind, str] = {
    Kind.ID: "INTEGER",
    Kind.TEXT: "TEXT",
    Kind.INT: "INTEGER",
    Kind.REAL: "REAL",
    Kind.DECIMAL: "TEXT",  # exact decimal text: SQLite's REAL would round amounts
    Kind.TIME: "TEXT",
    Kind.AMAZON_TIME: "TEXT",
    Kind.DATE: "TEXT",
    Kind.JSON: "TEXT",
}


class SqliteDialect:
    """The dialect of db/sqlite's engine."""

    types = TYPES
    json_object = "json_object"
    row_order = "rowid"
    upsert_repeats = True
    order_column: str | None = None

    def sql(self, text: str) -> str:
        return text

    def param(self, value: Any) -> Any:
        if isinstance(value, datetime):
            return to_db_time(value)
        if isinstance(value, Json):
            return None if value.value is None else json.dumps(value.value, sort_keys=True)
        if isinstance(value, Ids):
            return json.dumps(value.values)
        return value

    def time(self, value: Any) -> datetime | None:
        return None if value is None else from_db_time(str(value))

    def json(self, value: Any) -> Any:
        return json.loads(value) if value else None

    def in_ids(self, column: str) -> str:
        return f"{column} IN (SELECT value FROM json_each(?))"  # noqa: S608 (dialect clauses)

    def ids_join(self, alias: str, table: str, on: str, *, names: bool = False) -> str:
        # CROSS JOIN fixes the order: the planner cannot tell how short a json_each list is and
        # might otherwise scan the table and probe the list.
        return f"json_each(?) AS {alias} CROSS JOIN {table} ON {on}"

    def not_in_ids(self, column: str) -> str:
        return f"{column} NOT IN (SELECT value FROM json_each(?))"  # noqa: S608 (dialect clauses)

    def lock(self, share: bool = False) -> str:
        # BEGIN IMMEDIATE already holds the database's one write lock.
        return ""

    def distinct(self, left: str, right: str) -> str:
        return f"{left} IS NOT {right}"

    def lock_table(self, tx: Tx, table: str) -> None:
        return None  # BEGIN IMMEDIATE already keeps every other writer out

    def slice_delete(self, table: str, where: str) -> str:
        return (
            f"DELETE FROM {table} WHERE rowid IN (SELECT rowid FROM {table}"  # noqa: S608
            f" WHERE {where} LIMIT ?)"
        )

    def export_text(self, column: Column) -> str:
        # SQLite keeps every kind as the text export shows.
        return column.name

    def empty(self, table: str) -> str:
        # Without a WHERE, SQLite drops the table's pages at once instead of row by row.
        return f"DELETE FROM {table}"  # noqa: S608 (declared identifiers)

    def upsert(
        self, tx: Tx, table: str, columns: Sequence[str], key: Sequence[str], rows: Sequence[Any]
    ) -> tuple[int, int]:
        """A row counts as updated only when its `raw` differs, so re-reading unchanged data
        reports (0, 0) and leaves synced_at alone."""
        conn: sqlite3.Connection = tx.raw
        key_index = [columns.index(k) for k in key]
        keys = {tuple(row[i] for i in key_index) for row in rows}
        existing = _count_existing(conn, table, key, keys)
        before = conn.total_changes
        conn.executemany(upsert_sql(self, table, columns, key), rows)
        changed = conn.total_changes - before
        added = len(keys) - existing
        return added, max(0, changed - added)

    def insert_new(
        self, tx: Tx, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> bool:
        # The staged upsert of many batches at once is as cheap as plain inserts here.
        return False

    def bulk_insert(
        self, tx: Tx, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        """Many rows per INSERT: executemany steps its statement once per row, and sqlite3
        releases the GIL around every step, so per row it pays the module's overhead and a
        handover to any other busy thread (whose return waits up to the 5 ms switch interval).
        A statement of many rows, within the connection's bound-parameter limit, pays them once
        per thousand rows."""
        conn: sqlite3.Connection = tx.raw
        width = len(columns)
        limit = conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // width
        per = max(1, min(_ROWS_PER_STATEMENT, limit))
        whole = len(rows) - len(rows) % per
        if whole:
            many = _insert_sql(table, tuple(columns), per)
            for start in range(0, whole, per):
                conn.execute(many, list(chain.from_iterable(rows[start : start + per])))
        if whole < len(rows):
            conn.executemany(_insert_sql(table, tuple(columns), 1), rows[whole:])

    def stream(
        self, tx: Tx, sql: str, params: Sequence[Any], size: int
    ) -> Iterator[list[tuple[Any, ...]]]:
        """SQLite steps its cursor as we fetch, so memory stays flat however many rows match."""
        cursor = tx.raw.execute(sql, [self.param(p) for p in params])
        cursor.row_factory = None  # tuples: sqlite3.Row per row would cost a third of the time
        try:
            while True:
                batch = cursor.fetchmany(size)
                if not batch:
                    return
                yield batch
        finally:
            # A reader that stopped early (`| head`) may close this after the connection is gone.
            with suppress(sqlite3.ProgrammingError):
                cursor.close()


_ROWS_PER_STATEMENT = 1000


@lru_cache(maxsize=16)
def _insert_sql(table: str, columns: tuple[str, ...], rows: int) -> str:
    values = "(" + ", ".join("?" for _ in columns) + ")"
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES "  # noqa: S608 (declared identifiers)
        + ", ".join([values] * rows)
    )


def _count_existing(
    conn: sqlite3.Connection, table: str, key: Sequence[str], keys: set[tuple[Any, ...]]
) -> int:
    found = 0
    # SQLite limits bound parameters (32766 by default); stay far below it.
    step = max(1, 900 // len(key))
    ordered = list(keys)
    for start in range(0, len(ordered), step):
        part = ordered[start : start + step]
        tuple_marks = ", ".join("(" + ", ".join("?" for _ in key) + ")" for _ in part)
        params = [value for k in part for value in k]
        row = conn.execute(
            f"SELECT COUNT(*) FROM {table} WHERE ({', '.join(key)}) IN (VALUES {tuple_marks})",  # noqa: S608
            params,
        ).fetchone()
        found += int(row[0])
    return found


DIALECT = SqliteDialect()
