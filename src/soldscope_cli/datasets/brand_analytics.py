"""Brand Analytics search terms: one WEEK report per marketplace and completed week, loaded out of
sight and published by the week's mark. https://developer-docs.amazon.com/sp-api/docs/report-type-values-analytics"""

from __future__ import annotations

from soldscope_cli.datasets.schema import Column, Kind, Table
from soldscope_cli.datasets.spec import Dataset, Limit, Option

NAME = "brand-analytics"

# A row is a plain tuple for speed (a NamedTuple per row costs ~10% of the load):
# (load_id, store_id, *SEARCH_TERM_FIELDS).
SEARCH_TERM_FIELDS = (
    "department_name",
    "search_term",
    "search_frequency_rank",
    "clicked_asin",
    "clicked_item_name",
    "click_share_rank",
    "click_share",
    "conversion_share",
)
_FIELD_KINDS = {
    "search_frequency_rank": Kind.INT,
    "click_share_rank": Kind.INT,
    "click_share": Kind.REAL,
    "conversion_share": Kind.REAL,
}

ROWS = Table(
    "ba_search_terms_rows",
    (
        Column("load_id", Kind.ID, required=True),
        Column("store_id", Kind.ID, required=True),
        *(Column(f, _FIELD_KINDS.get(f, Kind.TEXT)) for f in SEARCH_TERM_FIELDS),
    ),
    key=(),
    keeps_order=True,
)
WEEKS = Table(
    "ba_search_terms_weeks",
    (
        Column("store_id", Kind.ID, required=True),
        Column("marketplace_id", required=True),
        Column("week_start", Kind.DATE, required=True),
        Column("week_end", Kind.DATE, required=True),
        Column("report_id", required=True),
        Column("processing_status", required=True),
        Column("row_count", Kind.INT, required=True),
        Column("load_id", Kind.ID),
        Column("loaded_at", Kind.TIME, required=True),
    ),
    key=("store_id", "marketplace_id", "week_start"),
)
LOADS = Table(
    "ba_search_terms_loads",
    (
        Column("load_id", Kind.ID, required=True),
        Column("store_id", Kind.ID, required=True),
        Column("marketplace_id", required=True),
        Column("week_start", Kind.DATE, required=True),
        Column("report_id", required=True),
        Column("started_at", Kind.TIME, required=True),
    ),
    key=("load_id",),
)

# --since reaches further back than any number of weeks a first sync should load by itself.
MAX_WEEKS = 104

DATASET = Dataset(
    NAME,
    "Brand analytics",
    ("brand_analytics", "ba"),
    "soldscope_cli.sync.brand_analytics",
    (ROWS, WEEKS, LOADS),
    cursor="per marketplace: the weeks loaded (a week's mark); reports in flight and FATAL "
    "answers are remembered across runs",
    # A weekly report: its week plus Amazon's publication delay.
    stale=Limit(10, "days"),
    watch=Limit(24, "hours"),
    role="Brand Analytics",
    options=(
        Option(
            "ba_weeks",
            "--ba-weeks",
            default=4,
            minimum=1,
            maximum=MAX_WEEKS,
            help="Completed weeks of Brand Analytics a store's first sync loads.",
            hint="use --since DATE to reach further back",
        ),
    ),
)
