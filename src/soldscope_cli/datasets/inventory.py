"""FBA inventory: one row per store, marketplace and SKU, pulled by change time and reconciled
against a full pull once a day. https://developer-docs.amazon.com/sp-api/docs/fba-inventory-api"""

from __future__ import annotations

from soldscope_cli.datasets.schema import Column, Kind, Table, raw, store_columns, synced_at
from soldscope_cli.datasets.spec import Dataset, Limit

NAME = "inventory"

_QUANTITIES = (
    "total_quantity",
    "fulfillable_quantity",
    "inbound_working_quantity",
    "inbound_shipped_quantity",
    "inbound_receiving_quantity",
    "reserved_quantity",
    "researching_quantity",
    "unfulfillable_quantity",
)

TABLE = Table(
    "inventory_summaries",
    (
        *store_columns(),
        Column("marketplace_id", required=True),
        Column("seller_sku", required=True),
        Column("asin"),
        Column("fn_sku"),
        Column("condition"),
        Column("product_name"),
        *(Column(name, Kind.INT) for name in _QUANTITIES),
        Column("last_updated_time", Kind.AMAZON_TIME, raw_key="lastUpdatedTime"),
        raw(),
        synced_at(),
    ),
    key=("store_id", "marketplace_id", "seller_sku"),
    indexes=(("store_id", "asin"), ("store_id", "last_updated_time")),
    newest="last_updated_time",
    since="COALESCE(last_updated_time, synced_at)",
    order=("marketplace_id", "seller_sku"),
    copy_order="marketplace_id, seller_sku",
)

DATASET = Dataset(
    NAME,
    "Inventory",
    (),
    "soldscope_cli.sync.inventory",
    (TABLE,),
    cursor="per marketplace: the newest lastUpdatedTime seen (startDateTime of the next pull); "
    "a full pull a day deletes the SKUs Amazon no longer lists",
    # A daily cron may miss a run's worth of drift; inventory moves all day.
    stale=Limit(36, "hours"),
    watch=Limit(6, "hours"),
    reads=TABLE,
)
