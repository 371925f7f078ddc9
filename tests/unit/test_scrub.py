"""U+0000 is removed from text before it is stored, the same on both engines."""

from __future__ import annotations

from typing import Any

import pytest

from soldscope_cli.db.sql import Json, scrub, scrub_rows


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        ("Tent\x00 2p", "Tent 2p"),
        ('{"name":"a\\u0000b"}', '{"name":"ab"}'),
        # An escaped backslash followed by the letters u0000 is text, not a NUL: kept.
        ('{"path":"C:\\\\u0000"}', '{"path":"C:\\\\u0000"}'),
        ('{"odd":"\\\\\\u0000x"}', '{"odd":"\\\\x"}'),
        ("plain \\u0000 text", "plain \\u0000 text"),  # not JSON: only real NULs go
        (12, 12),
        (None, None),
    ],
)
def test_scrub(value: Any, stored: Any) -> None:
    assert scrub(value) == stored


def test_json_parameters_and_rows_are_scrubbed_deeply() -> None:
    cleaned = scrub(Json({"k\x00": ["v\x00", {"x": "\x00"}], "n": 1}))
    assert isinstance(cleaned, Json)
    assert cleaned.value == {"k": ["v", {"x": ""}], "n": 1}
    untouched = (1, 2.5, None)
    rows = scrub_rows([untouched, ("a\x00", 3)])
    assert rows[0] is untouched
    assert list(rows[1]) == ["a", 3]
