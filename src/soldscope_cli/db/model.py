"""Engine-neutral records of the state database: check outcomes, dataset names, row shapes."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, NamedTuple

from soldscope_cli.datasets import brand_analytics, finances, inventory, registry
from soldscope_cli.status import Problem

CHECK_OK = "ok"
CHECK_PROBLEM = "problem"  # a lasting problem: the store is in error until cleared
CHECK_INCOMPLETE = "incomplete"  # could not complete: never changes a status
CHECK_APP_ERROR = "app_error"  # the app's credentials were rejected: not the store's fault
CHECK_OUTCOMES = (CHECK_OK, CHECK_PROBLEM, CHECK_INCOMPLETE, CHECK_APP_ERROR)
CONCLUSIVE_OUTCOMES = (CHECK_OK, CHECK_PROBLEM)

# Dataset names are stored (sync_runs.dataset, sync_state.dataset); each dataset's declaration
# (soldscope_cli.datasets) defines its own.
INVENTORY = inventory.NAME
FINANCES = finances.NAME
BRAND_ANALYTICS = brand_analytics.NAME

SYNC_OK = "ok"  # the sync_runs outcome that counts as the store's last sync

DEFAULT_RETENTION_DAYS = 400

# The ledger event written, and committed, before a new store's refresh token is stored: a process
# killed before the store's record is written leaves a token that only this event names.
TOKEN_WRITTEN = "token_written"
# doctor reads them in one query on this partial index (a migration of each engine creates it).
TOKEN_LEDGER_INDEX = (
    f"CREATE INDEX events_token_written ON events (store, at) WHERE kind = '{TOKEN_WRITTEN}'"
)


def to_db_time(value: datetime) -> str:
    """UTC timestamps as fixed-width text, so text order is time order."""
    # isoformat is several times faster than strftime (a bulk load writes millions), and the
    # same text: YYYY-MM-DDTHH:MM:SS.ffffff, then "+00:00" replaced by Z.
    return value.astimezone(UTC).isoformat(timespec="microseconds")[:26] + "Z"


def from_db_time(value: str) -> datetime:
    """Inverse of to_db_time."""
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


class StoreDeleted(Exception):
    """The store was deleted (by `soldscope delete`) while this process was writing for it.

    Raised by every write made on a store's behalf, inside its transaction, so nothing more of a
    deleted (or purged) store is stored once the delete has committed.
    """

    def __init__(self, store_id: int) -> None:
        super().__init__(f"store #{store_id} was deleted")
        self.store_id = store_id


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


class RateBucket(NamedTuple):
    """Amazon's quota for one operation of one store as the client last saw it: the tokens left
    in its bucket and its refill rate (requests per second) at `updated_at`."""

    operation: str
    tokens: float
    rate: float
    updated_at: datetime


class PageCounts(NamedTuple):
    """What writing one page did to a data table."""

    added: int = 0
    updated: int = 0
    removed: int = 0


class InventoryRow(NamedTuple):
    """One InventorySummary as stored (models/fbaInventory.json); quantities as integers."""

    seller_sku: str
    asin: str | None
    fn_sku: str | None
    condition: str | None
    product_name: str | None
    total_quantity: int | None
    fulfillable_quantity: int | None
    inbound_working_quantity: int | None
    inbound_shipped_quantity: int | None
    inbound_receiving_quantity: int | None
    reserved_quantity: int | None
    researching_quantity: int | None
    unfulfillable_quantity: int | None
    last_updated_time: str | None
    raw: str


class FinanceRow(NamedTuple):
    """One Transaction as stored (models/finances_2024-06-19.json).

    total_amount is Amazon's BigDecimal as exact decimal text ("-12.34"), next to its currency.
    """

    transaction_id: str
    transaction_type: str | None
    transaction_status: str | None
    description: str | None
    posted_date: str | None
    total_amount: str | None
    total_currency: str | None
    marketplace_id: str | None
    order_id: str | None
    financial_event_group_id: str | None
    raw: str


@dataclass(frozen=True)
class HistoryEntry:
    """One line of a connection's history: an event, or a sync run that failed."""

    at: datetime
    store: str
    kind: str  # connected, reauthorized, status_changed, checked, sync_failed, deleted, ...
    detail: dict[str, Any]
    store_id: int | None = None


@dataclass(frozen=True)
class DataFigures:
    """What the database holds of one dataset of one connection, and how its syncs went."""

    dataset: str
    rows: int
    newest: str | None  # the newest data point, as stored (a date or an RFC 3339 time)
    last_ok_sync: datetime | None
    last_outcome: str | None  # of the latest finished sync run
    last_error_code: str | None = None
    last_error: str | None = None
    marks: dict[str, str] = field(default_factory=dict)  # sync_state marks worth reporting


class ExportBatches(NamedTuple):
    """A dataset's rows as column names and an iterator of batches of tuples (streamed)."""

    columns: tuple[str, ...]
    batches: Iterator[list[tuple[Any, ...]]]


@dataclass(frozen=True)
class IntegrityReport:
    """What a home's SQLite file's integrity check found, within a time budget (doctor)."""

    error: str | None = None  # could not open or read the file at all
    findings: tuple[str, ...] = ()  # integrity_check's complaints; empty when it is "ok"
    finished: bool = True  # False when the budget ran out first
    applied_migrations: frozenset[str] = frozenset()

    @property
    def ok(self) -> bool:
        return self.error is None and self.finished and not self.findings


# --- invitations (`soldscope invite`, answered by `soldscope serve`) --------------------------------

INVITE_NEW = "new"
INVITE_RENEWAL = "renewal"
INVITE_PENDING = "pending"
INVITE_USED = "used"
INVITE_EXPIRED = "expired"
INVITE_REVOKED = "revoked"


@dataclass(frozen=True)
class NewInvitation:
    """An invitation to store; its token is never stored, only the token's hash."""

    uid: str  # random; with the home's invitation key it derives the token (onboarding/)
    token_hash: str
    name: str
    kind: str  # INVITE_NEW or INVITE_RENEWAL
    region: str
    marketplaces: tuple[str, ...]
    region_wide: bool
    note: str | None
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class InvitationFailure:
    """A consent through an invitation that stored nothing (an `invitation_failed` event)."""

    at: datetime
    reason: str  # cancelled, denied, slow, incomplete, other_seller, duplicate, ...
    message: str | None  # what went wrong, for the operator (never shown to the seller)


@dataclass(frozen=True)
class Invitation(NewInvitation):
    """A stored invitation and what became of it."""

    id: int = 0
    used_at: datetime | None = None
    revoked_at: datetime | None = None
    selling_partner_id: str | None = None  # the seller who consented through it

    def status(self, now: datetime) -> str:
        """pending, used, expired or revoked."""
        if self.revoked_at is not None:
            return INVITE_REVOKED
        if self.used_at is not None:
            return INVITE_USED
        if now >= self.expires_at:
            return INVITE_EXPIRED
        return INVITE_PENDING


class StateClaim(NamedTuple):
    """What claiming a consent state found: its invitation, and what was wrong with the state."""

    invitation: Invitation | None
    problem: str | None  # None, "unknown", "used" or "expired"


@dataclass(frozen=True)
class SealedSecret:
    """One row of the secrets table: a value sealed by fleet/sealed.py, opaque bytes to the engine.

    store_id is the connection the value was sealed for (a refresh token's), part of what the
    ciphertext is bound to; None for the app's own secrets.
    """

    name: str
    nonce: bytes
    ciphertext: bytes
    store_id: int | None = None

    # The order in which both engines' secrets tables hold the fields.
    COLUMNS: ClassVar[str] = "name, nonce, ciphertext, store_id"

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> SealedSecret:
        """A row of either engine (sqlite3's bytes or psycopg's memoryview) as a SealedSecret."""
        return cls(
            str(row[0]), bytes(row[1]), bytes(row[2]), None if row[3] is None else int(row[3])
        )

    def same_seal(self, other: SealedSecret | None) -> bool:
        """Whether `other` holds the very ciphertext this one does (not merely the same value)."""
        return other is not None and (other.nonce, other.ciphertext) == (
            self.nonce,
            self.ciphertext,
        )


def unchanged(current: Sequence[SealedSecret], expected: Sequence[SealedSecret]) -> bool:
    """Whether a secrets table still holds exactly the rows a rotation read (none added)."""
    now = {s.name: s for s in current}
    return now.keys() == {s.name for s in expected} and all(
        s.same_seal(now[s.name]) for s in expected
    )


@dataclass(frozen=True)
class RegistryRecord:
    """A store as the team database's registry keeps it (fleet's StoreRecord, engine-neutral)."""

    name: str
    region: str
    marketplaces: tuple[str, ...]
    authorized_at: datetime
    selling_partner_id: str | None = None
    region_wide: bool = False
    self_authorized: bool = False
    # country code -> storeName, as (code, name) pairs: who the seller is, by Amazon's answer
    store_names: tuple[tuple[str, str], ...] = ()


# --- `team import`: the tables it copies per connection, as its report groups them ----------------

IMPORT_HISTORY_TABLES = ("checks", "events", "sync_runs")
IMPORT_CURSOR_TABLE = "sync_state"
# A dataset's rows are counted in its first declared table.
# The table whose rows `team import` counts per dataset: the one `data` reads, where declared.
IMPORT_DATASET_TABLES = {(d.reads or d.tables[0]).name: d.name for d in registry.DATASETS}
IMPORT_WEEKS_TABLE = brand_analytics.WEEKS.name
