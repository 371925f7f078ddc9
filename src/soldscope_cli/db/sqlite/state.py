"""What the SQLite dataset tables share with the engine: sync_state rows and the connection."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, suppress
from datetime import datetime
from typing import Any, Protocol

from soldscope_cli.db.model import to_db_time


class Connections(Protocol):
    """The engine as a dataset table sees it (soldscope_cli.db.sqlite.engine.Database)."""

    def connection(self) -> sqlite3.Connection: ...

    def transaction(
        self, conn: sqlite3.Connection | None = None
    ) -> AbstractContextManager[sqlite3.Connection]: ...

    def store_transaction(self, store_id: int) -> AbstractContextManager[sqlite3.Connection]: ...

    def store_name(self, store_id: int) -> str: ...


def get_state(conn: sqlite3.Connection, store_id: int, dataset: str, key: str) -> str | None:
    """One sync_state value."""
    row = conn.execute(
        "SELECT value FROM sync_state WHERE store_id = ? AND dataset = ? AND key = ?",
        (store_id, dataset, key),
    ).fetchone()
    return None if row is None else str(row[0])


def put_state(
    tx: sqlite3.Connection, store_id: int, dataset: str, key: str, value: str, at: datetime
) -> None:
    """Write a cursor or mark inside the transaction that wrote the rows it covers."""
    tx.execute(
        "INSERT INTO sync_state (store_id, dataset, key, value, updated_at) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (store_id, dataset, key) DO UPDATE SET value = excluded.value,"
        " updated_at = excluded.updated_at",
        (store_id, dataset, key, value, to_db_time(at)),
    )


def delete_state(tx: sqlite3.Connection, store_id: int, dataset: str, key: str) -> None:
    """Remove a cursor or mark."""
    tx.execute(
        "DELETE FROM sync_state WHERE store_id = ? AND dataset = ? AND key = ?",
        (store_id, dataset, key),
    )


def stream(
    conn: sqlite3.Connection, sql: str, params: tuple[Any, ...], size: int
) -> Iterator[list[tuple[Any, ...]]]:
    """A query's rows as plain tuples, `size` at a time: SQLite steps its cursor as we fetch, so
    memory stays flat however many rows match."""
    cursor = conn.execute(sql, params)
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


def store_figures(
    conn: sqlite3.Connection, table: str, newest: str, store_id: int
) -> tuple[int, str | None]:
    """A dataset table's rows held for one store and its newest `newest` value (index seeks)."""
    row = conn.execute(
        f"SELECT COUNT(*), MAX({newest}) FROM {table} WHERE store_id = ?",  # noqa: S608
        (store_id,),
    ).fetchone()
    return int(row[0]), row[1]


def store_export(
    conn: sqlite3.Connection,
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
    or after this UTC text."""
    sql = f"SELECT {', '.join(columns)} FROM {table} WHERE store_id = ?"  # noqa: S608
    params: tuple[Any, ...] = (store_id,)
    if since is not None:
        sql += f" AND {since_expr} >= ?"
        params += (since,)
    return stream(conn, f"{sql} ORDER BY {order}", params, size)
