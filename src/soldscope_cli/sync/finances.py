"""Finances 2024-06-19 listTransactions into financial_transactions, in windows of ≤ 180 days.

https://developer-docs.amazon.com/sp-api/docs/finances-api-v2024-06-19-reference (FACTS.md §7)
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from typing import Any

from soldscope_cli.db import database as state
from soldscope_cli.sync.base import (
    FINANCES,
    DatasetJob,
    DatasetOutcome,
    as_number,
    as_text,
    dig,
    raw_json,
    upsert,
)

TABLE = "financial_transactions"
CURSOR = "cursor"
FIRST_RUN_DAYS = 30
# Amazon: postedAfter and postedBefore at most 180 days apart (wider gives an empty answer).
MAX_WINDOW = timedelta(days=180)
# Amazon: both bounds more than 2 minutes before the request. Keep clear of clock skew too.
NOT_AFTER = timedelta(minutes=5)
# Amazon posts some transactions late and turns DEFERRED ones into DEFERRED_RELEASED without a new
# posted date; re-reading the last day each run picks those up (upserts make it free of duplicates).
LOOKBACK = timedelta(days=1)

COLUMNS = (
    "store",
    "transaction_id",
    "transaction_type",
    "transaction_status",
    "description",
    "posted_date",
    "total_amount",
    "total_currency",
    "marketplace_id",
    "order_id",
    "financial_event_group_id",
    "raw",
    "synced_at",
)
KEY = ("store", "transaction_id")


def _migrate(conn: sqlite3.Connection) -> None:
    # Inside the migration transaction: executescript() would commit half a migration.
    state.execute_script(
        conn,
        """
        CREATE TABLE financial_transactions (
            store TEXT NOT NULL,
            transaction_id TEXT NOT NULL,
            transaction_type TEXT,
            transaction_status TEXT,
            description TEXT,
            posted_date TEXT,
            total_amount REAL,
            total_currency TEXT,
            marketplace_id TEXT,
            order_id TEXT,
            financial_event_group_id TEXT,
            raw TEXT NOT NULL,
            synced_at TEXT NOT NULL,
            PRIMARY KEY (store, transaction_id)
        );
        CREATE INDEX financial_transactions_posted ON financial_transactions (store, posted_date);
        """,
    )


state.register_migration("0110_finances", _migrate)
if TABLE not in state.DATA_TABLES:
    state.DATA_TABLES.append(TABLE)


def _related(item: dict[str, Any], name: str) -> str | None:
    related = item.get("relatedIdentifiers")
    if not isinstance(related, list):
        return None
    for entry in related:
        if isinstance(entry, dict) and entry.get("relatedIdentifierName") == name:
            return as_text(entry.get("relatedIdentifierValue"))
    return None


def row_of(store: str, item: dict[str, Any], now: str) -> tuple[Any, ...]:
    """The table row of one Transaction (models/finances_2024-06-19.json)."""
    marketplace = as_text(dig(item, "marketplaceDetails", "marketplaceId")) or as_text(
        dig(item, "sellingPartnerMetadata", "marketplaceId")
    )
    return (
        store,
        item.get("transactionId"),
        as_text(item.get("transactionType")),
        as_text(item.get("transactionStatus")),
        as_text(item.get("description")),
        as_text(item.get("postedDate")),
        as_number(dig(item, "totalAmount", "currencyAmount")),
        as_text(dig(item, "totalAmount", "currencyCode")),
        marketplace,
        _related(item, "ORDER_ID"),
        _related(item, "FINANCIAL_EVENT_GROUP_ID"),
        raw_json(item),
        now,
    )


def first_start(job: DatasetJob, now: datetime) -> datetime:
    """Where this run starts: the cursor minus the lookback (first run: 30 days back).

    --since moves the start earlier (a backfill) but never later: skipping past the cursor would
    leave a gap nobody asked for.
    """
    cursor = job.db.get_sync_state(job.name, FINANCES, CURSOR)
    if cursor:
        start = state.from_db_time(cursor) - LOOKBACK
    elif job.since is not None:
        return job.since
    else:
        start = now - timedelta(days=FIRST_RUN_DAYS)
    if job.since is not None and job.since < start:
        return job.since
    return start


def windows(start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """[start, end) cut into consecutive windows of at most 180 days."""
    out: list[tuple[datetime, datetime]] = []
    while start < end:
        stop = min(start + MAX_WINDOW, end)
        out.append((start, stop))
        start = stop
    return out


def sync(job: DatasetJob) -> DatasetOutcome:
    """Read every window up to 5 minutes ago; the cursor moves with each completed window."""
    outcome = DatasetOutcome()
    now = job.clock()
    end = now - NOT_AFTER
    start = first_start(job, now)
    for after, before in windows(start, end):
        _pull_window(job, after, before, outcome)
    return outcome


def _pull_window(
    job: DatasetJob, after: datetime, before: datetime, outcome: DatasetOutcome
) -> None:
    next_token: str | None = None
    page = 0
    while True:
        page += 1
        job.progress(f"finances {after:%Y-%m-%d}..{before:%Y-%m-%d} page {page}")
        body = job.client.list_transactions(
            posted_after=after, posted_before=before, next_token=next_token
        )
        items = dig(body, "payload", "transactions")
        token = dig(body, "payload", "nextToken")
        next_token = token if isinstance(token, str) and token else None
        now = state.to_db_time(job.clock())
        rows = [
            row_of(job.name, item, now)
            for item in (items if isinstance(items, list) else [])
            if isinstance(item, dict) and isinstance(item.get("transactionId"), str)
        ]
        with job.db.transaction() as tx:
            added, updated = upsert(tx, TABLE, COLUMNS, KEY, rows)
            if next_token is None:
                _advance_cursor(job, before, tx)
        outcome.count(added, updated)
        if next_token is None:
            return


def _advance_cursor(job: DatasetJob, before: datetime, tx: sqlite3.Connection) -> None:
    # A --since backfill reads windows behind the cursor: never move the cursor back.
    current = job.db.get_sync_state(job.name, FINANCES, CURSOR)
    if current is not None and state.from_db_time(current) >= before:
        return
    job.db.set_sync_state(job.name, FINANCES, CURSOR, state.to_db_time(before), job.clock(), tx)
