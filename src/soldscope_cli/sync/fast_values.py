"""Fast paths for values read in bulk (settlement and order lines): each gives exactly what the
general parser in sync/values.py gives, at a fraction of its cost, and hands anything unusual to
it. No sync lifecycle here: the parser process imports this with the row builders."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from functools import partial

from soldscope_cli.db.model import to_db_time
from soldscope_cli.sync.values import NumberFormat, parse_time

# Amazon's usual posted-date-time, whose stored text is its own first 19 characters and
# ".000000Z" (once datetime.fromisoformat has checked the date and time exist).
_ISO_UTC = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\+00:00")


def stored_time_text(text: str) -> str | None:
    """A time as the database stores it (None for blank text; ValueError as parse_time says),
    Amazon's usual shape without building a datetime's text."""
    if _ISO_UTC.fullmatch(text):
        try:
            datetime.fromisoformat(text)
        except ValueError:
            return _general_time_text(text)  # the general parser's verdict and message
        return text[:19] + ".000000Z"
    return _general_time_text(text)


def _general_time_text(text: str) -> str | None:
    value = read_time(text)
    return None if value is None else to_db_time(value)


def read_time(text: str) -> datetime | None:
    """parse_time, None for blank text, Amazon's usual shape read by the C parser."""
    text = text.strip()
    if not text:
        return None
    if len(text) == 25 and text.endswith("+00:00"):
        # Amazon's usual shape, read by the C parser (every other shape by parse_time).
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            pass
    return parse_time(text)


def fast_amount(fmt: NumberFormat) -> Callable[[str], str | None]:
    """The decimal text of an amount written the usual way in `fmt` ("-1.234,56" with a decimal
    comma, "1,234.56" with a point: no sign but '-', no leading zero, groups of three or none),
    or None for anything else, which parse_amount then reads (or refuses). The same text as
    decimal_text(parse_amount(...)) gives, at a fraction of its cost."""
    if fmt.indian:
        return _no_fast_amount
    group = "." if fmt.decimal == "," else ","
    shape = re.compile(
        rf"-?(?:0|[1-9][0-9]{{0,2}}(?:{re.escape(group)}[0-9]{{3}})+|[1-9][0-9]*)"
        rf"{re.escape(fmt.decimal)}[0-9]+"
    )
    return partial(_amount_text, shape.fullmatch, group, fmt.decimal)


def _amount_text(match: Callable[[str], object], group: str, decimal: str, text: str) -> str | None:
    if match(text) is None:
        return None
    text = text.replace(group, "")
    return text.replace(decimal, ".") if decimal != "." else text


def _no_fast_amount(text: str) -> str | None:
    return None
