"""The PostgreSQL state database (team mode): the SQLite engine's surface and guarantees.

One connection per thread, as in SQLite: the sync runner writes from a worker thread per store
and each worker closes its own connection when its store is done. Autocommit is off and every
access runs inside an explicit transaction (`transaction()` or `query()`), so no session sits idle
in an open transaction between commands.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from functools import cached_property
from typing import Any

import psycopg

from soldscope_cli.db.model import DEFAULT_RETENTION_DAYS, RegistryRecord, StoreState
from soldscope_cli.db.postgres.claims import AdvisoryClaims
from soldscope_cli.db.postgres.connect import open_connection, statement_failed
from soldscope_cli.db.postgres.dialect import DIALECT
from soldscope_cli.db.postgres.importer import live_names
from soldscope_cli.db.postgres.migrations import MIGRATIONS, Migration
from soldscope_cli.db.postgres.registry import Registry
from soldscope_cli.db.postgres.schema import apply_migrations, recorded_migrations
from soldscope_cli.db.postgres.state import Conn
from soldscope_cli.db.sql import Dialect, Tx
from soldscope_cli.db.tables.core import StateDatabase, read_states, read_token_writes


class Database(StateDatabase):
    """The state database in one PostgreSQL database, at the schema its migrations describe."""

    dialect: Dialect = DIALECT

    def __init__(
        self,
        url: str,
        migrations: Sequence[Migration] = MIGRATIONS,
        *,
        retention_days: int = DEFAULT_RETENTION_DAYS,
        connect_timeout: float = 10,
    ) -> None:
        self.url = url
        self.migrations = tuple(migrations)
        self.retention_days = retention_days
        self.connect_timeout = connect_timeout
        self._local = threading.local()
        self._migrated = False
        self._migrate_lock = threading.Lock()
        self._ids: dict[str, int] = {}
        self._names: dict[int, str] = {}
        # Every thread's connection, so close() also ends those of threads that have finished.
        self._opened: list[tuple[threading.Thread, Conn]] = []
        self._opened_lock = threading.Lock()

    # --- connections and transactions -----------------------------------------------------------

    def _open(self) -> Conn:
        return open_connection(self.url, timeout=self.connect_timeout)

    def _thread_connection(self) -> Conn:
        conn: Conn | None = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            conn = self._open()
            self._local.conn = conn
            with self._opened_lock:
                self._opened.append((threading.current_thread(), conn))
        return conn

    def connection(self) -> Conn:
        """This thread's connection, migrated to the current schema."""
        conn = self._thread_connection()
        if not self._migrated:
            with self._migrate_lock:
                if not self._migrated:
                    self._apply(conn)
                    self._migrated = True
        return conn

    def migrate(self) -> list[str]:
        """Apply the migrations not yet applied; returns their names (empty when current)."""
        conn = self._thread_connection()
        with self._migrate_lock:
            applied = self._apply(conn)
            self._migrated = True
        return applied

    def _apply(self, conn: Conn) -> list[str]:
        return apply_migrations(conn, self.url, self.migrations)

    def applied_migrations(self) -> list[str]:
        """The migrations the database has recorded, in order (without applying any)."""
        conn = self._open()
        try:
            return recorded_migrations(conn, self.url)
        finally:
            conn.close()

    def pending_migrations(self) -> list[str]:
        """Migrations not yet applied (without applying them)."""
        done = set(self.applied_migrations())
        return [name for name, _ in self.migrations if name not in done]

    @property
    def schema_version(self) -> str:
        """The name of the newest migration this soldscope knows (what a current database has)."""
        return self.migrations[-1].name

    @contextmanager
    def transaction(self, conn: Conn | None = None) -> Iterator[Conn]:
        """BEGIN ... COMMIT on this thread's connection, rolled back on any exception.

        A failure is StatementFailed: that work failed (a statement timeout, a deadlock, the
        session ended by a restart), not every store's. A broken session is dropped, so the next
        transaction opens a new one; it is never reopened silently in the middle of a piece of
        work, which may rely on what its session holds (a temporary table).
        """
        conn = conn or self.connection()
        try:
            with conn.transaction():
                yield conn
        except psycopg.OperationalError as exc:
            if conn.broken or conn.closed:
                self._forget(conn)
            raise statement_failed(self.url, exc, doing="write to") from exc

    def _forget(self, conn: Conn) -> None:
        """Drop a broken session: this thread's next transaction opens a new one."""
        conn.close()
        if getattr(self._local, "conn", None) is conn:
            self._local.conn = None

    def query(
        self, sql: str, params: Sequence[Any] = (), tx: Conn | None = None
    ) -> list[tuple[Any, ...]]:
        """The rows of one read: inside the caller's transaction, else in a short one of its own."""
        if tx is not None:
            return tx.execute(sql, params).fetchall()
        with self.transaction() as own:
            return own.execute(sql, params).fetchall()

    # --- what the shared table code needs -------------------------------------------------------

    @contextmanager
    def reading(self) -> Iterator[Tx]:
        """A read in a short transaction of its own (a savepoint inside the caller's)."""
        with self.transaction() as conn:
            yield Tx(conn, DIALECT)

    @contextmanager
    def writing(self) -> Iterator[Tx]:
        """BEGIN ... COMMIT; inside a transaction this thread already holds, a savepoint of it."""
        with self.transaction() as conn:
            yield Tx(conn, DIALECT)

    def in_transaction(self) -> bool:
        status = self.connection().info.transaction_status
        return bool(status != psycopg.pq.TransactionStatus.IDLE)

    def close(self) -> None:
        """Close this thread's connection, and those of threads that have ended."""
        me = threading.current_thread()
        with self._opened_lock:
            done = [(t, c) for t, c in self._opened if t is me or not t.is_alive()]
            self._opened = [(t, c) for t, c in self._opened if (t, c) not in done]
        for _, conn in done:
            conn.close()
        self._local.conn = None

    @cached_property
    def registry(self) -> Registry:
        """The fleet's stores, which every host of the team database sees."""
        return Registry(self)

    def claims(self) -> AdvisoryClaims:
        """A session of its own whose advisory locks say which stores this worker syncs."""
        self.connection()  # migrated first, like every other use
        return AdvisoryClaims(self.url, self)

    def peek_states(self, stores: Sequence[str]) -> dict[str, StoreState]:
        """states() without migrating (for `list`): none known while the schema is missing."""
        with self.transaction(self._thread_connection()) as tx:
            found = tx.execute("SELECT to_regclass('stores'), to_regclass('sync_runs')").fetchone()
            if found is None or None in found:
                return {}
            return read_states(Tx(tx, DIALECT), stores)

    def peek_token_writes(self) -> dict[str, datetime]:
        """The ledger's token_written names and times, without migrating (doctor)."""
        with self.transaction(self._thread_connection()) as tx:
            found = tx.execute("SELECT to_regclass('events')").fetchone()
            if found is None or found[0] is None:
                return {}
            return read_token_writes(Tx(tx, DIALECT))

    def peek_live_names(self, names: Sequence[str]) -> list[str]:
        """Which of these names a live store has, without migrating (`team import --dry-run`)."""
        with self.transaction(self._thread_connection()) as tx:
            found = tx.execute("SELECT to_regclass('stores')").fetchone()
            if found is None or found[0] is None:
                return []
            return live_names(tx, names)

    def peek_registry(self) -> list[RegistryRecord]:
        """The registry's stores without migrating (doctor): none before the registry exists."""
        with self.transaction(self._thread_connection()) as tx:
            found = tx.execute("SELECT to_regclass('team_settings')").fetchone()
            if found is None or found[0] is None:
                return []
            names = tx.execute(
                "SELECT 1 FROM information_schema.columns"
                " WHERE table_schema = current_schema() AND table_name = 'stores'"
                " AND column_name = 'store_names'"
            ).fetchone()
            return self.registry.records(tx, names=names is not None)

    def peek_client_secret_set_at(self) -> datetime | None:
        """When the team's client secret was stored, without migrating (doctor)."""
        with self.transaction(self._thread_connection()) as tx:
            found = tx.execute("SELECT to_regclass('team_settings')").fetchone()
            if found is None or found[0] is None:
                return None
            return self.registry.client_secret_set_at(tx)

    def set_client_secret_set_at(self, when: datetime) -> None:
        """Record when the team's client secret was stored (`team import` copies a home's)."""
        self.registry.set_client_secret_set_at(when)
