"""Orders: one row per order line of the orders flat file by last update, upserted by order and
item. https://developer-docs.amazon.com/sp-api/docs/report-type-values-order"""

from __future__ import annotations

from soldscope_cli.datasets.schema import Column, Kind, Table, store_columns, synced_at
from soldscope_cli.datasets.spec import Dataset, Limit

NAME = "orders"

# No buyer name, e-mail, phone or address column, and no raw object that would keep them: the
# file's ship-to columns are read past (docs/orders.md).
TABLE = Table(
    "order_items",
    (
        *store_columns(),
        Column("amazon_order_id", required=True),
        Column("order_item_key", required=True),
        Column("purchase_date", Kind.TIME),
        Column("last_updated_date", Kind.TIME),
        Column("order_status"),
        Column("fulfillment_channel"),
        Column("sales_channel"),
        Column("marketplace_id"),
        Column("sku"),
        Column("asin"),
        Column("item_status"),
        Column("quantity", Kind.INT),
        Column("item_price", Kind.DECIMAL),
        Column("item_tax", Kind.DECIMAL),
        Column("shipping_price", Kind.DECIMAL),
        Column("currency"),
        synced_at(),
    ),
    key=("store_id", "amazon_order_id", "order_item_key"),
    newest="last_updated_date",
    # Kept as rows are written rather than read through an index on (store_id,
    # last_updated_date), which cost a 1,000,000-line load a third of its upsert.
    newest_mark=True,
    since="last_updated_date",
    order=("purchase_date", "amazon_order_id", "order_item_key"),
    copy_order="amazon_order_id, order_item_key",
    # The file lists an order whole, a line per SKU and item status: re-read, its lines replace
    # the stored ones (two lines of one SKU that became one must not count twice).
    whole_group="amazon_order_id",
)

DATASET = Dataset(
    NAME,
    "Orders",
    ("order",),
    "soldscope_cli.sync.orders",
    (TABLE,),
    cursor="the last-update windows loaded (each ≤ 30 days); the covered span moves only with "
    "a window's last rows; reports in flight and FATAL answers are remembered across runs",
    # Orders change all day; a daily cron that missed one run is still within the limit.
    stale=Limit(36, "hours"),
    watch=Limit(6, "hours"),
    reads=TABLE,
    migration="0600_orders",
    role="Inventory and Order Tracking",
)
