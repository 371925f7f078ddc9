"""The SQLite state database: connections, migrations, stores, check history, sync bookkeeping."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

from soldscope_cli.db.interface import DatasetReads
from soldscope_cli.db.model import (
    BRAND_ANALYTICS,
    CHECK_OUTCOMES,
    CHECK_PROBLEM,
    DEFAULT_RETENTION_DAYS,
    FINANCES,
    INVENTORY,
    CheckRecord,
    DataFigures,
    ExportBatches,
    HistoryEntry,
    StoreDeleted,
    StoreState,
    from_db_time,
    to_db_time,
)
from soldscope_cli.db.sqlite import brand_analytics as ba_db
from soldscope_cli.db.sqlite import finances as finances_db
from soldscope_cli.db.sqlite import inventory as inventory_db
from soldscope_cli.db.sqlite.brand_analytics import SearchTermsTable
from soldscope_cli.db.sqlite.finances import FinancesTable
from soldscope_cli.db.sqlite.inventory import InventoryTable
from soldscope_cli.db.sqlite.invitations import InvitationsTable
from soldscope_cli.db.sqlite.migrations import STORE_TABLES, Migration
from soldscope_cli.db.sqlite.secret_rows import SecretRowsTable
from soldscope_cli.db.sqlite.state import delete_state, get_state, put_state
from soldscope_cli.errors import ConfigError, StorageError
from soldscope_cli.status import Problem

# Rows deleted per pruning transaction: each one stays short, so writers never wait long.
PRUNE_SLICE = 5000


class Database:
    """The state database at one path, at the schema its migrations describe; one connection per
    thread."""

    def __init__(
        self,
        path: Path,
        migrations: Sequence[Migration],
        *,
        retention_days: int = DEFAULT_RETENTION_DAYS,
    ) -> None:
        self.path = path
        self.migrations = tuple(migrations)
        self.retention_days = retention_days
        self._local = threading.local()
        self._migrated = False
        self._migrate_lock = threading.Lock()
        # name -> id of its live connection; filled only from committed rows.
        self._ids: dict[str, int] = {}
        self._names: dict[int, str] = {}

    # --- connections and transactions -----------------------------------------------------------

    def connection(self) -> sqlite3.Connection:
        """This thread's connection, migrated to the current schema."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._open()
            self._local.conn = conn
        if not self._migrated:
            with self._migrate_lock:
                if not self._migrated:
                    self._migrate(conn)
                    self._migrated = True
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
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT)"
        )
        done = {row[0] for row in conn.execute("SELECT name FROM schema_migrations")}
        for name, apply in self.migrations:
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
            return [name for name, _ in self.migrations if name not in done]
        finally:
            conn.close()

    @contextmanager
    def transaction(self, conn: sqlite3.Connection | None = None) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception."""
        conn = conn or self.connection()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            storage = self._storage_error(exc)
            if storage is None:
                raise
            raise storage from exc

    def _storage_error(self, exc: sqlite3.OperationalError) -> StorageError | None:
        """The StorageError of a write the filesystem refused (full, read-only), else None."""
        text = str(exc).lower()
        if "disk is full" in text or "database or disk is full" in text:
            return StorageError(
                f"cannot write the state database {self.path}: the disk is full",
                hint=f"free some space on the filesystem that holds {self.path.parent}, then "
                "run the command again (what was stored before is intact)",
            )
        if "readonly" in text or "read-only" in text or "disk i/o error" in text:
            return StorageError(
                f"cannot write the state database {self.path}: {exc}",
                hint=f"make {self.path.parent} and {self.path.name} writable for this user, or "
                "point SOLDSCOPE_DATA_DIR at a writable directory",
            )
        return None

    @contextmanager
    def store_transaction(self, store_id: int) -> Iterator[sqlite3.Connection]:
        """A transaction that writes for one store: StoreDeleted when it was deleted meanwhile.

        The check runs after BEGIN IMMEDIATE, under the write lock that `delete` also takes, so a
        write either commits before the delete or finds the store gone.
        """
        with self.transaction() as tx:
            if not tx.execute(
                "SELECT 1 FROM stores WHERE id = ? AND deleted_at IS NULL", (store_id,)
            ).fetchone():
                raise StoreDeleted(store_id)
            yield tx

    def close(self) -> None:
        """Close this thread's connection."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # --- dataset tables ---------------------------------------------------------------------------

    @cached_property
    def inventory(self) -> InventoryTable:
        """inventory_summaries and its cursors."""
        return InventoryTable(self)

    @cached_property
    def finances(self) -> FinancesTable:
        """financial_transactions and its cursor."""
        return FinancesTable(self)

    @cached_property
    def search_terms(self) -> SearchTermsTable:
        """The Brand Analytics search terms tables."""
        return SearchTermsTable(self)

    @cached_property
    def invitations(self) -> InvitationsTable:
        """Invitation links and their consent states."""
        return InvitationsTable(self)

    # One sync lock per home (sync/lock.py) serialises runs, and config.toml lists the stores.
    registry: None = None

    def claims(self) -> None:
        """None: a SQLite home's syncs never run side by side."""
        return None

    @cached_property
    def secret_rows(self) -> SecretRowsTable:
        """Sealed secrets of the `database` secret backend (bytes only: no key reaches here)."""
        return SecretRowsTable(self)

    # --- stores (one row per connection) ----------------------------------------------------------

    def store_id(self, name: str, tx: sqlite3.Connection | None = None) -> int:
        """The id of the live connection named `name`, created if the database has none yet."""
        cached = self._ids.get(name)
        if cached is not None:
            return cached
        conn = tx or self.connection()
        found = _live_store(conn, name)
        if found is not None:
            self._remember(name, found)
            return found
        if conn.in_transaction:
            # The caller's transaction may still roll back: do not remember an uncommitted id.
            return _insert_store(conn, name, datetime.now(UTC))
        with self.transaction(conn) as own:
            new_id = _live_store(own, name) or _insert_store(own, name, datetime.now(UTC))
        self._remember(name, new_id)
        return new_id

    def store_name(self, store_id: int) -> str:
        """The name a connection had (kept after it is deleted)."""
        name = self._names.get(store_id)
        if name is None:
            row = (
                self.connection()
                .execute("SELECT name FROM stores WHERE id = ?", (store_id,))
                .fetchone()
            )
            if row is None:
                raise KeyError(f"no store with id {store_id}")
            name = str(row[0])
            self._names[store_id] = name
        return name

    def _remember(self, name: str, store_id: int) -> None:
        self._ids[name] = store_id
        self._names[store_id] = name

    def connect_store(
        self,
        name: str,
        at: datetime,
        *,
        event: str,
        selling_partner_id: str | None,
        region: str | None,
        detail: Mapping[str, Any] | None = None,
    ) -> int:
        """Record a connection (new or renewed) and its event; a renewal keeps the store's id."""
        with self.transaction() as tx:
            store_id = _live_store(tx, name)
            if store_id is None:
                store_id = _insert_store(tx, name, at, selling_partner_id, region)
            else:
                tx.execute(
                    "UPDATE stores SET selling_partner_id = ?, region = ? WHERE id = ?",
                    (selling_partner_id, region, store_id),
                )
            self.log_event(event, at, name, dict(detail) if detail else None, tx=tx)
        self._remember(name, store_id)
        return store_id

    def delete_store(
        self, name: str, at: datetime, *, purge_tables: Sequence[str] | None = None
    ) -> int:
        """Mark the live connection deleted (a new one of the same name gets a new id).

        With purge_tables, its history and the rows of those data tables go too; the event log
        stays append-only. Returns how many rows were removed.
        """
        with self.deleting_store(name, at, purge_tables=purge_tables) as removed:
            return removed

    @contextmanager
    def deleting_store(
        self, name: str, at: datetime, *, purge_tables: Sequence[str] | None = None
    ) -> Iterator[int]:
        """delete_store in a transaction that commits only if the caller's block succeeds.

        `delete` removes the config entry and the token inside it: the database is opened and
        locked before anything changes, and a failure anywhere leaves everything as it was.
        Yields how many rows were removed.
        """
        unknown = set(purge_tables or ()) - set(STORE_TABLES)
        if unknown:
            raise ValueError(f"not a store table: {', '.join(sorted(unknown))}")
        with self.transaction() as tx:
            store_id = _live_store(tx, name)
            removed = 0
            if store_id is not None and purge_tables is not None:
                tables = [t for t in STORE_TABLES if t in {"checks", "sync_runs", "sync_state"}]
                tables += [t for t in STORE_TABLES if t in purge_tables and t not in tables]
                for table in tables:
                    cur = tx.execute(f"DELETE FROM {table} WHERE store_id = ?", (store_id,))  # noqa: S608
                    removed += max(cur.rowcount, 0)
            detail: dict[str, Any] = (
                {"purged_rows": removed} if purge_tables is not None else {"purged": False}
            )
            self.log_event("deleted", at, name, detail, tx=tx)
            if store_id is not None:
                tx.execute(
                    "UPDATE stores SET deleted_at = ? WHERE id = ?", (to_db_time(at), store_id)
                )
            yield removed
        self._ids.pop(name, None)

    # --- checks and events ------------------------------------------------------------------------

    def record_check(self, check: CheckRecord, tx: sqlite3.Connection | None = None) -> None:
        """Append a check to the history of the store's live connection."""
        if check.outcome not in CHECK_OUTCOMES:
            raise ValueError(f"unknown check outcome {check.outcome!r}")
        conn = tx or self.connection()
        conn.execute(
            "INSERT INTO checks (store_id, store, checked_at, source, outcome, error_code,"
            " error_message, request_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                self.store_id(check.store, tx),
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
        store_id = None if store is None else (self._ids.get(store) or _live_store(conn, store))
        conn.execute(
            "INSERT INTO events (at, store_id, store, kind, detail) VALUES (?, ?, ?, ?, ?)",
            (
                to_db_time(at),
                store_id,
                store,
                kind,
                json.dumps(detail, sort_keys=True) if detail else None,
            ),
        )

    def events(self, store: str | None = None, limit: int = 100) -> list[sqlite3.Row]:
        """The most recent events (of every connection that had this name), newest first."""
        conn = self.connection()
        if store is None:
            return conn.execute(
                "SELECT * FROM events ORDER BY id DESC LIMIT ?", (limit,)
            ).fetchall()
        return conn.execute(
            "SELECT * FROM events WHERE store = ? ORDER BY id DESC LIMIT ?", (store, limit)
        ).fetchall()

    def last_notified(self) -> dict[tuple[str | None, str], dict[str, Any]]:
        """What was last announced per (store, channel): the detail of the newest `notified` event.

        Store None is the app itself. Alerts are sent once per change because this says what the
        targets were last told; an event past the retention is forgotten like any other.
        """
        latest: dict[tuple[str | None, str], dict[str, Any]] = {}
        rows = self.connection().execute(
            "SELECT store, detail FROM events WHERE kind = 'notified' ORDER BY id"
        )
        for store, detail in rows:
            data = json.loads(detail) if detail else {}
            if isinstance(data, dict) and isinstance(data.get("channel"), str):
                latest[(store, data["channel"])] = data
        return latest

    def log_notified(
        self, at: datetime, entries: Sequence[tuple[str | None, dict[str, Any]]]
    ) -> None:
        """Record, in one transaction, that each (store, detail) was announced."""
        with self.transaction() as tx:
            for store, detail in entries:
                self.log_event("notified", at, store, detail, tx=tx)

    def checks(self, store: str) -> list[sqlite3.Row]:
        """The check history of the store's live connection, oldest first."""
        conn = self.connection()
        store_id = _live_store(conn, store)
        if store_id is None:
            return []
        return conn.execute(
            "SELECT * FROM checks WHERE store_id = ? ORDER BY id", (store_id,)
        ).fetchall()

    def states(self, stores: Sequence[str] | None = None) -> dict[str, StoreState]:
        """Per store: the latest conclusive problem, last check time and last successful sync."""
        return read_states(self.connection(), stores)

    def peek_states(self, stores: Sequence[str]) -> dict[str, StoreState]:
        """states() without creating or migrating the file (for `list`)."""
        return read_states_if_exists(self.path, stores)

    # --- sync bookkeeping -------------------------------------------------------------------------

    def get_sync_state(self, store_id: int, dataset: str, key: str) -> str | None:
        """A cursor or mark written by a dataset."""
        return get_state(self.connection(), store_id, dataset, key)

    def sync_state(self, store_id: int, dataset: str, prefix: str = "") -> dict[str, str]:
        """All sync_state entries of a store's dataset whose key starts with prefix."""
        rows = (
            self.connection()
            .execute(
                "SELECT key, value FROM sync_state WHERE store_id = ? AND dataset = ?"
                " AND substr(key, 1, ?) = ?",
                (store_id, dataset, len(prefix), prefix),
            )
            .fetchall()
        )
        return {str(r[0]): str(r[1]) for r in rows}

    def update_sync_state(
        self,
        store_id: int,
        dataset: str,
        at: datetime,
        *,
        set_: Mapping[str, str] | None = None,
        delete: Iterable[str] = (),
    ) -> None:
        """Write and remove marks of one dataset together, in one transaction."""
        with self.store_transaction(store_id) as tx:
            for key, value in (set_ or {}).items():
                put_state(tx, store_id, dataset, key, value, at)
            for key in delete:
                delete_state(tx, store_id, dataset, key)

    def start_sync_run(self, store: str, dataset: str, at: datetime) -> int:
        """Record that a dataset sync started; returns the run id."""
        store_id = self.store_id(store)
        with self.store_transaction(store_id) as tx:
            cur = tx.execute(
                "INSERT INTO sync_runs (store_id, store, dataset, started_at) VALUES (?, ?, ?, ?)",
                (store_id, store, dataset, to_db_time(at)),
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

    def last_sync_start(self, store_id: int, dataset: str) -> datetime | None:
        """When the connection's latest sync of the dataset started, whatever its outcome."""
        row = (
            self.connection()
            .execute(
                "SELECT started_at FROM sync_runs WHERE store_id = ? AND dataset = ?"
                " ORDER BY id DESC LIMIT 1",
                (store_id, dataset),
            )
            .fetchone()
        )
        return None if row is None else from_db_time(row[0])

    # --- reads for `log`, `data` and `export` ----------------------------------------------------

    def store_names(self) -> list[str]:
        """Every name a connection ever had, live or deleted."""
        rows = self.connection().execute("SELECT DISTINCT name FROM stores ORDER BY name")
        return [str(r[0]) for r in rows]

    def connections_named(self, name: str) -> list[int]:
        """The ids of every connection that had this name (deleted ones too), oldest first."""
        rows = self.connection().execute(
            "SELECT id FROM stores WHERE name = ? ORDER BY id", (name,)
        )
        return [int(r[0]) for r in rows]

    def live_store_id(self, name: str) -> int | None:
        """The id of the live connection named `name`, or None (never creates one)."""
        return _live_store(self.connection(), name)

    def history(
        self,
        store_ids: Sequence[int] | None,
        *,
        since: datetime | None = None,
        checks: bool = False,
    ) -> list[HistoryEntry]:
        """Events and failed sync runs of these connections (all when None), newest first.

        Plain `checked` events only with checks=True. A status change carries the message of the
        check that caused it (recorded in the same transaction, at the same time).
        """
        where_events, where_runs = (
            ["e.store_id IS NOT NULL"],
            ["r.outcome IN ('failed', 'not_authorized')"],
        )
        params_events: list[Any] = []
        params_runs: list[Any] = []
        if store_ids is not None:
            ids = json.dumps(list(store_ids))
            where_events.append("e.store_id IN (SELECT value FROM json_each(?))")
            where_runs.append("r.store_id IN (SELECT value FROM json_each(?))")
            params_events.append(ids)
            params_runs.append(ids)
        if not checks:
            where_events.append("e.kind != 'checked'")
        if since is not None:
            where_events.append("e.at >= ?")
            where_runs.append("COALESCE(r.finished_at, r.started_at) >= ?")
            params_events.append(to_db_time(since))
            params_runs.append(to_db_time(since))
        sql = (
            "SELECT e.at, 0, e.id, e.store_id, e.store, e.kind, e.detail,"  # noqa: S608 (fixed clauses)
            " CASE WHEN e.kind = 'status_changed' THEN (SELECT c.error_message FROM checks c"
            " WHERE c.checked_at = e.at AND c.store_id = e.store_id ORDER BY c.id DESC LIMIT 1)"
            " END FROM events e WHERE " + " AND ".join(where_events) + " UNION ALL"
            " SELECT COALESCE(r.finished_at, r.started_at), 1, r.id, r.store_id, r.store,"
            " 'sync_failed', json_object('dataset', r.dataset, 'outcome', r.outcome,"
            " 'code', r.error_code, 'message', r.error_message), NULL"
            " FROM sync_runs r WHERE "
            + " AND ".join(where_runs)
            + " ORDER BY 1 DESC, 2 DESC, 3 DESC"
        )
        entries: list[HistoryEntry] = []
        for at, _, _, store_id, store, kind, detail, message in self.connection().execute(
            sql, (*params_events, *params_runs)
        ):
            data: dict[str, Any] = json.loads(detail) if detail else {}
            if message:
                data["message"] = message
            entries.append(HistoryEntry(from_db_time(at), str(store), str(kind), data, store_id))
        return entries

    def data_figures(self, store_id: int, datasets: Sequence[str]) -> list[DataFigures]:
        """Per dataset: rows held, the newest data point, the last good sync, the last outcome."""
        conn = self.connection()
        tables: dict[str, DatasetReads] = {
            INVENTORY: self.inventory,
            FINANCES: self.finances,
            BRAND_ANALYTICS: self.search_terms,
        }
        found: list[DataFigures] = []
        for dataset in datasets:
            rows, newest = tables[dataset].figures(store_id)
            ok = conn.execute(
                "SELECT MAX(finished_at) FROM sync_runs WHERE store_id = ? AND dataset = ?"
                " AND outcome = 'ok'",
                (store_id, dataset),
            ).fetchone()[0]
            last = conn.execute(
                "SELECT outcome, error_code, error_message FROM sync_runs WHERE store_id = ?"
                " AND dataset = ? AND finished_at IS NOT NULL ORDER BY id DESC LIMIT 1",
                (store_id, dataset),
            ).fetchone()
            marks = {}
            if dataset == BRAND_ANALYTICS:
                for prefix in ("fatal:", "inflight:"):
                    marks.update(self.sync_state(store_id, dataset, prefix))
            found.append(
                DataFigures(
                    dataset,
                    rows,
                    newest,
                    from_db_time(ok) if ok else None,
                    last[0] if last else None,
                    last[1] if last else None,
                    last[2] if last else None,
                    marks,
                )
            )
        return found

    def export(
        self, dataset: str, store_ids: Sequence[int], *, since: datetime | None, size: int = 5000
    ) -> ExportBatches:
        """A dataset's rows of these connections, streamed `size` rows at a time."""
        modules = {INVENTORY: inventory_db, FINANCES: finances_db, BRAND_ANALYTICS: ba_db}
        tables: dict[str, DatasetReads] = {
            INVENTORY: self.inventory,
            FINANCES: self.finances,
            BRAND_ANALYTICS: self.search_terms,
        }
        table = tables[dataset]
        # Stored times are UTC text ("2026-11-20T10:00:00Z"); a bare UTC time sorts before any of
        # them that is at or after it.
        bound = None if since is None else since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")

        def batches() -> Iterator[list[tuple[Any, ...]]]:
            for store_id in store_ids:
                yield from table.export(store_id, bound, size)

        return ExportBatches(modules[dataset].EXPORT_COLUMNS, batches())

    # --- retention --------------------------------------------------------------------------------

    def prune(self, now: datetime) -> dict[str, int]:
        """Delete checks, events and sync runs older than the retention, in short transactions.

        Never deleted, however old: each store's latest check, its latest conclusive check (the
        one its status comes from) and its latest successful sync run.
        """
        conn = self.connection()
        cutoff = to_db_time(now - timedelta(days=self.retention_days))
        kept_checks = [
            v
            for row in conn.execute(
                "SELECT (SELECT MAX(id) FROM checks WHERE store_id = s.id),"
                " (SELECT MAX(id) FROM checks WHERE store_id = s.id"
                " AND outcome IN ('ok', 'problem')) FROM stores s"
            )
            for v in row
            if v is not None
        ]
        kept_runs = [
            row[0]
            for row in conn.execute(
                "SELECT (SELECT id FROM sync_runs WHERE store_id = s.id AND outcome = 'ok'"
                " ORDER BY finished_at DESC LIMIT 1) FROM stores s"
            )
            if row[0] is not None
        ]
        return {
            "checks": self._prune_slices(
                "SELECT id FROM checks WHERE checked_at < ? AND id NOT IN"
                " (SELECT value FROM json_each(?)) LIMIT ?",
                "checks",
                (cutoff, json.dumps(kept_checks)),
            ),
            "sync_runs": self._prune_slices(
                "SELECT id FROM sync_runs WHERE started_at < ? AND id NOT IN"
                " (SELECT value FROM json_each(?)) LIMIT ?",
                "sync_runs",
                (cutoff, json.dumps(kept_runs)),
            ),
            "events": self._prune_slices(
                "SELECT id FROM events WHERE at < ? LIMIT ?", "events", (cutoff,)
            ),
        }

    def _prune_slices(self, select: str, table: str, params: tuple[Any, ...]) -> int:
        removed = 0
        while True:
            with self.transaction() as tx:
                cur = tx.execute(
                    f"DELETE FROM {table} WHERE id IN ({select})",  # noqa: S608 (fixed identifiers)
                    (*params, PRUNE_SLICE),
                )
            removed += max(cur.rowcount, 0)
            if cur.rowcount < PRUNE_SLICE:
                return removed


# --- helpers shared with the dataset tables (callers hold the transaction) -------------------------


def _live_store(conn: sqlite3.Connection, name: str) -> int | None:
    row = conn.execute(
        "SELECT id FROM stores WHERE name = ? AND deleted_at IS NULL", (name,)
    ).fetchone()
    return None if row is None else int(row[0])


def _insert_store(
    conn: sqlite3.Connection,
    name: str,
    at: datetime,
    selling_partner_id: str | None = None,
    region: str | None = None,
) -> int:
    cur = conn.execute(
        "INSERT INTO stores (name, selling_partner_id, region, created_at) VALUES (?, ?, ?, ?)",
        (name, selling_partner_id, region, to_db_time(at)),
    )
    return int(cur.lastrowid or 0)


# --- status reads (also used read-only by `list`) --------------------------------------------------

# One row per live connection asked for, each figure an index seek: checks_store for the latest
# check, checks_conclusive for the latest ok/problem one, sync_runs_ok for the last good sync.
# CROSS JOIN keeps the list of names (or ids) as the outer loop: the planner cannot tell how short
# a json_each list is and might otherwise scan the table and probe the list.
_FIGURES = (
    "SELECT s.name,"
    " (SELECT id FROM checks WHERE store_id = s.id ORDER BY id DESC LIMIT 1),"
    " (SELECT id FROM checks WHERE store_id = s.id AND outcome IN ('ok', 'problem')"
    " ORDER BY id DESC LIMIT 1),"
    " (SELECT finished_at FROM sync_runs WHERE store_id = s.id AND outcome = 'ok'"
    " ORDER BY finished_at DESC LIMIT 1)"
)
STATES_ALL = _FIGURES + " FROM stores s WHERE s.deleted_at IS NULL"
STATES_FOR_NAMES = (
    _FIGURES + " FROM json_each(?) AS n CROSS JOIN stores s"
    " ON s.name = n.value AND s.deleted_at IS NULL"
)
STATE_CHECKS = (
    "SELECT c.id, c.outcome, c.error_code, c.error_message, c.checked_at, c.request_id"
    " FROM json_each(?) AS i CROSS JOIN checks c ON c.id = i.value"
)


def read_states(
    conn: sqlite3.Connection, stores: Sequence[str] | None = None
) -> dict[str, StoreState]:
    """StoreState for every live connection (or just the named ones)."""
    if stores is None:
        found = conn.execute(STATES_ALL).fetchall()
    else:
        found = conn.execute(STATES_FOR_NAMES, (json.dumps(list(stores)),)).fetchall()
    ids = {v for row in found for v in (row[1], row[2]) if v is not None}
    checks = {
        row[0]: row for row in conn.execute(STATE_CHECKS, (json.dumps(sorted(ids)),)).fetchall()
    }
    states: dict[str, StoreState] = {}
    for name, last_id, conclusive_id, synced in found:
        problem = None
        conclusive = checks.get(conclusive_id)
        if conclusive is not None and conclusive[1] == CHECK_PROBLEM:
            problem = Problem(
                code=conclusive[2] or "unknown",
                message=conclusive[3] or "",
                found_at=from_db_time(conclusive[4]),
                request_id=conclusive[5],
            )
        last = checks.get(last_id)
        states[name] = StoreState(
            problem,
            from_db_time(last[4]) if last is not None else None,
            from_db_time(synced) if synced else None,
        )
    if stores is not None:
        for name in stores:
            states.setdefault(name, StoreState())
    return states


def _read_states_by_name(conn: sqlite3.Connection, stores: Sequence[str]) -> dict[str, StoreState]:
    """The same read on a database no newer command has migrated yet (schema before stores)."""
    found: dict[str, StoreState] = {}
    for name in stores:
        conclusive = conn.execute(
            "SELECT outcome, error_code, error_message, checked_at, request_id FROM checks"
            " WHERE store = ? AND outcome IN ('ok', 'problem') ORDER BY id DESC LIMIT 1",
            (name,),
        ).fetchone()
        checked = conn.execute("SELECT MAX(checked_at) FROM checks WHERE store = ?", (name,))
        synced = conn.execute(
            "SELECT MAX(finished_at) FROM sync_runs WHERE store = ? AND outcome = 'ok'", (name,)
        )
        last_checked, last_synced = checked.fetchone()[0], synced.fetchone()[0]
        problem = None
        if conclusive is not None and conclusive[0] == CHECK_PROBLEM:
            problem = Problem(
                conclusive[1] or "unknown",
                conclusive[2] or "",
                from_db_time(conclusive[3]),
                conclusive[4],
            )
        found[name] = StoreState(
            problem,
            from_db_time(last_checked) if last_checked else None,
            from_db_time(last_synced) if last_synced else None,
        )
    return found


def read_states_if_exists(path: Path, stores: Sequence[str]) -> dict[str, StoreState]:
    """Read-only StoreState lookup that never creates or migrates the database (for `list`)."""
    if not path.exists():
        return {}
    try:
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=10)
    except sqlite3.Error as exc:
        raise ConfigError(
            f"{path}: cannot open the state database: {exc}", hint="run `soldscope doctor`"
        ) from None
    try:
        tables = {
            str(r[0]) for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        if "checks" not in tables:
            return {}
        if "stores" not in tables:
            return _read_states_by_name(conn, stores)
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


# --- integrity (for doctor) ------------------------------------------------------------------------


@dataclass(frozen=True)
class IntegrityReport:
    """What PRAGMA integrity_check found, within a time budget."""

    error: str | None = None  # could not open or read the file at all
    findings: tuple[str, ...] = ()  # integrity_check's complaints; empty when it is "ok"
    finished: bool = True  # False when the budget ran out first
    applied_migrations: frozenset[str] = frozenset()

    @property
    def ok(self) -> bool:
        return self.error is None and self.finished and not self.findings


def check_integrity(path: Path, monotonic: Callable[[], float], budget: float) -> IntegrityReport:
    """Open the database read-only, run integrity_check for at most `budget` s, list migrations."""
    try:
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=2)
    except sqlite3.Error as exc:
        return IntegrityReport(error=f"cannot open: {exc}")
    try:
        deadline = monotonic() + budget
        # integrity_check reads every page; on a multi-gigabyte database it would blow the
        # doctor's time budget, so it is interrupted and reported as not finished.
        conn.set_progress_handler(lambda: 1 if monotonic() > deadline else 0, 10_000)
        finished = True
        findings: tuple[str, ...] = ()
        try:
            rows = [str(row[0]) for row in conn.execute("PRAGMA integrity_check").fetchall()]
            findings = () if rows == ["ok"] else tuple(rows)
        except sqlite3.OperationalError as exc:
            if "interrupt" not in str(exc):
                return IntegrityReport(error=str(exc))
            finished = False
        except sqlite3.DatabaseError as exc:
            return IntegrityReport(error=str(exc))
        conn.set_progress_handler(None, 0)
        try:
            applied = frozenset(
                str(row[0]) for row in conn.execute("SELECT name FROM schema_migrations")
            )
        except sqlite3.OperationalError:
            applied = frozenset()
        return IntegrityReport(None, findings, finished, applied)
    finally:
        conn.close()
