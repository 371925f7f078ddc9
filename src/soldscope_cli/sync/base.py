"""What every dataset shares: the job it is given, the outcome it returns, and row upserts."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from soldscope_cli.amazon.marketplaces import BY_CODE
from soldscope_cli.db.database import Database
from soldscope_cli.fleet.config import StoreRecord

INVENTORY = "inventory"
FINANCES = "finances"
BRAND_ANALYTICS = "brand-analytics"
DATASET_NAMES: tuple[str, ...] = (INVENTORY, FINANCES, BRAND_ANALYTICS)

log = logging.getLogger("soldscope_cli.sync")


class SyncClient(Protocol):
    """The SP-API calls the datasets make (soldscope_cli.amazon.spapi.SpapiClient provides them)."""

    def get_marketplace_participations(self) -> list[dict[str, Any]]: ...

    def get_inventory_summaries(
        self,
        marketplace_id: str,
        *,
        details: bool = True,
        start_date_time: datetime | None = None,
        next_token: str | None = None,
    ) -> dict[str, Any]: ...

    def list_transactions(
        self,
        *,
        posted_after: datetime,
        posted_before: datetime | None = None,
        marketplace_id: str | None = None,
        next_token: str | None = None,
    ) -> dict[str, Any]: ...

    def create_report(
        self,
        report_type: str,
        marketplace_ids: Sequence[str],
        *,
        data_start_time: datetime | None = None,
        data_end_time: datetime | None = None,
        report_options: Mapping[str, str] | None = None,
    ) -> str: ...

    def get_report(self, report_id: str) -> dict[str, Any]: ...

    def get_report_document(self, document_id: str) -> dict[str, Any]: ...

    def open_document(self, url: str) -> AbstractContextManager[Iterator[bytes]]: ...


class DatasetFailed(Exception):
    """A dataset could not finish; what it stored so far stays valid (marks are transactional)."""

    def __init__(self, message: str, *, code: str = "failed", request_id: str | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.request_id = request_id


@dataclass(frozen=True)
class Note:
    """Something a dataset wants the user to know; warnings also show with --quiet."""

    text: str
    warning: bool = False


@dataclass
class DatasetOutcome:
    """What one dataset sync of one store did."""

    rows_added: int = 0
    rows_updated: int = 0
    notes: list[Note] = field(default_factory=list)

    def note(self, text: str, *, warning: bool = False) -> None:
        """Add a note (logged too, so the log file tells the same story)."""
        self.notes.append(Note(text, warning))
        (log.warning if warning else log.info)("%s", text)

    def count(self, added: int, updated: int) -> None:
        """Add row counts."""
        self.rows_added += added
        self.rows_updated += updated


@dataclass
class DatasetJob:
    """Everything a dataset needs to sync one store; collaborators are injected for tests."""

    store: StoreRecord
    client: SyncClient
    db: Database
    clock: Callable[[], datetime]
    sleep: Callable[[float], None]
    since: datetime | None = None
    ba_weeks: int = 4
    report_wait_s: float = 1800.0
    progress: Callable[[str], None] = lambda text: None

    @property
    def name(self) -> str:
        return self.store.name

    def marketplace_ids(self) -> list[str]:
        """The store's marketplace ids, in config order."""
        return [BY_CODE[code].marketplace_id for code in self.store.marketplaces]


def raw_json(value: Any) -> str:
    """Compact JSON of one item as Amazon sent it (key order kept)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def upsert(
    tx: sqlite3.Connection,
    table: str,
    columns: Sequence[str],
    key: Sequence[str],
    rows: Sequence[Sequence[Any]],
) -> tuple[int, int]:
    """Insert or update rows by key; returns (added, updated). Unchanged rows are not rewritten.

    A row counts as updated only when its `raw` column differs, so re-reading data that did not
    change reports (0, 0) and leaves synced_at alone.
    """
    if not rows:
        return 0, 0
    key_index = [columns.index(k) for k in key]
    existing = _count_existing(tx, table, key, [[row[i] for i in key_index] for row in rows])
    before = tx.total_changes
    names = ", ".join(columns)
    marks = ", ".join("?" for _ in columns)
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in key)
    tx.executemany(
        f"INSERT INTO {table} ({names}) VALUES ({marks})"  # noqa: S608 (fixed identifiers)
        f" ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}"
        f" WHERE {table}.raw IS NOT excluded.raw",
        rows,
    )
    changed = tx.total_changes - before
    added = len({tuple(row[i] for i in key_index) for row in rows}) - existing
    return added, max(0, changed - added)


def _count_existing(
    tx: sqlite3.Connection, table: str, key: Sequence[str], keys: list[list[Any]]
) -> int:
    unique = {tuple(k) for k in keys}
    found = 0
    # SQLite limits bound parameters (32766 by default); stay far below it.
    step = max(1, 900 // len(key))
    ordered = list(unique)
    for start in range(0, len(ordered), step):
        part = ordered[start : start + step]
        tuple_marks = ", ".join("(" + ", ".join("?" for _ in key) + ")" for _ in part)
        params = [value for k in part for value in k]
        row = tx.execute(
            f"SELECT COUNT(*) FROM {table} WHERE ({', '.join(key)}) IN (VALUES {tuple_marks})",  # noqa: S608
            params,
        ).fetchone()
        found += int(row[0])
    return found


def as_int(value: Any) -> int | None:
    """An integer field, or None when absent or not a number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def as_number(value: Any) -> float | None:
    """A numeric field (Amazon's BigDecimal arrives as a JSON number), or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def as_text(value: Any) -> str | None:
    """A string field, or None when absent or empty."""
    return value if isinstance(value, str) and value != "" else None


def dig(item: Mapping[str, Any], *path: str) -> Any:
    """item[path[0]][path[1]]..., or None when any level is missing or not an object."""
    value: Any = item
    for part in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value
