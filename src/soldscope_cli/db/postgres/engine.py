"""The PostgreSQL state database (team mode): the SQLite engine's surface and guarantees.

One connection per thread, as in SQLite: the sync runner writes from a worker thread per store
and each worker closes its own connection when its store is done. Autocommit is off and every
access runs inside an explicit transaction (`transaction()` or `query()`), so no session sits idle
in an open transaction between commands.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

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
    RegistryRecord,
    StoreDeleted,
    StoreState,
    to_db_time,
)
from soldscope_cli.db.postgres.brand_analytics import SearchTermsTable
from soldscope_cli.db.postgres.claims import AdvisoryClaims
from soldscope_cli.db.postgres.connect import open_connection, unavailable
from soldscope_cli.db.postgres.finances import FinancesTable
from soldscope_cli.db.postgres.importer import live_names
from soldscope_cli.db.postgres.inventory import InventoryTable
from soldscope_cli.db.postgres.invitations import InvitationsTable
from soldscope_cli.db.postgres.migrations import MIGRATIONS, STORE_TABLES, Migration
from soldscope_cli.db.postgres.registry import Registry
from soldscope_cli.db.postgres.schema import apply_migrations, recorded_migrations
from soldscope_cli.db.postgres.secret_rows import SecretRowsTable
from soldscope_cli.db.postgres.state import Conn, delete_state, get_state, put_state
from soldscope_cli.db.sqlite import brand_analytics as ba_db
from soldscope_cli.db.sqlite import finances as finances_db
from soldscope_cli.db.sqlite import inventory as inventory_db
from soldscope_cli.status import Problem

PRUNE_SLICE = 5000


class Database:
    """The state database in one PostgreSQL database, at the schema its migrations describe."""

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
        """BEGIN ... COMMIT on this thread's connection, rolled back on any exception."""
        conn = conn or self.connection()
        try:
            with conn.transaction():
                yield conn
        except psycopg.OperationalError as exc:
            raise unavailable(self.url, exc, doing="write to") from exc

    def query(
        self, sql: str, params: Sequence[Any] = (), tx: Conn | None = None
    ) -> list[tuple[Any, ...]]:
        """The rows of one read: inside the caller's transaction, else in a short one of its own."""
        if tx is not None:
            return tx.execute(sql, params).fetchall()
        with self.transaction() as own:
            return own.execute(sql, params).fetchall()

    @contextmanager
    def store_transaction(self, store_id: int) -> Iterator[Conn]:
        """A transaction that writes for one store: StoreDeleted when it was deleted meanwhile.

        FOR SHARE locks the live store row: a concurrent `delete` (which updates that row) waits
        for this write to commit, or this write finds the store gone.
        """
        with self.transaction() as tx:
            if not tx.execute(
                "SELECT 1 FROM stores WHERE id = %s AND deleted_at IS NULL FOR SHARE", (store_id,)
            ).fetchone():
                raise StoreDeleted(store_id)
            yield tx

    def close(self) -> None:
        """Close this thread's connection, and those of threads that have ended."""
        me = threading.current_thread()
        with self._opened_lock:
            done = [(t, c) for t, c in self._opened if t is me or not t.is_alive()]
            self._opened = [(t, c) for t, c in self._opened if (t, c) not in done]
        for _, conn in done:
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

    @cached_property
    def secret_rows(self) -> SecretRowsTable:
        """Sealed secrets of the `database` secret backend, shared by every host."""
        return SecretRowsTable(self)

    @cached_property
    def registry(self) -> Registry:
        """The fleet's stores, which every host of the team database sees."""
        return Registry(self)

    def claims(self) -> AdvisoryClaims:
        """A session of its own whose advisory locks say which stores this worker syncs."""
        self.connection()  # migrated first, like every other use
        return AdvisoryClaims(self.url, self)

    # --- stores (one row per connection) ----------------------------------------------------------

    def store_id(self, name: str, tx: Conn | None = None) -> int:
        """The id of the live connection named `name`, created if the database has none yet."""
        cached = self._ids.get(name)
        if cached is not None:
            return cached
        if tx is not None:
            # The caller's transaction may still roll back: do not remember an uncommitted id.
            return _live_store(tx, name) or _insert_store(tx, name, datetime.now(UTC))
        # Inside a transaction this thread already holds (team import's), ours is a savepoint of
        # it: the id is only known to last once that outer transaction commits.
        outer = self.connection().info.transaction_status != psycopg.pq.TransactionStatus.IDLE
        with self.transaction() as own:
            new_id = _live_store(own, name) or _insert_store(own, name, datetime.now(UTC))
        if not outer:
            self._remember(name, new_id)
        return new_id

    def store_name(self, store_id: int) -> str:
        """The name a connection had (kept after it is deleted)."""
        name = self._names.get(store_id)
        if name is None:
            rows = self.query("SELECT name FROM stores WHERE id = %s", (store_id,))
            if not rows:
                raise KeyError(f"no store with id {store_id}")
            name = str(rows[0][0])
            self._names[store_id] = name
        return name

    def _remember(self, name: str, store_id: int) -> None:
        self._ids[name] = store_id
        self._names[store_id] = name

    def remember(self, name: str, store_id: int) -> None:
        """Cache a connection's id once the transaction that made it has committed."""
        self._remember(name, store_id)

    def event_in(
        self, tx: Conn, kind: str, at: datetime, name: str, store_id: int, detail: Any
    ) -> None:
        """Log an event inside the caller's transaction (the registry's connect)."""
        self._event(tx, kind, at, name, store_id, detail)

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
            store_id = _live_store(tx, name, lock=True)
            if store_id is None:
                store_id = _insert_store(tx, name, at, selling_partner_id, region)
            else:
                tx.execute(
                    "UPDATE stores SET selling_partner_id = %s, region = %s WHERE id = %s",
                    (selling_partner_id, region, store_id),
                )
            self._event(tx, event, at, name, store_id, dict(detail) if detail else None)
        self._remember(name, store_id)
        return store_id

    def delete_store(
        self, name: str, at: datetime, *, purge_tables: Sequence[str] | None = None
    ) -> int:
        """Mark the live connection deleted; with purge_tables its rows go too (see SQLite's)."""
        with self.deleting_store(name, at, purge_tables=purge_tables) as removed:
            return removed

    @contextmanager
    def deleting_store(
        self, name: str, at: datetime, *, purge_tables: Sequence[str] | None = None
    ) -> Iterator[int]:
        """delete_store in a transaction that commits only if the caller's block succeeds."""
        unknown = set(purge_tables or ()) - set(STORE_TABLES)
        if unknown:
            raise ValueError(f"not a store table: {', '.join(sorted(unknown))}")
        with self.transaction() as tx:
            # FOR UPDATE: waits for writes holding the row FOR SHARE, then they find it deleted.
            store_id = _live_store(tx, name, lock=True)
            removed = 0
            if store_id is not None and purge_tables is not None:
                tables = [t for t in STORE_TABLES if t in {"checks", "sync_runs", "sync_state"}]
                tables += [t for t in STORE_TABLES if t in purge_tables and t not in tables]
                for table in tables:
                    cur = tx.execute(
                        f"DELETE FROM {table} WHERE store_id = %s".encode(),  # noqa: S608
                        (store_id,),
                    )
                    removed += max(cur.rowcount, 0)
            detail: dict[str, Any] = (
                {"purged_rows": removed} if purge_tables is not None else {"purged": False}
            )
            self._event(tx, "deleted", at, name, store_id, detail)
            if store_id is not None:
                tx.execute("UPDATE stores SET deleted_at = %s WHERE id = %s", (at, store_id))
            yield removed
        self._ids.pop(name, None)

    # --- checks and events ------------------------------------------------------------------------

    def record_check(self, check: CheckRecord, tx: Conn | None = None) -> None:
        """Append a check to the history of the store's live connection."""
        if check.outcome not in CHECK_OUTCOMES:
            raise ValueError(f"unknown check outcome {check.outcome!r}")
        with self._within(tx) as conn:
            conn.execute(
                "INSERT INTO checks (store_id, store, checked_at, source, outcome, error_code,"
                " error_message, request_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    self.store_id(check.store, conn),
                    check.store,
                    check.checked_at,
                    check.source,
                    check.outcome,
                    check.error_code,
                    check.error_message,
                    check.request_id,
                ),
            )

    @contextmanager
    def _within(self, tx: Conn | None) -> Iterator[Conn]:
        if tx is not None:
            yield tx
        else:
            with self.transaction() as own:
                yield own

    def log_event(
        self,
        kind: str,
        at: datetime,
        store: str | None = None,
        detail: dict[str, Any] | None = None,
        tx: Conn | None = None,
    ) -> None:
        """Append to the event log (connected, reauthorized, checked, status_changed, deleted...)."""
        with self._within(tx) as conn:
            store_id = None if store is None else (self._ids.get(store) or _live_store(conn, store))
            self._event(conn, kind, at, store, store_id, detail)

    def _event(
        self,
        tx: Conn,
        kind: str,
        at: datetime,
        store: str | None,
        store_id: int | None,
        detail: dict[str, Any] | None,
    ) -> None:
        tx.execute(
            "INSERT INTO events (at, store_id, store, kind, detail) VALUES (%s, %s, %s, %s, %s)",
            (at, store_id, store, kind, Jsonb(detail) if detail else None),
        )

    def _dict_rows(self, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        """Rows by column name, times and details as the SQLite engine's rows hold them (text)."""
        with self.transaction() as tx, tx.cursor(row_factory=dict_row) as cur:
            cur.execute(sql, params)
            return [{k: _as_text(v) for k, v in row.items()} for row in cur.fetchall()]

    def events(self, store: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """The most recent events (of every connection that had this name), newest first."""
        if store is None:
            return self._dict_rows("SELECT * FROM events ORDER BY id DESC LIMIT %s", (limit,))
        return self._dict_rows(
            "SELECT * FROM events WHERE store = %s ORDER BY id DESC LIMIT %s", (store, limit)
        )

    def last_notified(self) -> dict[tuple[str | None, str], dict[str, Any]]:
        """What was last announced per (store, channel): the detail of the newest `notified`."""
        latest: dict[tuple[str | None, str], dict[str, Any]] = {}
        for store, data in self.query(
            "SELECT store, detail FROM events WHERE kind = 'notified' ORDER BY id"
        ):
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

    def checks(self, store: str) -> list[dict[str, Any]]:
        """The check history of the store's live connection, oldest first."""
        store_id = self.live_store_id(store)
        if store_id is None:
            return []
        return self._dict_rows("SELECT * FROM checks WHERE store_id = %s ORDER BY id", (store_id,))

    def states(self, stores: Sequence[str] | None = None) -> dict[str, StoreState]:
        """Per store: the latest conclusive problem, last check time and last successful sync."""
        with self.transaction() as tx:
            return read_states(tx, stores)

    def peek_states(self, stores: Sequence[str]) -> dict[str, StoreState]:
        """states() without migrating (for `list`): none known while the schema is missing."""
        with self.transaction(self._thread_connection()) as tx:
            found = tx.execute("SELECT to_regclass('stores'), to_regclass('sync_runs')").fetchone()
            if found is None or None in found:
                return {}
            return read_states(tx, stores)

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
            return self.registry.records(tx)

    # --- sync bookkeeping -------------------------------------------------------------------------

    def get_sync_state(self, store_id: int, dataset: str, key: str) -> str | None:
        """A cursor or mark written by a dataset."""
        return get_state(self, store_id, dataset, key)

    def sync_state(self, store_id: int, dataset: str, prefix: str = "") -> dict[str, str]:
        """All sync_state entries of a store's dataset whose key starts with prefix."""
        rows = self.query(
            "SELECT key, value FROM sync_state WHERE store_id = %s AND dataset = %s"
            " AND left(key, %s) = %s",
            (store_id, dataset, len(prefix), prefix),
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
            row = tx.execute(
                "INSERT INTO sync_runs (store_id, store, dataset, started_at)"
                " VALUES (%s, %s, %s, %s) RETURNING id",
                (store_id, store, dataset, at),
            ).fetchone()
            assert row is not None  # RETURNING of an INSERT
            return int(row[0])

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
                "UPDATE sync_runs SET finished_at = %s, outcome = %s, rows_added = %s,"
                " rows_updated = %s, error_code = %s, error_message = %s, request_id = %s"
                " WHERE id = %s",
                (
                    at,
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
        rows = self.query(
            "SELECT started_at FROM sync_runs WHERE store_id = %s AND dataset = %s"
            " ORDER BY id DESC LIMIT 1",
            (store_id, dataset),
        )
        return rows[0][0] if rows else None

    # --- reads for `log`, `data` and `export` ----------------------------------------------------

    def store_names(self) -> list[str]:
        """Every name a connection ever had, live or deleted."""
        return [str(r[0]) for r in self.query("SELECT DISTINCT name FROM stores ORDER BY name")]

    def connections_named(self, name: str) -> list[int]:
        """The ids of every connection that had this name (deleted ones too), oldest first."""
        rows = self.query("SELECT id FROM stores WHERE name = %s ORDER BY id", (name,))
        return [int(r[0]) for r in rows]

    def live_store_id(self, name: str) -> int | None:
        """The id of the live connection named `name`, or None (never creates one)."""
        with self.transaction() as tx:
            return _live_store(tx, name)

    def history(
        self,
        store_ids: Sequence[int] | None,
        *,
        since: datetime | None = None,
        checks: bool = False,
    ) -> list[HistoryEntry]:
        """Events and failed sync runs of these connections (all when None), newest first."""
        where_events = ["e.store_id IS NOT NULL"]
        where_runs = ["r.outcome IN ('failed', 'not_authorized')"]
        params_events: list[Any] = []
        params_runs: list[Any] = []
        if store_ids is not None:
            where_events.append("e.store_id = ANY(%s)")
            where_runs.append("r.store_id = ANY(%s)")
            params_events.append(list(store_ids))
            params_runs.append(list(store_ids))
        if not checks:
            where_events.append("e.kind <> 'checked'")
        if since is not None:
            where_events.append("e.at >= %s")
            where_runs.append("COALESCE(r.finished_at, r.started_at) >= %s")
            params_events.append(since)
            params_runs.append(since)
        sql = (
            "SELECT e.at, 0, e.id, e.store_id, e.store, e.kind, e.detail,"  # noqa: S608 (fixed clauses)
            " CASE WHEN e.kind = 'status_changed' THEN (SELECT c.error_message FROM checks c"
            " WHERE c.checked_at = e.at AND c.store_id = e.store_id ORDER BY c.id DESC LIMIT 1)"
            " END FROM events e WHERE " + " AND ".join(where_events) + " UNION ALL"
            " SELECT COALESCE(r.finished_at, r.started_at), 1, r.id, r.store_id, r.store,"
            " 'sync_failed', jsonb_build_object('dataset', r.dataset, 'outcome', r.outcome,"
            " 'code', r.error_code, 'message', r.error_message), NULL"
            " FROM sync_runs r WHERE "
            + " AND ".join(where_runs)
            + " ORDER BY 1 DESC, 2 DESC, 3 DESC"
        )
        entries: list[HistoryEntry] = []
        for at, _, _, store_id, store, kind, detail, message in self.query(
            sql, (*params_events, *params_runs)
        ):
            data: dict[str, Any] = dict(detail) if detail else {}
            if message:
                data["message"] = message
            entries.append(HistoryEntry(at, str(store), str(kind), data, store_id))
        return entries

    def data_figures(self, store_id: int, datasets: Sequence[str]) -> list[DataFigures]:
        """Per dataset: rows held, the newest data point, the last good sync, the last outcome."""
        tables: dict[str, DatasetReads] = {
            INVENTORY: self.inventory,
            FINANCES: self.finances,
            BRAND_ANALYTICS: self.search_terms,
        }
        found: list[DataFigures] = []
        for dataset in datasets:
            rows, newest = tables[dataset].figures(store_id)
            ok = self.query(
                "SELECT MAX(finished_at) FROM sync_runs WHERE store_id = %s AND dataset = %s"
                " AND outcome = 'ok'",
                (store_id, dataset),
            )[0][0]
            last = self.query(
                "SELECT outcome, error_code, error_message FROM sync_runs WHERE store_id = %s"
                " AND dataset = %s AND finished_at IS NOT NULL ORDER BY id DESC LIMIT 1",
                (store_id, dataset),
            )
            marks: dict[str, str] = {}
            if dataset == BRAND_ANALYTICS:
                for prefix in ("fatal:", "inflight:"):
                    marks.update(self.sync_state(store_id, dataset, prefix))
            outcome = last[0] if last else (None, None, None)
            found.append(
                DataFigures(dataset, rows, newest, ok, outcome[0], outcome[1], outcome[2], marks)
            )
        return found

    def export(
        self, dataset: str, store_ids: Sequence[int], *, since: datetime | None, size: int = 5000
    ) -> ExportBatches:
        """A dataset's rows of these connections, streamed `size` rows at a time."""
        columns = {
            INVENTORY: inventory_db.EXPORT_COLUMNS,
            FINANCES: finances_db.EXPORT_COLUMNS,
            BRAND_ANALYTICS: ba_db.EXPORT_COLUMNS,
        }
        tables: dict[str, DatasetReads] = {
            INVENTORY: self.inventory,
            FINANCES: self.finances,
            BRAND_ANALYTICS: self.search_terms,
        }
        table = tables[dataset]
        # The tables compare with `bound::timestamptz`; the session's time zone is UTC.
        bound = None if since is None else since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")

        def batches() -> Iterator[list[tuple[Any, ...]]]:
            for store_id in store_ids:
                yield from table.export(store_id, bound, size)

        return ExportBatches(columns[dataset], batches())

    # --- retention --------------------------------------------------------------------------------

    def prune(self, now: datetime) -> dict[str, int]:
        """Delete checks, events and sync runs older than the retention, in short transactions.

        Never deleted, however old: each store's latest check, its latest conclusive check and
        its latest successful sync run.
        """
        cutoff = now - timedelta(days=self.retention_days)
        kept_checks = [
            v
            for row in self.query(
                "SELECT (SELECT MAX(id) FROM checks WHERE store_id = s.id),"
                " (SELECT MAX(id) FROM checks WHERE store_id = s.id"
                " AND outcome IN ('ok', 'problem')) FROM stores s"
            )
            for v in row
            if v is not None
        ]
        kept_runs = [
            row[0]
            for row in self.query(
                "SELECT (SELECT id FROM sync_runs WHERE store_id = s.id AND outcome = 'ok'"
                " ORDER BY finished_at DESC LIMIT 1) FROM stores s"
            )
            if row[0] is not None
        ]
        return {
            "checks": self._prune_slices(
                "SELECT id FROM checks WHERE checked_at < %s AND id <> ALL(%s) LIMIT %s",
                "checks",
                (cutoff, kept_checks),
            ),
            "sync_runs": self._prune_slices(
                "SELECT id FROM sync_runs WHERE started_at < %s AND id <> ALL(%s) LIMIT %s",
                "sync_runs",
                (cutoff, kept_runs),
            ),
            "events": self._prune_slices(
                "SELECT id FROM events WHERE at < %s LIMIT %s", "events", (cutoff,)
            ),
        }

    def _prune_slices(self, select: str, table: str, params: tuple[Any, ...]) -> int:
        removed = 0
        while True:
            with self.transaction() as tx:
                cur = tx.execute(
                    f"DELETE FROM {table} WHERE id IN ({select})".encode(),  # noqa: S608
                    (*params, PRUNE_SLICE),
                )
            removed += max(cur.rowcount, 0)
            if cur.rowcount < PRUNE_SLICE:
                return removed


def _as_text(value: Any) -> Any:
    if isinstance(value, datetime):
        return to_db_time(value)
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return value


# --- helpers (callers hold the transaction) --------------------------------------------------------


def _live_store(conn: Conn, name: str, *, lock: bool = False) -> int | None:
    sql = "SELECT id FROM stores WHERE name = %s AND deleted_at IS NULL"
    row = conn.execute(sql + (" FOR UPDATE" if lock else ""), (name,)).fetchone()
    return None if row is None else int(row[0])


def _insert_store(
    conn: Conn,
    name: str,
    at: datetime,
    selling_partner_id: str | None = None,
    region: str | None = None,
) -> int:
    # Two hosts naming a new store at once: the live-name index lets one insert win; the other
    # reads the winner's row (after its commit) instead of failing.
    row = conn.execute(
        "INSERT INTO stores (name, selling_partner_id, region, created_at)"
        " VALUES (%s, %s, %s, %s) ON CONFLICT (name) WHERE deleted_at IS NULL DO NOTHING"
        " RETURNING id",
        (name, selling_partner_id, region, at),
    ).fetchone()
    if row is not None:
        return int(row[0])
    found = _live_store(conn, name)
    assert found is not None  # the conflicting live row
    return found


def read_states(conn: Conn, stores: Sequence[str] | None = None) -> dict[str, StoreState]:
    """StoreState for every live connection (or just the named ones)."""
    sql = (
        "SELECT s.name,"
        " (SELECT id FROM checks WHERE store_id = s.id ORDER BY id DESC LIMIT 1),"
        " (SELECT id FROM checks WHERE store_id = s.id AND outcome IN ('ok', 'problem')"
        " ORDER BY id DESC LIMIT 1),"
        " (SELECT finished_at FROM sync_runs WHERE store_id = s.id AND outcome = 'ok'"
        " ORDER BY finished_at DESC LIMIT 1)"
        " FROM stores s WHERE s.deleted_at IS NULL"
    )
    if stores is None:
        found = conn.execute(sql).fetchall()
    else:
        found = conn.execute(sql + " AND s.name = ANY(%s)", (list(stores),)).fetchall()
    ids = sorted({v for row in found for v in (row[1], row[2]) if v is not None})
    checks = {
        row[0]: row
        for row in conn.execute(
            "SELECT id, outcome, error_code, error_message, checked_at, request_id FROM checks"
            " WHERE id = ANY(%s)",
            (ids,),
        ).fetchall()
    }
    states: dict[str, StoreState] = {}
    for name, last_id, conclusive_id, synced in found:
        problem = None
        conclusive = checks.get(conclusive_id)
        if conclusive is not None and conclusive[1] == CHECK_PROBLEM:
            problem = Problem(
                code=conclusive[2] or "unknown",
                message=conclusive[3] or "",
                found_at=conclusive[4],
                request_id=conclusive[5],
            )
        last = checks.get(last_id)
        states[str(name)] = StoreState(problem, last[4] if last is not None else None, synced)
    if stores is not None:
        for name in stores:
            states.setdefault(name, StoreState())
    return states
