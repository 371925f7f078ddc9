"""FBA customer returns: GET_FBA_FULFILLMENT_CUSTOMER_RETURNS_DATA in return-date windows of
whole days (at most 30), one row per line, upserted by (order, SKU, license plate, return date).

A returned unit's license plate number identifies it at the fulfillment center; with the order,
SKU and return date it tells apart two units of one order returned apart, and a line Amazon
restates (its status or disposition moved on) updates the row it wrote before.
https://developer-docs.amazon.com/sp-api/docs/report-type-values-fba
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from soldscope_cli.datasets.returns import NAME
from soldscope_cli.sync import windowed
from soldscope_cli.sync.base import DatasetJob, DatasetOutcome
from soldscope_cli.sync.reports import Requested
from soldscope_cli.sync.values import parse_time
from soldscope_cli.sync.windowed import RowParser, WindowedReport, Windows

REPORT_TYPE = "GET_FBA_FULFILLMENT_CUSTOMER_RETURNS_DATA"
WINDOWS = Windows(
    # Amazon builds FBA reports over a date range; a month per request keeps each document small
    # and within what Amazon serves for the report (docs/returns.md).
    max_span=timedelta(days=30),
    first_run=timedelta(days=60),
    # The report is refreshed daily: the day before yesterday is the newest day it holds whole.
    lag=timedelta(days=1),
    min_tail=timedelta(days=1),
    whole_days=True,
)


def _int(text: str) -> int | None:
    value = text.strip()
    return int(value) if value else None


def row_of(record: Mapping[str, str]) -> tuple[Any, ...]:
    """The stored row of one line (the buyer's comment is not kept)."""
    order_id = record["order-id"].strip()
    sku = record["sku"].strip()
    if not order_id or not sku:
        raise ValueError("no order-id or sku")
    return (
        parse_time(record["return-date"]),
        order_id,
        sku,
        record["asin"] or None,
        record["fnsku"] or None,
        record.get("product-name") or None,
        _int(record["quantity"]),
        record["fulfillment-center-id"] or None,
        record["detailed-disposition"] or None,
        record["reason"] or None,
        record["status"] or None,
        record["license-plate-number"].strip(),
    )


def parser(job: DatasetJob, report: Requested) -> RowParser:
    """The row parser of one report's document (the same for every document)."""
    return row_of


RETURNS = WindowedReport(NAME, "returns", REPORT_TYPE, WINDOWS, parser, every_marketplace=False)


def sync(job: DatasetJob) -> DatasetOutcome:
    """Resume in-flight windows, request the missing ones, then load each as it is done."""
    return windowed.sync(job, RETURNS)
