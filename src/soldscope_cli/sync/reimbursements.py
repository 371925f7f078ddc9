"""FBA reimbursements: GET_FBA_REIMBURSEMENTS_DATA in approval-date windows of whole days (at
most 30), one row per line, upserted by (reimbursement id, SKU, FNSKU, condition).

A reimbursement can pay for several items: Amazon writes one line per item it reimburses, named
by its FNSKU and the condition it was reimbursed in, so the reimbursement id and SKU alone do not
tell a line apart. Amounts are read in the number format of the marketplace the report was
requested for (the store's first).
https://developer-docs.amazon.com/sp-api/docs/report-type-values-fba
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from soldscope_cli.datasets.reimbursements import NAME
from soldscope_cli.sync import windowed
from soldscope_cli.sync.base import DatasetJob, DatasetOutcome
from soldscope_cli.sync.reports import Requested
from soldscope_cli.sync.returns import WINDOWS
from soldscope_cli.sync.values import amount_parser, decimal_text, parse_time
from soldscope_cli.sync.windowed import RowParser, WindowedReport

REPORT_TYPE = "GET_FBA_REIMBURSEMENTS_DATA"


def _int(text: str) -> int | None:
    value = text.strip()
    return int(value) if value else None


class LineParser:
    """Rows of one reimbursements document, its amounts in one marketplace's number format."""

    def __init__(self, marketplace_id: str) -> None:
        self._parse: Callable[[str], Decimal] = amount_parser(marketplace_id)

    def _amount(self, text: str) -> str | None:
        return decimal_text(self._parse(text)) if text.strip() else None

    def __call__(self, record: Mapping[str, str]) -> tuple[Any, ...]:
        reimbursement_id = record["reimbursement-id"].strip()
        sku = record["sku"].strip()
        if not reimbursement_id:
            raise ValueError("no reimbursement-id")
        approval = record["approval-date"]
        return (
            reimbursement_id,
            parse_time(approval) if approval.strip() else None,
            record["case-id"] or None,
            record["amazon-order-id"] or None,
            record["reason"] or None,
            sku,
            record["fnsku"].strip(),
            record["asin"] or None,
            record.get("product-name") or None,
            record["condition"].strip(),
            record["currency-unit"] or None,
            self._amount(record["amount-per-unit"]),
            self._amount(record["amount-total"]),
            _int(record["quantity-reimbursed-cash"]),
            _int(record["quantity-reimbursed-inventory"]),
            _int(record["quantity-reimbursed-total"]),
            record.get("original-reimbursement-id") or None,
            record.get("original-reimbursement-type") or None,
        )


def parser(job: DatasetJob, report: Requested) -> RowParser:
    """The row parser of one report's document."""
    return LineParser(report.period.marketplace_ids[0])


REIMBURSEMENTS = WindowedReport(
    NAME, "reimbursements", REPORT_TYPE, WINDOWS, parser, every_marketplace=False
)


def sync(job: DatasetJob) -> DatasetOutcome:
    """Resume in-flight windows, request the missing ones, then load each as it is done."""
    return windowed.sync(job, REIMBURSEMENTS)
