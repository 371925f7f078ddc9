"""inventory_summaries on PostgreSQL: pages of FBA inventory, their cursors, the full pull."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from soldscope_cli.db.model import INVENTORY, InventoryRow, PageCounts, from_db_time, to_db_time
from soldscope_cli.db.postgres.state import (
    db_time,
    get_state,
    put_state,
    store_export,
    store_figures,
    upsert,
)
from soldscope_cli.db.sqlite.inventory import COLUMNS, EXPORT_COLUMNS, KEY, TABLE

if TYPE_CHECKING:
    from soldscope_cli.db.postgres.state import Connections

_CURSOR = "cursor:"
_FULL = "full:"
# The SKUs a full pull saw, per thread (like SQLite's temp table on the thread's connection).
# TEMP: the session's own, gone with it if the pull dies.
_SEEN = "CREATE TEMP TABLE IF NOT EXISTS inventory_seen (sku text PRIMARY KEY)"


class InventoryTable:
    """FBA inventory summaries of every store, one row per (store, marketplace, SKU)."""

    def __init__(self, db: Connections) -> None:
        self._db = db
        self._local = threading.local()

    def cursor(self, store_id: int, marketplace_id: str) -> datetime | None:
        """Where the next incremental pull of this marketplace starts."""
        value = get_state(self._db, store_id, INVENTORY, _CURSOR + marketplace_id)
        return from_db_time(value) if value else None

    def last_full_pull(self, store_id: int, marketplace_id: str) -> datetime | None:
        """When the last complete full pull of this marketplace started."""
        value = get_state(self._db, store_id, INVENTORY, _FULL + marketplace_id)
        return from_db_time(value) if value else None

    def begin_full_pull(self) -> None:
        """Start remembering the SKUs this thread's full pull sees (in a session temp table)."""
        with self._db.transaction() as tx:
            tx.execute(_SEEN)
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
        """Upsert one page in one transaction, with the cursor or the full pull it completes."""
        store = self._db.store_name(store_id)
        values = [(store_id, store, marketplace_id, *row, at) for row in rows]
        removed = 0
        with self._db.store_transaction(store_id) as tx:
            added, updated = upsert(tx, TABLE, COLUMNS, KEY, values)
            if full:
                # No CREATE here: on a session that never began this pull the insert fails,
                # rather than a fresh empty table making the last page delete every SKU.
                with tx.cursor() as cur:
                    cur.executemany(
                        "INSERT INTO inventory_seen (sku) VALUES (%s) ON CONFLICT DO NOTHING",
                        [(row.seller_sku,) for row in rows],
                    )
            if cursor is not None:
                put_state(tx, store_id, INVENTORY, _CURSOR + marketplace_id, to_db_time(cursor), at)
            if full_pull_started is not None:
                cur = tx.execute(
                    f"DELETE FROM {TABLE} WHERE store_id = %s AND marketplace_id = %s"  # noqa: S608
                    " AND seller_sku NOT IN (SELECT sku FROM inventory_seen)",
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
        """Rows held and the newest lastUpdatedTime."""
        return store_figures(self._db, TABLE, "lastUpdatedTime", "last_updated_time", store_id)

    def export(
        self, store_id: int, since: str | None, size: int
    ) -> Iterator[list[tuple[Any, ...]]]:
        """The store's rows in key order, `size` at a time, in the text SQLite stores."""
        return store_export(
            self._db,
            TABLE,
            _EXPORT_SQL,
            since_expr="COALESCE(last_updated_time, synced_at)",
            order="marketplace_id, seller_sku",
            store_id=store_id,
            since=since,
            size=size,
        )


# Amazon's time as Amazon wrote it (raw keeps it), ours as to_db_time writes it: SQLite's text.
_EXPORT_SQL = tuple(
    "raw->>'lastUpdatedTime'" if c == "last_updated_time" else db_time(c) if c == "synced_at" else c
    for c in EXPORT_COLUMNS
)
