"""FBA customer returns: one row per returned unit (or line) received at a fulfillment center.
https://developer-docs.amazon.com/sp-api/docs/report-type-values-fba"""

from __future__ import annotations

from soldscope_cli.datasets.schema import Column, Kind, Table, store_columns, synced_at
from soldscope_cli.datasets.spec import Dataset, Limit

NAME = "returns"

# The buyer's own comment is not stored: it is free text that may name the buyer.
TABLE = Table(
    "fba_returns",
    (
        *store_columns(),
        Column("return_date", Kind.TIME, required=True),
        Column("order_id", required=True),
        Column("sku", required=True),
        Column("asin"),
        Column("fnsku"),
        Column("product_name"),
        Column("quantity", Kind.INT),
        Column("fulfillment_center_id"),
        Column("detailed_disposition"),
        Column("reason"),
        Column("status"),
        # "" when Amazon gives none: a key column is never NULL.
        Column("license_plate_number", required=True),
        synced_at(),
    ),
    key=("store_id", "order_id", "sku", "license_plate_number", "return_date"),
    indexes=(("store_id", "return_date"),),
    newest="return_date",
    since="return_date",
    order=("return_date", "order_id", "sku", "license_plate_number"),
    copy_order="return_date, order_id, sku, license_plate_number",
)

DATASET = Dataset(
    NAME,
    "Returns",
    ("fba-returns", "fba_returns"),
    "soldscope_cli.sync.returns",
    (TABLE,),
    cursor="the return-date windows loaded (whole days, each ≤ 30, up to the day before "
    "yesterday); reports in flight and FATAL answers are remembered across runs",
    # Amazon refreshes the report daily; the newest complete day is the day before yesterday.
    stale=Limit(4, "days"),
    watch=Limit(24, "hours"),
    reads=TABLE,
    migration="0610_returns",
    role="Amazon Fulfillment",
)
