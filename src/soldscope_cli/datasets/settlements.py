"""Settlements: every V2 settlement report Amazon lists, one row per line of its flat file.

Amazon generates a settlement report about every 14 days and lists it for 90 days; soldscope
loads each one once, whole, in one transaction. Every row carries its settlement's header
(dates, total, currency), which the file writes on its first line only.
https://developer-docs.amazon.com/sp-api/docs/report-type-values-settlement (FACTS.md §8)
"""

from __future__ import annotations

from soldscope_cli.datasets.schema import Column, Kind, Table, store_columns, synced_at
from soldscope_cli.datasets.spec import Dataset, Limit

NAME = "settlements"

# The file's columns, as the stored row names them (the export's names after `store`).
LINE_FIELDS = (
    ("transaction_type", "transaction-type", Kind.TEXT),
    ("order_id", "order-id", Kind.TEXT),
    ("merchant_order_id", "merchant-order-id", Kind.TEXT),
    ("adjustment_id", "adjustment-id", Kind.TEXT),
    ("shipment_id", "shipment-id", Kind.TEXT),
    ("marketplace_name", "marketplace-name", Kind.TEXT),
    ("amount_type", "amount-type", Kind.TEXT),
    ("amount_description", "amount-description", Kind.TEXT),
    ("amount", "amount", Kind.DECIMAL),
    ("fulfillment_id", "fulfillment-id", Kind.TEXT),
    ("posted_at", "posted-date-time", Kind.TIME),
    ("order_item_code", "order-item-code", Kind.TEXT),
    ("merchant_order_item_id", "merchant-order-item-id", Kind.TEXT),
    ("merchant_adjustment_item_id", "merchant-adjustment-item-id", Kind.TEXT),
    ("sku", "sku", Kind.TEXT),
    ("quantity_purchased", "quantity-purchased", Kind.INT),
    ("promotion_id", "promotion-id", Kind.TEXT),
)

HEADER_COLUMNS = (
    Column("settlement_id", required=True),
    Column("report_id", required=True),
    Column("marketplace_id"),
    Column("settlement_start", Kind.TIME),
    Column("settlement_end", Kind.TIME),
    Column("deposit_date", Kind.TIME),
    Column("total_amount", Kind.DECIMAL),
    Column("currency"),
)

LINES = Table(
    "settlement_lines",
    (
        *store_columns(),
        # The settlement's header, the same on each of its rows ...
        *HEADER_COLUMNS,
        # ... then the line: its place in the document (the header line is 1) and its fields.
        Column("line", Kind.INT, required=True),
        *(Column(name, kind) for name, _, kind in LINE_FIELDS),
        synced_at(),
    ),
    # The key is the exactly-once guard: a settlement's first line is written first, so a second
    # loader of the same settlement (another run, another host) finds it taken and stops.
    key=("store_id", "settlement_id", "line"),
    indexes=(("store_id", "report_id"), ("store_id", "settlement_end")),
    newest="settlement_end",
    since="settlement_end",
    order=("settlement_end", "settlement_id", "line"),
    copy_order="settlement_id, line",
)

DATASET = Dataset(
    NAME,
    "Settlements",
    ("settlement", "settlement-reports"),
    "soldscope_cli.sync.settlements",
    (LINES,),
    cursor="none: every settlement report getReports lists (the last 90 days) that is not "
    "loaded yet is loaded whole; the last successful listing is remembered for the alert",
    # Amazon settles every 14 days: three weeks without a new one means a settlement is missing.
    stale=Limit(21, "days"),
    watch=Limit(24, "hours"),
    reads=LINES,
    migration="0530_settlements",
    role="Finance and Accounting",
    stale_by_newest=True,
    # getReports lists settlements for 90 days: a listing 60 days old leaves a month to react.
    listing_alert=Limit(60, "days"),
)
