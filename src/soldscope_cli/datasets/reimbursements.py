"""FBA reimbursements: one row per reimbursed item of each reimbursement Amazon approved.
https://developer-docs.amazon.com/sp-api/docs/report-type-values-fba"""

from __future__ import annotations

from soldscope_cli.datasets.schema import Column, Kind, Table, store_columns, synced_at
from soldscope_cli.datasets.spec import Dataset, Limit

NAME = "reimbursements"

TABLE = Table(
    "fba_reimbursements",
    (
        *store_columns(),
        Column("reimbursement_id", required=True),
        Column("approval_date", Kind.TIME),
        Column("case_id"),
        Column("amazon_order_id"),
        Column("reason"),
        Column("sku", required=True),
        # "" when Amazon gives none: key columns are never NULL.
        Column("fnsku", required=True),
        Column("asin"),
        Column("product_name"),
        Column("condition", required=True),
        Column("currency"),
        Column("amount_per_unit", Kind.DECIMAL),
        Column("amount_total", Kind.DECIMAL),
        Column("quantity_reimbursed_cash", Kind.INT),
        Column("quantity_reimbursed_inventory", Kind.INT),
        Column("quantity_reimbursed_total", Kind.INT),
        Column("original_reimbursement_id"),
        Column("original_reimbursement_type"),
        synced_at(),
    ),
    key=("store_id", "reimbursement_id", "sku", "fnsku", "condition"),
    indexes=(("store_id", "approval_date"), ("store_id", "amazon_order_id")),
    newest="approval_date",
    since="approval_date",
    order=("approval_date", "reimbursement_id", "sku", "fnsku", "condition"),
    copy_order="reimbursement_id, sku, fnsku, condition",
)

DATASET = Dataset(
    NAME,
    "Reimbursements",
    ("reimbursement", "fba-reimbursements"),
    "soldscope_cli.sync.reimbursements",
    (TABLE,),
    cursor="the approval-date windows loaded (whole days, each ≤ 30, up to the day before "
    "yesterday); reports in flight and FATAL answers are remembered across runs",
    stale=Limit(4, "days"),
    watch=Limit(24, "hours"),
    reads=TABLE,
    migration="0620_reimbursements",
    role="Amazon Fulfillment",
)
