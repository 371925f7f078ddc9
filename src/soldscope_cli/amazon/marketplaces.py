"""Amazon marketplaces: country code, marketplace id, region and Seller Central host, in one table.

Source: https://developer-docs.amazon.com/sp-api/docs/marketplace-ids and
https://developer-docs.amazon.com/sp-api/docs/sp-api-endpoints (shared/spapi/FACTS.md §1, §4).
Hosts marked UNVERIFIED there are kept here so that a correction is a one-line change.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from soldscope_cli.errors import UsageError

Region = Literal["na", "eu", "fe"]
REGIONS: tuple[Region, ...] = ("na", "eu", "fe")


@dataclass(frozen=True)
class Marketplace:
    """One Amazon marketplace as soldscope knows it."""

    code: str  # the country code soldscope uses (UK, not GB)
    marketplace_id: str
    region: Region
    seller_central: str  # host of the consent page, without scheme
    api_country_code: str  # what the Sellers API calls it (GB for the UK)


def _m(code: str, mid: str, region: Region, host: str, api_code: str | None = None) -> Marketplace:
    return Marketplace(code, mid, region, host, api_code or code)


MARKETPLACES: tuple[Marketplace, ...] = (
    _m("US", "ATVPDKIKX0DER", "na", "sellercentral.amazon.com"),
    _m("CA", "A2EUQ1WTGCTBG2", "na", "sellercentral.amazon.ca"),
    _m("MX", "A1AM78C64UM0Y8", "na", "sellercentral.amazon.com.mx"),
    _m("BR", "A2Q3Y263D00KWC", "na", "sellercentral.amazon.com.br"),
    _m("IE", "A28R8C7NBKEWEA", "eu", "sellercentral.amazon.ie"),  # host UNVERIFIED
    _m("ES", "A1RKKUPIHCS9HS", "eu", "sellercentral-europe.amazon.com"),
    _m("UK", "A1F83G8C2ARO7P", "eu", "sellercentral-europe.amazon.com", "GB"),
    _m("FR", "A13V1IB3VIYZZH", "eu", "sellercentral-europe.amazon.com"),
    _m("BE", "AMEN7PMS3EDWL", "eu", "sellercentral.amazon.com.be"),
    _m("NL", "A1805IZSGTT6HS", "eu", "sellercentral.amazon.nl"),
    _m("DE", "A1PA6795UKMFR9", "eu", "sellercentral-europe.amazon.com"),
    _m("IT", "APJ6JRA9NG5V4", "eu", "sellercentral-europe.amazon.com"),
    _m("SE", "A2NODRKZP88ZB9", "eu", "sellercentral.amazon.se"),
    _m("ZA", "AE08WJ6YKNBMC", "eu", "sellercentral.amazon.co.za"),  # host UNVERIFIED
    _m("PL", "A1C3SOZRARQ6R3", "eu", "sellercentral.amazon.pl"),
    _m("EG", "ARBP9OOSHTCHU", "eu", "sellercentral.amazon.eg"),
    _m("TR", "A33AVAJ2PDY3EV", "eu", "sellercentral.amazon.com.tr"),
    _m("SA", "A17E79C6D8DWNP", "eu", "sellercentral.amazon.sa"),  # host UNVERIFIED
    _m("AE", "A2VIGQ35RCS4UG", "eu", "sellercentral.amazon.ae"),
    _m("IN", "A21TJRUUN4KGV", "eu", "sellercentral.amazon.in"),
    _m("SG", "A19VAU5U5O7RUS", "fe", "sellercentral.amazon.sg"),
    _m("AU", "A39IBJ37TRP1C6", "fe", "sellercentral.amazon.com.au"),
    _m("JP", "A1VC38T7YXB528", "fe", "sellercentral.amazon.co.jp"),
)

BY_CODE: dict[str, Marketplace] = {m.code: m for m in MARKETPLACES}
BY_ID: dict[str, Marketplace] = {m.marketplace_id: m for m in MARKETPLACES}
_ALIASES = {"GB": "UK"}

# The main Seller Central host of each region, used for region-wide (unified account) consents.
REGION_SELLER_CENTRAL: dict[Region, str] = {
    "na": "sellercentral.amazon.com",
    "eu": "sellercentral-europe.amazon.com",
    "fe": "sellercentral.amazon.co.jp",
}

SPAPI_HOSTS: dict[Region, str] = {
    "na": "https://sellingpartnerapi-na.amazon.com",
    "eu": "https://sellingpartnerapi-eu.amazon.com",
    "fe": "https://sellingpartnerapi-fe.amazon.com",
}
SANDBOX_HOSTS: dict[Region, str] = {
    r: h.replace("https://", "https://sandbox.") for r, h in SPAPI_HOSTS.items()
}
LWA_TOKEN_URL = "https://api.amazon.com/auth/o2/token"


def valid_codes() -> str:
    """All accepted country codes, for error messages."""
    return ", ".join(m.code for m in MARKETPLACES)


def normalize_code(code: str) -> str:
    """Canonical country code for user input (case-insensitive, GB accepted for UK)."""
    upper = code.strip().upper()
    return _ALIASES.get(upper, upper)


def lookup(code: str) -> Marketplace:
    """The marketplace for a country code, or a UsageError listing the valid codes."""
    market = BY_CODE.get(normalize_code(code))
    if market is None:
        raise UsageError(
            f"unknown marketplace {code!r}",
            hint=f"use one of: {valid_codes()}",
        )
    return market


def parse_region(value: str) -> Region:
    """A region name from user input, or a UsageError."""
    lowered = value.strip().lower()
    for region in REGIONS:
        if region == lowered:
            return region
    raise UsageError(f"unknown region {value!r}", hint="use one of: na, eu, fe")


def resolve(codes: Iterable[str]) -> tuple[Region, list[str]]:
    """Validate country codes for one connection: (region, canonical codes, in input order).

    A connection (one consent) covers one seller in one region, so codes of two regions are refused.
    """
    markets: list[Marketplace] = []
    for code in codes:
        market = lookup(code)
        if market not in markets:
            markets.append(market)
    if not markets:
        raise UsageError(
            "no marketplace given", hint="pass --marketplace CC, e.g. --marketplace US"
        )
    regions = sorted({m.region for m in markets})
    if len(regions) > 1:
        by_region = "; ".join(
            f"{r}: {', '.join(m.code for m in markets if m.region == r)}" for r in regions
        )
        raise UsageError(
            f"marketplaces of more than one region ({by_region})",
            hint="a connection covers one region: connect one store per region, "
            "e.g. acme-na and acme-eu",
        )
    return markets[0].region, [m.code for m in markets]


def region_codes(region: Region) -> list[str]:
    """Every documented marketplace code of a region."""
    return [m.code for m in MARKETPLACES if m.region == region]
