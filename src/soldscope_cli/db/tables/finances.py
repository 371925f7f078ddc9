"""financial_transactions: pages of Finances transactions and the cursor that follows them."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from soldscope_cli.datasets.schema import Column, Kind, Table, raw, store_columns, synced_at
from soldscope_cli.db import sql
from soldscope_cli.db.model import FINANCES, FinanceRow, PageCounts, from_db_time, to_db_time
from soldscope_cli.db.tables.base import Engine
from soldscope_cli.db.tables.sync_state import get_state, put_state

TABLE = Table(
    "financial_transactions",
    (
        *store_columns(),
        Column("transaction_id", required=True),
        Column("transaction_type"),
        Column("transaction_status"),
        Column("description"),
        Column("posted_date", Kind.AMAZON_TIME, raw_key="postedDate"),
        Column("total_amount", Kind.DECIMAL),
        Column("total_currency"),
        Column("marketplace_id"),
        Column("order_id"),
        Column("financial_event_group_id"),
        raw(),
        synced_at(),
    ),
    key=("store_id", "transaction_id"),
    indexes=(("store_id", "posted_date"),),
    newest="posted_date",
    since="posted_date",
    order=("posted_date", "transaction_id"),
    copy_order="transaction_id",
)
_CURSOR = "cursor"


class FinancesTable:
    """Financial transactions of every store, one row per (store, transaction id)."""

    def __init__(self, db: Engine) -> None:
        self._db = db

    def cursor(self, store_id: int) -> datetime | None:
        """The end of the last completed window."""
        with self._db.reading() as tx:
            value = get_state(tx, store_id, FINANCES, _CURSOR)
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
        stamp = self._db.dialect.param(at)
        values = [(store_id, store, *row, stamp) for row in rows]
        with self._db.store_transaction(store_id) as tx:
            added, updated = tx.d.upsert(tx, TABLE.name, TABLE.names, TABLE.key, values)
            if cursor is not None:
                current = get_state(tx, store_id, FINANCES, _CURSOR)
                if current is None or from_db_time(current) < cursor:
                    put_state(tx, store_id, FINANCES, _CURSOR, to_db_time(cursor), at)
        return PageCounts(added, updated)

    # --- reads for `data` and `export` ------------------------------------------------------------

    def figures(self, store_id: int) -> tuple[int, str | None]:
        """Rows held and the newest postedDate (financial_transactions_posted covers both)."""
        with self._db.reading() as tx:
            return sql.figures(tx, TABLE, store_id)

    def export(
        self, store_id: int, since: str | None, size: int
    ) -> Iterator[list[tuple[Any, ...]]]:
        """The store's transactions by posted date, `size` at a time; amounts as exact text."""
        return sql.export(self._db.session(), TABLE, store_id, since, size)


EXPORT_COLUMNS = tuple(c.name for c in TABLE.export_columns)
