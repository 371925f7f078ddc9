"""The state database (SQLite, WAL): migrations, check history, event log, sync bookkeeping.

This module is the only one that writes SQL for soldscope's own state; dataset modules own their
data tables but register their migrations here so that one ordered list describes the schema.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from soldscope_cli.errors import ConfigError
from soldscope_cli.status import Problem

Migration = tuple[str, Callable[[sqlite3.Connection], None]]

CHECK_OK = "ok"
CHECK_PROBLEM = "problem"  # a lasting problem: the store is in error until cleared
CHECK_INCOMPLETE = "incomplete"  # could not complete: never changes a status
CHECK_APP_ERROR = "app_error"  # the app's credentials were rejected: not the store's fault
CHECK_OUTCOMES = (CHECK_OK, CHECK_PROBLEM, CHECK_INCOMPLETE, CHECK_APP_ERROR)


def to_db_time(value: datetime) -> str:
    """UTC timestamps as fixed-width text, so text order is time order."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def from_db_time(value: str) -> datetime:
    """Inverse of to_db_time."""
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def execute_script(conn: sqlite3.Connection, script: str) -> None:
    """Run `;`-separated DDL inside the caller's transaction (executescript would commit it)."""
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


def _m001_state(conn: sqlite3.Connection) -> None:
    execute_script(
        conn,
        """
        CREATE TABLE checks (
            id INTEGER PRIMARY KEY,
            store TEXT NOT NULL,
            checked_at TEXT NOT NULL,
            source TEXT NOT NULL,
            outcome TEXT NOT NULL,
            error_code TEXT,
            error_message TEXT,
            request_id TEXT
        );
        CREATE INDEX checks_store ON checks (store, id);
        CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            store TEXT,
            kind TEXT NOT NULL,
            detail TEXT
        );
        CREATE INDEX events_store ON events (store, id);
        CREATE TABLE sync_runs (
            id INTEGER PRIMARY KEY,
            store TEXT NOT NULL,
            dataset TEXT NOT NULL,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            outcome TEXT,
            rows_added INTEGER NOT NULL DEFAULT 0,
            rows_updated INTEGER NOT NULL DEFAULT 0,
            error_code TEXT,
            error_message TEXT,
            request_id TEXT
        );
        CREATE INDEX sync_runs_store ON sync_runs (store, id);
        CREATE TABLE sync_state (
            store TEXT NOT NULL,
            dataset TEXT NOT NULL,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (store, dataset, key)
        );
        """,
    )


MIGRATIONS: list[Migration] = [("0001_state", _m001_state)]
# Tables holding synced data, so `delete --purge-data` can find a store's rows.
DATA_TABLES: list[str] = []


def register_migration(name: str, apply: Callable[[sqlite3.Connection], None]) -> None:
    """Append a migration (dataset modules call this at import); names must sort after 0001."""
    if any(existing == name for existing, _ in MIGRATIONS):
        return
    MIGRATIONS.append((name, apply))
    MIGRATIONS.sort(key=lambda m: m[0])


@dataclass(frozen=True)
class CheckRecord:
    """One live check (or the health part of a sync) of one store."""

    store: str
    checked_at: datetime
    source: str  # validate, connect, sync
    outcome: str  # one of CHECK_OUTCOMES
    error_code: str | None = None
    error_message: str | None = None
    request_id: str | None = None


@dataclass(frozen=True)
class StoreState:
    """What the database knows about one store, for status and listing."""

    problem: Problem | None = None  # from the latest conclusive check, if it found one
    last_checked_at: datetime | None = None
    last_sync_at: datetime | None = None


class Database:
    """The state database at one path; one connection per thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._migrated = 0  # how many of MIGRATIONS this process has applied or seen
        self._migrate_lock = threading.Lock()

    def connection(self) -> sqlite3.Connection:
        """This thread's connection, migrated to the current schema."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._open()
            self._local.conn = conn
        # Dataset modules register migrations when imported, which may be after this database
        # was first opened in the process: compare counts, not a flag.
        if self._migrated != len(MIGRATIONS):
            with self._migrate_lock:
                if self._migrated != len(MIGRATIONS):
                    self._migrate(conn)
                    self._migrated = len(MIGRATIONS)
        return conn

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not self.path.exists():
            # Create it 0600 ourselves: sqlite would use the umask, and synced data is private.
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        try:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.DatabaseError as exc:
            raise ConfigError(
                f"{self.path}: cannot open the state database: {exc}",
                hint="run `soldscope doctor`; move the file aside to start afresh",
            ) from None
        conn.row_factory = sqlite3.Row
        return conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        # The dataset modules register their migrations and DATA_TABLES when imported.
        import soldscope_cli.sync  # noqa: F401

        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT)"
        )
        done = {row[0] for row in conn.execute("SELECT name FROM schema_migrations")}
        for name, apply in MIGRATIONS:
            if name in done:
                continue
            with self.transaction(conn) as tx:
                # Re-check inside the write lock: another process may have just applied it.
                if tx.execute("SELECT 1 FROM schema_migrations WHERE name = ?", (name,)).fetchone():
                    continue
                apply(tx)
                tx.execute(
                    "INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)",
                    (name, to_db_time(datetime.now(UTC))),
                )

    def pending_migrations(self) -> list[str]:
        """Migrations not yet applied (without applying them)."""
        conn = self._open()
        try:
            try:
                done = {r[0] for r in conn.execute("SELECT name FROM schema_migrations")}
            except sqlite3.OperationalError:
                done = set()
            return [name for name, _ in MIGRATIONS if name not in done]
        finally:
            conn.close()

    @contextmanager
    def transaction(self, conn: sqlite3.Connection | None = None) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception."""
        conn = conn or self.connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        """Close this thread's connection."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # --- checks and events -------------------------------------------------------------------

    def record_check(self, check: CheckRecord, tx: sqlite3.Connection | None = None) -> None:
        """Append a check to the history."""
        if check.outcome not in CHECK_OUTCOMES:
            raise ValueError(f"unknown check outcome {check.outcome!r}")
        conn = tx or self.connection()
        conn.execute(
            "INSERT INTO checks (store, checked_at, source, outcome, error_code, error_message,"
            " request_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                check.store,
                to_db_time(check.checked_at),
                check.source,
                check.outcome,
                check.error_code,
                check.error_message,
                check.request_id,
            ),
        )

    def log_event(
        self,
        kind: str,
        at: datetime,
        store: str | None = None,
        detail: dict[str, Any] | None = None,
        tx: sqlite3.Connection | None = None,
    ) -> None:
        """Append to the event log (connected, reauthorized, checked, status_changed, deleted...)."""
        conn = tx or self.connection()
        conn.execute(
            "INSERT INTO events (at, store, kind, detail) VALUES (?, ?, ?, ?)",
            (to_db_time(at), store, kind, json.dumps(detail, sort_keys=True) if detail else None),
        )

    def events(self, store: str | None = None, limit: int = 100) -> list[sqlite3.Row]:
        """The most recent events, newest first."""
        conn = self.connection()
        if store is None:
            return conn.execute(
                "SELECT * FROM events ORDER BY id DESC LIMIT ?", (limit,)
            ).fetchall()
        return conn.execute(
            "SELECT * FROM events WHERE store = ? ORDER BY id DESC LIMIT ?", (store, limit)
        ).fetchall()

    def checks(self, store: str) -> list[sqlite3.Row]:
        """A store's check history, oldest first."""
        return (
            self.connection()
            .execute("SELECT * FROM checks WHERE store = ? ORDER BY id", (store,))
            .fetchall()
        )

    def states(self, stores: Sequence[str] | None = None) -> dict[str, StoreState]:
        """Per store: the latest conclusive problem, last check time and last successful sync."""
        conn = self.connection()
        return read_states(conn, stores)

    # --- sync bookkeeping --------------------------------------------------------------------

    def get_sync_state(self, store: str, dataset: str, key: str) -> str | None:
        """A cursor or mark written by a dataset."""
        row = (
            self.connection()
            .execute(
                "SELECT value FROM sync_state WHERE store = ? AND dataset = ? AND key = ?",
                (store, dataset, key),
            )
            .fetchone()
        )
        return None if row is None else str(row[0])

    def set_sync_state(
        self,
        store: str,
        dataset: str,
        key: str,
        value: str,
        at: datetime,
        tx: sqlite3.Connection,
    ) -> None:
        """Write a cursor; callers pass the transaction that wrote the rows it covers."""
        tx.execute(
            "INSERT INTO sync_state (store, dataset, key, value, updated_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (store, dataset, key) DO UPDATE SET value = excluded.value,"
            " updated_at = excluded.updated_at",
            (store, dataset, key, value, to_db_time(at)),
        )

    def delete_sync_state(self, store: str, dataset: str, key: str, tx: sqlite3.Connection) -> None:
        """Remove a cursor or mark."""
        tx.execute(
            "DELETE FROM sync_state WHERE store = ? AND dataset = ? AND key = ?",
            (store, dataset, key),
        )

    def sync_state_keys(self, store: str, dataset: str, prefix: str = "") -> dict[str, str]:
        """All sync_state entries of a store's dataset whose key starts with prefix."""
        rows = (
            self.connection()
            .execute(
                "SELECT key, value FROM sync_state WHERE store = ? AND dataset = ? AND key LIKE ?",
                (store, dataset, prefix.replace("%", r"\%") + "%"),
            )
            .fetchall()
        )
        return {str(r[0]): str(r[1]) for r in rows}

    def start_sync_run(self, store: str, dataset: str, at: datetime) -> int:
        """Record that a dataset sync started; returns the run id."""
        with self.transaction() as tx:
            cur = tx.execute(
                "INSERT INTO sync_runs (store, dataset, started_at) VALUES (?, ?, ?)",
                (store, dataset, to_db_time(at)),
            )
            return int(cur.lastrowid or 0)

    def finish_sync_run(
        self,
        run_id: int,
        at: datetime,
        outcome: str,
        rows_added: int = 0,
        rows_updated: int = 0,
        error_code: str | None = None,
        error_message: str | None = None,
        request_id: str | None = None,
    ) -> None:
        """Record how a dataset sync ended."""
        with self.transaction() as tx:
            tx.execute(
                "UPDATE sync_runs SET finished_at = ?, outcome = ?, rows_added = ?, rows_updated = ?,"
                " error_code = ?, error_message = ?, request_id = ? WHERE id = ?",
                (
                    to_db_time(at),
                    outcome,
                    rows_added,
                    rows_updated,
                    error_code,
                    error_message,
                    request_id,
                    run_id,
                ),
            )

    # --- deletion ----------------------------------------------------------------------------

    def purge_store(self, store: str, at: datetime) -> int:
        """Delete a store's rows (history, cursors, synced data); the event log stays append-only."""
        self.connection()  # migrated, so every dataset's table is known
        with self.transaction() as tx:
            removed = 0
            for table in ("checks", "sync_runs", "sync_state", *DATA_TABLES):
                cur = tx.execute(f"DELETE FROM {table} WHERE store = ?", (store,))  # noqa: S608
                removed += max(cur.rowcount, 0)
            self.log_event("deleted", at, store, {"purged_rows": removed}, tx=tx)
            return removed


def read_states(
    conn: sqlite3.Connection, stores: Sequence[str] | None = None
) -> dict[str, StoreState]:
    """StoreState for every store with history (or just the named ones)."""
    latest_conclusive = conn.execute(
        "SELECT c.store, c.outcome, c.error_code, c.error_message, c.checked_at, c.request_id"
        " FROM checks c JOIN (SELECT store, MAX(id) AS id FROM checks"
        " WHERE outcome IN (?, ?) GROUP BY store) l ON c.id = l.id",
        (CHECK_OK, CHECK_PROBLEM),
    ).fetchall()
    last_checked = conn.execute(
        "SELECT store, MAX(checked_at) FROM checks GROUP BY store"
    ).fetchall()
    last_sync = conn.execute(
        "SELECT store, MAX(finished_at) FROM sync_runs WHERE outcome = 'ok' GROUP BY store"
    ).fetchall()
    problems: dict[str, Problem] = {}
    for row in latest_conclusive:
        if row[1] == CHECK_PROBLEM:
            problems[row[0]] = Problem(
                code=row[2] or "unknown",
                message=row[3] or "",
                found_at=from_db_time(row[4]),
                request_id=row[5],
            )
    checked = {row[0]: from_db_time(row[1]) for row in last_checked if row[1]}
    synced = {row[0]: from_db_time(row[1]) for row in last_sync if row[1]}
    names = set(stores) if stores is not None else set(problems) | set(checked) | set(synced)
    return {
        name: StoreState(problems.get(name), checked.get(name), synced.get(name)) for name in names
    }


def read_states_if_exists(path: Path, stores: Sequence[str]) -> dict[str, StoreState]:
    """Read-only StoreState lookup that never creates the database (for `list`)."""
    if not path.exists():
        return {}
    try:
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=10)
    except sqlite3.Error as exc:
        raise ConfigError(
            f"{path}: cannot open the state database: {exc}", hint="run `soldscope doctor`"
        ) from None
    try:
        return read_states(conn, stores)
    except sqlite3.DatabaseError as exc:  # OperationalError, or "file is not a database"
        if "no such table" in str(exc):
            return {}
        raise ConfigError(
            f"{path}: cannot read the state database: {exc}",
            hint="run `soldscope doctor`; move the file aside to start afresh",
        ) from None
    finally:
        conn.close()
