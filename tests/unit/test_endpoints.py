"""Which Amazon hosts soldscope talks to: production, sandbox, or the SOLDSCOPE_* overrides."""

from __future__ import annotations

from typing import Any

import pytest
from tests.conftest import Harness

from soldscope_cli.amazon.endpoints import resolve_endpoints


def test_production_by_default() -> None:
    endpoints = resolve_endpoints({})
    assert endpoints.lwa_url == "https://api.amazon.com/auth/o2/token"
    assert endpoints.spapi_base("na") == "https://sellingpartnerapi-na.amazon.com"
    assert endpoints.spapi_base("eu") == "https://sellingpartnerapi-eu.amazon.com"
    assert endpoints.spapi_base("fe") == "https://sellingpartnerapi-fe.amazon.com"
    assert endpoints.seller_central_base(region="eu", marketplace="DE") == (
        "https://sellercentral-europe.amazon.com"
    )
    assert endpoints.seller_central_base(region="na", marketplace="CA") == (
        "https://sellercentral.amazon.ca"
    )
    assert endpoints.seller_central_base(region="fe") == "https://sellercentral.amazon.co.jp"
    assert not endpoints.overridden


@pytest.mark.parametrize("value", ["1", "true", "yes", "on"])
def test_sandbox_hosts(value: str) -> None:
    endpoints = resolve_endpoints({"SOLDSCOPE_SANDBOX": value})
    assert endpoints.spapi_base("eu") == "https://sandbox.sellingpartnerapi-eu.amazon.com"
    assert resolve_endpoints({}, sandbox=True).spapi_base("fe") == (
        "https://sandbox.sellingpartnerapi-fe.amazon.com"
    )


def test_overrides_win_over_sandbox_and_production() -> None:
    endpoints = resolve_endpoints(
        {
            "SOLDSCOPE_LWA_URL": "http://127.0.0.1:9/auth/o2/token",
            "SOLDSCOPE_SPAPI_URL": "http://127.0.0.1:9/",
            "SOLDSCOPE_SELLER_CENTRAL_URL": "http://127.0.0.1:9",
            "SOLDSCOPE_SANDBOX": "1",
        }
    )
    assert endpoints.lwa_url == "http://127.0.0.1:9/auth/o2/token"
    for region in ("na", "eu", "fe"):
        assert endpoints.spapi_base(region) == "http://127.0.0.1:9"  # type: ignore[arg-type]
    assert endpoints.seller_central_base(region="na", marketplace="US") == "http://127.0.0.1:9"
    assert endpoints.overridden


def test_the_sandbox_flag_reaches_the_context(harness: Harness, invoke: Any) -> None:
    assert invoke(harness, "--sandbox", "list").exit_code == 0
    assert harness.ctx.endpoints.spapi_base("na") == (
        "https://sandbox.sellingpartnerapi-na.amazon.com"
    )
