"""Amazon's flat-file values read exactly: local amounts, its date shapes, its legacy encodings.

A flat file writes money in its marketplace's number format ("1.234,56" in Germany, "1 234,56"
in France, "1,234.56" in the US; FACTS.md §8). The convention comes from the marketplace, never
from the value: "1,234" is 1.234 in Germany and 1234 in the US, and a value that does not fit its
marketplace's format is refused (the line is rejected) rather than read as some other number.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from functools import partial

from soldscope_cli.amazon.marketplaces import MARKETPLACES

# Spaces a number may be grouped with: space, no-break space, narrow no-break space (fr-FR).
_SPACES = " \u00a0\u202f"


@dataclass(frozen=True)
class NumberFormat:
    """How a marketplace writes numbers: its decimal mark and the marks that group digits."""

    decimal: str  # "." or ","
    groups: str  # the characters allowed between groups of digits
    indian: bool = False  # 12,34,567.89: groups of two before the last three digits

    def __post_init__(self) -> None:
        if self.decimal in self.groups:
            raise ValueError("the decimal mark cannot also group digits")


POINT = NumberFormat(".", "," + _SPACES)
COMMA = NumberFormat(",", "." + _SPACES)
INDIAN = NumberFormat(".", ",", indian=True)

# Marketplaces whose files write a decimal comma (Amazon's storefront locale for the country).
_COMMA_CODES = frozenset({"BR", "ES", "FR", "BE", "NL", "DE", "IT", "SE", "PL", "TR"})
NUMBER_FORMATS: dict[str, NumberFormat] = {
    m.marketplace_id: (COMMA if m.code in _COMMA_CODES else INDIAN if m.code == "IN" else POINT)
    for m in MARKETPLACES
}

# What a line that is not UTF-8 is read as: Amazon writes some marketplaces' flat files in the
# Windows code page of the country (Shift_JIS, as Windows extends it, in Japan).
LEGACY_ENCODINGS: dict[str, str] = {
    m.marketplace_id: "cp932" if m.code == "JP" else "cp1252" for m in MARKETPLACES
}


def number_format(marketplace_id: str | None) -> NumberFormat:
    """The marketplace's number format; ValueError for a marketplace soldscope does not know,
    since guessing would risk a wrong amount."""
    found = NUMBER_FORMATS.get(marketplace_id or "")
    if found is None:
        raise ValueError(f"no number format known for marketplace {marketplace_id!r}")
    return found


def legacy_encoding(marketplace_id: str | None) -> str:
    """The encoding a marketplace's non-UTF-8 flat files use (Windows-1252 when unknown)."""
    return LEGACY_ENCODINGS.get(marketplace_id or "", "cp1252")


def legacy_encoding_of(marketplace_ids: Iterable[str]) -> str:
    """The legacy encoding of a report covering these marketplaces: Japan's where Japan is among
    them (a Far East report is written in Shift_JIS), else Windows-1252."""
    for marketplace_id in marketplace_ids:
        encoding = legacy_encoding(marketplace_id)
        if encoding != "cp1252":
            return encoding
    return "cp1252"


def parse_amount(text: str, fmt: NumberFormat) -> Decimal:
    """The exact amount `text` writes in `fmt`, or ValueError saying why it does not fit."""
    value = text.strip()
    if value.startswith("-") or value.startswith("+"):
        sign, value = value[0], value[1:].lstrip()
    else:
        sign = ""
    if not value:
        raise ValueError(f"no number in {text!r}")
    whole, mark, fraction = value, "", ""
    at = value.rfind(fmt.decimal)
    if at >= 0:
        whole, mark, fraction = value[:at], fmt.decimal, value[at + 1 :]
        if not fraction.isdigit() or not fraction.isascii():
            raise ValueError(f"{text!r} is not a number written {_described(fmt)}")
    digits = _whole_digits(whole if whole else "0", fmt)
    if digits is None:
        raise ValueError(f"{text!r} is not a number written {_described(fmt)}")
    try:
        return Decimal(f"{sign}{digits}.{fraction}" if mark else f"{sign}{digits}")
    except InvalidOperation:  # pragma: no cover - the checks above admit digits only
        raise ValueError(f"{text!r} is not a number") from None


def _whole_digits(whole: str, fmt: NumberFormat) -> str | None:
    """The digits of the part before the decimal mark, or None if it is not grouped as `fmt`
    groups (every group of three, or the Indian 2-2-3, with one kind of mark throughout)."""
    if whole.isdigit() and whole.isascii():
        return whole
    marks = {c for c in whole if not (c.isdigit() and c.isascii())}
    if len(marks) != 1:
        return None
    mark = marks.pop()
    if mark not in fmt.groups:
        return None
    parts = whole.split(mark)
    if not all(p.isdigit() and p.isascii() for p in parts) or len(parts[-1]) != 3:
        return None
    middle = parts[1:-1]
    if fmt.indian:
        ok = 1 <= len(parts[0]) <= 2 and all(len(p) == 2 for p in middle)
        ok = ok or (len(parts) == 2 and len(parts[0]) == 3)
    else:
        ok = 1 <= len(parts[0]) <= 3 and all(len(p) == 3 for p in middle)
    return "".join(parts) if ok else None


def _described(fmt: NumberFormat) -> str:
    return "with a decimal comma" if fmt.decimal == "," else "with a decimal point"


def amount_parser(marketplace_id: str | None) -> Callable[[str], Decimal]:
    """parse_amount bound to one marketplace's format (ValueError now if it has none)."""
    # A partial, not a lambda: a row parser holding it can be pickled for a child process.
    return partial(parse_amount, fmt=number_format(marketplace_id))


def amount_text_parser(marketplace_id: str | None) -> Callable[[str], str]:
    """decimal_text(parse_amount(text)) in one marketplace's format (ValueError now if it has
    none), with a fast path for what files mostly hold: an amount grouped with the format's first
    mark, or not at all. Everything else takes the careful path, so the result is the same."""
    fmt = number_format(marketplace_id)
    group = re.escape(fmt.groups[0])
    whole = (
        "0|[1-9][0-9]*" if fmt.indian else f"0|[1-9][0-9]{{0,2}}(?:{group}[0-9]{{3}})+|[1-9][0-9]*"
    )
    pattern = re.compile(f"(-?)({whole})(?:{re.escape(fmt.decimal)}([0-9]+))?")
    return partial(_amount_text, fmt=fmt, pattern=pattern, group=fmt.groups[0])


def _amount_text(text: str, fmt: NumberFormat, pattern: re.Pattern[str], group: str) -> str:
    value = text.strip()
    found = pattern.fullmatch(value)
    if found is None:
        return decimal_text(parse_amount(text, fmt))
    sign, whole, fraction = found.groups()
    digits = whole.replace(group, "")
    return f"{sign}{digits}.{fraction}" if fraction else f"{sign}{digits}"


def decimal_text(value: Decimal) -> str:
    """An exact amount as export writes it: digits, '.' as the separator, no exponent."""
    return format(value, "f")


# Zone names Amazon writes after a time. Only fixed offsets: a name that is not here is refused
# rather than assumed to be UTC.
_ZONES: dict[str, timezone] = {
    "UTC": UTC,
    "GMT": UTC,
    "Z": UTC,
    "PST": timezone(timedelta(hours=-8)),
    "PDT": timezone(timedelta(hours=-7)),
}
_DOTTED = re.compile(r"(\d{2})\.(\d{2})\.(\d{4})(?:[ T](\d{2}):(\d{2}):(\d{2}))?(?: ([A-Z]+))?\Z")
_SPACED = re.compile(r"(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2}(?:\.\d+)?) ([A-Z]+)\Z")
_US_SHORT = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{2}|\d{4})\Z")


def parse_time(text: str) -> datetime:
    """A time in one of the shapes Amazon's files write, as an aware UTC datetime.

    `2026-11-03T08:12:44+00:00` (any offset, or Z), `2026-11-03 08:12:44 UTC`,
    `03.11.2026 08:12:44 UTC`; a date alone (`2026-11-03`, `03.11.2026`, `11/03/26`) is its
    midnight UTC. ValueError for anything else, a naive time included: Amazon's zone is never
    guessed.
    """
    value = text.strip()
    # The ISO shape first, the one orders files write: fromisoformat refuses every other shape
    # (a zone name, dots, slashes), so trying it before the patterns reads nothing differently.
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        pass
    else:
        if len(value) == 10:
            return parsed.replace(tzinfo=UTC)
        if parsed.tzinfo is None:
            raise ValueError(f"{text!r} has no time zone")
        return parsed.astimezone(UTC)
    spaced = _SPACED.match(value)
    if spaced is not None:
        zone = _zone(spaced.group(3), text)
        naive = datetime.fromisoformat(f"{spaced.group(1)}T{spaced.group(2)}")
        return naive.replace(tzinfo=zone).astimezone(UTC)
    dotted = _DOTTED.match(value)
    if dotted is not None:
        day, month, year, hour, minute, second, zone_name = dotted.groups()
        if hour is None:
            if zone_name is not None:
                raise ValueError(f"{text!r} is not a time Amazon writes")
            return _midnight(int(year), int(month), int(day), text)
        if zone_name is None:
            raise ValueError(f"{text!r} has no time zone")
        try:
            naive = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second))
        except ValueError:
            raise ValueError(f"{text!r} is not a valid time") from None
        return naive.replace(tzinfo=_zone(zone_name, text)).astimezone(UTC)
    short = _US_SHORT.match(value)
    if short is not None:
        month, day, year = short.groups()
        full_year = int(year) + 2000 if len(year) == 2 else int(year)
        return _midnight(full_year, int(month), int(day), text)
    raise ValueError(f"{text!r} is not a time Amazon writes")


def parse_date(text: str) -> date:
    """A date in any shape parse_time reads; a time gives its UTC date."""
    return parse_time(text).date()


def _zone(name: str, text: str) -> timezone:
    zone = _ZONES.get(name)
    if zone is None:
        raise ValueError(f"{text!r}: unknown time zone {name!r}")
    return zone


def _midnight(year: int, month: int, day: int, text: str) -> datetime:
    try:
        return datetime(year, month, day, tzinfo=UTC)
    except ValueError:
        raise ValueError(f"{text!r} is not a valid date") from None
