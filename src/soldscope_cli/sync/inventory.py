"""FBA inventory: getInventorySummaries per marketplace into inventory_summaries.

The first pull of a marketplace is full; later ones pass startDateTime (changed summaries only).
https://developer-docs.amazon.com/sp-api/docs/fba-inventory-api-v1-reference (FACTS.md §7)
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from typing import Any

from soldscope_cli.amazon.spapi import SpapiBadRequest
from soldscope_cli.db import database as state
from soldscope_cli.sync.base import (
    INVENTORY,
    DatasetJob,
    DatasetOutcome,
    as_int,
    as_text,
    dig,
    log,
    raw_json,
    upsert,
)

TABLE = "inventory_summaries"
# Amazon may record a change a little after its lastUpdatedTime; re-reading this much of the past
# costs a few pages and never loses one.
SAFETY_MARGIN = timedelta(minutes=30)
# startDateTime may be at most 18 months back; an older cursor means a full pull instead.
MAX_LOOKBACK = timedelta(days=540)
CURSOR_PREFIX = "cursor:"
# Increments only report changed items, never removed ones: a full pull this often reconciles the
# table with Amazon (items it no longer lists are deleted with the pull's last page).
FULL_PULL_EVERY = timedelta(days=7)
FULL_PREFIX = "full:"

COLUMNS = (
    "store",
    "marketplace_id",
    "seller_sku",
    "asin",
    "fn_sku",
    "condition",
    "product_name",
    "total_quantity",
    "fulfillable_quantity",
    "inbound_working_quantity",
    "inbound_shipped_quantity",
    "inbound_receiving_quantity",
    "reserved_quantity",
    "researching_quantity",
    "unfulfillable_quantity",
    "last_updated_time",
    "raw",
    "synced_at",
)
KEY = ("store", "marketplace_id", "seller_sku")


def _migrate(conn: sqlite3.Connection) -> None:
    # Inside the migration transaction: executescript() would commit half a migration.
    state.execute_script(
        conn,
        """
        CREATE TABLE inventory_summaries (
            store TEXT NOT NULL,
            marketplace_id TEXT NOT NULL,
            seller_sku TEXT NOT NULL,
            asin TEXT,
            fn_sku TEXT,
            condition TEXT,
            product_name TEXT,
            total_quantity INTEGER,
            fulfillable_quantity INTEGER,
            inbound_working_quantity INTEGER,
            inbound_shipped_quantity INTEGER,
            inbound_receiving_quantity INTEGER,
            reserved_quantity INTEGER,
            researching_quantity INTEGER,
            unfulfillable_quantity INTEGER,
            last_updated_time TEXT,
            raw TEXT NOT NULL,
            synced_at TEXT NOT NULL,
            PRIMARY KEY (store, marketplace_id, seller_sku)
        );
        CREATE INDEX inventory_summaries_asin ON inventory_summaries (store, asin);
        """,
    )


state.register_migration("0100_inventory", _migrate)
if TABLE not in state.DATA_TABLES:
    state.DATA_TABLES.append(TABLE)


def row_of(store: str, marketplace_id: str, item: dict[str, Any], now: str) -> tuple[Any, ...]:
    """The table row of one InventorySummary (models/fbaInventory.json)."""
    details = item.get("inventoryDetails")
    return (
        store,
        marketplace_id,
        item.get("sellerSku"),
        as_text(item.get("asin")),
        as_text(item.get("fnSku")),
        as_text(item.get("condition")),
        as_text(item.get("productName")),
        as_int(item.get("totalQuantity")),
        as_int(dig(details, "fulfillableQuantity")) if details else None,
        as_int(dig(details, "inboundWorkingQuantity")) if details else None,
        as_int(dig(details, "inboundShippedQuantity")) if details else None,
        as_int(dig(details, "inboundReceivingQuantity")) if details else None,
        as_int(dig(details, "reservedQuantity", "totalReservedQuantity")) if details else None,
        as_int(dig(details, "researchingQuantity", "totalResearchingQuantity"))
        if details
        else None,
        as_int(dig(details, "unfulfillableQuantity", "totalUnfulfillableQuantity"))
        if details
        else None,
        as_text(item.get("lastUpdatedTime")),
        raw_json(item),
        now,
    )


def sync(job: DatasetJob) -> DatasetOutcome:
    """Pull every marketplace of the store; each marketplace's cursor moves only when it is done."""
    outcome = DatasetOutcome()
    for marketplace_id in job.marketplace_ids():
        _sync_marketplace(job, marketplace_id, outcome)
    return outcome


def _sync_marketplace(job: DatasetJob, marketplace_id: str, outcome: DatasetOutcome) -> None:
    key = CURSOR_PREFIX + marketplace_id
    started = job.clock()
    cursor_text = job.db.get_sync_state(job.name, INVENTORY, key)
    start: datetime | None = state.from_db_time(cursor_text) if cursor_text else None
    if start is not None and started - start > MAX_LOOKBACK:
        outcome.note(
            f"{marketplace_id}: last inventory pull is too old for an increment; full pull"
        )
        start = None
    last_full = job.db.get_sync_state(job.name, INVENTORY, FULL_PREFIX + marketplace_id)
    if start is not None and (
        last_full is None or started - state.from_db_time(last_full) > FULL_PULL_EVERY
    ):
        start = None  # the weekly full pull that finds removed items
    try:
        _pull(job, marketplace_id, start, started, outcome)
    except _TokenRejected:
        # nextToken lives 30 seconds; a page that was slow to arrive leaves an expired token.
        # Start the marketplace over once: upserts make the repeated pages harmless.
        log.info("%s %s: pagination restarted after a rejected nextToken", job.name, marketplace_id)
        try:
            _pull(job, marketplace_id, start, started, outcome)
        except _TokenRejected as exc:
            raise exc.error from None


class _TokenRejected(Exception):
    def __init__(self, error: SpapiBadRequest) -> None:
        super().__init__(str(error))
        self.error = error


def _pull(
    job: DatasetJob,
    marketplace_id: str,
    start: datetime | None,
    started: datetime,
    outcome: DatasetOutcome,
) -> None:
    kind = "full" if start is None else "changes"
    next_token: str | None = None
    page = 0
    if start is None:
        # What this full pull sees, so its last page can remove the rest. A temp table lives on
        # this thread's connection only and vanishes with it if the pull dies.
        conn = job.db.connection()
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS inventory_seen (sku TEXT PRIMARY KEY)")
        conn.execute("DELETE FROM temp.inventory_seen")
    while True:
        page += 1
        job.progress(f"inventory {marketplace_id} ({kind}) page {page}")
        try:
            body = job.client.get_inventory_summaries(
                marketplace_id, details=True, start_date_time=start, next_token=next_token
            )
        except SpapiBadRequest as exc:
            if next_token is None:
                raise
            raise _TokenRejected(exc) from exc
        items = dig(body, "payload", "inventorySummaries")
        token = dig(body, "pagination", "nextToken")
        next_token = token if isinstance(token, str) and token else None
        now = state.to_db_time(job.clock())
        rows = [
            row_of(job.name, marketplace_id, item, now)
            for item in (items if isinstance(items, list) else [])
            if isinstance(item, dict) and isinstance(item.get("sellerSku"), str)
        ]
        with job.db.transaction() as tx:
            added, updated = upsert(tx, TABLE, COLUMNS, KEY, rows)
            if start is None:
                tx.executemany(
                    "INSERT OR IGNORE INTO temp.inventory_seen (sku) VALUES (?)",
                    [(row[2],) for row in rows],
                )
            removed = 0
            if next_token is None:
                # The cursor goes in with the last page: every page before it is already stored.
                job.db.set_sync_state(
                    job.name,
                    INVENTORY,
                    CURSOR_PREFIX + marketplace_id,
                    state.to_db_time(started - SAFETY_MARGIN),
                    job.clock(),
                    tx,
                )
                if start is None:
                    removed = _remove_unlisted(job, marketplace_id, started, tx)
        outcome.count(added, updated)
        if removed:
            outcome.note(f"{marketplace_id}: {removed} item(s) no longer listed by Amazon removed")
        if next_token is None:
            return


def _remove_unlisted(
    job: DatasetJob, marketplace_id: str, started: datetime, tx: sqlite3.Connection
) -> int:
    """After a complete full pull: delete what it did not see, and remember when it ran."""
    cur = tx.execute(
        f"DELETE FROM {TABLE} WHERE store = ? AND marketplace_id = ?"  # noqa: S608
        " AND seller_sku NOT IN (SELECT sku FROM temp.inventory_seen)",
        (job.name, marketplace_id),
    )
    job.db.set_sync_state(
        job.name,
        INVENTORY,
        FULL_PREFIX + marketplace_id,
        state.to_db_time(started),
        job.clock(),
        tx,
    )
    return max(cur.rowcount, 0)
