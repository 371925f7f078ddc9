"""Shared constants and request builders for the simulator tests."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

import httpx

from soldscope_cli.simulator import Simulator

US = "ATVPDKIKX0DER"
CA = "A2EUQ1WTGCTBG2"
DE = "A1PA6795UKMFR9"
NA_SELLER = "A1TESTNA00001"
EU_SELLER = "A2TESTEU00002"
REDIRECT = "https://agency.example/soldscope/callback"
CLIENT_ID = "amzn1.application-oa2-client.test"
CLIENT_SECRET = "test-secret"
APP_ID = "amzn1.sp.solution.test-app"


def scenario_data(**overrides: Any) -> dict[str, Any]:
    """A small two-seller scenario, rate limits off; keyword arguments replace top-level sections."""
    data: dict[str, Any] = {
        "rate_limits": {"enabled": False},
        "app": {
            "application_id": APP_ID,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "redirect_uris": [REDIRECT],
            "accept_any_loopback_redirect": True,
        },
        "sellers": [
            {
                "selling_partner_id": NA_SELLER,
                "region": "na",
                "marketplaces": ["US", "CA"],
                "store_name": "Test North",
                "extra_marketplace_ids": ["A2ZV50J4W1RKNI"],
                "inventory_items": 120,
                "transactions": 250,
                "search_terms_rows": 30,
            },
            {
                "selling_partner_id": EU_SELLER,
                "region": "eu",
                "marketplaces": ["DE"],
                "store_name": "Test Europe",
                "roles": ["sellers", "inventory", "finances"],
                "inventory_items": 10,
                "transactions": 20,
            },
        ],
    }
    data.update(overrides)
    return data


def lwa_form(**fields: str) -> dict[str, str]:
    """A token request form with the test app's credentials."""
    return {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, **fields}


def access_token(sim: Simulator, client: httpx.Client, seller: str = NA_SELLER) -> str:
    """Self-authorize `seller` and trade the refresh token for an access token."""
    refresh = sim.authorize(seller)
    response = client.post(
        "/auth/o2/token", data=lwa_form(grant_type="refresh_token", refresh_token=refresh)
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def auth(token: str) -> dict[str, str]:
    """SP-API headers for an access token."""
    return {"x-amz-access-token": token, "user-agent": "soldscope-tests/1.0 (Language=Python)"}


def confirm_consent(
    client: httpx.Client, *, redirect_uri: str = REDIRECT, state: str = "st-1", seller: str = ""
) -> dict[str, str]:
    """Submit the consent page's Confirm button; returns the redirect's query parameters."""
    form = {
        "application_id": APP_ID,
        "state": state,
        "redirect_uri": redirect_uri,
        "action": "confirm",
    }
    if seller:
        form["selling_partner_id"] = seller
    response = client.post("/apps/authorize/consent", data=form)
    assert response.status_code == 302, response.text
    return redirect_params(response, redirect_uri)


def redirect_params(response: httpx.Response, redirect_uri: str) -> dict[str, str]:
    """The query parameters of a 302 to `redirect_uri`."""
    location = response.headers["location"]
    base, _, query = location.partition("?")
    assert base == redirect_uri.partition("?")[0]
    return {k: v[0] for k, v in parse_qs(query).items()}
