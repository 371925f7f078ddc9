"""Amazon's flat-file values: local amounts by the marketplace's convention, date shapes, encodings."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from soldscope_cli.amazon.marketplaces import BY_CODE, MARKETPLACES, Marketplace
from soldscope_cli.sync.document import BadLines, FlatFile
from soldscope_cli.sync.values import (
    COMMA,
    INDIAN,
    POINT,
    amount_parser,
    amount_text_parser,
    decimal_text,
    legacy_encoding,
    number_format,
    parse_amount,
    parse_date,
    parse_time,
)

NNBSP = "\u202f"
NBSP = "\u00a0"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.234,56", "1234.56"),
        ("1234,5", "1234.5"),
        ("-0,99", "-0.99"),
        ("95,00", "95.00"),
        (f"1{NNBSP}234,56", "1234.56"),
        (f"1{NBSP}234,56", "1234.56"),
        ("1 234 567,89", "1234567.89"),
        ("12.345.678,01", "12345678.01"),
        ("1.234", "1234"),  # a dot groups in this convention
        ("1,234", "1.234"),  # and a comma is the decimal mark
        ("0", "0"),
        ("+3,10", "3.10"),
        (" -12,00 ", "-12.00"),
    ],
)
def test_decimal_comma_amounts_parse_exactly(text: str, expected: str) -> None:
    assert parse_amount(text, COMMA) == Decimal(expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1,234.56", "1234.56"),
        ("1234.5", "1234.5"),
        ("-0.99", "-0.99"),
        ("1,234", "1234"),
        ("1,234,567.00", "1234567.00"),
        ("1 234.56", "1234.56"),
        ("12", "12"),
    ],
)
def test_decimal_point_amounts_parse_exactly(text: str, expected: str) -> None:
    assert parse_amount(text, POINT) == Decimal(expected)


def test_indian_grouping() -> None:
    assert parse_amount("12,34,567.89", INDIAN) == Decimal("1234567.89")
    assert parse_amount("1,234.50", INDIAN) == Decimal("1234.50")
    with pytest.raises(ValueError):
        parse_amount("1,2345.00", INDIAN)


@pytest.mark.parametrize(
    ("text", "fmt"),
    [
        ("1234.56", COMMA),  # a decimal point in a decimal-comma marketplace: never guessed
        ("95,00", POINT),
        ("1.23.45,00", COMMA),
        ("1,2,3", COMMA),
        ("12,3456.00", POINT),
        ("1.234 567,00", COMMA),  # two kinds of grouping in one value
        ("", COMMA),
        ("-", POINT),
        ("abc", POINT),
        ("1e5", POINT),
        ("5,", COMMA),
        ("١٢٣", POINT),  # digits of another script are not Amazon's amounts
        ("NaN", POINT),
    ],
)
def test_values_that_do_not_fit_the_convention_are_refused(text: str, fmt: object) -> None:
    with pytest.raises(ValueError):
        parse_amount(text, fmt)  # type: ignore[arg-type]


@pytest.mark.parametrize("market", MARKETPLACES, ids=lambda m: m.code)
def test_every_marketplace_has_a_convention_that_reads_its_own_amounts(market: object) -> None:
    marketplace_id = market.marketplace_id  # type: ignore[attr-defined]
    parse = amount_parser(marketplace_id)
    fmt = number_format(marketplace_id)
    written = "-1.234,56" if fmt.decimal == "," else "-1,234.56"
    assert parse(written) == Decimal("-1234.56")
    assert parse("0" + fmt.decimal + "99") == Decimal("0.99")
    wrong = "1234.56" if fmt.decimal == "," else "1234,56"
    with pytest.raises(ValueError):
        parse(wrong)


def test_the_conventions_of_some_marketplaces() -> None:
    assert number_format(BY_CODE["DE"].marketplace_id) is COMMA
    assert number_format(BY_CODE["FR"].marketplace_id) is COMMA
    assert number_format(BY_CODE["US"].marketplace_id) is POINT
    assert number_format(BY_CODE["UK"].marketplace_id) is POINT
    assert number_format(BY_CODE["JP"].marketplace_id) is POINT
    assert number_format(BY_CODE["IN"].marketplace_id) is INDIAN


def test_an_unknown_marketplace_has_no_convention() -> None:
    with pytest.raises(ValueError, match="no number format"):
        amount_parser("AXXXXXXXXXXXX")
    with pytest.raises(ValueError):
        number_format(None)


AMOUNT_SHAPES = [
    "0", "12", "1234", "1.234", "1,234", "12.345,67", "12,345.67", "1 234,56", "1\u00a0234,5",
    "-0", "-0,00", "-0.00", "00,95", "007", "+1,00", "- 1,00", ",50", ".50", "1,", "1.",
    "1,2,3", "1.234.567,89", "1,234,567.89", "12,34,567.89", "1.23.456", "  4,99  ", "-1,50",
    "1.2345", "1,2345", "01.234", "\u0661\u0662", "12345678901234567890,12", "", "-",
]  # fmt: skip


@pytest.mark.parametrize("market", MARKETPLACES, ids=lambda m: m.code)
def test_the_amount_text_parser_reads_as_parse_amount_does(market: object) -> None:
    assert isinstance(market, Marketplace)
    fast = amount_text_parser(market.marketplace_id)
    fmt = number_format(market.marketplace_id)
    for text in AMOUNT_SHAPES:
        try:
            expected = decimal_text(parse_amount(text, fmt))
        except ValueError:
            with pytest.raises(ValueError):
                fast(text)
        else:
            assert fast(text) == expected, text


def test_decimal_text_is_plain_and_exact() -> None:
    assert decimal_text(Decimal("1234.50")) == "1234.50"
    assert decimal_text(Decimal("-0.99")) == "-0.99"
    assert decimal_text(Decimal("1E+3")) == "1000"
    assert decimal_text(Decimal("0E-2")) == "0.00"


WHEN = datetime(2026, 11, 3, 8, 12, 44, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-03T08:12:44+00:00", WHEN),
        ("2026-11-03T08:12:44Z", WHEN),
        ("2026-11-03T09:12:44+01:00", WHEN),
        ("2026-11-03T00:12:44-08:00", WHEN),
        ("03.11.2026 08:12:44 UTC", WHEN),
        ("2026-11-03 08:12:44 UTC", WHEN),
        ("2026-11-03 00:12:44 PST", WHEN),
        ("2026-11-03 01:12:44 PDT", WHEN),
        ("2026-11-03 08:12:44 GMT", WHEN),
        ("11/03/26", datetime(2026, 11, 3, tzinfo=UTC)),
        ("11/03/2026", datetime(2026, 11, 3, tzinfo=UTC)),
        ("03.11.2026", datetime(2026, 11, 3, tzinfo=UTC)),
        ("2026-11-03", datetime(2026, 11, 3, tzinfo=UTC)),
    ],
)
def test_every_time_shape_parses_to_utc(text: str, expected: datetime) -> None:
    parsed = parse_time(text)
    assert parsed == expected
    assert parsed.utcoffset() is not None and parsed.utcoffset().total_seconds() == 0  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-03T08:12:44",  # no zone: never assumed
        "03.11.2026 08:12:44",
        "2026-11-03 08:12:44 CET",  # a zone name with no fixed offset
        "13/45/26",
        "31.02.2026",
        "yesterday",
        "",
    ],
)
def test_times_that_cannot_be_placed_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_time(text)


def test_a_date_of_a_time_is_its_utc_date() -> None:
    assert parse_date("2026-11-03T23:30:00-08:00") == date(2026, 11, 4)
    assert parse_date("11/03/26") == date(2026, 11, 3)


def test_legacy_encodings() -> None:
    assert legacy_encoding(BY_CODE["JP"].marketplace_id) == "cp932"
    assert legacy_encoding(BY_CODE["DE"].marketplace_id) == "cp1252"
    assert legacy_encoding(None) == "cp1252"


def test_a_flat_file_reads_legacy_lines_and_counts_what_no_encoding_reads() -> None:
    body = (
        b"sku\tname\n"
        + "A1\tMüller\n".encode()
        + "A2\tMüller\n".encode("cp1252")
        + b"A3\t\x81\x8d\n"  # undefined in Windows-1252, and not UTF-8
        + b"A4\tok\n"
    )
    bad = BadLines()
    rows = list(FlatFile("utf-8", "cp1252").records(io.BytesIO(body), bad))
    assert [r["name"] for r in rows] == ["Müller", "Müller", "ok"]
    assert bad.count == 1 and "not valid utf-8 or cp1252" in bad.examples[0]


def test_a_japanese_flat_file_in_shift_jis() -> None:
    body = b"sku\tname\n" + "J1\t東京\n".encode("cp932")
    rows = list(FlatFile("utf-8", "cp932").records(io.BytesIO(body), BadLines()))
    assert rows == [{"sku": "J1", "name": "東京"}]
