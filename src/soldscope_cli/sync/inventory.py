"""FBA inventory: getInventorySummaries per marketplace into inventory_summaries.

The first pull of a marketplace is full; later ones pass startDateTime (changed summaries only).
https://developer-docs.amazon.com/sp-api/docs/fba-inventory-api-v1-reference (FACTS.md §7)
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from soldscope_cli.amazon.spapi import SpapiBadRequest
from soldscope_cli.db.model import InventoryRow
from soldscope_cli.sync.base import DatasetJob, DatasetOutcome, as_int, as_text, dig, log, raw_json

# Amazon may record a change a little after its lastUpdatedTime; re-reading this much of the past
# costs a few pages and never loses one.
SAFETY_MARGIN = timedelta(minutes=30)
# startDateTime may be at most 18 months back; an older cursor means a full pull instead.
MAX_LOOKBACK = timedelta(days=540)
# Increments only report changed items, never removed ones: a full pull this often reconciles the
# table with Amazon (items it no longer lists are deleted with the pull's last page).
FULL_PULL_EVERY = timedelta(days=7)


def row_of(item: dict[str, Any]) -> InventoryRow:
    """The stored row of one InventorySummary (models/fbaInventory.json)."""
    details = item.get("inventoryDetails")
    return InventoryRow(
        item["sellerSku"],
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
    )


def sync(job: DatasetJob) -> DatasetOutcome:
    """Pull every marketplace of the store; each marketplace's cursor moves only when it is done."""
    outcome = DatasetOutcome()
    for marketplace_id in job.marketplace_ids():
        _sync_marketplace(job, marketplace_id, outcome)
    return outcome


def _sync_marketplace(job: DatasetJob, marketplace_id: str, outcome: DatasetOutcome) -> None:
    table = job.db.inventory
    started = job.clock()
    start = table.cursor(job.store_id, marketplace_id)
    if start is not None and started - start > MAX_LOOKBACK:
        outcome.note(
            f"{marketplace_id}: last inventory pull is too old for an increment; full pull"
        )
        start = None
    last_full = table.last_full_pull(job.store_id, marketplace_id)
    if start is not None and (last_full is None or started - last_full > FULL_PULL_EVERY):
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
    table = job.db.inventory
    next_token: str | None = None
    pages = job.pages(f"marketplace {marketplace_id}")
    if start is None:
        table.begin_full_pull()  # what this pull sees, so its last page can remove the rest
    while True:
        page = pages.turn()
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
        next_token = pages.follow(dig(body, "pagination", "nextToken"))
        rows = [
            row_of(item)
            for item in (items if isinstance(items, list) else [])
            if isinstance(item, dict) and isinstance(item.get("sellerSku"), str)
        ]
        last = next_token is None
        # The cursor goes in with the last page: every page before it is already stored. A full
        # pull's last page also deletes what the pull did not see, in the same transaction.
        counts = table.write_page(
            job.store_id,
            marketplace_id,
            rows,
            at=job.clock(),
            full=start is None,
            cursor=started - SAFETY_MARGIN if last else None,
            full_pull_started=started if last and start is None else None,
        )
        outcome.count(counts.added, counts.updated)
        if counts.removed:
            outcome.note(
                f"{marketplace_id}: {counts.removed} item(s) no longer listed by Amazon removed"
            )
        if last:
            return
