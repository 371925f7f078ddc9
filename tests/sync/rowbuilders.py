"""Row builders the parser process tests hand to a child: importable by module path, as a
dataset's must be."""

from __future__ import annotations

from datetime import date
from typing import Any

from soldscope_cli.sync.document import Rows


def sorted_items(records: list[Any]) -> Rows:
    """A flat file's {column: text} records as (column, text) pairs in column order."""
    return [tuple(sorted(r.items())) if isinstance(r, dict) else (r,) for r in records]


def failing(records: list[Any]) -> Rows:
    raise ValueError(f"cannot build rows of {len(records)} records")


def dated(records: list[Any]) -> Rows:
    """A one-column flat file of ISO days as dates: values marshal cannot send."""
    return [(date.fromisoformat(r["day"]),) for r in records]
