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


@pytest.mark.parametrize(
    "dirty",
    [
        ("a\x00b", 1),  # a text column
        (None, "a\x00b"),  # a text column with NULLs
        ('{"k":"\\u0000"}', 2.5),  # JSON text
        (Json({"k": "\x00"}), 1),
    ],
)
def test_a_batch_is_scrubbed_wherever_its_one_nul_is(dirty: tuple[Any, ...]) -> None:
    clean = [("text", None) if i % 2 else (None, 3) for i in range(50)]
    for at in (0, 25, 50):
        rows = scrub_rows([*clean[:at], dirty, *clean[at:]])
        stored = [getattr(v, "value", v) for v in rows[at]]
        assert not any("\x00" in str(v) or "\\u0000" in str(v) for v in stored), at
        assert [tuple(r) for r in rows[:at] + rows[at + 1 :]] == clean


def test_ragged_rows_are_scrubbed_row_by_row() -> None:
    assert [list(r) for r in scrub_rows([("a",), ("b\x00", 1)])] == [["a"], ["b", 1]]


def test_a_clean_batch_keeps_its_rows() -> None:
    rows = [("a", None, 1), (None, "b", 2.5)]
    assert all(a is b for a, b in zip(scrub_rows(rows), rows, strict=True))
