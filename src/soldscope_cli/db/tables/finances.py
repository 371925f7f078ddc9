"""financial_transactions: pages of Finances transactions and the cursor that follows them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from soldscope_cli.datasets.finances import TABLE
from soldscope_cli.db.model import FINANCES, FinanceRow, PageCounts, from_db_time, to_db_time
from soldscope_cli.db.tables.base import Engine
from soldscope_cli.db.tables.keyed import KeyedTable
from soldscope_cli.db.tables.sync_state import get_state, put_state

_CURSOR = "cursor"


class FinancesTable(KeyedTable):
    """Financial transactions of every store, one row per (store, transaction id)."""

    def __init__(self, db: Engine) -> None:
        super().__init__(db, TABLE, FINANCES)

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
        values = self.table_rows(store_id, rows, at)
        with self._db.store_transaction(store_id) as tx:
            added, updated = self.upsert(tx, values)
            if cursor is not None:
                current = get_state(tx, store_id, FINANCES, _CURSOR)
                if current is None or from_db_time(current) < cursor:
                    put_state(tx, store_id, FINANCES, _CURSOR, to_db_time(cursor), at)
        return PageCounts(added, updated)


EXPORT_COLUMNS = tuple(c.name for c in TABLE.export_columns)
