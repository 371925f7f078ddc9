"""Orders: GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL in last-update windows of at
most 30 days, one row per order line, upserted by (order, item key).

The file names no order item in most marketplaces, so a line's `order_item_key` is its
`order-item-id` where the file has that column, else its SKU, with `#2`, `#3`... for a SKU that
comes back within the same order (Amazon writes a line per SKU and item status, an order's lines
together): re-reading an order in a later window then updates its lines instead of adding them.
Amounts are read in the number format of the line's marketplace (its sales channel,
"Amazon.de" → DE), else of the report's. Buyer and ship-to columns are never read.
https://developer-docs.amazon.com/sp-api/docs/report-type-values-order
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from soldscope_cli.amazon.marketplaces import BY_CODE
from soldscope_cli.datasets.orders import NAME
from soldscope_cli.sync import windowed
from soldscope_cli.sync.base import DatasetJob, DatasetOutcome
from soldscope_cli.sync.reports import Requested
from soldscope_cli.sync.values import amount_text_parser, parse_time
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

# The sales channel as the file writes it, by marketplace code.
_CHANNELS = {
    "amazon.com": "US",
    "amazon.ca": "CA",
    "amazon.com.mx": "MX",
    "amazon.com.br": "BR",
    "amazon.ie": "IE",
    "amazon.es": "ES",
    "amazon.co.uk": "UK",
    "amazon.fr": "FR",
    "amazon.com.be": "BE",
    "amazon.nl": "NL",
    "amazon.de": "DE",
    "amazon.it": "IT",
    "amazon.se": "SE",
    "amazon.co.za": "ZA",
    "amazon.pl": "PL",
    "amazon.eg": "EG",
    "amazon.com.tr": "TR",
    "amazon.sa": "SA",
    "amazon.ae": "AE",
    "amazon.in": "IN",
    "amazon.sg": "SG",
    "amazon.com.au": "AU",
    "amazon.co.jp": "JP",
}
SALES_CHANNELS: dict[str, str] = {
    channel: BY_CODE[code].marketplace_id for channel, code in _CHANNELS.items()
}


def marketplace_of(sales_channel: str, fallback: str) -> str:
    """The marketplace id a sales channel names ("Amazon.de"), else `fallback`."""
    return SALES_CHANNELS.get(sales_channel.strip().lower(), fallback)


def _int(text: str) -> int | None:
    value = text.strip()
    return int(value) if value else None


class LineParser:
    """Rows of one orders document (stateful: it numbers a SKU seen again within an order)."""

    def __init__(self, report_marketplace: str) -> None:
        self._fallback = report_marketplace
        self._amounts: dict[str, Callable[[str], str]] = {}
        self._order = ""
        self._seen: dict[str, int] = {}
        # The last text read per time column, and its time: an order's lines repeat its times.
        self._times: dict[str, tuple[str, datetime | None]] = {}

    def _time(self, record: Mapping[str, str], column: str) -> datetime | None:
        text = record[column]
        last = self._times.get(column)
        if last is not None and last[0] == text:
            return last[1]
        value = parse_time(text) if text.strip() else None
        self._times[column] = (text, value)
        return value

    def _amount(self, marketplace_id: str, text: str) -> str | None:
        if not text.strip():
            return None
        parse = self._amounts.get(marketplace_id)
        if parse is None:
            parse = self._amounts[marketplace_id] = amount_text_parser(marketplace_id)
        return parse(text)

    def _item_key(self, order_id: str, record: Mapping[str, str]) -> str:
        item_id = record.get("order-item-id", "").strip()
        if item_id:
            return item_id
        sku = record["sku"]
        if order_id != self._order:
            self._order, self._seen = order_id, {}
        seen = self._seen[sku] = self._seen.get(sku, 0) + 1
        return sku if seen == 1 else f"{sku}#{seen}"

    def __call__(self, record: Mapping[str, str]) -> tuple[Any, ...]:
        order_id = record["amazon-order-id"].strip()
        if not order_id:
            raise ValueError("no amazon-order-id")
        channel = record["sales-channel"]
        marketplace_id = marketplace_of(channel, self._fallback)
        item_price = self._amount(marketplace_id, record["item-price"])
        item_tax = self._amount(marketplace_id, record.get("item-tax", ""))
        shipping = self._amount(marketplace_id, record.get("shipping-price", ""))
        return (
            order_id,
            self._item_key(order_id, record),
            self._time(record, "purchase-date"),
            self._time(record, "last-updated-date"),
            record["order-status"] or None,
            record["fulfillment-channel"] or None,
            channel or None,
            marketplace_id,
            record["sku"] or None,
            record["asin"] or None,
            record.get("item-status") or None,
            _int(record["quantity"]),
            item_price,
            item_tax,
            shipping,
            record["currency"] or None,
        )


def parser(job: DatasetJob, report: Requested) -> RowParser:
    """The row parser of one report's document."""
    return LineParser(report.period.marketplace_ids[0])


ORDERS = WindowedReport(NAME, "orders", REPORT_TYPE, WINDOWS, parser, every_marketplace=True)


def sync(job: DatasetJob) -> DatasetOutcome:
    """Resume in-flight windows, request the missing ones, then load each as it is done."""
    return windowed.sync(job, ORDERS)
