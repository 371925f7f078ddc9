"""Store rows as `list` and `validate` show them: status, expiry and problem per store."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from soldscope_cli.db.interface import StateLookup
from soldscope_cli.db.model import StoreState
from soldscope_cli.fleet.config import Config, StoreRecord, format_time, select_stores
from soldscope_cli.status import (
    Problem,
    Status,
    authorization_time,
    compute_status,
    days_left,
    effective_problem,
)
from soldscope_cli.status import expires_at as compute_expires_at


@dataclass(frozen=True)
class StoreRow:
    """Everything one row of the status table shows."""

    record: StoreRecord
    status: Status
    expires_at: datetime
    days_left: int
    last_checked_at: datetime | None
    last_sync_at: datetime | None
    problem: Problem | None
    note: str | None = None  # extra context (e.g. a transient failure) that is not a status

    @property
    def name(self) -> str:
        return self.record.name

    def to_json(self) -> dict[str, Any]:
        """The pinned --json shape (docs/list.md)."""
        return {
            "name": self.record.name,
            "region": self.record.region,
            "marketplaces": list(self.record.marketplaces),
            "selling_partner_id": self.record.selling_partner_id,
            "status": self.status.value,
            "authorized_at": format_time(self.record.authorized_at),
            "expires_at": format_time(self.expires_at),
            "days_left": self.days_left,
            "last_checked_at": _fmt(self.last_checked_at),
            "last_sync_at": _fmt(self.last_sync_at),
            "error": None
            if self.problem is None
            else {"code": self.problem.code, "message": self.problem.message},
        }


def _fmt(value: datetime | None) -> str | None:
    return None if value is None else format_time(value)


def build_row(record: StoreRecord, state: StoreState | None, now: datetime) -> StoreRow:
    """One store's row from its record, its database state and the time."""
    state = state or StoreState()
    problem = effective_problem(record.authorized_at, state.problem, now)
    authorized = authorization_time(record.authorized_at, now)  # never in the future
    return StoreRow(
        record=record,
        status=compute_status(record.authorized_at, state.problem, now),
        expires_at=compute_expires_at(authorized),
        days_left=days_left(authorized, now),
        last_checked_at=state.last_checked_at,
        last_sync_at=state.last_sync_at,
        problem=problem,
    )


def build_rows(
    records: Iterable[StoreRecord], states: Mapping[str, StoreState], now: datetime
) -> list[StoreRow]:
    """Rows sorted worst first (error, expired, expiring soon, active), then by name."""
    rows = [build_row(r, states.get(r.name), now) for r in records]
    rows.sort(key=lambda row: (row.status.rank, row.name))
    return rows


def summary(rows: Iterable[StoreRow]) -> str:
    """'12 stores: 9 active, 1 expiring soon, 1 expired, 1 error'."""
    rows = list(rows)
    counts = Counter(row.status for row in rows)
    noun = "store" if len(rows) == 1 else "stores"
    parts = [
        f"{counts[s]} {s.label.lower()}"
        for s in (Status.ACTIVE, Status.EXPIRING_SOON, Status.EXPIRED, Status.ERROR)
        if counts[s]
    ]
    return f"{len(rows)} {noun}: " + ", ".join(parts) if parts else f"{len(rows)} {noun}"


def any_unhealthy(rows: Iterable[StoreRow]) -> bool:
    """True when a row is error or expired (exit 1 for CI)."""
    return any(row.status.unhealthy for row in rows)


SORTS = ("status", "days-left", "name", "last-sync")


def sort_rows(rows: list[StoreRow], by: str) -> list[StoreRow]:
    """Rows in the order asked; every order puts the most urgent first, then goes by name.

    status: error, expired, expiring soon, active; days-left: fewest first; name: a to z;
    last-sync: never synced first, then the oldest sync.
    """
    if by == "status":
        return sorted(rows, key=lambda row: (row.status.rank, row.name))
    if by == "days-left":
        return sorted(rows, key=lambda row: (row.days_left, row.name))
    if by == "name":
        return sorted(rows, key=lambda row: row.name)
    if by == "last-sync":
        return sorted(
            rows,
            key=lambda row: (
                row.last_sync_at is not None,
                row.last_sync_at.timestamp() if row.last_sync_at else 0.0,
                row.name,
            ),
        )
    raise ValueError(f"unknown sort {by!r}")


@dataclass(frozen=True)
class ListQuery:
    """Which stores `list` shows, and in what order (every filter must hold)."""

    names: list[str] = field(default_factory=list)
    statuses: list[Status] = field(default_factory=list)
    regions: list[str] = field(default_factory=list)
    marketplaces: list[str] = field(default_factory=list)  # a store with any of them
    expiring_within: int | None = None  # days_left <= this (expired stores included)
    sort: str = "status"

    def matches(self, row: StoreRow) -> bool:
        """True when the row passes every filter."""
        return (
            (not self.statuses or row.status in self.statuses)
            and (not self.regions or row.record.region in self.regions)
            and (
                not self.marketplaces
                or any(m in row.record.marketplaces for m in self.marketplaces)
            )
            and (self.expiring_within is None or row.days_left <= self.expiring_within)
        )


@dataclass(frozen=True)
class ListResult:
    """What `list` found."""

    rows: list[StoreRow]
    total_configured: int


def run_list(config: Config, database: StateLookup, query: ListQuery, now: datetime) -> ListResult:
    """The rows of the named stores (all by default), filtered and sorted; never writes anything.

    `database` reads the home's states: its SQLite file, or the team's PostgreSQL database.
    """
    records = select_stores(config, query.names)
    names = [r.name for r in records]
    states = database.peek_states(names)
    rows = [row for row in build_rows(records, states, now) if query.matches(row)]
    if query.sort != "status":
        rows = sort_rows(rows, query.sort)
    return ListResult(rows=rows, total_configured=len(config.stores))
