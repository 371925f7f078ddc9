"""The state database's own tables, written once: connections (`stores`), checks, events, sync
runs and cursors, the reads behind `log`, `data` and `export`, and retention.

`StateDatabase` is the engine-neutral half of both engines' `Database`: db.sqlite and db.postgres
subclass it with their connections, transactions and migrations.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

from soldscope_cli.datasets import registry
from soldscope_cli.datasets.spec import LISTED_AT
from soldscope_cli.db.model import (
    BRAND_ANALYTICS,
    CHECK_OUTCOMES,
    CHECK_PROBLEM,
    DEFAULT_RETENTION_DAYS,
    FINANCES,
    INVENTORY,
    TOKEN_WRITTEN,
    CheckRecord,
    DataFigures,
    ExportBatches,
    HistoryEntry,
    RateBucket,
    StoreDeleted,
    StoreState,
    to_db_time,
)
from soldscope_cli.db.sql import Dialect, Ids, Json, Tx
from soldscope_cli.db.tables.base import DatasetReads
from soldscope_cli.db.tables.finances import FinancesTable
from soldscope_cli.db.tables.inventory import InventoryTable
from soldscope_cli.db.tables.invitations import InvitationsTable
from soldscope_cli.db.tables.keyed import KeyedTable
from soldscope_cli.db.tables.rate_buckets import read_buckets, take_fleet_token, write_buckets
from soldscope_cli.db.tables.search_terms import SearchTermsTable
from soldscope_cli.db.tables.secret_rows import SecretRowsTable
from soldscope_cli.db.tables.settlements import SettlementsTable
from soldscope_cli.db.tables.sync_state import (
    delete_state,
    get_state,
    put_state,
    states_with_prefix,
)
from soldscope_cli.status import Problem

# Rows deleted per pruning transaction: each one stays short, so writers never wait long.
PRUNE_SLICE = 5000
# The events of an invitation, which may come before any connection of its name exists.
_INVITATION_KINDS = "('invited', 'invitation_failed', 'invitation_revoked', 'invitation_used')"
# A token_written event is settled once a later event of its name says where the token went: the
# store's record was written (connected) or the token was removed (deleted). Until then the
# retention keeps it, however old, since it is the only trace of a token no record names.
_TOKEN_SETTLED = (
    "EXISTS (SELECT 1 FROM events later WHERE later.store = events.store"
    " AND later.id > events.id AND later.kind IN ('connected', 'deleted'))"
)

# Tables that hold a connection's rows (by store_id), children before what they point at, for
# `delete --purge-data`: history first (its checks, runs, cursors and Amazon's quota as it last
# saw it), then every dataset's declared tables.
HISTORY_TABLES = ("checks", "sync_runs", "sync_state", "rate_buckets")
STORE_TABLES = (*HISTORY_TABLES, *registry.data_tables())


class StateDatabase:
    """What both engines' Database do the same way, on the engine's `reading`/`writing`."""

    retention_days: int = DEFAULT_RETENTION_DAYS
    _ids: dict[str, int]
    _names: dict[int, str]

    # --- what the engine provides -----------------------------------------------------------------

    dialect: Dialect  # the engine's

    def connection(self) -> Any:
        """This thread's connection, migrated to the current schema."""
        raise NotImplementedError

    def session(self) -> Tx:
        """This thread's connection, migrated, with no transaction begun."""
        return Tx(self.connection(), self.dialect)

    def reading(self) -> AbstractContextManager[Tx]:
        """This thread's connection for a read."""
        raise NotImplementedError

    def writing(self) -> AbstractContextManager[Tx]:
        """A write transaction, joining one this thread already holds."""
        raise NotImplementedError

    def in_transaction(self) -> bool:
        """Whether this thread's connection is inside a transaction (a caller's)."""
        raise NotImplementedError

    @contextmanager
    def store_transaction(self, store_id: int) -> Iterator[Tx]:
        """A transaction that writes for one store: StoreDeleted when it was deleted meanwhile.

        The check runs under the lock a `delete` also takes (SQLite's write lock; PostgreSQL's
        row lock FOR SHARE, which `delete`'s FOR UPDATE waits for), so a write either commits
        before the delete or finds the store gone.
        """
        with self.writing() as tx:
            if (
                tx.one(
                    f"SELECT 1 FROM stores WHERE id = ? AND deleted_at IS NULL{tx.d.lock(True)}",  # noqa: S608 (dialect clauses)
                    (store_id,),
                )
                is None
            ):
                raise StoreDeleted(store_id)
            yield tx

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
    def settlements(self) -> SettlementsTable:
        """settlement_lines, loaded settlement by settlement."""
        return SettlementsTable(self)

    @cached_property
    def invitations(self) -> InvitationsTable:
        """Invitation links and their consent states."""
        return InvitationsTable(self)

    @cached_property
    def secret_rows(self) -> SecretRowsTable:
        """Sealed secrets of the `database` secret backend (bytes only: no key reaches here)."""
        return SecretRowsTable(self)

    # --- stores (one row per connection) ----------------------------------------------------------

    def store_id(self, name: str, tx: Tx | None = None) -> int:
        """The id of the live connection named `name`, created if the database has none yet."""
        cached = self._ids.get(name)
        if cached is not None:
            return cached
        if tx is not None:
            # The caller's transaction may still roll back: do not remember an uncommitted id.
            return live_store(tx, name) or insert_store(tx, name, datetime.now(UTC))
        # Inside a transaction this thread already holds (team import's, delete's), the id is
        # only known to last once that outer transaction commits.
        outer = self.in_transaction()
        with self.writing() as own:
            new_id = live_store(own, name) or insert_store(own, name, datetime.now(UTC))
        if not outer:
            self.remember(name, new_id)
        return new_id

    def store_name(self, store_id: int) -> str:
        """The name a connection had (kept after it is deleted)."""
        name = self._names.get(store_id)
        if name is None:
            with self.reading() as tx:
                found = tx.value("SELECT name FROM stores WHERE id = ?", (store_id,))
            if found is None:
                raise KeyError(f"no store with id {store_id}")
            name = str(found)
            self._names[store_id] = name
        return name

    def remember(self, name: str, store_id: int) -> None:
        """Cache a connection's id once the transaction that made it has committed."""
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
        with self.writing() as tx:
            store_id = live_store(tx, name, lock=True)
            if store_id is None:
                store_id = insert_store(tx, name, at, selling_partner_id, region)
            else:
                tx.execute(
                    "UPDATE stores SET selling_partner_id = ?, region = ? WHERE id = ?",
                    (selling_partner_id, region, store_id),
                )
            self.event_in(tx, event, at, name, store_id, dict(detail) if detail else None)
        self.remember(name, store_id)
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
        with self.writing() as tx:
            # Locked: waits for writes holding the row FOR SHARE; then they find it deleted.
            store_id = live_store(tx, name, lock=True)
            removed = 0
            if store_id is not None and purge_tables is not None:
                tables = [t for t in STORE_TABLES if t in HISTORY_TABLES or t in purge_tables]
                for table in tables:
                    removed += tx.count(f"DELETE FROM {table} WHERE store_id = ?", (store_id,))  # noqa: S608
            detail: dict[str, Any] = (
                {"purged_rows": removed} if purge_tables is not None else {"purged": False}
            )
            self.event_in(tx, "deleted", at, name, store_id, detail)
            if store_id is not None:
                tx.execute("UPDATE stores SET deleted_at = ? WHERE id = ?", (at, store_id))
            yield removed
        self._ids.pop(name, None)

    # --- checks and events ------------------------------------------------------------------------

    def record_check(self, check: CheckRecord, tx: Tx | None = None) -> None:
        """Append a check to the history of the store's live connection."""
        if check.outcome not in CHECK_OUTCOMES:
            raise ValueError(f"unknown check outcome {check.outcome!r}")
        with self._within(tx) as conn:
            conn.execute(
                "INSERT INTO checks (store_id, store, checked_at, source, outcome, error_code,"
                " error_message, request_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
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
    def _within(self, tx: Tx | None) -> Iterator[Tx]:
        if tx is not None:
            yield tx
        else:
            with self.writing() as own:
                yield own

    def log_event(
        self,
        kind: str,
        at: datetime,
        store: str | None = None,
        detail: dict[str, Any] | None = None,
        tx: Tx | None = None,
    ) -> None:
        """Append to the event log (connected, reauthorized, checked, status_changed, deleted...)."""
        with self._within(tx) as conn:
            store_id = None if store is None else (self._ids.get(store) or live_store(conn, store))
            self.event_in(conn, kind, at, store, store_id, detail)

    def event_in(
        self,
        tx: Tx,
        kind: str,
        at: datetime,
        store: str | None,
        store_id: int | None,
        detail: dict[str, Any] | None,
    ) -> None:
        """Log an event inside the caller's transaction."""
        tx.execute(
            "INSERT INTO events (at, store_id, store, kind, detail) VALUES (?, ?, ?, ?, ?)",
            (at, store_id, store, kind, Json(detail or None)),
        )

    def _dict_rows(self, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        """Rows by column name, times and details as text (what tests and `--debug` read)."""
        with self.reading() as tx:
            cursor = tx.execute(sql, params)
            names = [c[0] for c in cursor.description]
            return [
                {n: _as_text(n, v) for n, v in zip(names, row, strict=True)}
                for row in cursor.fetchall()
            ]

    def events(self, store: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """The most recent events (of every connection that had this name), newest first."""
        if store is None:
            return self._dict_rows("SELECT * FROM events ORDER BY id DESC LIMIT ?", (limit,))
        return self._dict_rows(
            "SELECT * FROM events WHERE store = ? ORDER BY id DESC LIMIT ?", (store, limit)
        )

    def checks(self, store: str) -> list[dict[str, Any]]:
        """The check history of the store's live connection, oldest first."""
        store_id = self.live_store_id(store)
        if store_id is None:
            return []
        return self._dict_rows("SELECT * FROM checks WHERE store_id = ? ORDER BY id", (store_id,))

    def last_notified(self) -> dict[tuple[str | None, str], dict[str, Any]]:
        """What was last announced per (store, channel): the detail of the newest `notified` event.

        Store None is the app itself. Alerts are sent once per change because this says what the
        targets were last told; an event past the retention is forgotten like any other.
        """
        latest: dict[tuple[str | None, str], dict[str, Any]] = {}
        with self.reading() as tx:
            rows = tx.all("SELECT store, detail FROM events WHERE kind = 'notified' ORDER BY id")
            for store, detail in rows:
                data = tx.d.json(detail)
                if isinstance(data, dict) and isinstance(data.get("channel"), str):
                    latest[(store, data["channel"])] = data
        return latest

    def last_app_events(self, kinds: Sequence[str]) -> dict[str, tuple[datetime, dict[str, Any]]]:
        """The newest event of the app itself (no store) of each kind: (when, detail)."""
        latest: dict[str, tuple[datetime, dict[str, Any]]] = {}
        with self.reading() as tx:
            marks = ", ".join("?" for _ in kinds) or "NULL"
            rows = tx.all(
                "SELECT kind, at, detail FROM events "  # noqa: S608 (only ? markers are added)
                f"WHERE store IS NULL AND kind IN ({marks}) ORDER BY id",
                tuple(kinds),
            )
            for kind, at, detail in rows:
                when = tx.d.time(at)
                data = tx.d.json(detail)
                if when is not None:
                    latest[kind] = (when, data if isinstance(data, dict) else {})
        return latest

    def log_notified(
        self, at: datetime, entries: Sequence[tuple[str | None, dict[str, Any]]]
    ) -> None:
        """Record, in one transaction, that each (store, detail) was announced."""
        with self.writing() as tx:
            for store, detail in entries:
                self.log_event("notified", at, store, detail, tx=tx)

    def states(self, stores: Sequence[str] | None = None) -> dict[str, StoreState]:
        """Per store: the latest conclusive problem, last check time and last successful sync."""
        with self.reading() as tx:
            return read_states(tx, stores)

    # --- sync bookkeeping -------------------------------------------------------------------------

    def rate_buckets(self, store_id: int) -> list[RateBucket]:
        """Amazon's quota for the store's operations as the last run left it."""
        with self.reading() as tx:
            return read_buckets(tx, store_id)

    def save_rate_buckets(self, store_id: int, buckets: Sequence[RateBucket]) -> None:
        """Store the quota a run leaves, for the next run on any host."""
        with self.writing() as tx:
            write_buckets(tx, store_id, buckets)

    def take_fleet_token(self, operation: str, burst: int, rate: float, now: datetime) -> float:
        """One token of a quota the whole fleet shares (every run and host): 0.0 when taken,
        else the seconds until one will be there."""
        with self.writing() as tx:
            return take_fleet_token(tx, operation, burst, rate, now)

    def get_sync_state(self, store_id: int, dataset: str, key: str) -> str | None:
        """A cursor or mark written by a dataset."""
        with self.reading() as tx:
            return get_state(tx, store_id, dataset, key)

    def sync_state(self, store_id: int, dataset: str, prefix: str = "") -> dict[str, str]:
        """All sync_state entries of a store's dataset whose key starts with prefix."""
        with self.reading() as tx:
            return states_with_prefix(tx, store_id, dataset, prefix)

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

    def start_sync_run(
        self, store: str, dataset: str, at: datetime, *, store_id: int | None = None
    ) -> int:
        """Record that a dataset sync started; returns the run id. `store_id`: the connection's
        id as the caller resolved it (else it is looked up by name)."""
        if store_id is None:
            store_id = self.store_id(store)
        with self.store_transaction(store_id) as tx:
            return tx.insert(
                "INSERT INTO sync_runs (store_id, store, dataset, started_at)"
                " VALUES (?, ?, ?, ?) RETURNING id",
                (store_id, store, dataset, at),
            )

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
        with self.writing() as tx:
            tx.execute(
                "UPDATE sync_runs SET finished_at = ?, outcome = ?, rows_added = ?,"
                " rows_updated = ?, error_code = ?, error_message = ?, request_id = ?"
                " WHERE id = ?",
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
        with self.reading() as tx:
            return tx.d.time(
                tx.value(
                    "SELECT started_at FROM sync_runs WHERE store_id = ? AND dataset = ?"
                    " ORDER BY id DESC LIMIT 1",
                    (store_id, dataset),
                )
            )

    # --- reads for `log`, `data` and `export` ----------------------------------------------------

    def store_names(self) -> list[str]:
        """Every name a connection ever had, live or deleted."""
        with self.reading() as tx:
            return [str(r[0]) for r in tx.all("SELECT DISTINCT name FROM stores ORDER BY name")]

    def connections_named(self, name: str) -> list[int]:
        """The ids of every connection that had this name (deleted ones too), oldest first."""
        with self.reading() as tx:
            rows = tx.all("SELECT id FROM stores WHERE name = ? ORDER BY id", (name,))
        return [int(r[0]) for r in rows]

    def live_store_id(self, name: str) -> int | None:
        """The id of the live connection named `name`, or None (never creates one)."""
        with self.reading() as tx:
            return live_store(tx, name)

    def history(
        self,
        store_ids: Sequence[int] | None,
        *,
        names: Sequence[str] = (),
        since: datetime | None = None,
        checks: bool = False,
    ) -> list[HistoryEntry]:
        """Events and failed sync runs of these connections (all when None), newest first.

        Invitations of a store not connected yet (invited, failed attempts, revoked) belong to
        no connection: they are shown by name, for `names` (every name when store_ids is None).
        Plain `checked` events only with checks=True. A status change carries the message of the
        check that caused it (recorded in the same transaction, at the same time).
        """
        d = self.dialect
        unbound = f"e.store_id IS NULL AND e.store IS NOT NULL AND e.kind IN {_INVITATION_KINDS}"
        where_events: list[str] = []
        where_runs = ["r.outcome IN ('failed', 'not_authorized')"]
        params_events: list[Any] = []
        params_runs: list[Any] = []
        if store_ids is not None:
            named = d.in_ids("e.store")
            where_events.append(f"({d.in_ids('e.store_id')} OR ({unbound} AND {named}))")
            where_runs.append(d.in_ids("r.store_id"))
            params_events += [Ids(store_ids), Ids(names)]
            params_runs.append(Ids(store_ids))
        else:
            where_events.append(f"(e.store_id IS NOT NULL OR ({unbound}))")
        if not checks:
            where_events.append("e.kind <> 'checked'")
        # Bookkeeping for doctor, not part of a connection's story: `connected` follows it.
        where_events.append(f"e.kind <> '{TOKEN_WRITTEN}'")
        if since is not None:
            where_events.append("e.at >= ?")
            where_runs.append("COALESCE(r.finished_at, r.started_at) >= ?")
            params_events.append(since)
            params_runs.append(since)
        sql = (
            "SELECT e.at, 0, e.id, e.store_id, e.store, e.kind, e.detail,"  # noqa: S608 (fixed clauses)
            " CASE WHEN e.kind = 'status_changed' THEN (SELECT c.error_message FROM checks c"
            " WHERE c.checked_at = e.at AND c.store_id = e.store_id ORDER BY c.id DESC LIMIT 1)"
            " END FROM events e WHERE " + " AND ".join(where_events) + " UNION ALL"  # noqa: S608 (dialect clauses)
            " SELECT COALESCE(r.finished_at, r.started_at), 1, r.id, r.store_id, r.store,"
            f" 'sync_failed', {d.json_object}('dataset', r.dataset, 'outcome', r.outcome,"
            " 'code', r.error_code, 'message', r.error_message), NULL"
            " FROM sync_runs r WHERE "
            + " AND ".join(where_runs)
            + " ORDER BY 1 DESC, 2 DESC, 3 DESC"
        )
        entries: list[HistoryEntry] = []
        with self.reading() as tx:
            rows = tx.all(sql, (*params_events, *params_runs))
        for at, _, _, store_id, store, kind, detail, message in rows:
            data: dict[str, Any] = dict(d.json(detail) or {})
            if message:
                data["message"] = message
            when = d.time(at)
            assert when is not None  # NOT NULL columns
            entries.append(HistoryEntry(when, str(store), str(kind), data, store_id))
        return entries

    @cached_property
    def _readers(self) -> dict[str, DatasetReads]:
        """What `data` and `export` read of each dataset: its declared table, or (Brand
        Analytics, published week by week) its own reads."""
        readers: dict[str, DatasetReads] = {
            INVENTORY: self.inventory,
            FINANCES: self.finances,
            BRAND_ANALYTICS: self.search_terms,
        }
        for d in registry.DATASETS:
            if d.name not in readers:
                if d.reads is None:
                    raise ValueError(f"dataset {d.name} declares no table to read")
                readers[d.name] = KeyedTable(self, d.reads, d.name)
        return readers

    def dataset_table(self, dataset: str, table: str | None = None) -> KeyedTable:
        """The keyed table a dataset declares (its page writes, figures and export); `table`
        names another of its declared tables (a second table of rows stored by key)."""
        if table is not None:
            declared = {t.name: t for t in registry.BY_NAME[dataset].tables}
            return KeyedTable(self, declared[table], dataset)
        reader = self._readers[dataset]
        if not isinstance(reader, KeyedTable):
            raise KeyError(f"{dataset} is not stored by key")
        return reader

    def data_figures(self, store_id: int, datasets: Sequence[str]) -> list[DataFigures]:
        """Per dataset: rows held, the newest data point, the last good sync, the last outcome."""
        tables = self._readers
        found: list[DataFigures] = []
        for dataset in datasets:
            rows, newest = tables[dataset].figures(store_id)
            with self.reading() as tx:
                ok = tx.value(
                    "SELECT MAX(finished_at) FROM sync_runs WHERE store_id = ? AND dataset = ?"
                    " AND outcome = 'ok'",
                    (store_id, dataset),
                )
                last = tx.one(
                    "SELECT outcome, error_code, error_message FROM sync_runs WHERE store_id = ?"
                    " AND dataset = ? AND finished_at IS NOT NULL ORDER BY id DESC LIMIT 1",
                    (store_id, dataset),
                )
                # The report lifecycle's marks (sync/reports.py): a FATAL answer, a report in
                # flight; and when a listed dataset was last listed. Others have none.
                marks: dict[str, str] = {}
                for prefix in ("fatal:", "inflight:", LISTED_AT):
                    marks.update(states_with_prefix(tx, store_id, dataset, prefix))
                outcome = last or (None, None, None)
                found.append(
                    DataFigures(
                        dataset,
                        rows,
                        newest,
                        tx.d.time(ok),
                        outcome[0],
                        outcome[1],
                        outcome[2],
                        marks,
                    )
                )
        return found

    def export(
        self, dataset: str, store_ids: Sequence[int], *, since: datetime | None, size: int = 5000
    ) -> ExportBatches:
        """A dataset's rows of these connections, streamed `size` rows at a time."""
        table = self._readers[dataset]
        # Stored times compare as UTC: a bare UTC time is at or before any of them that is at or
        # after it (SQLite's text; PostgreSQL casts it to timestamptz).
        bound = None if since is None else since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")

        def batches() -> Iterator[list[tuple[Any, ...]]]:
            for store_id in store_ids:
                yield from table.export(store_id, bound, size)

        return ExportBatches(table.columns, batches())

    # --- retention --------------------------------------------------------------------------------

    def prune(self, now: datetime) -> dict[str, int]:
        """Delete checks, events and sync runs older than the retention, in short transactions.

        Never deleted, however old: each store's latest check, its latest conclusive check (the
        one its status comes from) and its latest successful sync run.
        """
        cutoff = now - timedelta(days=self.retention_days)
        with self.reading() as tx:
            kept_checks = [
                v
                for row in tx.all(
                    "SELECT (SELECT MAX(id) FROM checks WHERE store_id = s.id),"
                    " (SELECT MAX(id) FROM checks WHERE store_id = s.id"
                    " AND outcome IN ('ok', 'problem')) FROM stores s"
                )
                for v in row
                if v is not None
            ]
            kept_runs = [
                row[0]
                for row in tx.all(
                    "SELECT (SELECT id FROM sync_runs WHERE store_id = s.id AND outcome = 'ok'"
                    " ORDER BY finished_at DESC LIMIT 1) FROM stores s"
                )
                if row[0] is not None
            ]
        d = self.dialect
        return {
            "checks": self._prune_slices(
                "checks", f"checked_at < ? AND {d.not_in_ids('id')}", (cutoff, Ids(kept_checks))
            ),
            "sync_runs": self._prune_slices(
                "sync_runs", f"started_at < ? AND {d.not_in_ids('id')}", (cutoff, Ids(kept_runs))
            ),
            "events": self._prune_slices(
                "events", f"at < ? AND (kind <> ? OR {_TOKEN_SETTLED})", (cutoff, TOKEN_WRITTEN)
            ),
        }

    def _prune_slices(self, table: str, where: str, params: tuple[Any, ...]) -> int:
        removed = 0
        while True:
            with self.writing() as tx:
                count = tx.count(
                    f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table}"  # noqa: S608 (fixed identifiers)
                    f" WHERE {where} LIMIT ?)",
                    (*params, PRUNE_SLICE),
                )
            removed += count
            if count < PRUNE_SLICE:
                return removed


def _as_text(name: str, value: Any) -> Any:
    """A value as SQLite holds it: our times and event details as text."""
    if isinstance(value, datetime):
        return to_db_time(value)
    if name == "detail" and value is not None and not isinstance(value, str):
        return json.dumps(value, sort_keys=True)
    return value


# --- helpers (callers hold the transaction) --------------------------------------------------------


def read_token_writes(tx: Tx) -> dict[str, datetime]:
    """Every name a token_written event names, with its newest one's time (doctor's one read)."""
    found: dict[str, datetime] = {}
    # The kind written out, not a parameter: only then can an engine use the partial index.
    for store, at in tx.all(
        f"SELECT store, MAX(at) FROM events WHERE kind = '{TOKEN_WRITTEN}' GROUP BY store"  # noqa: S608 (a constant)
    ):
        when = tx.d.time(at)
        if store is not None and when is not None:
            found[str(store)] = when
    return found


def live_store(tx: Tx, name: str, *, lock: bool = False) -> int | None:
    """The id of the live connection named `name`, or None."""
    found = tx.value(
        f"SELECT id FROM stores WHERE name = ? AND deleted_at IS NULL{tx.d.lock() if lock else ''}",  # noqa: S608 (dialect clauses)
        (name,),
    )
    return None if found is None else int(found)


def insert_store(
    tx: Tx,
    name: str,
    at: datetime,
    selling_partner_id: str | None = None,
    region: str | None = None,
) -> int:
    """A new live connection's row, or the live one another writer inserted meanwhile."""
    # Two hosts naming a new store at once: the live-name index lets one insert win; the other
    # reads the winner's row (after its commit) instead of failing.
    rows = tx.all(
        "INSERT INTO stores (name, selling_partner_id, region, created_at)"
        " VALUES (?, ?, ?, ?) ON CONFLICT (name) WHERE deleted_at IS NULL DO NOTHING"
        " RETURNING id",
        (name, selling_partner_id, region, at),
    )
    if rows:
        return int(rows[0][0])
    found = live_store(tx, name)
    assert found is not None  # the conflicting live row
    return found


# --- status reads (also used read-only by `list`) --------------------------------------------------

# One row per live connection asked for, each figure an index seek: checks_store for the latest
# check, checks_conclusive for the latest ok/problem one, sync_runs_ok for the last good sync.
_FIGURES = (
    "SELECT s.name,"
    " (SELECT id FROM checks WHERE store_id = s.id ORDER BY id DESC LIMIT 1),"
    " (SELECT id FROM checks WHERE store_id = s.id AND outcome IN ('ok', 'problem')"
    " ORDER BY id DESC LIMIT 1),"
    " (SELECT finished_at FROM sync_runs WHERE store_id = s.id AND outcome = 'ok'"
    " ORDER BY finished_at DESC LIMIT 1)"
)


_LIVE = " AND s.deleted_at IS NULL"


def states_sql(d: Dialect, *, named: bool) -> str:
    """The status figures of every live connection, or of those named by an Ids parameter."""
    if named:
        # The list of names is the outer loop: each name is an index seek into stores.
        return (
            f"{_FIGURES} FROM {d.ids_join('n', 'stores s', 's.name = n.value', names=True)}" + _LIVE
        )
    return f"{_FIGURES} FROM stores s WHERE s.deleted_at IS NULL"


def state_checks_sql(d: Dialect) -> str:
    """The checks the status figures point at, by an Ids parameter."""
    return (
        "SELECT c.id, c.outcome, c.error_code, c.error_message, c.checked_at, c.request_id"  # noqa: S608 (dialect clauses)
        f" FROM {d.ids_join('i', 'checks c', 'c.id = i.value')}"
    )


def read_states(tx: Tx, stores: Sequence[str] | None = None) -> dict[str, StoreState]:
    """StoreState for every live connection (or just the named ones)."""
    d = tx.d
    if stores is None:
        found = tx.all(states_sql(d, named=False))
    else:
        found = tx.all(states_sql(d, named=True), (Ids(stores),))
    ids = sorted({v for row in found for v in (row[1], row[2]) if v is not None})
    checks = {row[0]: row for row in tx.all(state_checks_sql(d), (Ids(ids),))}
    states: dict[str, StoreState] = {}
    for name, last_id, conclusive_id, synced in found:
        problem = None
        conclusive = checks.get(conclusive_id)
        if conclusive is not None and conclusive[1] == CHECK_PROBLEM:
            found_at = d.time(conclusive[4])
            assert found_at is not None  # NOT NULL column
            problem = Problem(
                code=conclusive[2] or "unknown",
                message=conclusive[3] or "",
                found_at=found_at,
                request_id=conclusive[5],
            )
        last = checks.get(last_id)
        states[str(name)] = StoreState(
            problem, d.time(last[4]) if last is not None else None, d.time(synced)
        )
    if stores is not None:
        for name in stores:
            states.setdefault(name, StoreState())
    return states
