"""One way to run a statement on either engine: SQL written once, with `?` markers.

Table code (db/tables/) writes each statement once against a `Tx`; the engine's dialect
(db/sqlite/dialect.py, db/postgres/dialect.py) turns the markers into the driver's, converts
parameters (our times, JSON, lists of ids) and reads stored times and JSON back. What differs
beyond that (how an upsert counts what it changed, a slice delete, the text `export` shows of a
kind) is a dialect method too; what only one engine does (COPY, advisory locks, temp tables,
SQLite's table rebuilds) stays in that engine.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from itertools import compress, repeat
from operator import is_
from typing import TYPE_CHECKING, Any, Protocol

from soldscope_cli.datasets.schema import Column, Kind, Table

if TYPE_CHECKING:
    from soldscope_cli.datasets.spec import Dataset


class Json:
    """A parameter stored as JSON (text in SQLite, jsonb in PostgreSQL)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


_SEP = "\x01"  # joins a column's texts for one search; any character but NUL does
# A JSON text's escaped U+0000: a backslash run of odd length before u0000 (an even one is
# escaped backslashes followed by the letters).
_JSON_NUL = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")


def scrub(value: Any) -> Any:
    """`value` without U+0000 in any text: PostgreSQL's text and jsonb cannot hold it (a single
    one from Amazon would fail every write of that page), and SQLite stores the same, so both
    engines keep the same rows. JSON text (Amazon's raw object) loses its escaped form too."""
    if isinstance(value, str):
        if "\x00" in value:
            value = value.replace("\x00", "")
        if "\\u0000" in value and value[:1] in ("{", "["):
            value = _JSON_NUL.sub(r"\1", value)
        return value
    if isinstance(value, Json):
        return Json(_scrub_json(value.value))
    return value


def _scrub_json(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {_scrub_json(k): _scrub_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub_json(v) for v in value]
    return value


def scrub_rows(rows: Sequence[Sequence[Any]]) -> list[Sequence[Any]]:
    """Every row through `scrub` (rows without text to change are kept as they are)."""
    if _clean(rows):
        return list(rows)
    return [
        [scrub(v) for v in row] if any(isinstance(v, str | Json) for v in row) else row
        for row in rows
    ]


def _clean(rows: Sequence[Sequence[Any]]) -> bool:
    """Whether no value of `rows` can need scrubbing, column by column in C calls.

    Checking row by row in Python took a quarter of a bulk load's time, and a batch almost never
    holds a NUL. False only means "look row by row" (a Json, a str subclass, ragged rows)."""
    try:
        columns = list(zip(*rows, strict=True))
    except ValueError:
        return False
    for column in columns:
        try:
            text = _SEP.join(column)  # raises TypeError unless every value is text
        except TypeError:
            kinds = set(map(type, column))
            if any(issubclass(k, str | Json) for k in kinds - {str}):
                return False
            if str not in kinds:
                continue  # numbers, times, NULLs: nothing to scrub
            text = _SEP.join(compress(column, map(is_, map(type, column), repeat(str))))
        if "\x00" in text or "\\u0000" in text:
            return False
    return True


class Ids:
    """A list of ids for `Dialect.in_ids` (json_each in SQLite, an array in PostgreSQL)."""

    __slots__ = ("values",)

    def __init__(self, values: Sequence[Any]) -> None:
        self.values = list(values)


class Dialect(Protocol):
    """What one engine's SQL and driver need that the other's do not."""

    json_object: str  # the function building a JSON object from key/value pairs
    row_order: str  # the column that keeps insertion order in tables without an id
    order_column: str | None  # its DDL where it is a column of its own
    # Whether one upsert statement may meet a key twice, the later row winning (PostgreSQL
    # refuses to update a row twice in one statement).
    upsert_repeats: bool

    def sql(self, text: str) -> str:
        """The statement with the driver's markers (cached)."""
        ...

    def param(self, value: Any) -> Any:
        """A parameter as the driver takes it (times, Json, Ids converted)."""
        ...

    def time(self, value: Any) -> datetime | None:
        """A stored time (ours) as an aware datetime."""
        ...

    def json(self, value: Any) -> Any:
        """A stored JSON value as Python."""
        ...

    def in_ids(self, column: str) -> str:
        """`column` is one of an Ids parameter."""
        ...

    def ids_join(self, alias: str, table: str, on: str, *, names: bool = False) -> str:
        """An Ids parameter (of ids, or of names) as rows (`alias`.value) joined to `table` on
        `on`, the list the outer loop (each of its values an index seek into the table)."""
        ...

    def not_in_ids(self, column: str) -> str:
        """`column` is none of an Ids parameter."""
        ...

    def lock(self, share: bool = False) -> str:
        """The row lock clause a check-then-write needs (none where a write lock is global)."""
        ...

    def distinct(self, left: str, right: str) -> str:
        """`left` and `right` differ, NULLs compared as values."""
        ...

    def lock_table(self, tx: Tx, table: str) -> None:
        """Keep every other writer out of `table` until the transaction ends."""
        ...

    def slice_delete(self, table: str, where: str) -> str:
        """DELETE at most `?` rows of `table` matching `where` (its markers come first)."""
        ...

    def export_text(self, column: Column) -> str:
        """The SQL that reads a column as `export` shows it (the same text on both engines)."""
        ...

    def empty(self, table: str) -> str:
        """The statement that removes every row of a (staging) table at once."""
        ...

    @property
    def types(self) -> Mapping[Kind, str]:
        """The column type of each kind."""
        ...

    def upsert(
        self, tx: Tx, table: str, columns: Sequence[str], key: Sequence[str], rows: Sequence[Any]
    ) -> tuple[int, int]:
        """Insert or update rows (already scrubbed, at least one) by key: (added, updated)."""
        ...

    def stream(
        self, tx: Tx, sql: str, params: Sequence[Any], size: int
    ) -> Iterator[list[tuple[Any, ...]]]:
        """A read's rows `size` at a time, memory flat however many match."""
        ...

    def bulk_insert(
        self, tx: Tx, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        """Append many rows (already scrubbed, at least one) as fast as the engine can."""
        ...

    def insert_new(
        self, tx: Tx, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> bool:
        """bulk_insert straight into a keyed table where that beats an upsert by far
        (PostgreSQL's COPY) and none of the rows' keys is held yet: True if written; False,
        with nothing written, if a key was held or the engine has no such path."""
        ...


class Tx:
    """One engine connection with its dialect; a write made through it joins whatever
    transaction the connection is in."""

    __slots__ = ("d", "raw")

    def __init__(self, raw: Any, dialect: Dialect) -> None:
        self.raw = raw
        self.d = dialect

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run one statement; the driver's cursor."""
        param = self.d.param
        return self.raw.execute(self.d.sql(sql), [param(scrub(p)) for p in params])

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement per row (rows already in the driver's types)."""
        if rows:
            with _cursor(self.raw) as cur:
                cur.executemany(self.d.sql(sql), scrub_rows(rows))

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        """The first row, or None."""
        row = self.execute(sql, params).fetchone()
        return None if row is None else tuple(row)

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Every row."""
        return [tuple(r) for r in self.execute(sql, params).fetchall()]

    def value(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first column of the first row (None when there is none)."""
        row = self.one(sql, params)
        return None if row is None else row[0]

    def insert(self, sql: str, params: Sequence[Any] = ()) -> int:
        """An INSERT … RETURNING id; the new id."""
        # Every row fetched: sqlite3 completes a RETURNING statement only once it is read out.
        rows = self.all(sql, params)
        return int(rows[0][0])

    def count(self, sql: str, params: Sequence[Any] = ()) -> int:
        """A write; how many rows it changed."""
        return max(int(self.execute(sql, params).rowcount), 0)

    def upsert(
        self, table: str, columns: Sequence[str], key: Sequence[str], rows: Sequence[Any]
    ) -> tuple[int, int]:
        """Insert or update rows by key, leaving unchanged ones alone: (added, updated)."""
        return self.d.upsert(self, table, columns, key, scrub_rows(rows)) if rows else (0, 0)

    def bulk_insert(self, table: str, columns: Sequence[str], rows: Sequence[Any]) -> None:
        """Append many rows (in the driver's types) as fast as the engine can."""
        if rows:
            self.d.bulk_insert(self, table, columns, scrub_rows(rows))


class _cursor:
    """The driver's cursor, closed after use (sqlite3's has no context manager)."""

    def __init__(self, raw: Any) -> None:
        self._cursor = raw.cursor()

    def __enter__(self) -> Any:
        return self._cursor

    def __exit__(self, *exc: object) -> None:
        self._cursor.close()


def upsert_sql(d: Dialect, table: str, columns: Sequence[str], key: Sequence[str]) -> str:
    """INSERT … ON CONFLICT DO UPDATE of the non-key columns, only where `raw` changed (a table
    without Amazon's raw object: where any stored value but the sync time changed)."""
    marks = ", ".join("?" for _ in columns)
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in key)
    compared = (
        ["raw"]
        if "raw" in columns
        else [c for c in columns if c not in key and c not in ("store", "synced_at")]
    )
    changed = " OR ".join(d.distinct(f"{table}.{c}", f"excluded.{c}") for c in compared)
    return d.sql(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608 (declared identifiers)
        f" ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}"
        f" WHERE {changed}"
    )


def upsert_from_sql(
    d: Dialect, table: str, source: str, columns: Sequence[str], key: Sequence[str]
) -> str:
    """INSERT … SELECT from `source` (same columns, one row per key) … ON CONFLICT DO UPDATE,
    as upsert_sql decides; `WHERE true` keeps SQLite from reading ON CONFLICT as a join's ON."""
    plain = upsert_sql(d, table, columns, key)
    values = plain.index(" VALUES (")
    conflict = plain.index(" ON CONFLICT (")
    names = ", ".join(columns)
    return f"{plain[:values]} SELECT {names} FROM {source} WHERE true{plain[conflict:]}"  # noqa: S608


def ddl(table: Table, d: Dialect) -> str:
    """CREATE TABLE and its indexes for a declared table, in the dialect's types."""
    lines = [
        f"    {c.name} {d.types[c.kind]}{' NOT NULL' if c.required else ''}" for c in table.columns
    ]
    if table.keeps_order and d.order_column:
        lines.insert(0, f"    {d.order_column}")
    if table.key:
        lines.append(f"    PRIMARY KEY ({', '.join(table.key)})")
    if table.columns[0].name == "store_id":
        lines.append("    FOREIGN KEY (store_id) REFERENCES stores (id)")
    statements = [f"CREATE TABLE {table.name} (\n" + ",\n".join(lines) + "\n)"]
    for index in table.indexes:
        name = f"{table.name}_{'_'.join(c for c in index if c != 'store_id')}"
        statements.append(f"CREATE INDEX {name} ON {table.name} ({', '.join(index)})")
    return ";\n".join(statements)


def newest_marks(d: Dialect, datasets: Sequence[Dataset], now: str) -> str:
    """The migration that moves tables declared with newest_mark from an index on their newest
    column to the mark: the index dropped, each store's newest value written as its mark (`now`:
    SQL for the time it is written)."""
    statements: list[str] = []
    for dataset in datasets:
        for table in dataset.tables:
            if not table.newest_mark:
                continue
            newest = str(table.newest)
            shown = d.export_text(table.column(newest))
            statements += [
                f"DROP INDEX IF EXISTS {table.name}_{newest}",
                "INSERT INTO sync_state (store_id, dataset, key, value, updated_at)"  # noqa: S608 (declared identifiers)
                f" SELECT store_id, '{dataset.name}', '{table.newest_key}', {shown}, {now} FROM"
                f" (SELECT store_id, MAX({newest}) AS {newest} FROM {table.name} GROUP BY store_id) m"
                f" WHERE {newest} IS NOT NULL ON CONFLICT (store_id, dataset, key) DO NOTHING",
            ]
    return ";\n".join(statements)


def figures(tx: Tx, table: Table, store_id: int) -> tuple[int, str | None]:
    """Rows held for one store and its newest `table.newest` value, as `export` shows it."""
    if table.newest is None:
        return count_rows(tx, table, store_id), None
    newest = tx.d.export_text(table.column(table.newest))
    row = tx.one(
        f"SELECT COUNT(*), (SELECT {newest} FROM {table.name} WHERE store_id = ?"  # noqa: S608 (declared identifiers)
        f" ORDER BY {table.newest} DESC NULLS LAST LIMIT 1) FROM {table.name} WHERE store_id = ?",
        (store_id, store_id),
    )
    assert row is not None  # an aggregate always answers
    return int(row[0]), None if row[1] is None else str(row[1])


def count_rows(tx: Tx, table: Table, store_id: int) -> int:
    """Rows held for one store."""
    total = tx.value(f"SELECT COUNT(*) FROM {table.name} WHERE store_id = ?", (store_id,))  # noqa: S608
    return int(total)


def newest_text(tx: Tx, table: Table, source: str) -> str | None:
    """The newest `table.newest` value of every row of `source` (a stage shaped like the
    table), as `export` shows it."""
    assert table.newest is not None
    newest = tx.d.export_text(table.column(table.newest))
    value = tx.value(
        f"SELECT {newest} FROM {source} ORDER BY {table.newest} DESC NULLS LAST LIMIT 1"  # noqa: S608 (declared identifiers)
    )
    return None if value is None else str(value)


def export(
    tx: Tx, table: Table, store_id: int, since: str | None, size: int
) -> Iterator[list[tuple[Any, ...]]]:
    """One store's rows in the table's order, `size` at a time; since: `table.since` at or after
    this UTC text ("YYYY-MM-DDTHH:MM:SS")."""
    columns = ", ".join(tx.d.export_text(c) for c in table.export_columns)
    sql = f"SELECT {columns} FROM {table.name} WHERE store_id = ?"  # noqa: S608 (declared identifiers)
    params: tuple[Any, ...] = (store_id,)
    if since is not None and table.since is not None:
        sql += f" AND {table.since} >= ?"
        params += (since,)
    return tx.d.stream(tx, f"{sql} ORDER BY {', '.join(table.order)}", params, size)
