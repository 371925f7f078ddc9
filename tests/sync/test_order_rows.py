"""Order lines read fast (OrderRows) are exactly what the general reading gives: LineParser over
{column: text} records, times converted, text scrubbed as the database stores it."""

from __future__ import annotations

import io
import random
from typing import Any

import pytest

from soldscope_cli.amazon.marketplaces import BY_CODE
from soldscope_cli.db.sql import scrub
from soldscope_cli.simulator.flat_reports import ORDER_COLUMNS, ORDERS, document_lines
from soldscope_cli.sync.document import BadLines, flat_file_lines, flat_file_records
from soldscope_cli.sync.order_rows import LineParser, OrderRows
from soldscope_cli.sync.windowed import ParsedLines

DE = BY_CODE["DE"].marketplace_id
START = (7, "acme-de")
SYNCED = "2026-12-01T00:00:00.000000Z"


def general(data: bytes, marketplace_id: str, encoding: str) -> tuple[list[Any], BadLines]:
    """What the sync stored before OrderRows: each record parsed, times as text, then the store's
    columns and the sync time around it and U+0000 removed from text."""
    bad = BadLines()
    parse = ParsedLines(LineParser(marketplace_id), (2, 3))
    rows = parse(list(flat_file_records(io.BytesIO(data), "utf-8", bad, encoding)))
    bad.merge(parse.bad_lines)
    return [(*START, *(scrub(v) for v in row), SYNCED) for row in rows], bad


def fast(data: bytes, marketplace_id: str, encoding: str, seed: int) -> tuple[list[Any], BadLines]:
    bad = BadLines()
    build = OrderRows(START, marketplace_id, SYNCED, encoding)
    lines = list(flat_file_lines(io.BytesIO(data), "utf-8", bad, encoding))
    rng = random.Random(seed)
    rows: list[Any] = []
    while lines:  # batches of any size, the column names in the first
        cut = rng.randrange(1, 200)
        rows += build(lines[:cut])
        lines = lines[cut:]
    bad.merge(build.bad_lines)
    return rows, bad


def document(markets: list[str], rows: int, extra: list[str]) -> bytes:
    ids = [BY_CODE[m].marketplace_id for m in markets]
    text = "".join(
        document_lines(ORDERS, "A1", ids, "2026-10-01T00:00:00Z", "2026-10-30T00:00:00Z", rows, 0)
    )
    return (text + "".join(extra)).encode()


def line(**values: str) -> str:
    base = dict.fromkeys(ORDER_COLUMNS, "")
    base.update(
        {
            "amazon-order-id": "302-1111111-2222222",
            "purchase-date": "2026-10-03T08:12:44+00:00",
            "last-updated-date": "2026-10-04T08:12:44+00:00",
            "order-status": "Shipped",
            "fulfillment-channel": "Amazon",
            "sales-channel": "Amazon.de",
            "sku": "SKU-1",
            "asin": "B0TEST",
            "quantity": "1",
            "currency": "EUR",
            "item-price": "1.234,56",
        }
    )
    base.update(values)
    return "\t".join(base[c] for c in ORDER_COLUMNS) + "\n"


ODD = [
    line(),
    line(sku="SKU-1"),  # the same SKU again in the order: numbered
    line(**{"order-item-id": " 98765 "}),
    line(**{"amazon-order-id": "  "}),  # no order id: rejected
    line(**{"item-price": "1,234.56"}),  # not a German amount: rejected
    line(**{"item-price": "", "item-tax": " ", "shipping-price": "-0,99"}),
    line(**{"purchase-date": "03.10.2026 08:12:44 UTC", "last-updated-date": " 2026-10-04 "}),
    line(**{"purchase-date": "2026-02-30T08:12:44+00:00"}),  # no such day: rejected
    line(**{"last-updated-date": "2026-10-04T10:12:44+02:00"}),
    line(**{"sales-channel": "Amazon.fr", "item-price": "1\u202f234,56"}),
    line(**{"sales-channel": "Non-Amazon", "item-price": "12,00"}),  # the report's marketplace
    line(quantity="two"),  # rejected
    line(quantity=" 3 "),
    line(sku="SKU\x00-2", asin="B0\x00X"),  # U+0000 in text
    line(**{"order-status": "", "fulfillment-channel": "", "currency": ""}),
    "302-3333333-4444444\ttoo\tfew\n",  # rejected by the reader
]


@pytest.mark.parametrize("seed", range(4))
def test_order_rows_are_what_the_general_reading_gives(seed: int) -> None:
    data = document(["DE", "FR", "UK", "IT"], 3000, ODD * 3)
    expected, bad_expected = general(data, DE, "cp1252")
    got, bad = fast(data, DE, "cp1252", seed)
    assert got == expected
    assert (bad.count, bad.examples) == (bad_expected.count, bad_expected.examples)
    assert bad.count == 3 * 5  # no order id, an amount, a day, a quantity, a short line


def test_a_japanese_file_with_shift_jis_lines() -> None:
    jp = BY_CODE["JP"].marketplace_id
    text = line(**{"sales-channel": "Amazon.co.jp", "item-price": "1,234", "currency": "JPY"})
    named = text.replace("SKU-1", "商品-1")
    data = document(["JP"], 50, [text]) + named.encode("shift_jis") + named.encode()
    expected, _ = general(data, jp, "shift_jis")
    got, _ = fast(data, jp, "shift_jis", 0)
    assert got == expected and sum("商品-1" in str(row) for row in got) == 2


def test_a_file_without_a_column_rejects_each_line_as_the_general_reading_does() -> None:
    columns = [c for c in ORDER_COLUMNS if c != "item-price"]
    header = "\t".join(columns) + "\n"
    body = "".join(
        "\t".join(v for c, v in zip(ORDER_COLUMNS, raw.rstrip("\n").split("\t"), strict=True)
                  if c != "item-price") + "\n"
        for raw in ODD[:3]
    )  # fmt: skip
    data = (header + body).encode()
    expected, bad_expected = general(data, DE, "cp1252")
    got, bad = fast(data, DE, "cp1252", 1)
    assert got == expected == []
    assert (bad.count, bad.examples) == (bad_expected.count, bad_expected.examples)
    assert "no 'item-price' column" in bad.examples[0]


def test_optional_columns_may_be_missing() -> None:
    drop = {"order-item-id", "item-status", "item-tax", "shipping-price"}
    columns = [c for c in ORDER_COLUMNS if c not in drop]
    data = ("\t".join(columns) + "\n").encode() + b"".join(
        ("\t".join(v for c, v in zip(ORDER_COLUMNS, raw.rstrip("\n").split("\t"), strict=True)
                   if c not in drop) + "\n").encode()
        for raw in ODD[:3]
    )  # fmt: skip
    expected, _ = general(data, DE, "cp1252")
    got, _ = fast(data, DE, "cp1252", 2)
    assert got == expected and len(got) == 3


def test_order_rows_survive_pickling_half_way() -> None:
    import pickle

    data = document(["DE"], 400, [])
    build = OrderRows(START, DE, SYNCED, "cp1252")
    lines = list(flat_file_lines(io.BytesIO(data), "utf-8", BadLines(), "cp1252"))
    first = build(lines[:100])
    again = pickle.loads(pickle.dumps(build))  # noqa: S301 (our own object)
    assert first + again(lines[100:]) == general(data, DE, "cp1252")[0]
