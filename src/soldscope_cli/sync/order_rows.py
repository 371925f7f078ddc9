"""Order lines as table rows: the orders flat file read as lists of fields and each line's values
read, in the parser process for a big file (sync/parser_process.py) while the sync only writes.

The file names no order item in most marketplaces, so a line's `order_item_key` is its
`order-item-id` where the file has that column, else its SKU, with `#2`, `#3`... for a SKU that
comes back within the same order (Amazon writes a line per SKU and item status, an order's lines
together): re-reading an order in a later window then updates its lines instead of adding them.
Amounts are read in the number format of the line's marketplace (its sales channel,
"Amazon.de" → DE), else of the report's. Buyer and ship-to columns are never read.

No sync lifecycle and no HTTP stack here: the parser process starts with this module alone.
https://developer-docs.amazon.com/sp-api/docs/report-type-values-order
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any

from soldscope_cli.amazon.marketplaces import BY_CODE
from soldscope_cli.db.model import to_db_time
from soldscope_cli.sync.document import BadLines, ByteStream, Rows, WithNul, flat_file_lines
from soldscope_cli.sync.fast_values import stored_time_text
from soldscope_cli.sync.values import amount_text_parser, parse_time

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
# Columns every line is read from; a file without one of them has each line rejected for it.
REQUIRED = (
    "amazon-order-id",
    "purchase-date",
    "last-updated-date",
    "order-status",
    "fulfillment-channel",
    "sales-channel",
    "sku",
    "asin",
    "quantity",
    "item-price",
    "currency",
)
OPTIONAL = ("order-item-id", "item-status", "item-tax", "shipping-price")


def marketplace_of(sales_channel: str, fallback: str) -> str:
    """The marketplace id a sales channel names ("Amazon.de"), else `fallback`."""
    return SALES_CHANNELS.get(sales_channel.strip().lower(), fallback)


def _int(text: str) -> int | None:
    value = text.strip()
    return int(value) if value else None


class LineParser:
    """One {column: text} record as a row in the table's row_columns order, times as datetimes
    (stateful: it numbers a SKU seen again within an order). The general reading, which OrderRows
    gives the same result as."""

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

    def amount(self, marketplace_id: str, text: str) -> str | None:
        if not text.strip():
            return None
        parse = self._amounts.get(marketplace_id)
        if parse is None:
            parse = self._amounts[marketplace_id] = amount_text_parser(marketplace_id)
        return parse(text)

    def item_key(self, order_id: str, item_id: str, sku: str) -> str:
        item_id = item_id.strip()
        if item_id:
            return item_id
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
        item_price = self.amount(marketplace_id, record["item-price"])
        item_tax = self.amount(marketplace_id, record.get("item-tax", ""))
        shipping = self.amount(marketplace_id, record.get("shipping-price", ""))
        return (
            order_id,
            self.item_key(order_id, record.get("order-item-id", ""), record["sku"]),
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


class OrderRows:
    """An orders flat file read and built into whole table rows (the store's id and name, the
    line's values with times as the database stores them, the sync time): the reader and the
    picklable row builder of a load, with the lines it rejects counted in `bad_lines`.

    Lines are lists of fields, picked by the header's positions, times converted once per
    distinct text: what LineParser gives, at a fraction of its cost. A file without one of the
    REQUIRED columns is read the general way, each line rejected for it as LineParser would."""

    def __init__(
        self, start: tuple[Any, ...], report_marketplace: str, synced_at: str, encoding: str
    ) -> None:
        self._start = start
        self._end = (synced_at,)
        self._fallback = report_marketplace
        self._encoding = encoding
        self._general = LineParser(report_marketplace)
        self._columns: list[str] | None = None
        self._fast = False
        # Where each REQUIRED and OPTIONAL column is in a line (-1: the file has no such column).
        self._required: tuple[int, ...] = ()
        self._optional: tuple[int, ...] = ()
        self._markets: dict[str, str] = {}
        # Per time column, the last text and its stored text: an order's lines repeat its times.
        self._purchase: tuple[str, str | None] = ("", None)
        self._updated: tuple[str, str | None] = ("", None)
        self._line = 1  # the column names'
        self.bad_lines = BadLines()

    def records(self, stream: ByteStream, bad: BadLines) -> Iterator[list[str]]:
        # A Japanese store's lines that are not UTF-8 are Shift_JIS, not Windows-1252.
        return flat_file_lines(stream, "utf-8", bad, self._encoding)

    def __call__(self, records: list[Any]) -> Rows:
        if self._columns is None and records:
            self._columns = list(records[0])
            at = {name: i for i, name in enumerate(self._columns)}
            self._fast = all(name in at for name in REQUIRED)
            self._required = tuple(at.get(name, -1) for name in REQUIRED)
            self._optional = tuple(at.get(name, -1) for name in OPTIONAL)
            records = records[1:]
        fast = self._fast
        out: Rows = []
        for fields in records:
            self._line += 1
            try:
                if fast and type(fields) is list:
                    out.append(self._row(fields))
                else:
                    out.append(self._general_row(fields))
            except (ValueError, KeyError) as exc:
                why = f"no {exc} column" if isinstance(exc, KeyError) else str(exc)
                self.bad_lines.add(self._line, why)
        return out

    def _row(self, fields: list[str]) -> tuple[Any, ...]:
        order_at, purchase_at, updated_at, status_at, fulfillment_at, sales_at, sku_at, asin_at = (
            self._required[:8]
        )
        quantity_at, price_at, currency_at = self._required[8:]
        item_at, item_status_at, tax_at, shipping_at = self._optional
        order_id = fields[order_at].strip()
        if not order_id:
            raise ValueError("no amazon-order-id")
        sales_channel = fields[sales_at]
        marketplace_id = self._markets.get(sales_channel)
        if marketplace_id is None:
            marketplace_id = marketplace_of(sales_channel, self._fallback)
            self._markets[sales_channel] = marketplace_id
        # In LineParser's order, so a line rejected half way has had the same effects (a SKU
        # numbered or not): amounts, the item key, times, the quantity.
        amount = self._general.amount
        price = amount(marketplace_id, fields[price_at])
        tax = amount(marketplace_id, fields[tax_at] if tax_at >= 0 else "")
        shipping = amount(marketplace_id, fields[shipping_at] if shipping_at >= 0 else "")
        sku = fields[sku_at]
        item_key = self._general.item_key(order_id, fields[item_at] if item_at >= 0 else "", sku)
        purchase = fields[purchase_at]
        if purchase != self._purchase[0]:
            self._purchase = (purchase, stored_time_text(purchase))
        updated = fields[updated_at]
        if updated != self._updated[0]:
            self._updated = (updated, stored_time_text(updated))
        quantity = _int(fields[quantity_at])
        return (
            *self._start,
            order_id,
            item_key,
            self._purchase[1],
            self._updated[1],
            fields[status_at] or None,
            fields[fulfillment_at] or None,
            sales_channel or None,
            marketplace_id,
            sku or None,
            fields[asin_at] or None,
            (fields[item_status_at] if item_status_at >= 0 else "") or None,
            quantity,
            price,
            tax,
            shipping,
            fields[currency_at] or None,
            *self._end,
        )

    def _general_row(self, fields: list[str]) -> tuple[Any, ...]:
        """A line the fast path does not take (a missing column, a U+0000), read by LineParser;
        U+0000 removed from its text afterwards, as the database would have it."""
        assert self._columns is not None
        row = self._general(dict(zip(self._columns, fields, strict=True)))
        values = [to_db_time(v) if isinstance(v, datetime) else v for v in row]
        if isinstance(fields, WithNul):
            values = [v.replace("\x00", "") if isinstance(v, str) else v for v in values]
        return (*self._start, *values, *self._end)
