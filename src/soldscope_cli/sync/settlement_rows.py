"""Settlement lines as table rows: the flat file read as lists of fields, each line's values read.

A picklable reader and row builder in one (`SettlementRows`), so that a big settlement is read
and parsed in the parser process (sync/parser_process.py) while the sync only writes. It imports
neither the sync lifecycle nor httpx: the parser process starts with this module alone.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator
from typing import Any

from soldscope_cli.datasets.settlements import HEADER_COLUMNS, LINE_FIELDS
from soldscope_cli.db.model import to_db_time
from soldscope_cli.sync.document import (
    BadLines,
    ByteStream,
    DocumentError,
    Rows,
    flat_file_lines,
)
from soldscope_cli.sync.fast_values import fast_amount, read_time, stored_time_text
from soldscope_cli.sync.values import (
    NumberFormat,
    decimal_text,
    legacy_encoding,
    number_format,
    parse_amount,
)


class Rejecting(list[tuple[Any, ...]]):
    """A batch of rows that also names the lines it rejected, (line, why) each. marshal refuses a
    list subclass, so such a batch (rare) crosses from the parser process pickled, whole."""

    rejected: list[tuple[int, str]]


class SettlementRows:
    """A settlement's flat file, read and built into table rows: lists of fields, not {column:
    text} dicts, amounts and Amazon's usual time read by fast paths whose results are exactly
    the general parsers' (anything else goes the general way). Picklable, with its state (the
    columns and the header's row prefix, known from the first lines).

    The first line's row is whole; every other line's row is only its own values (its number,
    then LINE_FIELDS'), which the load completes with the first row's start and end: half the
    bytes to send from the parser process and to read back."""

    def __init__(
        self, start: tuple[Any, ...], report_id: str, marketplace_id: str, synced_at: str
    ) -> None:
        self._start = start
        self._report_id = report_id
        self._marketplace_id = marketplace_id
        self._suffix = (synced_at,)
        self._format = number_format(marketplace_id)
        self._fast_amount = fast_amount(self._format)
        self._fallback = legacy_encoding(marketplace_id)
        self._columns: list[str] | None = None
        self._at: dict[str, int] = {}
        self._pick: Callable[[list[str]], tuple[str, ...]] | None = None
        self._settlement_at = self._posted_date_at = 0
        self._prefix: tuple[Any, ...] | None = None
        self._settlement_id = ""
        self._line = 0

    def records(self, stream: ByteStream, bad: BadLines) -> Iterator[Any]:
        return flat_file_lines(stream, "utf-8", bad, self._fallback)

    def __call__(self, records: list[Any]) -> Rows:
        if self._columns is None and records:
            self._layout(records[0])
            records = records[1:]
        out: Rows = []
        rejected: list[tuple[int, str]] = []
        line = self._line
        fast = self._fast_row if self._pick is not None else self._slow_row
        slow = self._slow_row
        for fields in records:
            line += 1
            if self._prefix is None:
                self._line = line
                out.append(self._header_row(fields))
                fast = self._fast_row if self._pick is not None else self._slow_row
                continue
            try:
                out.append((fast if type(fields) is list else slow)(fields, line))
            except (ValueError, KeyError) as exc:
                rejected.append((line + 1, str(exc)))  # +1: the column names' line
        self._line = line
        if rejected:
            batch = Rejecting(out)
            batch.rejected = rejected
            return batch
        return out

    def _layout(self, columns: list[str]) -> None:
        self._columns = list(columns)
        self._at = {name: i for i, name in enumerate(columns)}
        wanted = ["settlement-id", "posted-date", *(column for _, column, _ in LINE_FIELDS)]
        if all(name in self._at for name in wanted):
            self._settlement_at = self._at["settlement-id"]
            self._posted_date_at = self._at["posted-date"]
            # One C call picks a line's fields.
            self._pick = operator.itemgetter(*(self._at[c] for _, c, _ in LINE_FIELDS))

    def _record(self, fields: list[str]) -> dict[str, str]:
        assert self._columns is not None
        return dict(zip(self._columns, fields, strict=True))

    def _header_row(self, fields: list[str]) -> tuple[Any, ...]:
        """The first line: the settlement's header, which every row then carries."""
        record = {key: text.replace("\x00", "") for key, text in self._record(fields).items()}
        settlement_id = record.get("settlement-id", "").strip()
        if not settlement_id:
            raise DocumentError("the first line names no settlement-id")
        try:
            start, end, deposit = (read_time(record.get(column, "")) for column in _HEADER_TIMES)
            total = _decimal(self._format, record.get("total-amount", ""))
            values = self._fields(record)
        except (ValueError, KeyError) as exc:
            raise DocumentError(f"settlement {settlement_id}'s first line: {exc}") from None
        self._settlement_id = settlement_id
        self._prefix = (
            *self._start,
            settlement_id,
            self._report_id,
            self._marketplace_id,
            *(None if t is None else to_db_time(t) for t in (start, end, deposit)),
            total,
            record.get("currency", "").strip() or None,
        )
        return (*self._prefix, self._line, *values, *self._suffix)

    def _fast_row(self, fields: list[str], line: int) -> tuple[Any, ...]:
        settlement_id = fields[self._settlement_at]
        if settlement_id != self._settlement_id and settlement_id.strip() not in (
            "",
            self._settlement_id,
        ):
            raise ValueError(f"settlement-id {settlement_id} in settlement {self._settlement_id}")
        assert self._pick is not None
        values: list[Any] = [text or None for text in map(_STRIP, self._pick(fields))]
        amount = values[_AMOUNT]
        if amount is not None:
            values[_AMOUNT] = self._fast_amount(amount) or _decimal(self._format, amount)
        posted = values[_POSTED] or fields[self._posted_date_at].strip()
        values[_POSTED] = stored_time_text(posted) if posted else None
        quantity = values[_QUANTITY]
        if quantity is not None:
            values[_QUANTITY] = int(quantity)
        return (line, *values)

    def _slow_row(self, fields: list[str], line: int) -> tuple[Any, ...]:
        record = self._record(fields)
        settlement_id = record["settlement-id"]
        if settlement_id != self._settlement_id and settlement_id.strip() not in (
            "",
            self._settlement_id,
        ):
            raise ValueError(f"settlement-id {settlement_id} in settlement {self._settlement_id}")
        return (line, *self._fields(record))

    def _fields(self, record: dict[str, str]) -> list[Any]:
        """The line's fields in LINE_FIELDS order, amounts, times and quantities read, without
        U+0000 (which neither engine stores as text; the table relies on its absence)."""
        texts = _PICK(record)
        if "\x00" in "".join(texts):
            texts = [text.replace("\x00", "") for text in texts]
        values: list[Any] = [text.strip() or None for text in texts]
        amount = values[_AMOUNT]
        if amount is not None:
            values[_AMOUNT] = _decimal(self._format, amount)
        posted = values[_POSTED] or record.get("posted-date", "").strip()
        values[_POSTED] = stored_time_text(posted) if posted else None
        quantity = values[_QUANTITY]
        if quantity is not None:
            values[_QUANTITY] = int(quantity)
        return values


_STRIP = str.strip
_HEADER_TIMES = ("settlement-start-date", "settlement-end-date", "deposit-date")
_PICK = operator.itemgetter(*(column for _, column, _ in LINE_FIELDS))
_NAMES = [name for name, _, _ in LINE_FIELDS]
_AMOUNT = _NAMES.index("amount")
_POSTED = _NAMES.index("posted_at")
_QUANTITY = _NAMES.index("quantity_purchased")
# Where the settlement id sits in a row (after the store's id and name), and where the line's
# own values (its number and LINE_FIELDS) start: 10, after the store and the header.
SETTLEMENT_AT = 2
LINE_AT = 2 + len(HEADER_COLUMNS)
LINE_WIDTH = 1 + len(LINE_FIELDS)


def _decimal(fmt: NumberFormat, text: str) -> str | None:
    if not text.strip():
        return None
    return decimal_text(parse_amount(text, fmt))
