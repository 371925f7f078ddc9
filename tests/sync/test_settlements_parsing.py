"""Settlement lines read fast: the fast paths give exactly what the general readers give."""

from __future__ import annotations

import io
import random
from datetime import datetime
from typing import Any

import pytest

from soldscope_cli.db.model import to_db_time
from soldscope_cli.sync import document, fast_values, parser_process
from soldscope_cli.sync.document import BadLines, Columns, WithNul, flat_file_records
from soldscope_cli.sync.fast_values import fast_amount, read_time, stored_time_text
from soldscope_cli.sync.settlement_rows import Rejecting, SettlementRows
from soldscope_cli.sync.values import (
    COMMA,
    INDIAN,
    POINT,
    NumberFormat,
    decimal_text,
    parse_amount,
    parse_time,
)

# tests/sync/test_values.py's amounts, and more of the usual and unusual shapes.
AMOUNTS = [
    "1.234,56", "1234,5", "-0,99", "95,00", "1 234 567,89", "12.345.678,01", "1.234", "1,234",
    "0", "+3,10", " -12,00 ", "1,234.56", "1234.5", "-0.99", "1,234,567.00", "1 234.56", "12",
    "12,34,567.89", "1,234.50", "1,2345.00", "1234.56", "1.23.45,00", "1,2,3", "12,3456.00",
    "1.234 567,00", "", "-", "abc", "1e5", "5,", "١٢٣", "NaN", "0,00", "-0,00", "0.5", "00,50",
    "01.234,00", "1.2345,00", "-1.234.567,891", "--1,00", "1.234,", ",5", ".5", "1..234,00",
    "1\u202f234,56", "-1\u00a0234,56", "999.999.999,99", "1.000", "-", "1,5e3",
]  # fmt: skip
# tests/sync/test_values.py's times, and more.
TIMES = [
    "2026-11-03T08:12:44+00:00", "2026-11-03T08:12:44Z", "2026-11-03T09:12:44+01:00",
    "2026-11-03T00:12:44-08:00", "03.11.2026 08:12:44 UTC", "2026-11-03 08:12:44 UTC",
    "2026-11-03 00:12:44 PST", "11/03/26", "03.11.2026", "2026-11-03", "2026-02-30T08:12:44+00:00",
    "2026-11-03T24:00:00+00:00", "2026-W45-2T08:12:44+00:00", "2026-11-03 08:12:44+00:00",
    "2026-11-03T08:12:44", "2026-11-03T08:12:4x+00:00", "2026-11-03T08:12:60+00:00",
]  # fmt: skip


def general_amount(text: str, fmt: NumberFormat) -> str | None:
    try:
        return decimal_text(parse_amount(text, fmt))
    except ValueError:
        return "refused"


def random_amounts(count: int) -> list[str]:
    rng = random.Random(7)
    alphabet = "0123456789.,-+ \u202f"
    return [
        "".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 12))) for _ in range(count)
    ]


@pytest.mark.parametrize("fmt", [COMMA, POINT, INDIAN], ids=["comma", "point", "indian"])
def test_the_fast_amount_is_the_general_parsers_or_leaves_it_to_it(fmt: NumberFormat) -> None:
    fast = fast_amount(fmt)
    taken = 0
    for text in AMOUNTS + random_amounts(20_000):
        value = fast(text)
        if value is not None:
            taken += 1
            assert value == general_amount(text, fmt), text
    assert (taken > 0) is (fmt is not INDIAN)


def test_the_usual_amounts_take_the_fast_path() -> None:
    assert fast_amount(COMMA)("-1.234.567,89") == "-1234567.89"
    assert fast_amount(COMMA)("0,50") == "0.50"
    assert fast_amount(POINT)("1,234.56") == "1234.56"
    assert fast_amount(POINT)("1234.5") == "1234.5"


@pytest.mark.parametrize("text", TIMES)
def test_a_posted_time_is_stored_as_the_general_parser_reads_it(text: str) -> None:
    def text_of(read: Any) -> str:
        try:
            value = read(text)
        except ValueError as exc:
            return f"refused: {exc}"
        return value if isinstance(value, str) or value is None else to_db_time(value)

    general = text_of(lambda t: parse_time(t) if t.strip() else None)
    assert text_of(read_time) == general
    assert text_of(stored_time_text) == general
    assert text_of(fast_values._general_time_text) == general


def flat_lines() -> bytes:
    columns = "\ufeffsettlement-id\tamount\t sku \n".encode()
    lines = [
        b"1\t1,00\tA\r\n",
        b"\n",
        b"1\t2,00\tB\t\t\n",  # trailing tabs after the last column
        b"1\t3,00\n",  # a field short
        b"1\t4,00\tC\tD\n",  # one too many
        "1\t5,00\tMüller\n".encode("cp1252"),
        b"1\t6,00\t\x81\x8d\n",  # neither UTF-8 nor Windows-1252
        b"1\t7,00\tE\x00F\n",
        b"1\t" + b"9" * 300 + b"\tlong\n",  # longer than the MAX_LINE the test sets
        b"1\t8,00\tG\r\n",
        b"1\t9,00\tH",  # no line break at the end
    ]
    return columns + b"".join(lines * 40)


def reference_lines(data: bytes, bad: BadLines) -> list[list[str]]:
    """The flat file rules line by line, as simply as they can be written: each line split on
    0x0A, decoded in UTF-8 else Windows-1252, trailing tabs dropped, the rest counted as bad."""
    header: list[str] | None = None
    out: list[list[str]] = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        raw = raw.removesuffix(b"\r")
        if not raw:
            continue
        if len(raw) > document.MAX_LINE:
            bad.add(number, f"longer than {document.MAX_LINE:,} bytes")
            continue
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            try:
                line = raw.decode("cp1252")
            except UnicodeDecodeError:
                bad.add(number, "not valid utf-8 or cp1252")
                continue
        fields = line.split("\t")
        if header is None:
            header = [name.strip() for name in fields]
            header[0] = header[0].removeprefix("\ufeff")
            out.append(header)
            continue
        if len(fields) > len(header) and not any(fields[len(header) :]):
            del fields[len(header) :]
        if len(fields) != len(header):
            bad.add(number, f"{len(fields)} fields where the header has {len(header)}")
            continue
        out.append(fields)
    return out


@pytest.mark.parametrize("buffer", [16, 64, 200, 1 << 20])
def test_flat_file_lines_read_in_bulk_keep_the_line_by_line_rules(
    buffer: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(document, "PARSE_BUFFER", buffer)
    monkeypatch.setattr(document, "MAX_LINE", 250)
    data = flat_lines()
    bad_reference, bad_read = BadLines(), BadLines()
    reference = reference_lines(data, bad_reference)
    [columns, *lines] = document.flat_file_lines(io.BytesIO(data), "utf-8", bad_read, "cp1252")
    assert isinstance(columns, Columns) and columns == ["settlement-id", "amount", "sku"]
    assert [columns, *lines] == reference
    assert (bad_read.count, bad_read.examples) == (bad_reference.count, bad_reference.examples)
    assert bad_reference.count >= 40 * 3  # short, long, undecodable
    nul = [fields for fields in lines if "\x00" in "".join(fields)]
    assert nul and all(isinstance(fields, WithNul) for fields in nul)
    records = list(flat_file_records(io.BytesIO(data), "utf-8", BadLines(), "cp1252"))
    assert records == [dict(zip(columns, fields, strict=True)) for fields in lines]


def builder() -> SettlementRows:
    return SettlementRows((7, "acme-de"), "R1", "A1PA6795UKMFR9", "2026-11-20T00:00:00.000000Z")


def settlement(*lines: list[str]) -> list[Any]:
    columns = Columns(settlements_columns())
    head = [""] * len(columns)
    head[:6] = ["111", "05.11.2026 00:00:00 UTC", "19.11.2026 00:00:00 UTC", "", "1,00", "EUR"]
    return [columns, head, *lines]


def settlements_columns() -> list[str]:
    from soldscope_cli.simulator.settlements import COLUMNS

    return list(COLUMNS)


def line(amount: str, posted: str = "2026-11-10T08:12:44+00:00", **more: str) -> list[str]:
    fields = dict.fromkeys(settlements_columns(), "")
    fields.update(
        {"settlement-id": "111", "amount": amount, "posted-date-time": posted, "sku": " S-1 "}
    )
    fields.update({k.replace("_", "-"): v for k, v in more.items()})
    return list(fields.values())


def test_a_line_built_fast_is_the_line_built_the_general_way() -> None:
    lines = [
        line("1.234,56"),
        line("-0,50", posted="", posted_date="11/10/26", quantity_purchased="2"),
        line("7", posted="10.11.2026 08:12:44 UTC"),
        line("", posted="2026-11-10T09:12:44+01:00"),
    ]
    fast = builder()(settlement(*lines))
    general = builder()
    general._pick = None  # every line the general way: a dict per line, the general parsers
    assert fast == general(settlement(*lines))
    assert fast[0][:4] == (7, "acme-de", "111", "R1") and len(fast[0]) == 29
    # The other rows are the line's own values: the load adds the first row's start and end.
    assert [(r[0], r[9], r[11], r[16]) for r in fast[1:]] == [
        (2, "1234.56", "2026-11-10T08:12:44.000000Z", None),
        (3, "-0.50", "2026-11-10T00:00:00.000000Z", 2),
        (4, "7", "2026-11-10T08:12:44.000000Z", None),
        (5, None, "2026-11-10T08:12:44.000000Z", None),
    ]


def test_rejected_lines_ride_with_their_batch_even_from_the_parser_process() -> None:
    build = builder()
    batch = build(settlement(line("1,00"), line("1.234.56"), line("2,00", settlement_id="222")))
    assert isinstance(batch, Rejecting) and len(batch) == 2  # the header line and one line
    assert [line for line, _ in batch.rejected] == [4, 5]  # +1: the column names' line
    kind, payload = parser_process._dump_rows(batch)
    assert kind == b"p"  # marshal refuses it: pickled, the rejected lines with it
    import pickle

    again = pickle.loads(payload)  # noqa: S301 (our own bytes)
    assert again == batch and again.rejected == batch.rejected
    plain = build([line("3,00")])
    assert type(plain) is list and parser_process._dump_rows(plain)[0] == b"r"


def test_the_builder_pickles_with_what_it_learned() -> None:
    import pickle

    build = builder()
    build(settlement(line("1,00")))
    again = pickle.loads(pickle.dumps(build))  # noqa: S301 (our own bytes)
    assert again([line("2,00", sku="X")]) == build([line("2,00", sku="X")])
    assert again([line("2,00", settlement_id="222")]).rejected[0][1].startswith("settlement-id")


def test_a_time_that_is_not_a_date_is_refused_as_before() -> None:
    batch = builder()(settlement(line("1,00", posted="2026-02-30T08:12:44+00:00")))
    assert isinstance(batch, Rejecting)
    [(_, why)] = batch.rejected
    with pytest.raises(ValueError) as general:
        read_time("2026-02-30T08:12:44+00:00")
    assert why == str(general.value)
    assert datetime  # the module's datetime import is the one parse_time returns


def test_the_parser_process_of_a_settlement_imports_neither_httpx_nor_the_sync_lifecycle() -> None:
    import subprocess
    import sys

    code = (
        "import sys, soldscope_cli.sync.parser_process, soldscope_cli.sync.settlement_rows\n"
        "print(sorted(m for m in ('httpx', 'soldscope_cli.sync.reports') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
