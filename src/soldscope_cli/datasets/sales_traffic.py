"""Sales & traffic: Data Kiosk's analytics_salesAndTraffic_2024_04_24, one row per store,
marketplace and day, and one per store, marketplace, day and child ASIN.
https://developer-docs.amazon.com/sp-api/docs/data-kiosk-workflow-guide (FACTS.md §8)"""

from __future__ import annotations

from soldscope_cli.datasets.schema import Column, Kind, Table, raw, store_columns, synced_at
from soldscope_cli.datasets.spec import Dataset, Limit, Option

NAME = "sales-traffic"

# Amazon's query dates start at most two years back.
MAX_DAYS = 730


def _figures() -> tuple[Column, ...]:
    return (
        Column("ordered_product_sales", Kind.DECIMAL),
        Column("currency"),
        Column("units_ordered", Kind.INT),
        Column("total_order_items", Kind.INT),
        Column("page_views", Kind.INT),
        Column("sessions", Kind.INT),
        Column("buy_box_percentage", Kind.REAL),
        Column("unit_session_percentage", Kind.REAL),
    )


BY_DATE = Table(
    "sales_traffic_by_date",
    (
        *store_columns(),
        Column("marketplace", required=True),
        Column("date", Kind.DATE, required=True),
        *_figures(),
        raw(),
        synced_at(),
    ),
    key=("store_id", "marketplace", "date"),
    indexes=(("store_id", "date"),),
    newest="date",
    since="date",
    order=("date", "marketplace"),
    copy_order="marketplace, date",
)
BY_ASIN = Table(
    "sales_traffic_by_asin",
    (
        *store_columns(),
        Column("marketplace", required=True),
        Column("date", Kind.DATE, required=True),
        Column("child_asin", required=True),
        Column("parent_asin"),
        *_figures(),
        raw(),
        synced_at(),
    ),
    key=("store_id", "marketplace", "date", "child_asin"),
    indexes=(("store_id", "date"),),
    newest="date",
    since="date",
    order=("date", "marketplace", "child_asin"),
    copy_order="marketplace, date, child_asin",
)

DATASET = Dataset(
    NAME,
    "Sales & traffic",
    ("sales_traffic", "sales-and-traffic", "st"),
    "soldscope_cli.sync.sales_traffic",
    (BY_ASIN, BY_DATE),
    cursor="the newest day loaded; each run asks again for the last 3 days (Amazon restates "
    "them for 72 hours) and a --since backfill moves the oldest day loaded back",
    # Daily figures, restated for three days: a day without a sync leaves yesterday missing.
    stale=Limit(48, "hours"),
    watch=Limit(24, "hours"),
    options=(
        Option(
            "st_queries_per_hour",
            "--st-queries-per-hour",
            default=60,
            minimum=1,
            maximum=360_000,
            help="Data Kiosk createQuery calls the whole fleet may make per hour (Amazon's "
            "default: 60, a burst of 15); shared by every run and host.",
            hint="raise it only if Amazon granted the app a higher Data Kiosk quota",
        ),
    ),
    reads=BY_DATE,
    migration="0540_sales_traffic",
    role="Brand Analytics",
)
