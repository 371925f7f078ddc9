"""Finance transactions: one row per store and transaction, pulled in posted-date windows.
https://developer-docs.amazon.com/sp-api/docs/finances-api-v2024-06-19-reference"""

from __future__ import annotations

from soldscope_cli.datasets.schema import Column, Kind, Table, raw, store_columns, synced_at
from soldscope_cli.datasets.spec import Dataset, Limit

NAME = "finances"

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

DATASET = Dataset(
    NAME,
    "Finances",
    ("finance",),
    "soldscope_cli.sync.finances",
    (TABLE,),
    cursor="the end of the last completed posted-date window; it only moves forward",
    # The Finances API posts with a lag of up to a day.
    stale=Limit(48, "hours"),
    watch=Limit(12, "hours"),
    reads=TABLE,
)
