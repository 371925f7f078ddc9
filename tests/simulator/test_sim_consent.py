"""Seller Central consent page: MD error codes, confirm, cancel, auto-confirm, signed-in seller."""

from __future__ import annotations

import httpx
import pytest

from soldscope_cli.simulator import Simulator

from .support import APP_ID, EU_SELLER, NA_SELLER, REDIRECT, confirm_consent, redirect_params

CONSENT = "/apps/authorize/consent"


def open_page(client: httpx.Client, **params: str) -> httpx.Response:
    query = {"application_id": APP_ID, "state": "st-1", "redirect_uri": REDIRECT, **params}
    return client.get(CONSENT, params={k: v for k, v in query.items() if v != "-"})


def test_page_names_the_app_and_offers_confirm_and_cancel(client: httpx.Client) -> None:
    page = open_page(client)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    text = page.text
    assert APP_ID in text
    assert 'value="confirm"' in text and 'value="cancel"' in text
    assert "Signed in as" in text
    assert f'<option value="{NA_SELLER}" selected>' in text
    assert f'<option value="{EU_SELLER}">' in text
    assert "<script" not in text


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"application_id": "amzn1.sp.solution.unknown"}, "MD1000"),
        ({"redirect_uri": "https://evil.example/cb"}, "MD5101"),
        ({"redirect_uri": "https://agency.example/soldscope/callback#x"}, "MD5110"),
    ],
)
def test_error_pages(client: httpx.Client, params: dict[str, str], code: str) -> None:
    page = open_page(client, **params)
    assert page.status_code == 400
    assert code in page.text
    assert "location" not in page.headers


def test_draft_app_needs_version_beta(sim: Simulator, client: httpx.Client) -> None:
    sim.update_app({"draft": True})
    assert "MD1000" in open_page(client).text
    assert open_page(client, version="beta").status_code == 200


def test_confirm_redirects_with_code_state_and_seller(client: httpx.Client) -> None:
    params = confirm_consent(client, state="opaque state/with?chars")
    assert params["state"] == "opaque state/with?chars"
    assert params["selling_partner_id"] == NA_SELLER
    assert len(params["spapi_oauth_code"]) == 20
    assert "code" not in params


def test_confirm_as_the_chosen_seller(client: httpx.Client) -> None:
    assert confirm_consent(client, seller=EU_SELLER)["selling_partner_id"] == EU_SELLER


def test_cancel_redirects_with_access_denied(client: httpx.Client) -> None:
    form = {"application_id": APP_ID, "state": "s9", "redirect_uri": REDIRECT, "action": "cancel"}
    response = client.post(CONSENT, data=form)
    assert response.status_code == 302
    params = redirect_params(response, REDIRECT)
    assert params["error"] == "access_denied"
    assert params["error_description"]
    assert params["state"] == "s9"
    assert "spapi_oauth_code" not in params


def test_auto_confirm_redirects_from_the_get(sim: Simulator, client: httpx.Client) -> None:
    sim.set_consent(auto_confirm=True)
    response = open_page(client)
    assert response.status_code == 302
    params = redirect_params(response, REDIRECT)
    assert params["selling_partner_id"] == NA_SELLER
    assert params["spapi_oauth_code"]


def test_signed_in_seller_from_admin_and_from_query(sim: Simulator, client: httpx.Client) -> None:
    sim.set_consent(auto_confirm=True, signed_in_seller=EU_SELLER)
    assert redirect_params(open_page(client), REDIRECT)["selling_partner_id"] == EU_SELLER
    response = open_page(client, sim_seller=NA_SELLER)
    assert redirect_params(response, REDIRECT)["selling_partner_id"] == NA_SELLER


def test_unknown_sim_seller_is_refused(client: httpx.Client) -> None:
    assert open_page(client, sim_seller="ANOBODY").status_code == 400


@pytest.mark.parametrize(
    "uri", ["http://127.0.0.1:53219/callback", "http://localhost:8080/cb?x=1", "http://[::1]:9/cb"]
)
def test_any_loopback_redirect_when_allowed(sim: Simulator, client: httpx.Client, uri: str) -> None:
    params = confirm_consent(client, redirect_uri=uri)
    assert params["spapi_oauth_code"]
    sim.update_app({"accept_any_loopback_redirect": False})
    assert "MD5101" in open_page(client, redirect_uri=uri).text


def test_registered_loopback_uri_is_accepted_without_the_flag(
    sim: Simulator, client: httpx.Client
) -> None:
    uri = "http://127.0.0.1:8400/callback"
    sim.update_app({"accept_any_loopback_redirect": False, "redirect_uris": [REDIRECT, uri]})
    assert open_page(client, redirect_uri=uri).status_code == 200


def test_missing_redirect_uri_uses_the_first_registered(
    sim: Simulator, client: httpx.Client
) -> None:
    sim.set_consent(auto_confirm=True)
    response = open_page(client, redirect_uri="-")
    assert response.headers["location"].startswith(REDIRECT + "?")


def test_posted_redirect_is_checked_again(client: httpx.Client) -> None:
    form = {
        "application_id": APP_ID,
        "state": "s",
        "redirect_uri": "https://evil.example/cb",
        "action": "confirm",
    }
    response = client.post(CONSENT, data=form)
    assert response.status_code == 400
    assert "MD5101" in response.text


def test_existing_query_on_redirect_uri_is_kept(sim: Simulator, client: httpx.Client) -> None:
    uri = "http://127.0.0.1:9000/cb?port=9000"
    params = confirm_consent(client, redirect_uri=uri)
    assert params["port"] == "9000"
    assert params["spapi_oauth_code"]
