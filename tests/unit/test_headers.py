"""HTTP-date header values: always an aware UTC datetime or None, whatever the server sent."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from soldscope_cli.amazon.headers import parse_http_date

WHEN = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Mon, 30 Nov 2026 10:00:00 GMT", WHEN),
        ("Mon, 30 Nov 2026 10:00:00 -0000", WHEN),
        ("Mon, 30 Nov 2026 10:00:00 +0000", WHEN),
        ("Mon, 30 Nov 2026 11:00:00 +0100", WHEN),
        ("Mon, 30 Nov 2026 10:00:00", WHEN),
        ("Monday, 30-Nov-26 10:00:00 GMT", WHEN),
        ("Mon Nov 30 10:00:00 2026", WHEN),
        ("Mon, 30 Nov 2026 10:00:00 GMT, Mon, 30 Nov 2026 10:00:00 GMT", WHEN),
        ("Mon, 30 Nov 2026 10:00:00 GMT,Mon, 30 Nov 2026 10:00:00 -0000", WHEN),
        ("Mon, 30 Nov 2026 10:00:00 GMT, Mon, 30 Nov 2026 10:00:01 GMT", None),
        ("Fri, 31 Dec 9999 23:59:59 GMT", datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)),
        ("Fri, 31 Dec 9999 23:59:59 -1400", None),
        ("Mon, 01 Jan 0001 00:00:00 +1400", datetime(2000, 12, 31, 10, 0, tzinfo=UTC)),
        ("Mon, 30 Nov 2026 25:00:00 GMT", None),
        ("", None),
        (",", None),
        ("yesterday", None),
        ("\x00\xff", None),
        (None, None),
    ],
)
def test_parse_http_date(value: str | None, expected: datetime | None) -> None:
    parsed = parse_http_date(value)
    assert parsed == expected
    if parsed is not None:
        assert parsed.tzinfo is UTC
