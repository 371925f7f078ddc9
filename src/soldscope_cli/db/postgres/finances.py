"""financial_transactions on PostgreSQL: pages of transactions and the cursor that follows them."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from soldscope_cli.db.model import FINANCES, FinanceRow, PageCounts, from_db_time, to_db_time
from soldscope_cli.db.postgres.state import (
    db_time,
    get_state,
    put_state,
    store_export,
    store_figures,
    upsert,
)
from soldscope_cli.db.sqlite.finances import COLUMNS, EXPORT_COLUMNS, KEY, TABLE

if TYPE_CHECKING:
    from soldscope_cli.db.postgres.state import Connections

_CURSOR = "cursor"


class FinancesTable:
    """Financial transactions of every store, one row per (store, transaction id)."""

    def __init__(self, db: Connections) -> None:
        self._db = db

    def cursor(self, store_id: int) -> datetime | None:
        """The end of the last completed window."""
        value = get_state(self._db, store_id, FINANCES, _CURSOR)
        return from_db_time(value) if value else None

    def write_page(
        self,
        store_id: int,
        rows: Sequence[FinanceRow],
        *,
        at: datetime,
        cursor: datetime | None = None,
    ) -> PageCounts:
        """Upsert one page; with `cursor` move the cursor forward, in the same transaction."""
        store = self._db.store_name(store_id)
        values = [(store_id, store, *row, at) for row in rows]
        with self._db.store_transaction(store_id) as tx:
            added, updated = upsert(tx, TABLE, COLUMNS, KEY, values)
            if cursor is not None:
                current = get_state(self._db, store_id, FINANCES, _CURSOR, tx)
                if current is None or from_db_time(current) < cursor:
                    put_state(tx, store_id, FINANCES, _CURSOR, to_db_time(cursor), at)
        return PageCounts(added, updated)

    # --- reads for `data` and `export` ------------------------------------------------------------

    def figures(self, store_id: int) -> tuple[int, str | None]:
        """Rows held and the newest postedDate."""
        return store_figures(self._db, TABLE, "postedDate", "posted_date", store_id)

    def export(
        self, store_id: int, since: str | None, size: int
    ) -> Iterator[list[tuple[Any, ...]]]:
        """The store's transactions by posted date, `size` at a time; amounts as exact text."""
        return store_export(
            self._db,
            TABLE,
            _EXPORT_SQL,
            since_expr="posted_date",
            order="posted_date, transaction_id",
            store_id=store_id,
            since=since,
            size=size,
        )


def _export_sql(column: str) -> str:
    if column == "posted_date":
        return "raw->>'postedDate'"  # as Amazon wrote it, as SQLite shows it
    if column == "synced_at":
        return db_time(column)
    if column == "total_amount":
        return "total_amount::text"
    return column


_EXPORT_SQL = tuple(_export_sql(c) for c in EXPORT_COLUMNS)
