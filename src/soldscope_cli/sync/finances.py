"""Finances 2024-06-19 listTransactions into financial_transactions, in windows of ≤ 180 days.

https://developer-docs.amazon.com/sp-api/docs/finances-api-v2024-06-19-reference (FACTS.md §7)
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from soldscope_cli.db.model import FinanceRow
from soldscope_cli.sync.base import DatasetJob, DatasetOutcome, as_decimal, as_text, dig, raw_json

FIRST_RUN_DAYS = 30
# Amazon: postedAfter and postedBefore at most 180 days apart (wider gives an empty answer).
MAX_WINDOW = timedelta(days=180)
# Amazon: both bounds more than 2 minutes before the request. Keep clear of clock skew too.
NOT_AFTER = timedelta(minutes=5)
# Amazon posts some transactions late and turns DEFERRED ones into DEFERRED_RELEASED without a new
# posted date; re-reading the last day each run picks those up (upserts make it free of duplicates).
LOOKBACK = timedelta(days=1)


def _related(item: dict[str, Any], name: str) -> str | None:
    related = item.get("relatedIdentifiers")
    if not isinstance(related, list):
        return None
    for entry in related:
        if isinstance(entry, dict) and entry.get("relatedIdentifierName") == name:
            return as_text(entry.get("relatedIdentifierValue"))
    return None


def row_of(item: dict[str, Any]) -> FinanceRow:
    """The stored row of one Transaction (models/finances_2024-06-19.json)."""
    marketplace = as_text(dig(item, "marketplaceDetails", "marketplaceId")) or as_text(
        dig(item, "sellingPartnerMetadata", "marketplaceId")
    )
    return FinanceRow(
        item["transactionId"],
        as_text(item.get("transactionType")),
        as_text(item.get("transactionStatus")),
        as_text(item.get("description")),
        as_text(item.get("postedDate")),
        as_decimal(dig(item, "totalAmount", "currencyAmount")),
        as_text(dig(item, "totalAmount", "currencyCode")),
        marketplace,
        _related(item, "ORDER_ID"),
        _related(item, "FINANCIAL_EVENT_GROUP_ID"),
        raw_json(item),
    )


def first_start(job: DatasetJob, now: datetime) -> datetime:
    """Where this run starts: the cursor minus the lookback (first run: 30 days back).

    --since moves the start earlier (a backfill) but never later: skipping past the cursor would
    leave a gap nobody asked for.
    """
    cursor = job.db.finances.cursor(job.store_id)
    if cursor is not None:
        start = cursor - LOOKBACK
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
    pages = job.pages(f"transactions {after:%Y-%m-%d}..{before:%Y-%m-%d}")
    while True:
        page = pages.turn()
        job.progress(f"finances {after:%Y-%m-%d}..{before:%Y-%m-%d} page {page}")
        body = job.client.list_transactions(
            posted_after=after, posted_before=before, next_token=next_token
        )
        items = dig(body, "payload", "transactions")
        next_token = pages.follow(dig(body, "payload", "nextToken"))
        rows = [
            row_of(item)
            for item in (items if isinstance(items, list) else [])
            if isinstance(item, dict) and isinstance(item.get("transactionId"), str)
        ]
        # The window's last page moves the cursor to its end, in the transaction that stores it
        # (never backwards: a --since backfill reads windows behind the cursor).
        counts = job.db.finances.write_page(
            job.store_id, rows, at=job.clock(), cursor=before if next_token is None else None
        )
        outcome.count(counts.added, counts.updated)
        if next_token is None:
            return
