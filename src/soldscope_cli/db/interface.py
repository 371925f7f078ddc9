"""What callers need from the state database, engine-neutral (SQLite, and PostgreSQL in team mode).

The sync modules depend on these Protocols only: they hand rows and cursors over and never see a
connection or SQL. Each write method is one transaction, so a cursor never runs ahead of its rows.
A table's code exists once for both engines (db/tables/): its class is its interface.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from soldscope_cli.db.model import (
    CheckRecord,
    DataFigures,
    ExportBatches,
    HistoryEntry,
    IntegrityReport,
    RateBucket,
    RegistryRecord,
    StoreState,
)

# What `data` and `export` read of a dataset (its class in db/tables/ implements it).
from soldscope_cli.db.tables.base import DatasetReads as DatasetReads
from soldscope_cli.db.tables.finances import FinancesTable
from soldscope_cli.db.tables.inventory import InventoryTable
from soldscope_cli.db.tables.invitations import InvitationsTable
from soldscope_cli.db.tables.keyed import KeyedTable
from soldscope_cli.db.tables.search_terms import SearchTermsTable
from soldscope_cli.db.tables.secret_rows import SecretRowsTable
from soldscope_cli.db.tables.settlements import SettlementsTable

# The tables, written once for both engines: each class is its own interface.
InventoryStore = InventoryTable  # inventory_summaries and its per-marketplace cursors
FinancesStore = FinancesTable  # financial_transactions and its cursor
SearchTermsStore = SearchTermsTable  # Brand Analytics loads, rows and week marks
InvitationStore = InvitationsTable  # invitations and the consent states their clicks mint
# secrets: sealed values by name (fleet/sealed.py seals them; the engine never sees a key). A
# write happens only while the table's key-check row is the one the writer verified its key
# against, so a process still holding a replaced key writes nothing.
SecretRows = SecretRowsTable


class DatasetDatabase(Protocol):
    """The part of the state database a dataset sync uses."""

    @property
    def inventory(self) -> InventoryStore: ...

    @property
    def finances(self) -> FinancesStore: ...

    @property
    def search_terms(self) -> SearchTermsStore: ...

    @property
    def settlements(self) -> SettlementsTable: ...

    def dataset_table(self, dataset: str, table: str | None = None) -> KeyedTable:
        """The table a dataset stored by key declares: its page writes, marks, figures, export
        (`table`: another of its declared tables, by name)."""
        ...

    def store_id(self, name: str) -> int: ...

    def take_fleet_token(self, operation: str, burst: int, rate: float, now: datetime) -> float:
        """A token of a quota the whole fleet shares: 0.0 when taken, else seconds to wait."""
        ...

    def get_sync_state(self, store_id: int, dataset: str, key: str) -> str | None: ...

    def sync_state(self, store_id: int, dataset: str, prefix: str = "") -> dict[str, str]: ...

    def update_sync_state(
        self,
        store_id: int,
        dataset: str,
        at: datetime,
        *,
        set_: Mapping[str, str] | None = None,
        delete: Iterable[str] = (),
    ) -> None: ...


class StateReads(Protocol):
    """The reads behind `log`, `data` and `export`: history, per-dataset figures, row streams."""

    def store_names(self) -> list[str]: ...

    def connections_named(self, name: str) -> list[int]: ...

    def live_store_id(self, name: str) -> int | None: ...

    def history(
        self,
        store_ids: Sequence[int] | None,
        *,
        names: Sequence[str] = (),
        since: datetime | None = None,
        checks: bool = False,
    ) -> list[HistoryEntry]: ...

    def data_figures(self, store_id: int, datasets: Sequence[str]) -> list[DataFigures]: ...

    def export(
        self, dataset: str, store_ids: Sequence[int], *, since: datetime | None, size: int = 5000
    ) -> ExportBatches: ...


class NotifiedLog(Protocol):
    """The `notified` events: what the notification targets were last told, per store and channel."""

    def last_notified(self) -> dict[tuple[str | None, str], dict[str, Any]]: ...

    def log_notified(
        self, at: datetime, entries: Sequence[tuple[str | None, dict[str, Any]]]
    ) -> None: ...


class StoreClaims(Protocol):
    """Which worker syncs which store (team mode): a claim lasts until released or the session ends."""

    def claim(self, store_id: int, run_started: datetime) -> str | None: ...

    def release(self, store_id: int) -> None: ...

    def close(self) -> None: ...


class StoreRegistry(Protocol):
    """Team mode: the stores every host sees, kept in the database instead of config.toml."""

    def records(self) -> list[RegistryRecord]: ...

    def save(
        self,
        record: RegistryRecord,
        at: datetime,
        *,
        detail: Mapping[str, Any] | None = None,
        inside: Callable[[list[RegistryRecord]], None] | None = None,
    ) -> tuple[int, bool]: ...  # (the connection's id, whether it renewed a live one)

    def namespace(self) -> str: ...

    def client_secret_set_at(self) -> datetime | None: ...

    def set_client_secret_set_at(self, when: datetime | None) -> None: ...


class StateLookup(Protocol):
    """Stores' states read without creating or migrating anything (`list`, doctor, metrics)."""

    def peek_states(self, stores: Sequence[str]) -> dict[str, StoreState]: ...


class TokenLedger(Protocol):
    """The ledger's token_written events read without creating or migrating anything (doctor)."""

    def peek_token_writes(self) -> dict[str, datetime]: ...


class LocalFile(Protocol):
    """What doctor asks of a home's SQLite file, read-only (the composition root gives it)."""

    def integrity(
        self, path: Path, monotonic: Callable[[], float], budget: float
    ) -> IntegrityReport: ...

    def known_migrations(self) -> list[str]: ...

    def pending_migrations(self, path: Path) -> list[str]: ...

    def states(self, path: Path) -> StateLookup: ...

    def ledger(self, path: Path) -> TokenLedger: ...


class Database(DatasetDatabase, StateReads, NotifiedLog, Protocol):
    """The whole state database as callers use it; db.sqlite and db.postgres each implement it.

    A transaction is opaque here (a sqlite3 or psycopg connection): callers only hand the one a
    `store_transaction` yields back to `record_check` and `log_event`, which then write inside it.
    """

    @property
    def retention_days(self) -> int: ...

    @property
    def invitations(self) -> InvitationStore: ...

    def store_transaction(self, store_id: int) -> AbstractContextManager[Any]: ...

    def store_id(self, name: str, tx: Any = None) -> int: ...

    def store_name(self, store_id: int) -> str: ...

    def connect_store(
        self,
        name: str,
        at: datetime,
        *,
        event: str,
        selling_partner_id: str | None,
        region: str | None,
        detail: Mapping[str, Any] | None = None,
    ) -> int: ...

    def delete_store(
        self, name: str, at: datetime, *, purge_tables: Sequence[str] | None = None
    ) -> int: ...

    def deleting_store(
        self, name: str, at: datetime, *, purge_tables: Sequence[str] | None = None
    ) -> AbstractContextManager[int]: ...

    def record_check(self, check: CheckRecord, tx: Any = None) -> None: ...

    def log_event(
        self,
        kind: str,
        at: datetime,
        store: str | None = None,
        detail: dict[str, Any] | None = None,
        tx: Any = None,
    ) -> None: ...

    def states(self, stores: Sequence[str] | None = None) -> dict[str, StoreState]: ...

    def last_app_events(
        self, kinds: Sequence[str]
    ) -> dict[str, tuple[datetime, dict[str, Any]]]: ...

    def peek_states(self, stores: Sequence[str]) -> dict[str, StoreState]: ...

    def start_sync_run(
        self, store: str, dataset: str, at: datetime, *, store_id: int | None = None
    ) -> int: ...

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
    ) -> None: ...

    def prune(self, now: datetime) -> dict[str, int]: ...

    def pending_migrations(self) -> list[str]: ...

    def close(self) -> None: ...

    @property
    def secret_rows(self) -> SecretRows: ...

    def last_sync_start(self, store_id: int, dataset: str) -> datetime | None: ...

    def rate_buckets(self, store_id: int) -> list[RateBucket]: ...

    def save_rate_buckets(self, store_id: int, buckets: Sequence[RateBucket]) -> None: ...

    def claims(self) -> StoreClaims | None:
        """Team mode's store claims; None where one sync lock per home serialises runs."""
        ...

    @property
    def registry(self) -> StoreRegistry | None:
        """Team mode's store registry; None where config.toml lists the stores."""
        ...


class TeamDatabase(Protocol):
    """Team mode's PostgreSQL database as `team init`, `team import` and doctor use it, opened
    by the composition root (the only part that picks an engine)."""

    migrations: tuple[Any, ...]

    @property
    def schema_version(self) -> str: ...

    def migrate(self) -> list[str]: ...

    def applied_migrations(self) -> list[str]: ...

    def pending_migrations(self) -> list[str]: ...

    def peek_states(self, stores: Sequence[str]) -> dict[str, StoreState]: ...

    def peek_registry(self) -> list[RegistryRecord]: ...

    def peek_client_secret_set_at(self) -> datetime | None: ...

    def set_client_secret_set_at(self, when: datetime) -> None: ...

    def peek_live_names(self, names: Sequence[str]) -> list[str]: ...

    def peek_token_writes(self) -> dict[str, datetime]: ...

    def transaction(self) -> AbstractContextManager[Any]: ...

    def close(self) -> None: ...


class LocalSource(Protocol):
    """The home's SQLite file as `team import` reads it (a connection for one read snapshot)."""

    def connection(self) -> Any: ...


class TeamCopier(Protocol):
    """How `team import` reads a home's SQLite file and copies it into the team database: the
    PostgreSQL engine's importer (db.postgres.importer), handed over by the composition root."""

    TABLES: tuple[str, ...]

    def read_snapshot(self, conn: Any) -> AbstractContextManager[Any]: ...

    def live_connections(self, conn: Any, names: Sequence[str]) -> Mapping[str, Any]: ...

    def count_rows(self, conn: Any, store_id: int) -> dict[str, int]: ...

    def count_app_events(self, conn: Any) -> int: ...

    def pending_invitations(self, conn: Any, now: str) -> int: ...

    def live_names(self, tx: Any, names: Sequence[str]) -> list[str]: ...

    def add_store(self, tx: Any, record: RegistryRecord, created_at: str | datetime) -> int: ...

    def copy_store(
        self, tx: Any, local: Any, local_id: int, team_id: int, where: str
    ) -> dict[str, int]: ...

    def copy_app_events(self, tx: Any, local: Any) -> int: ...

    def log_imported(self, tx: Any, name: str, team_id: int, at: datetime) -> None: ...
