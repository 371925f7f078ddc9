"""Rate limits, failure injection, latency and request counters."""

from __future__ import annotations

import ssl
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from soldscope_cli.simulator import ManualClock, Simulator, parse_scenario
from soldscope_cli.simulator.ratelimit import RateLimiter

from .support import EU_SELLER, US, access_token, auth, lwa_form, scenario_data

PARTICIPATIONS = "/sellers/v1/marketplaceParticipations"
INVENTORY = "/fba/inventory/v1/summaries"
INVENTORY_QUERY = {"granularityType": "Marketplace", "granularityId": US, "marketplaceIds": US}


@pytest.fixture
def limited(sim: Simulator) -> Simulator:
    sim.set_rate_limits(enabled=True, scale=1.0)
    return sim


def test_burst_then_429_without_rate_header(limited: Simulator, client: httpx.Client) -> None:
    token = access_token(limited, client)
    statuses = [client.get(PARTICIPATIONS, headers=auth(token)) for _ in range(16)]
    assert [r.status_code for r in statuses] == [200] * 15 + [429]
    throttled = statuses[-1]
    assert throttled.json() == {
        "errors": [
            {
                "code": "QuotaExceeded",
                "message": "You exceeded your quota for the requested resource.",
                "details": "",
            }
        ]
    }
    assert "x-amzn-RateLimit-Limit" not in throttled.headers
    assert throttled.headers["x-amzn-RequestId"]


def test_bucket_refills_with_the_clock(
    limited: Simulator, client: httpx.Client, clock: ManualClock
) -> None:
    token = access_token(limited, client)
    get = lambda: client.get(INVENTORY, params=INVENTORY_QUERY, headers=auth(token))  # noqa: E731
    assert [get().status_code for _ in range(3)] == [200, 200, 429]
    clock.advance(0.5)  # rate 2/s: one token back
    assert [get().status_code for _ in range(2)] == [200, 429]


def test_buckets_are_per_seller(limited: Simulator, client: httpx.Client) -> None:
    na = access_token(limited, client)
    eu = access_token(limited, client, EU_SELLER)
    for _ in range(15):
        client.get(PARTICIPATIONS, headers=auth(na))
    assert client.get(PARTICIPATIONS, headers=auth(na)).status_code == 429
    assert client.get(PARTICIPATIONS, headers=auth(eu)).status_code == 200


def test_disabled_and_scaled_limits(limited: Simulator, client: httpx.Client) -> None:
    token = access_token(limited, client)
    limited.set_rate_limits(enabled=False)
    assert all(
        client.get(PARTICIPATIONS, headers=auth(token)).status_code == 200 for _ in range(40)
    )
    limited.set_rate_limits(enabled=True, scale=0.2)  # burst 15 → 3
    codes = [client.get(PARTICIPATIONS, headers=auth(token)).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]


def test_rate_limiter_unit() -> None:
    clock = ManualClock(0)
    limiter = RateLimiter(clock)
    assert limiter.limit_header("getReport") == "2.0"
    assert limiter.limit_header("createReport") == "0.0167"
    assert sum(limiter.try_acquire("getReport", "S") for _ in range(20)) == 15
    clock.advance(1.0)
    assert sum(limiter.try_acquire("getReport", "S") for _ in range(20)) == 2
    clock.advance(3600)
    assert sum(limiter.try_acquire("getReport", "S") for _ in range(20)) == 15  # capped at burst


def test_failures_503_twice_then_ok(sim: Simulator, client: httpx.Client) -> None:
    token = access_token(sim, client)
    sim.add_failure(503, count=2, path_prefix="/sellers")
    responses = [client.get(PARTICIPATIONS, headers=auth(token)) for _ in range(3)]
    assert [r.status_code for r in responses] == [503, 503, 200]
    assert responses[0].json()["errors"][0]["code"] == "ServiceUnavailable"
    assert all(r.headers["x-amzn-RequestId"] for r in responses)
    assert sim.failures() == []


def test_failure_429_with_retry_after_once(sim: Simulator, client: httpx.Client) -> None:
    token = access_token(sim, client)
    sim.add_failure(429, retry_after=2)
    first = client.get(PARTICIPATIONS, headers=auth(token))
    assert first.status_code == 429
    assert first.headers["retry-after"] == "2"
    assert first.json()["errors"][0]["code"] == "QuotaExceeded"
    assert client.get(PARTICIPATIONS, headers=auth(token)).status_code == 200


def test_failure_custom_body_method_and_forever(sim: Simulator, client: httpx.Client) -> None:
    sim.add_failure(
        500, count=None, path_prefix="/reports", method="POST", body={"errors": [{"code": "X"}]}
    )
    token = access_token(sim, client)
    for _ in range(3):
        response = client.post("/reports/2021-06-30/reports", json={}, headers=auth(token))
        assert (response.status_code, response.json()) == (500, {"errors": [{"code": "X"}]})
    # GETs under the prefix are untouched.
    assert client.get("/reports/2021-06-30/reports/1", headers=auth(token)).status_code == 404
    sim.clear_failures()
    assert (
        client.post("/reports/2021-06-30/reports", json={}, headers=auth(token)).status_code == 400
    )


def test_failure_on_lwa_uses_lwa_shape(sim: Simulator, client: httpx.Client) -> None:
    sim.add_failure(503, path_prefix="/auth/o2/token")
    refresh = sim.authorize(EU_SELLER)
    response = client.post(
        "/auth/o2/token", data=lwa_form(grant_type="refresh_token", refresh_token=refresh)
    )
    assert response.status_code == 503
    assert response.json()["error"] == "temporarily_unavailable"


def test_failures_from_the_scenario(clock: ManualClock) -> None:
    data = scenario_data(failures=[{"status": 500, "count": 1, "path_prefix": "/sellers"}])
    with (
        Simulator(parse_scenario(data), clock=clock) as sim,
        httpx.Client(base_url=sim.url) as http,
    ):
        token = access_token(sim, http)
        assert http.get(PARTICIPATIONS, headers=auth(token)).status_code == 500
        assert http.get(PARTICIPATIONS, headers=auth(token)).status_code == 200


def test_latency_uses_the_injected_sleep(
    sim: Simulator, client: httpx.Client, clock: ManualClock
) -> None:
    sim.set_latency(25, by_prefix={"/finances": 400, "/fba/inventory": 0})
    client.get(PARTICIPATIONS)
    client.get("/finances/2024-06-19/transactions")
    client.get(INVENTORY)
    client.get("/_admin/health")  # the admin API is never slowed down
    assert clock.sleeps == [0.025, 0.4]


def test_latency_is_real_with_the_real_sleep() -> None:
    data = scenario_data(latency={"default_ms": 150})
    with Simulator(parse_scenario(data)) as sim, httpx.Client(base_url=sim.url) as http:
        started = time.monotonic()
        http.get(PARTICIPATIONS)
        assert time.monotonic() - started >= 0.15


def test_counters(sim: Simulator, client: httpx.Client) -> None:
    token = access_token(sim, client)
    for _ in range(2):
        client.get(PARTICIPATIONS, headers=auth(token))
    client.get(PARTICIPATIONS)
    client.get("/_admin/counters")
    counters = sim.counters()
    assert counters["total"] == 4
    assert counters["by_path"] == {"/auth/o2/token": 1, PARTICIPATIONS: 3}
    assert counters["by_operation"] == {"lwa:refresh_token": 1, "getMarketplaceParticipations": 3}
    assert counters["by_status"] == {"200": 3, "403": 1}
    sim.reset_counters()
    assert sim.counters() == {"total": 0, "by_path": {}, "by_operation": {}, "by_status": {}}


def test_buckets_hold_under_concurrent_requests(
    limited: Simulator, client: httpx.Client, tls_context: ssl.SSLContext
) -> None:
    token = access_token(limited, client)

    def call(_: int) -> int:
        with httpx.Client(base_url=limited.url, verify=tls_context) as http:
            return http.get(PARTICIPATIONS, headers=auth(token)).status_code

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(call, range(30)))
    # The clock is frozen, so exactly the burst gets through however the threads interleave.
    assert sorted(statuses) == [200] * 15 + [429] * 15
    assert limited.counters()["by_operation"]["getMarketplaceParticipations"] == 30
