"""financial_transactions: pages of Finances transactions and the cursor that follows them."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from soldscope_cli.db.model import FINANCES, FinanceRow, PageCounts, from_db_time, to_db_time
from soldscope_cli.db.sqlite.state import get_state, put_state, store_export, store_figures
from soldscope_cli.db.sqlite.upsert import upsert

if TYPE_CHECKING:
    from soldscope_cli.db.sqlite.state import Connections

TABLE = "financial_transactions"
COLUMNS = ("store_id", "store", *FinanceRow._fields, "synced_at")
KEY = ("store_id", "transaction_id")
_CURSOR = "cursor"


class FinancesTable:
    """Financial transactions of every store, one row per (store, transaction id)."""

    def __init__(self, db: Connections) -> None:
        self._db = db

    def cursor(self, store_id: int) -> datetime | None:
        """The end of the last completed window."""
        value = get_state(self._db.connection(), store_id, FINANCES, _CURSOR)
        return from_db_time(value) if value else None

    def write_page(
        self,
        store_id: int,
        rows: Sequence[FinanceRow],
        *,
        at: datetime,
        cursor: datetime | None = None,
    ) -> PageCounts:
        """Upsert one page; with `cursor` (a window's last page) move the cursor there, in the same
        transaction. The cursor only moves forward: a backfill behind it leaves it alone."""
        store = self._db.store_name(store_id)
        synced_at = to_db_time(at)
        values = [(store_id, store, *row, synced_at) for row in rows]
        with self._db.store_transaction(store_id) as tx:
            added, updated = upsert(tx, TABLE, COLUMNS, KEY, values)
            if cursor is not None:
                current = get_state(tx, store_id, FINANCES, _CURSOR)
                if current is None or from_db_time(current) < cursor:
                    put_state(tx, store_id, FINANCES, _CURSOR, to_db_time(cursor), at)
        return PageCounts(added, updated)

    # --- reads for `data` and `export` ------------------------------------------------------------

    def figures(self, store_id: int) -> tuple[int, str | None]:
        """Rows held and the newest postedDate (financial_transactions_posted covers both)."""
        return store_figures(self._db.connection(), TABLE, "posted_date", store_id)

    def export(
        self, store_id: int, since: str | None, size: int
    ) -> Iterator[list[tuple[Any, ...]]]:
        """The store's transactions by posted date, `size` at a time; amounts as stored text."""
        return store_export(
            self._db.connection(),
            TABLE,
            EXPORT_COLUMNS,
            since_expr="posted_date",
            order="posted_date, transaction_id",
            store_id=store_id,
            since=since,
            size=size,
        )


EXPORT_COLUMNS = ("store", *(f for f in FinanceRow._fields if f != "raw"), "synced_at")
