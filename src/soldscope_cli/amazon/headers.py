"""Response header values parsed defensively: a server or a proxy on the way controls them."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

# A proxy that repeats a header leaves "Mon, 01 Dec 2026 10:00:00 GMT, Mon, 01 Dec ..." (RFC 9110
# §5.3 joins repeated fields with commas); the comma after a weekday name is part of a date.
_REPEAT = re.compile(r",\s*(?=(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)\b)", re.IGNORECASE)


def parse_http_date(value: str | None) -> datetime | None:
    """An aware UTC datetime from an HTTP-date (Date, Retry-After), or None when unusable.

    email.utils returns a naive datetime for the RFC 5322 "-0000" zone and for a date without a
    zone; HTTP dates are always GMT (RFC 9110 §5.6.7), so naive means UTC. A repeated header counts
    only when every copy names the same instant. Nothing a header holds raises.
    """
    if value is None:
        return None
    pieces = [piece.strip() for piece in _REPEAT.split(value.strip()) if piece.strip()]
    if not pieces:
        return None
    found: set[datetime] = set()
    for piece in pieces:
        try:
            parsed = parsedate_to_datetime(piece)
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            found.add(parsed.astimezone(UTC))
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    return found.pop() if len(found) == 1 else None
