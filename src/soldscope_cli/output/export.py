"""`soldscope export`: rows as CSV (a header row, RFC 4180) or JSON Lines, written as they stream."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from typing import IO, Any

FORMATS = ("csv", "jsonl")


def write_csv(
    stream: IO[str], columns: Sequence[str], batches: Iterable[list[tuple[Any, ...]]]
) -> int:
    """A header row, then every row (None as an empty field); returns the rows written."""
    writer = csv.writer(stream)  # the default dialect: quotes what needs it, CRLF line ends
    writer.writerow(columns)
    written = 0
    for batch in batches:
        writer.writerows(batch)
        written += len(batch)
    return written


def write_jsonl(
    stream: IO[str], columns: Sequence[str], batches: Iterable[list[tuple[Any, ...]]]
) -> int:
    """One JSON object a line, keys in column order; returns the rows written."""
    encode = json.JSONEncoder(ensure_ascii=False).encode
    keys = tuple(columns)
    written = 0
    for batch in batches:
        stream.write("".join([encode(dict(zip(keys, row, strict=True))) + "\n" for row in batch]))
        written += len(batch)
    return written
