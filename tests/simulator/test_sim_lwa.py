"""Login with Amazon token endpoint: code exchange, refresh, grantless and LWA's error bodies."""

from __future__ import annotations

import httpx
import pytest

from soldscope_cli.simulator import ManualClock, Simulator

from .support import (
    CLIENT_SECRET,
    NA_SELLER,
    REDIRECT,
    auth,
    confirm_consent,
    lwa_form,
)

TOKEN = "/auth/o2/token"


def exchange(
    client: httpx.Client, code: str, redirect_uri: str = REDIRECT, **extra: str
) -> httpx.Response:
    form = lwa_form(grant_type="authorization_code", code=code, redirect_uri=redirect_uri)
    form.update(extra)
    return client.post(TOKEN, data=form)


def test_code_exchange_returns_lwa_token_shape(client: httpx.Client) -> None:
    code = confirm_consent(client)["spapi_oauth_code"]
    response = exchange(client, code)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert body["access_token"].startswith("Atza|")
    assert len(body["access_token"]) <= 2048
    assert body["refresh_token"].startswith("Atzr|")
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    assert response.headers["x-amzn-RequestId"]


def test_code_is_single_use(client: httpx.Client) -> None:
    code = confirm_consent(client)["spapi_oauth_code"]
    assert exchange(client, code).status_code == 200
    again = exchange(client, code)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    assert set(again.json()) == {"error", "error_description"}


@pytest.mark.parametrize(("age", "status"), [(299, 200), (301, 400)])
def test_code_expires_after_five_minutes(
    client: httpx.Client, clock: ManualClock, age: int, status: int
) -> None:
    code = confirm_consent(client)["spapi_oauth_code"]
    clock.advance(age)
    assert exchange(client, code).status_code == status


def test_code_needs_the_consent_redirect_uri(client: httpx.Client) -> None:
    code = confirm_consent(client)["spapi_oauth_code"]
    wrong = exchange(client, code, redirect_uri="https://agency.example/other")
    assert (wrong.status_code, wrong.json()["error"]) == (400, "invalid_grant")
    # A mismatch does not burn the code: the right URI still works.
    assert exchange(client, code).status_code == 200


def test_unknown_code_is_invalid_grant(client: httpx.Client) -> None:
    response = exchange(client, "NotAnIssuedCode12345")
    assert (response.status_code, response.json()["error"]) == (400, "invalid_grant")


@pytest.mark.parametrize(
    "override", [{"client_secret": "wrong"}, {"client_id": "amzn1.application-oa2-client.other"}]
)
def test_bad_client_credentials_are_invalid_client(
    client: httpx.Client, override: dict[str, str]
) -> None:
    code = confirm_consent(client)["spapi_oauth_code"]
    response = exchange(client, code, **override)
    assert response.status_code == 401
    assert response.json() == {
        "error": "invalid_client",
        "error_description": "Client authentication failed",
    }


def test_refresh_returns_the_same_refresh_token(sim: Simulator, client: httpx.Client) -> None:
    refresh = sim.authorize(NA_SELLER)
    first = client.post(TOKEN, data=lwa_form(grant_type="refresh_token", refresh_token=refresh))
    second = client.post(TOKEN, data=lwa_form(grant_type="refresh_token", refresh_token=refresh))
    assert first.status_code == second.status_code == 200
    assert first.json()["refresh_token"] == refresh == second.json()["refresh_token"]
    assert first.json()["access_token"] != second.json()["access_token"]


def test_revoked_grant_refresh_is_invalid_grant_and_tokens_stop(
    sim: Simulator, client: httpx.Client
) -> None:
    refresh = sim.authorize(NA_SELLER)
    access = client.post(
        TOKEN, data=lwa_form(grant_type="refresh_token", refresh_token=refresh)
    ).json()["access_token"]
    assert sim.revoke(NA_SELLER) == 1
    response = client.post(TOKEN, data=lwa_form(grant_type="refresh_token", refresh_token=refresh))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert "revoked" in response.json()["error_description"]
    api = client.get("/sellers/v1/marketplaceParticipations", headers=auth(access))
    assert api.status_code == 403
    # Re-authorizing yields a new, working token for the same seller.
    fresh = sim.authorize(NA_SELLER)
    ok = client.post(TOKEN, data=lwa_form(grant_type="refresh_token", refresh_token=fresh))
    assert ok.status_code == 200


def test_refresh_tokens_expire_after_the_lifetime(
    sim: Simulator, client: httpx.Client, clock: ManualClock
) -> None:
    refresh = sim.authorize(NA_SELLER)
    clock.advance(364 * 86400)
    form = lwa_form(grant_type="refresh_token", refresh_token=refresh)
    assert client.post(TOKEN, data=form).status_code == 200
    clock.advance(2 * 86400)
    assert client.post(TOKEN, data=form).json()["error"] == "invalid_grant"


def test_rotated_secret_keeps_old_one_for_the_grace_period(
    sim: Simulator, client: httpx.Client, clock: ManualClock
) -> None:
    refresh = sim.authorize(NA_SELLER)
    new_secret = sim.rotate_client_secret(grace_seconds=3600)
    old = lwa_form(grant_type="refresh_token", refresh_token=refresh)
    new = {**old, "client_secret": new_secret}
    assert client.post(TOKEN, data=old).status_code == 200
    clock.advance(3601)
    assert client.post(TOKEN, data=old).status_code == 401
    assert client.post(TOKEN, data=new).status_code == 200


def test_expired_secret_is_invalid_client_for_every_grant(
    sim: Simulator, client: httpx.Client
) -> None:
    refresh = sim.authorize(NA_SELLER)
    sim.expire_client_secret()
    response = client.post(TOKEN, data=lwa_form(grant_type="refresh_token", refresh_token=refresh))
    assert (response.status_code, response.json()["error"]) == (401, "invalid_client")
    assert CLIENT_SECRET not in response.text


def test_grantless_token(client: httpx.Client) -> None:
    response = client.post(
        TOKEN,
        data=lwa_form(grant_type="client_credentials", scope="sellingpartnerapi::notifications"),
    )
    assert response.status_code == 200
    body = response.json()
    assert body["scope"] == "sellingpartnerapi::notifications"
    assert "refresh_token" not in body
    # Grantless tokens cannot read seller data.
    api = client.get("/sellers/v1/marketplaceParticipations", headers=auth(body["access_token"]))
    assert api.status_code == 403


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        ({"grant_type": "password"}, 400, "unsupported_grant_type"),
        ({}, 400, "invalid_request"),
        ({"grant_type": "refresh_token"}, 400, "invalid_request"),
        ({"grant_type": "authorization_code", "code": "x"}, 400, "invalid_request"),
        ({"grant_type": "client_credentials"}, 400, "invalid_request"),
        (
            {"grant_type": "client_credentials", "scope": "sellingpartnerapi::nope"},
            400,
            "invalid_scope",
        ),
    ],
)
def test_request_errors(
    client: httpx.Client, form: dict[str, str], status: int, error: str
) -> None:
    response = client.post(TOKEN, data=lwa_form(**form))
    assert response.status_code == status
    assert response.json()["error"] == error
    assert response.json()["error_description"]


def test_token_endpoint_wants_a_form(client: httpx.Client) -> None:
    response = client.post(TOKEN, json=lwa_form(grant_type="refresh_token", refresh_token="x"))
    assert (response.status_code, response.json()["error"]) == (400, "invalid_request")


def test_access_token_expires_after_an_hour(
    sim: Simulator, client: httpx.Client, clock: ManualClock
) -> None:
    refresh = sim.authorize(NA_SELLER)
    access = client.post(
        TOKEN, data=lwa_form(grant_type="refresh_token", refresh_token=refresh)
    ).json()["access_token"]
    path = "/sellers/v1/marketplaceParticipations"
    assert client.get(path, headers=auth(access)).status_code == 200
    clock.advance(3600)
    assert client.get(path, headers=auth(access)).status_code == 403
