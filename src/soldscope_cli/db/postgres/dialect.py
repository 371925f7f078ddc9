"""PostgreSQL's side of the shared SQL: `%s` markers, timestamptz and jsonb values, arrays of
ids, row locks, the upsert that counts with RETURNING, and server-side cursors for streams."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from itertools import count
from typing import Any

from psycopg.errors import UniqueViolation
from psycopg.types.json import Jsonb

from soldscope_cli.datasets.schema import Column, Kind
from soldscope_cli.db.sql import Ids, Json, Tx, upsert_sql

TYPES: Mapping[Kind, str] = {
    Kind.ID: "bigint",
    Kind.TEXT: "text",
    Kind.INT: "integer",
    Kind.REAL: "double precision",
    Kind.DECIMAL: "numeric",
    Kind.TIME: "timestamptz",
    Kind.AMAZON_TIME: "timestamptz",
    Kind.DATE: "date",
    Kind.JSON: "jsonb",
}

# The text forms SQLite stores, so `data` and `export` print the same on both engines: our own
# times as model.to_db_time writes them (Amazon's are read back from raw, as Amazon wrote them).
_DB_TIME = '\'YYYY-MM-DD"T"HH24:MI:SS.US"Z"\''

_names = count()


@lru_cache(maxsize=512)
def _markers(text: str) -> str:
    return text.replace("%", "%%").replace("?", "%s")


def db_time(column: str) -> str:
    """SQL for a timestamptz column as model.to_db_time's text."""
    return f"to_char({column} AT TIME ZONE 'UTC', {_DB_TIME})"


class PostgresDialect:
    """The dialect of db/postgres's engine."""

    types = TYPES
    json_object = "jsonb_build_object"
    row_order = "seq"
    upsert_repeats = False
    order_column: str | None = "seq bigint GENERATED ALWAYS AS IDENTITY"

    def sql(self, text: str) -> str:
        return _markers(text)

    def param(self, value: Any) -> Any:
        if isinstance(value, Json):
            return None if value.value is None else Jsonb(value.value)
        if isinstance(value, Ids):
            return value.values
        return value

    def time(self, value: Any) -> datetime | None:
        return value  # type: ignore[no-any-return]  # timestamptz arrives as an aware datetime

    def json(self, value: Any) -> Any:
        return value

    def in_ids(self, column: str) -> str:
        return f"{column} = ANY(?)"

    def ids_join(self, alias: str, table: str, on: str, *, names: bool = False) -> str:
        # Typed: an empty list would leave unnest() without a type to choose by. The table is
        # read in a LATERAL subquery that OFFSET 0 keeps from being flattened into a join: a
        # seek per value whatever the planner believes. Joined plainly, a table whose statistics
        # predate a big load was sorted whole for 2,000 order ids (0.5 s instead of 12 ms).
        kind = "text[]" if names else "bigint[]"
        name = table.split()[-1]
        return (
            f"unnest(CAST(? AS {kind})) AS {alias}(value)"  # noqa: S608 (declared identifiers)
            f" JOIN LATERAL (SELECT * FROM {table} WHERE {on} OFFSET 0) {name} ON true"
        )

    def not_in_ids(self, column: str) -> str:
        return f"{column} <> ALL(?)"

    def lock(self, share: bool = False) -> str:
        return " FOR SHARE" if share else " FOR UPDATE"

    def distinct(self, left: str, right: str) -> str:
        return f"{left} IS DISTINCT FROM {right}"

    def lock_table(self, tx: Tx, table: str) -> None:
        tx.raw.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")

    def slice_delete(self, table: str, where: str) -> str:
        return (
            f"DELETE FROM {table} WHERE ctid = ANY (ARRAY(SELECT ctid FROM {table}"  # noqa: S608
            f" WHERE {where} LIMIT ?))"
        )

    def export_text(self, column: Column) -> str:
        if column.kind is Kind.TIME:
            return db_time(column.name)
        if column.kind is Kind.AMAZON_TIME and column.raw_key:
            return f"raw->>'{column.raw_key}'"  # as Amazon wrote it, as SQLite shows it
        if column.kind in (Kind.DECIMAL, Kind.DATE):
            return f"{column.name}::text"
        return column.name

    def empty(self, table: str) -> str:
        # Not DELETE: autovacuum never visits a temporary table, so the dead rows of every batch
        # a DELETE emptied stayed, and each upsert scanned them all again (a 1,000,000-row load
        # took twice as long).
        return f"TRUNCATE {table}"

    def upsert(
        self, tx: Tx, table: str, columns: Sequence[str], key: Sequence[str], rows: Sequence[Any]
    ) -> tuple[int, int]:
        """RETURNING tells an insert (xmax = 0: no earlier version of the row) from an update;
        an unchanged row returns nothing."""
        sql = upsert_sql(self, table, columns, key) + " RETURNING (xmax = 0)"
        added = updated = 0
        with tx.raw.cursor() as cur:
            cur.executemany(sql, rows, returning=True)
            while True:
                for (inserted,) in cur.fetchall():
                    if inserted:
                        added += 1
                    else:
                        updated += 1
                if not cur.nextset():
                    break
        return added, updated

    def bulk_insert(
        self, tx: Tx, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        with tx.raw.cursor() as cur, cur.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)

    def insert_new(
        self, tx: Tx, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> bool:
        """COPY into the table itself, in a savepoint: a third of the server's work of COPY
        into a stage and an upsert from it. A key already held rolls the savepoint back."""
        try:
            with tx.raw.transaction():
                self.bulk_insert(tx, table, columns, rows)
        except UniqueViolation:
            return False
        return True

    def stream(
        self, tx: Tx, sql: str, params: Sequence[Any], size: int
    ) -> Iterator[list[tuple[Any, ...]]]:
        """Through a server-side cursor in a read transaction of its own, which ends when the
        stream does (or is closed early)."""
        conn = tx.raw
        with (
            conn.transaction(),
            conn.cursor(name=f"soldscope_export_{next(_names)}") as cursor,
        ):
            cursor.itersize = size
            cursor.execute(self.sql(sql), [self.param(p) for p in params])
            while True:
                batch = cursor.fetchmany(size)
                if not batch:
                    return
                yield batch


DIALECT = PostgresDialect()
