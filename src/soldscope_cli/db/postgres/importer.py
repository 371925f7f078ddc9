"""Copying a SQLite home's connections into a team database (`soldscope team import`).

Every table that holds a connection's rows is read from one SQLite read snapshot, `BATCH` rows at
a time, and written with COPY in text format: the server parses SQLite's text (our fixed-width
UTC times, exact decimal amounts, JSON) into timestamptz, numeric and jsonb, so nothing is
converted (or rounded) in Python and memory stays flat whatever the home's size. The caller holds
one PostgreSQL transaction around all of it, so a failure or Ctrl-C leaves nothing behind.

Ids are the team database's: each store gets a new `stores` row, history rows get new ids in
their original order, and Brand Analytics rows and weeks point at their loads' new ids.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, NamedTuple

import psycopg

from soldscope_cli.datasets import registry
from soldscope_cli.datasets.brand_analytics import SEARCH_TERM_FIELDS
from soldscope_cli.db.model import (
    IMPORT_CURSOR_TABLE,
    IMPORT_HISTORY_TABLES,
    IMPORT_WEEKS_TABLE,
    RegistryRecord,
)
from soldscope_cli.db.postgres.registry import insert_record
from soldscope_cli.db.postgres.state import Conn
from soldscope_cli.errors import StorageError, UsageError

BATCH = 5000


class Table(NamedTuple):
    """A table copied per connection: its columns (after store_id) and the order rows keep."""

    name: str
    columns: tuple[str, ...]
    order: str


# History, then cursors, then data. The id columns are left out: the team database numbers the
# rows anew, in `order`, so "newest first" means the same there.
HISTORY = (
    Table(
        "checks",
        (
            "store",
            "checked_at",
            "source",
            "outcome",
            "error_code",
            "error_message",
            "request_id",
        ),
        "id",
    ),
    Table("events", ("store", "at", "kind", "detail"), "id"),
    Table(
        "sync_runs",
        (
            "store",
            "dataset",
            "started_at",
            "finished_at",
            "outcome",
            "rows_added",
            "rows_updated",
            "error_code",
            "error_message",
            "request_id",
        ),
        "id",
    ),
)
CURSORS = Table(IMPORT_CURSOR_TABLE, ("dataset", "key", "value", "updated_at"), "dataset, key")
# Every table of every dataset stored by key (a dataset may declare more than the one `data`
# reads), as its declaration has it; Brand Analytics' loads are renumbered below.
DATA = tuple(
    Table(t.name, t.copied_columns, t.copy_order)
    for d in registry.DATASETS
    if d.reads is not None
    for t in d.tables
)
BA_LOADS = "ba_search_terms_loads"
BA_ROWS = "ba_search_terms_rows"
BA_WEEKS = IMPORT_WEEKS_TABLE
_WEEK_COLUMNS = (
    "marketplace_id",
    "week_start",
    "week_end",
    "report_id",
    "processing_status",
    "row_count",
)

# Every table copied, in the order it is written; and which dataset a data table belongs to.
TABLES = (
    *(t.name for t in HISTORY),
    CURSORS.name,
    *(t.name for t in DATA),
    BA_LOADS,
    BA_WEEKS,
    BA_ROWS,
)
assert tuple(t.name for t in HISTORY) == IMPORT_HISTORY_TABLES  # what the report calls history


class TransferError(StorageError):
    """A row the team database would not take (nothing of the import is kept)."""


# --- the SQLite side ---------------------------------------------------------------------------


@contextmanager
def read_snapshot(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One read transaction: a sync running meanwhile on this home changes nothing we read."""
    conn.execute("BEGIN")
    try:
        yield conn
    finally:
        conn.execute("ROLLBACK")


class LocalStore(NamedTuple):
    """A store's live connection in the home's SQLite database."""

    id: int
    created_at: str


def live_connections(conn: sqlite3.Connection, names: Sequence[str]) -> dict[str, LocalStore]:
    """The live connection of each name that has one."""
    found: dict[str, LocalStore] = {}
    for name in names:
        row = conn.execute(
            "SELECT id, created_at FROM stores WHERE name = ? AND deleted_at IS NULL", (name,)
        ).fetchone()
        if row is not None:
            found[name] = LocalStore(int(row[0]), str(row[1]))
    return found


# Search term rows of a load that is gone are never visible (the view joins the loads): they
# are left behind.
_LOADED_ROWS = f" AND load_id IN (SELECT load_id FROM {BA_LOADS} WHERE store_id = ?)"  # noqa: S608


def count_rows(conn: sqlite3.Connection, store_id: int) -> dict[str, int]:
    """Rows per table of one connection (what an import would copy)."""
    counts: dict[str, int] = {}
    for table in TABLES:
        extra, params = (
            (_LOADED_ROWS, (store_id, store_id)) if table == BA_ROWS else ("", (store_id,))
        )
        sql = f"SELECT COUNT(*) FROM {table} WHERE store_id = ?{extra}"  # noqa: S608 (fixed names)
        counts[table] = int(conn.execute(sql, params).fetchone()[0])
    return counts


def count_app_events(conn: sqlite3.Connection) -> int:
    """Events of no store (the app's own: notifications of the whole fleet, ...)."""
    return int(conn.execute("SELECT COUNT(*) FROM events WHERE store IS NULL").fetchone()[0])


def pending_invitations(conn: sqlite3.Connection, now: str) -> int:
    """Invitations still open (neither used, revoked nor expired)."""
    return int(
        conn.execute(
            "SELECT COUNT(*) FROM invitations"
            " WHERE used_at IS NULL AND revoked_at IS NULL AND expires_at > ?",
            (now,),
        ).fetchone()[0]
    )


def _batches(cursor: sqlite3.Cursor) -> Iterator[list[Any]]:
    while True:
        rows = cursor.fetchmany(BATCH)
        if not rows:
            return
        yield rows


# --- the PostgreSQL side -----------------------------------------------------------------------


def live_names(tx: Conn, names: Sequence[str]) -> list[str]:
    """Which of these names a live connection of the team database already has."""
    rows = tx.execute(
        "SELECT name FROM stores WHERE deleted_at IS NULL AND name = ANY(%s) ORDER BY name",
        (list(names),),
    ).fetchall()
    return [str(r[0]) for r in rows]


def add_store(tx: Conn, record: RegistryRecord, created_at: str | datetime) -> int:
    """The store's registry row; a live row of that name made meanwhile is a TransferError."""
    try:
        with tx.transaction():
            return insert_record(tx, record, created_at)
    except psycopg.errors.UniqueViolation:
        raise UsageError(
            f"a store named {record.name!r} was added to the team database while importing; "
            "nothing was copied",
            hint="run `soldscope team import --skip-existing` to import the others",
        ) from None


def _copy(
    tx: Conn,
    table: str,
    columns: Sequence[str],
    rows: Iterator[list[Any]],
    where: str,
) -> int:
    copied = 0
    try:
        with (
            tx.cursor() as cur,
            cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
        ):
            for batch in rows:
                for row in batch:
                    copy.write_row(row)
                copied += len(batch)
    except psycopg.DataError as exc:
        reason = " ".join(str(exc).split())
        raise TransferError(
            f"{where}: the team database refused a row of {table}: {reason}; nothing was copied",
            hint="fix or remove that row in the local database (or delete the store), then run "
            "`soldscope team import` again",
        ) from None
    return copied


def copy_store(
    tx: Conn, local: sqlite3.Connection, local_id: int, team_id: int, where: str
) -> dict[str, int]:
    """Every row of one local connection into the team connection `team_id`; rows per table."""
    counts: dict[str, int] = {}

    def rows_of(table: Table) -> Iterator[list[Any]]:
        cur = local.execute(
            f"SELECT {', '.join(table.columns)} FROM {table.name}"  # noqa: S608 (fixed names)
            f" WHERE store_id = ? ORDER BY {table.order}",
            (local_id,),
        )
        for batch in _batches(cur):
            yield [(team_id, *row) for row in batch]

    for table in (*HISTORY, CURSORS, *DATA):
        counts[table.name] = _copy(
            tx, table.name, ("store_id", *table.columns), rows_of(table), where
        )

    # Loads are few (one per marketplace and week): each gets its new id, which rows and weeks
    # then point at.
    load_ids: dict[int, int] = {}
    for old_id, marketplace, week_start, report_id, started_at in local.execute(
        f"SELECT load_id, marketplace_id, week_start, report_id, started_at FROM {BA_LOADS}"  # noqa: S608
        " WHERE store_id = ? ORDER BY load_id",
        (local_id,),
    ).fetchall():
        row = tx.execute(
            f"INSERT INTO {BA_LOADS} (store_id, marketplace_id, week_start, report_id,"  # noqa: S608
            " started_at) VALUES (%s, %s, %s, %s, %s) RETURNING load_id",
            (team_id, marketplace, week_start, report_id, started_at),
        ).fetchone()
        assert row is not None
        load_ids[int(old_id)] = int(row[0])
    counts[BA_LOADS] = len(load_ids)

    def weeks() -> Iterator[list[Any]]:
        cur = local.execute(
            f"SELECT {', '.join(_WEEK_COLUMNS)}, load_id, loaded_at FROM {BA_WEEKS}"  # noqa: S608
            " WHERE store_id = ? ORDER BY marketplace_id, week_start",
            (local_id,),
        )
        for batch in _batches(cur):
            yield [
                (team_id, *row[:-2], None if row[-2] is None else load_ids.get(row[-2]), row[-1])
                for row in batch
            ]

    counts[BA_WEEKS] = _copy(
        tx, BA_WEEKS, ("store_id", *_WEEK_COLUMNS, "load_id", "loaded_at"), weeks(), where
    )

    def search_terms() -> Iterator[list[Any]]:
        # Document order (SQLite's rowid) becomes the team table's `seq`, as a sync writes it.
        cur = local.execute(
            f"SELECT load_id, {', '.join(SEARCH_TERM_FIELDS)} FROM {BA_ROWS}"  # noqa: S608
            f" WHERE store_id = ?{_LOADED_ROWS} ORDER BY rowid",
            (local_id, local_id),
        )
        for batch in _batches(cur):
            yield [(load_ids[row[0]], team_id, *row[1:]) for row in batch]

    counts[BA_ROWS] = _copy(
        tx, BA_ROWS, ("load_id", "store_id", *SEARCH_TERM_FIELDS), search_terms(), where
    )
    return counts


def copy_app_events(tx: Conn, local: sqlite3.Connection) -> int:
    """The events of no store, once per import."""
    cur = local.execute("SELECT at, kind, detail FROM events WHERE store IS NULL ORDER BY id")
    return _copy(tx, "events", ("at", "kind", "detail"), _batches(cur), "the app's events")


def log_imported(tx: Conn, name: str, team_id: int, at: datetime) -> None:
    """The `imported` event that ends a store's copied history."""
    tx.execute(
        "INSERT INTO events (at, store_id, store, kind, detail) VALUES (%s, %s, %s, 'imported',"
        " NULL)",
        (at, team_id, name),
    )
