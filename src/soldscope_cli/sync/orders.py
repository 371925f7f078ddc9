"""Orders: GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL in last-update windows of at
most 30 days, one row per order line, upserted by (order, item key); how a line is read is
sync/order_rows.py's. https://developer-docs.amazon.com/sp-api/docs/report-type-values-order
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from soldscope_cli.datasets.orders import NAME
from soldscope_cli.sync import windowed
from soldscope_cli.sync.base import DatasetJob, DatasetOutcome
from soldscope_cli.sync.order_rows import LineParser, OrderRows
from soldscope_cli.sync.reports import Requested
from soldscope_cli.sync.values import legacy_encoding_of
from soldscope_cli.sync.windowed import RowParser, WindowedReport, Windows

REPORT_TYPE = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL"
# Amazon: "the maximum date range is 30 days" for the orders reports (report-type-values-order).
WINDOWS = Windows(
    max_span=timedelta(days=30),
    first_run=timedelta(days=30),
    # Amazon's order data trails a few minutes; a window ending earlier misses nothing it
    # would list later (a later update lands in a later window).
    lag=timedelta(minutes=5),
    min_tail=timedelta(minutes=15),
)


def parser(job: DatasetJob, report: Requested) -> RowParser:
    """The row parser of one report's document (the general reading)."""
    return LineParser(report.period.marketplace_ids[0])


def whole_rows(
    job: DatasetJob, report: Requested, start: tuple[Any, ...], synced_at: str
) -> OrderRows:
    """The reader and whole-row builder of one report's document (the fast reading)."""
    ids = report.period.marketplace_ids
    return OrderRows(start, ids[0], synced_at, legacy_encoding_of(ids))


ORDERS = WindowedReport(
    NAME, "orders", REPORT_TYPE, WINDOWS, parser, every_marketplace=True, whole_rows=whole_rows
)


def sync(job: DatasetJob) -> DatasetOutcome:
    """Resume in-flight windows, request the missing ones, then load each as it is done."""
    return windowed.sync(job, ORDERS)
