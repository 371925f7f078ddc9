"""One store's live check: refresh its token, list its marketplaces at Amazon, compare."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from soldscope_cli.amazon.marketplaces import BY_ID
from soldscope_cli.amazon.spapi import (
    PARTICIPATIONS_OPERATION,
    PARTICIPATIONS_PATH,
    SpapiResponse,
    participations_payload,
)
from soldscope_cli.checks.failures import classify
from soldscope_cli.checks.result import StoreCheck
from soldscope_cli.db.model import CHECK_OK, CHECK_PROBLEM
from soldscope_cli.fleet.config import StoreRecord
from soldscope_cli.status import MARKETPLACE_MISMATCH


class AccessTokens(Protocol):
    """Turns a store's refresh token into an access token (soldscope_cli.amazon.lwa.LwaClient)."""

    def access_token(self, refresh_token: str) -> str: ...


class SellerApi(Protocol):
    """The one SP-API call a check needs (soldscope_cli.amazon.spapi.SpapiClient)."""

    def request(self, method: str, path: str, *, operation: str) -> SpapiResponse: ...


class HealthClients(Protocol):
    """What a check is given (soldscope_cli.amazon.clients.AmazonClients provides it)."""

    @property
    def lwa(self) -> AccessTokens: ...

    def spapi_for(self, record: StoreRecord, refresh_token: str) -> SellerApi: ...


def compare_marketplaces(
    record: StoreRecord, payload: Sequence[Mapping[str, Any]]
) -> tuple[list[str], list[str], list[str]]:
    """(participating, missing, added) country codes of the store's region.

    Unknown ids (Amazon lists "non-Amazon" ones such as A2ZV50J4W1RKNI) are ignored; only
    isParticipating=true counts (FACTS §6).
    """
    participating: list[str] = []
    for item in payload:
        market = item.get("marketplace")
        status = item.get("participation")
        if not isinstance(market, Mapping) or not isinstance(status, Mapping):
            continue
        known = BY_ID.get(str(market.get("id")))
        if known is None or known.region != record.region:
            continue
        if status.get("isParticipating") is True and known.code not in participating:
            participating.append(known.code)
    missing = [code for code in record.marketplaces if code not in participating]
    added = [code for code in participating if code not in record.marketplaces]
    return participating, missing, added


def store_names(
    record: StoreRecord, payload: Sequence[Mapping[str, Any]]
) -> tuple[tuple[str, str], ...]:
    """(country code, storeName) of the region's marketplaces the token's seller takes part in.

    The seller id in a consent's redirect is only a claim anyone can edit; what Amazon answers for
    the token is the seller's own (FACTS §6).
    """
    found: dict[str, str] = {}
    for item in payload:
        market = item.get("marketplace")
        name = item.get("storeName")
        if not isinstance(market, Mapping) or not isinstance(name, str) or not name:
            continue
        known = BY_ID.get(str(market.get("id")))
        if known is not None and known.region == record.region:
            found.setdefault(known.code, name)
    return tuple(sorted(found.items()))


def _mismatch_hint(record: StoreRecord, missing: list[str]) -> str:
    """How to renew a store whose seller left marketplaces, keeping how the store was made."""
    extra = " --refresh-token-stdin" if record.self_authorized else ""
    if record.region_wide:
        # --marketplace would turn a region-wide store into a fixed list; --region keeps it.
        return (
            f"if the seller left {', '.join(missing)}, renew the store to rediscover its "
            f"marketplaces: `soldscope connect {record.name} --region {record.region}{extra}`"
        )
    return (
        f"if the seller left {', '.join(missing)}, renew the store with the marketplaces it "
        f"sells in: `soldscope connect {record.name} --marketplace CC{extra}`"
    )


def check_store(record: StoreRecord, refresh_token: str, clients: HealthClients) -> StoreCheck:
    """Check one store: refresh its token, list its marketplaces, compare. Never raises."""
    name = record.name
    try:
        # Refreshing first attributes an LWA failure to LWA; the SP-API call reuses the token.
        clients.lwa.access_token(refresh_token)
        response = clients.spapi_for(record, refresh_token).request(
            "GET", PARTICIPATIONS_PATH, operation=PARTICIPATIONS_OPERATION
        )
        payload = participations_payload(response, store=name)
        participating, missing, added = compare_marketplaces(record, payload)
        names = store_names(record, payload)
    except Exception as exc:  # classified once for validate and sync (checks/failures.py)
        return classify(record, exc)
    if missing:
        seen = ", ".join(participating) or "none of the region's marketplaces"
        return StoreCheck(
            name,
            CHECK_PROBLEM,
            MARKETPLACE_MISMATCH,
            f"not participating in {', '.join(missing)} (participating: {seen})",
            hint=_mismatch_hint(record, missing),
            request_id=response.request_id,
            participating=tuple(participating),
            added=tuple(added) if record.region_wide else (),
            store_names=names,
        )
    return StoreCheck(
        name,
        CHECK_OK,
        request_id=response.request_id,
        participating=tuple(participating),
        added=tuple(added) if record.region_wide else (),
        store_names=names,
        message=f"seller now also sells in {', '.join(added)}"
        if added and record.region_wide
        else None,
    )
