"""What the PostgreSQL dataset tables share with the engine: sync_state rows, streams, upserts."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from itertools import count
from typing import Any, Protocol

import psycopg

Conn = psycopg.Connection[Any]

# The text forms SQLite stores, so `data` and `export` print the same on both engines: our own
# times as model.to_db_time writes them (Amazon's are read back from raw, as Amazon wrote them).
_DB_TIME = '\'YYYY-MM-DD"T"HH24:MI:SS.US"Z"\''


def db_time(column: str) -> str:
    """SQL for a timestamptz column as model.to_db_time's text."""
    return f"to_char({column} AT TIME ZONE 'UTC', {_DB_TIME})"


class Connections(Protocol):
    """The engine as a dataset table sees it (soldscope_cli.db.postgres.engine.Database)."""

    def connection(self) -> Conn: ...

    def transaction(self, conn: Conn | None = None) -> AbstractContextManager[Conn]: ...

    def store_transaction(self, store_id: int) -> AbstractContextManager[Conn]: ...

    def store_name(self, store_id: int) -> str: ...

    def query(
        self, sql: str, params: Sequence[Any] = (), tx: Conn | None = None
    ) -> list[tuple[Any, ...]]: ...


def get_state(
    db: Connections, store_id: int, dataset: str, key: str, tx: Conn | None = None
) -> str | None:
    """One sync_state value."""
    rows = db.query(
        "SELECT value FROM sync_state WHERE store_id = %s AND dataset = %s AND key = %s",
        (store_id, dataset, key),
        tx,
    )
    return None if not rows else str(rows[0][0])


def put_state(tx: Conn, store_id: int, dataset: str, key: str, value: str, at: datetime) -> None:
    """Write a cursor or mark inside the transaction that wrote the rows it covers."""
    tx.execute(
        "INSERT INTO sync_state (store_id, dataset, key, value, updated_at)"
        " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (store_id, dataset, key) DO UPDATE SET"
        " value = EXCLUDED.value, updated_at = EXCLUDED.updated_at",
        (store_id, dataset, key, value, at),
    )


def delete_state(tx: Conn, store_id: int, dataset: str, key: str) -> None:
    """Remove a cursor or mark."""
    tx.execute(
        "DELETE FROM sync_state WHERE store_id = %s AND dataset = %s AND key = %s",
        (store_id, dataset, key),
    )


_names = count()


def stream(
    db: Connections, sql: str, params: Sequence[Any], size: int
) -> Iterator[list[tuple[Any, ...]]]:
    """A query's rows, `size` at a time, through a server-side cursor: memory stays flat however
    many rows match. The read's transaction ends when the stream does (or is closed early)."""
    conn = db.connection()
    with db.transaction(conn), conn.cursor(name=f"soldscope_export_{next(_names)}") as cursor:
        cursor.itersize = size
        cursor.execute(sql, params)
        while True:
            batch = cursor.fetchmany(size)
            if not batch:
                return
            yield batch


def store_figures(
    db: Connections, table: str, raw_key: str, order: str, store_id: int
) -> tuple[int, str | None]:
    """Rows held for one store and its newest row's `raw_key`, as Amazon wrote it in raw (the
    text SQLite shows)."""
    count_, newest = db.query(
        f"SELECT COUNT(*), (SELECT raw->>'{raw_key}' FROM {table} WHERE store_id = %s"  # noqa: S608
        f" ORDER BY {order} DESC NULLS LAST LIMIT 1) FROM {table} WHERE store_id = %s",
        (store_id, store_id),
    )[0]
    return int(count_), newest


def store_export(
    db: Connections,
    table: str,
    columns: Sequence[str],
    *,
    since_expr: str,
    order: str,
    store_id: int,
    since: str | None,
    size: int,
) -> Iterator[list[tuple[Any, ...]]]:
    """One store's rows of a dataset table in `order`, `size` at a time; since: `since_expr` at
    or after this time (UTC text, as with SQLite)."""
    sql = f"SELECT {', '.join(columns)} FROM {table} WHERE store_id = %s"  # noqa: S608
    params: tuple[Any, ...] = (store_id,)
    if since is not None:
        sql += f" AND {since_expr} >= %s::timestamptz"
        params += (since,)
    return stream(db, f"{sql} ORDER BY {order}", params, size)


def upsert(
    tx: Conn,
    table: str,
    columns: Sequence[str],
    key: Sequence[str],
    rows: Sequence[Sequence[Any]],
) -> tuple[int, int]:
    """Insert or update rows by key; returns (added, updated). Unchanged rows are not rewritten.

    As in SQLite, a row counts as updated only when its `raw` differs. RETURNING tells an insert
    (xmax = 0: no earlier version of the row) from an update; an unchanged row returns nothing.
    """
    if not rows:
        return 0, 0
    marks = ", ".join("%s" for _ in columns)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c not in key)
    sql = (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608 (fixed identifiers)
        f" ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}"
        f" WHERE {table}.raw IS DISTINCT FROM EXCLUDED.raw RETURNING (xmax = 0)"
    )
    added = updated = 0
    with tx.cursor() as cur:
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
