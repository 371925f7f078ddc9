"""SP-API gate (token, role) and the Sellers, FBA Inventory and Finances operations."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from soldscope_cli.simulator import ManualClock, Simulator

from .support import CA, DE, EU_SELLER, NA_SELLER, US, access_token, auth

PARTICIPATIONS = "/sellers/v1/marketplaceParticipations"
INVENTORY = "/fba/inventory/v1/summaries"
TRANSACTIONS = "/finances/2024-06-19/transactions"
UNAUTHORIZED = {
    "errors": [
        {
            "code": "Unauthorized",
            "message": "Access to requested resource is denied.",
            "details": "",
        }
    ]
}


@pytest.fixture
def token(sim: Simulator, client: httpx.Client) -> str:
    return access_token(sim, client)


def inventory(client: httpx.Client, token: str, **params: str) -> httpx.Response:
    query = {"granularityType": "Marketplace", "granularityId": US, "marketplaceIds": US, **params}
    return client.get(INVENTORY, params=query, headers=auth(token))


# --- the gate --------------------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, {"x-amz-access-token": "Atza|forged"}])
def test_missing_or_unknown_token_is_403(client: httpx.Client, headers: dict[str, str]) -> None:
    response = client.get(PARTICIPATIONS, headers=headers)
    assert response.status_code == 403
    assert response.json() == UNAUTHORIZED
    assert response.headers["x-amzn-RequestId"]
    assert "x-amzn-RateLimit-Limit" not in response.headers


def test_every_response_has_a_distinct_request_id(client: httpx.Client, token: str) -> None:
    responses = [
        client.get(PARTICIPATIONS, headers=auth(token)),
        client.get(PARTICIPATIONS),
        client.get("/no/such/path"),
        client.post("/auth/o2/token", data={}),
        client.get("/apps/authorize/consent"),
        client.get("/_admin/health"),
    ]
    ids = [r.headers["x-amzn-RequestId"] for r in responses]
    assert all(ids) and len(set(ids)) == len(ids)


def test_removed_role_makes_that_api_403(sim: Simulator, client: httpx.Client, token: str) -> None:
    assert inventory(client, token).status_code == 200
    sim.remove_role(NA_SELLER, "inventory")
    response = inventory(client, token)
    assert (response.status_code, response.json()) == (403, UNAUTHORIZED)
    assert client.get(PARTICIPATIONS, headers=auth(token)).status_code == 200
    sim.add_role(NA_SELLER, "inventory")
    assert inventory(client, token).status_code == 200


def test_unknown_path_is_404_in_spapi_shape(client: httpx.Client) -> None:
    response = client.get("/orders/v0/nothing")
    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "NotFound"


# --- Sellers ---------------------------------------------------------------------------------------


def test_participations_list_marketplaces_and_the_extra_id(
    client: httpx.Client, token: str
) -> None:
    response = client.get(PARTICIPATIONS, headers=auth(token))
    assert response.status_code == 200
    assert response.headers["x-amzn-RateLimit-Limit"] == "0.016"
    payload = response.json()["payload"]
    assert [p["marketplace"]["id"] for p in payload] == [US, CA, "A2ZV50J4W1RKNI"]
    assert payload[0] == {
        "marketplace": {
            "id": US,
            "name": "Amazon.com",
            "countryCode": "US",
            "defaultCurrencyCode": "USD",
            "defaultLanguageCode": "en_US",
            "domainName": "www.amazon.com",
        },
        "participation": {"isParticipating": True, "hasSuspendedListings": False},
        "storeName": "Test North",
    }


def test_uk_is_gb_in_the_api(sim: Simulator, client: httpx.Client) -> None:
    sim.add_marketplace(EU_SELLER, "UK")
    token = access_token(sim, client, EU_SELLER)
    payload = client.get(PARTICIPATIONS, headers=auth(token)).json()["payload"]
    uk = [p["marketplace"] for p in payload if p["marketplace"]["id"] == "A1F83G8C2ARO7P"]
    assert uk[0]["countryCode"] == "GB"
    assert uk[0]["defaultCurrencyCode"] == "GBP"


def test_dropped_marketplace_leaves_participations(
    sim: Simulator, client: httpx.Client, token: str
) -> None:
    sim.drop_marketplace(NA_SELLER, "CA")
    payload = client.get(PARTICIPATIONS, headers=auth(token)).json()["payload"]
    assert [p["marketplace"]["id"] for p in payload] == [US, "A2ZV50J4W1RKNI"]


# --- FBA Inventory ---------------------------------------------------------------------------------


def collect_inventory(client: httpx.Client, token: str, **params: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    response = inventory(client, token, **params)
    while True:
        assert response.status_code == 200, response.text
        body = response.json()
        items.extend(body["payload"]["inventorySummaries"])
        next_token = body.get("pagination", {}).get("nextToken")
        if not next_token:
            return items
        response = inventory(client, token, nextToken=next_token, **params)


def test_inventory_pages_of_fifty_with_top_level_next_token(
    client: httpx.Client, token: str
) -> None:
    first = inventory(client, token).json()
    assert len(first["payload"]["inventorySummaries"]) == 50
    assert first["payload"]["granularity"] == {
        "granularityType": "Marketplace",
        "granularityId": US,
    }
    assert "nextToken" in first["pagination"]
    assert "inventoryDetails" not in first["payload"]["inventorySummaries"][0]
    items = collect_inventory(client, token)
    assert len(items) == 120
    assert len({i["sellerSku"] for i in items}) == 120


def test_inventory_is_deterministic(client: httpx.Client, token: str) -> None:
    assert inventory(client, token).json()["payload"] == inventory(client, token).json()["payload"]


def test_inventory_details(client: httpx.Client, token: str) -> None:
    item = inventory(client, token, details="true").json()["payload"]["inventorySummaries"][0]
    details = item["inventoryDetails"]
    parts = (
        details["fulfillableQuantity"]
        + details["inboundWorkingQuantity"]
        + details["inboundShippedQuantity"]
        + details["inboundReceivingQuantity"]
        + details["reservedQuantity"]["totalReservedQuantity"]
        + details["researchingQuantity"]["totalResearchingQuantity"]
        + details["unfulfillableQuantity"]["totalUnfulfillableQuantity"]
    )
    assert item["totalQuantity"] == parts


def test_inventory_next_token_expires_after_30_seconds(
    client: httpx.Client, token: str, clock: ManualClock
) -> None:
    next_token = inventory(client, token).json()["pagination"]["nextToken"]
    clock.advance(29)
    assert inventory(client, token, nextToken=next_token).status_code == 200
    clock.advance(2)
    expired = inventory(client, token, nextToken=next_token)
    assert expired.status_code == 400
    assert expired.json()["errors"][0]["code"] == "InvalidInput"


def test_inventory_start_date_filters_by_last_update(client: httpx.Client, token: str) -> None:
    everything = collect_inventory(client, token)
    cutoff = sorted(i["lastUpdatedTime"] for i in everything)[60]
    changed = collect_inventory(client, token, startDateTime=cutoff)
    assert changed
    assert all(i["lastUpdatedTime"] >= cutoff for i in changed)
    assert len(changed) == sum(1 for i in everything if i["lastUpdatedTime"] >= cutoff)


def test_inventory_seller_skus(client: httpx.Client, token: str) -> None:
    skus = [
        i["sellerSku"] for i in inventory(client, token).json()["payload"]["inventorySummaries"]
    ]
    picked = inventory(client, token, sellerSkus=",".join(skus[3:6])).json()
    assert [i["sellerSku"] for i in picked["payload"]["inventorySummaries"]] == skus[3:6]


@pytest.mark.parametrize(
    "params",
    [
        {"marketplaceIds": f"{US},{CA}"},
        {"granularityType": "Country"},
        {"granularityId": CA},
        {"granularityId": DE, "marketplaceIds": DE},
        {"details": "maybe"},
        {"nextToken": "forged.token"},
        {"startDateTime": "yesterday"},
        {"startDateTime": "2020-01-01T00:00:00Z"},
    ],
)
def test_inventory_invalid_input(client: httpx.Client, token: str, params: dict[str, str]) -> None:
    response = inventory(client, token, **params)
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["code"] == "InvalidInput"
    assert response.headers["x-amzn-RateLimit-Limit"] == "2.0"


# --- Finances --------------------------------------------------------------------------------------


def transactions(client: httpx.Client, token: str, **params: str) -> httpx.Response:
    return client.get(TRANSACTIONS, params=params, headers=auth(token))


def collect_transactions(client: httpx.Client, token: str, **params: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    response = transactions(client, token, **params)
    while True:
        assert response.status_code == 200, response.text
        payload = response.json()["payload"]
        found.extend(payload["transactions"])
        if not payload.get("nextToken"):
            return found
        response = transactions(client, token, nextToken=payload["nextToken"])


def test_transactions_all_pages_stable_ids(client: httpx.Client, token: str) -> None:
    found = collect_transactions(client, token, postedAfter="2025-12-01T00:00:00Z")
    assert len(found) == 250
    ids = [t["transactionId"] for t in found]
    assert len(set(ids)) == 250
    dates = [t["postedDate"] for t in found]
    assert dates == sorted(dates)
    again = collect_transactions(client, token, postedAfter="2025-12-01T00:00:00Z")
    assert [t["transactionId"] for t in again] == ids


def test_transactions_date_window_and_marketplace(client: httpx.Client, token: str) -> None:
    everything = collect_transactions(client, token, postedAfter="2025-12-01T00:00:00Z")
    after, before = everything[40]["postedDate"], everything[90]["postedDate"]
    window = collect_transactions(client, token, postedAfter=after, postedBefore=before)
    assert [t["transactionId"] for t in window] == [t["transactionId"] for t in everything[40:90]]
    canada = collect_transactions(
        client, token, postedAfter="2025-12-01T00:00:00Z", marketplaceId=CA
    )
    assert canada and all(t["marketplaceDetails"]["marketplaceId"] == CA for t in canada)
    assert len(canada) == sum(
        1 for t in everything if t["sellingPartnerMetadata"]["marketplaceId"] == CA
    )
    assert all(t["totalAmount"]["currencyCode"] == "CAD" for t in canada)


def test_transactions_status_filter(client: httpx.Client, token: str) -> None:
    deferred = collect_transactions(
        client, token, postedAfter="2025-12-01T00:00:00Z", transactionStatus="DEFERRED"
    )
    assert deferred and all(t["transactionStatus"] == "DEFERRED" for t in deferred)


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({}, 400),
        ({"postedAfter": "2026-03-04T11:59:00Z"}, 400),  # under two minutes ago
        ({"postedAfter": "2026-03-04T11:57:00Z"}, 200),
        ({"postedAfter": "2026-01-01", "postedBefore": "2026-03-04T11:59:30Z"}, 400),
        ({"postedAfter": "2026-01-02", "postedBefore": "2026-01-01"}, 400),
        ({"postedAfter": "2025-06-01", "postedBefore": "2025-11-29"}, 400),  # 181 days
        ({"postedAfter": "2025-06-01", "postedBefore": "2025-11-28"}, 200),  # exactly 180 days
        ({"postedAfter": "not a date"}, 400),
        ({"postedAfter": "2026-01-01", "transactionStatus": "LOST"}, 400),
        ({"nextToken": "forged"}, 400),
    ],
)
def test_transactions_date_rules(
    client: httpx.Client, token: str, params: dict[str, str], status: int
) -> None:
    response = transactions(client, token, **params)
    assert response.status_code == status, response.text
    if status == 400:
        assert response.json()["errors"][0]["code"] == "InvalidInput"


def test_finances_role_and_seller_isolation(sim: Simulator, client: httpx.Client) -> None:
    eu_token = access_token(sim, client, EU_SELLER)
    found = collect_transactions(client, eu_token, postedAfter="2025-12-01T00:00:00Z")
    assert {t["sellingPartnerMetadata"]["sellingPartnerId"] for t in found} == {EU_SELLER}
    assert all(t["totalAmount"]["currencyCode"] == "EUR" for t in found)


def test_repeat_next_token_answers_a_token_with_itself_for_ever(
    client: httpx.Client, token: str, clock: ManualClock
) -> None:
    switched = client.put("/_admin/pagination", json={"repeat_next_token": ["inventory"]})
    assert switched.json() == {"repeat_next_token": ["inventory"]}
    first = inventory(client, token).json()["pagination"]["nextToken"]
    for _ in range(3):
        clock.advance(40)  # the repeated token does not expire either: the loop has no end
        page = inventory(client, token, nextToken=first)
        assert page.status_code == 200, page.text
        assert page.json()["pagination"]["nextToken"] == first
    # Finances is not switched: its pages end.
    assert len(collect_transactions(client, token, postedAfter="2025-12-01T00:00:00Z")) == 250
    client.put("/_admin/pagination", json={"repeat_next_token": ["finances"]})
    after = transactions(client, token, postedAfter="2025-12-01T00:00:00Z").json()["payload"]
    again = transactions(client, token, nextToken=after["nextToken"]).json()["payload"]
    assert again["nextToken"] == after["nextToken"]
    bad = client.put("/_admin/pagination", json={"repeat_next_token": ["orders"]})
    assert bad.status_code == 400
    assert "unknown API 'orders'" in bad.json()["error"]
