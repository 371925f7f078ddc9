"""The marketplace table and connection validation."""

from __future__ import annotations

import pytest

from soldscope_cli.amazon.marketplaces import BY_CODE, BY_ID, MARKETPLACES, lookup, resolve
from soldscope_cli.errors import UsageError


def test_table_is_consistent() -> None:
    assert len(BY_CODE) == len(MARKETPLACES) == len(BY_ID) == 23
    assert BY_CODE["UK"].marketplace_id == "A1F83G8C2ARO7P"
    assert BY_CODE["UK"].api_country_code == "GB"
    assert BY_CODE["US"].seller_central == "sellercentral.amazon.com"
    assert {m.region for m in MARKETPLACES} == {"na", "eu", "fe"}


@pytest.mark.parametrize("code", ["UK", "GB", "gb", " uk "])
def test_uk_and_gb_are_the_same_marketplace(code: str) -> None:
    assert lookup(code).code == "UK"


def test_resolve_returns_region_and_canonical_codes() -> None:
    assert resolve(["de", "GB", "UK", "FR"]) == ("eu", ["DE", "UK", "FR"])


def test_two_regions_are_refused_with_an_explanation() -> None:
    with pytest.raises(UsageError) as info:
        resolve(["US", "DE"])
    assert "more than one region" in info.value.message
    assert "na: US" in info.value.message and "eu: DE" in info.value.message
    assert info.value.hint and "one region" in info.value.hint


def test_unknown_code_lists_valid_codes() -> None:
    with pytest.raises(UsageError) as info:
        lookup("XX")
    assert "'XX'" in info.value.message
    assert info.value.hint and "US" in info.value.hint and "JP" in info.value.hint
