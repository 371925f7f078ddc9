"""inventory_summaries: pages of FBA inventory, their cursors, and the full pull's reconciliation."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from soldscope_cli.datasets.inventory import TABLE
from soldscope_cli.db.model import INVENTORY, InventoryRow, PageCounts, from_db_time, to_db_time
from soldscope_cli.db.tables.base import Engine
from soldscope_cli.db.tables.keyed import KeyedTable
from soldscope_cli.db.tables.sync_state import get_state, put_state

_CURSOR = "cursor:"
_FULL = "full:"


class InventoryTable(KeyedTable):
    """FBA inventory summaries of every store, one row per (store, marketplace, SKU)."""

    def __init__(self, db: Engine) -> None:
        super().__init__(db, TABLE, INVENTORY)

    def cursor(self, store_id: int, marketplace_id: str) -> datetime | None:
        """Where the next incremental pull of this marketplace starts."""
        with self._db.reading() as tx:
            value = get_state(tx, store_id, INVENTORY, _CURSOR + marketplace_id)
        return from_db_time(value) if value else None

    def last_full_pull(self, store_id: int, marketplace_id: str) -> datetime | None:
        """When the last complete full pull of this marketplace started."""
        with self._db.reading() as tx:
            value = get_state(tx, store_id, INVENTORY, _FULL + marketplace_id)
        return from_db_time(value) if value else None

    def begin_full_pull(self) -> None:
        """Start remembering the SKUs this thread's full pull sees.

        A temp table lives on this thread's connection only and vanishes with it if the pull dies.
        """
        with self._db.writing() as tx:
            tx.execute("CREATE TEMP TABLE IF NOT EXISTS inventory_seen (sku TEXT PRIMARY KEY)")
            tx.execute("DELETE FROM inventory_seen")

    def write_page(
        self,
        store_id: int,
        marketplace_id: str,
        rows: Sequence[InventoryRow],
        *,
        at: datetime,
        full: bool = False,
        cursor: datetime | None = None,
        full_pull_started: datetime | None = None,
    ) -> PageCounts:
        """Upsert one page in one transaction, with what the page completes.

        `cursor` (given with a pull's last page) is stored with the rows it covers. With
        `full_pull_started` (the last page of a full pull begun by begin_full_pull) the SKUs the
        pull did not see are deleted, and the pull's time recorded, in the same transaction.
        """
        values = self.table_rows(store_id, rows, at, marketplace_id=marketplace_id)
        removed = 0
        with self._db.store_transaction(store_id) as tx:
            added, updated = self.upsert(tx, values)
            if full:
                # No CREATE here: on a session that never began this pull the insert fails,
                # rather than a fresh empty table making the last page delete every SKU.
                tx.executemany(
                    "INSERT INTO inventory_seen (sku) VALUES (?) ON CONFLICT DO NOTHING",
                    [(row.seller_sku,) for row in rows],
                )
            if cursor is not None:
                put_state(tx, store_id, INVENTORY, _CURSOR + marketplace_id, to_db_time(cursor), at)
            if full_pull_started is not None:
                removed = tx.count(
                    f"DELETE FROM {TABLE.name} WHERE store_id = ? AND marketplace_id = ?"  # noqa: S608
                    " AND seller_sku NOT IN (SELECT sku FROM inventory_seen)",
                    (store_id, marketplace_id),
                )
                put_state(
                    tx,
                    store_id,
                    INVENTORY,
                    _FULL + marketplace_id,
                    to_db_time(full_pull_started),
                    at,
                )
        return PageCounts(added, updated, removed)


EXPORT_COLUMNS = tuple(c.name for c in TABLE.export_columns)
