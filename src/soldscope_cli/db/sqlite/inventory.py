"""inventory_summaries: pages of FBA inventory, their cursors, and the full pull's reconciliation."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from soldscope_cli.db.model import INVENTORY, InventoryRow, PageCounts, from_db_time, to_db_time
from soldscope_cli.db.sqlite.state import get_state, put_state, store_export, store_figures
from soldscope_cli.db.sqlite.upsert import upsert

if TYPE_CHECKING:
    from soldscope_cli.db.sqlite.state import Connections

TABLE = "inventory_summaries"
COLUMNS = ("store_id", "store", "marketplace_id", *InventoryRow._fields, "synced_at")
KEY = ("store_id", "marketplace_id", "seller_sku")
_CURSOR = "cursor:"
_FULL = "full:"


class InventoryTable:
    """FBA inventory summaries of every store, one row per (store, marketplace, SKU)."""

    def __init__(self, db: Connections) -> None:
        self._db = db

    def cursor(self, store_id: int, marketplace_id: str) -> datetime | None:
        """Where the next incremental pull of this marketplace starts."""
        value = get_state(self._db.connection(), store_id, INVENTORY, _CURSOR + marketplace_id)
        return from_db_time(value) if value else None

    def last_full_pull(self, store_id: int, marketplace_id: str) -> datetime | None:
        """When the last complete full pull of this marketplace started."""
        value = get_state(self._db.connection(), store_id, INVENTORY, _FULL + marketplace_id)
        return from_db_time(value) if value else None

    def begin_full_pull(self) -> None:
        """Start remembering the SKUs this thread's full pull sees.

        A temp table lives on this thread's connection only and vanishes with it if the pull dies.
        """
        conn = self._db.connection()
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS inventory_seen (sku TEXT PRIMARY KEY)")
        conn.execute("DELETE FROM temp.inventory_seen")

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
        store = self._db.store_name(store_id)
        synced_at = to_db_time(at)
        values = [(store_id, store, marketplace_id, *row, synced_at) for row in rows]
        removed = 0
        with self._db.store_transaction(store_id) as tx:
            added, updated = upsert(tx, TABLE, COLUMNS, KEY, values)
            if full:
                tx.executemany(
                    "INSERT OR IGNORE INTO temp.inventory_seen (sku) VALUES (?)",
                    [(row.seller_sku,) for row in rows],
                )
            if cursor is not None:
                put_state(tx, store_id, INVENTORY, _CURSOR + marketplace_id, to_db_time(cursor), at)
            if full_pull_started is not None:
                cur = tx.execute(
                    f"DELETE FROM {TABLE} WHERE store_id = ? AND marketplace_id = ?"  # noqa: S608
                    " AND seller_sku NOT IN (SELECT sku FROM temp.inventory_seen)",
                    (store_id, marketplace_id),
                )
                removed = max(cur.rowcount, 0)
                put_state(
                    tx,
                    store_id,
                    INVENTORY,
                    _FULL + marketplace_id,
                    to_db_time(full_pull_started),
                    at,
                )
        return PageCounts(added, updated, removed)

    # --- reads for `data` and `export` ------------------------------------------------------------

    def figures(self, store_id: int) -> tuple[int, str | None]:
        """Rows held and the newest lastUpdatedTime (index seeks on the store's prefix)."""
        return store_figures(self._db.connection(), TABLE, "last_updated_time", store_id)

    def export(
        self, store_id: int, since: str | None, size: int
    ) -> Iterator[list[tuple[Any, ...]]]:
        """The store's rows in key order, `size` at a time; since: lastUpdatedTime (else the
        time it was synced) at or after this UTC text."""
        return store_export(
            self._db.connection(),
            TABLE,
            EXPORT_COLUMNS,
            since_expr="COALESCE(last_updated_time, synced_at)",
            order="marketplace_id, seller_sku",
            store_id=store_id,
            since=since,
            size=size,
        )


EXPORT_COLUMNS = (
    "store",
    "marketplace_id",
    *(f for f in InventoryRow._fields if f != "raw"),
    "synced_at",
)
