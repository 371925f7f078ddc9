"""Sync's live progress names marketplaces by country code, as people know them."""

from __future__ import annotations

from typing import Any

import pytest

from soldscope_cli.amazon.marketplaces import BY_CODE
from soldscope_cli.output.sync import ProgressObserver, with_country_codes


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (f"inventory {BY_CODE['DE'].marketplace_id} (fba) page 2", "inventory DE (fba) page 2"),
        (
            f"brand analytics {BY_CODE['US'].marketplace_id} 2026-11-16: requesting the report",
            "brand analytics US 2026-11-16: requesting the report",
        ),
        (
            f"brand analytics {BY_CODE['JP'].marketplace_id} week 2026-11-16: 12,000 rows",
            "brand analytics JP week 2026-11-16: 12,000 rows",
        ),
        ("finances 2026-11-01..2026-11-29 page 3", "finances 2026-11-01..2026-11-29 page 3"),
        ("inventory AUNKNOWNID0001 page 1", "inventory AUNKNOWNID0001 page 1"),  # left as is
    ],
)
def test_marketplace_ids_become_country_codes(text: str, shown: str) -> None:
    assert with_country_codes(text) == shown


class FakeProgress:
    def __init__(self) -> None:
        self.descriptions: list[str] = []

    def add_task(self, description: str, total: Any = None) -> int:
        return 0

    def update(self, task: int, **fields: Any) -> None:
        self.descriptions.append(fields["description"])


def test_the_progress_line_shows_the_code() -> None:
    progress = FakeProgress()
    observer = ProgressObserver(progress)  # type: ignore[arg-type]
    observer.progress("acme-eu", f"inventory {BY_CODE['UK'].marketplace_id} (fba) page 1")
    assert progress.descriptions == ["acme-eu: inventory UK (fba) page 1"]
