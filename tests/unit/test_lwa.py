"""Login with Amazon client: requests, caching, error mapping, retries, secrecy."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from client_fakes import START, FakeClock, FixedRandom
from pytest_httpx import HTTPXMock

from soldscope_cli.amazon.http import make_http_client
from soldscope_cli.amazon.lwa import (
    AppCredentialsRejected,
    GrantRejected,
    LwaBadRequest,
    LwaClient,
    LwaError,
    LwaTransient,
)
from soldscope_cli.amazon.retry import NO_RETRY, RetryPolicy
from soldscope_cli.errors import ExitCode

TOKEN_URL = "https://api.amazon.com/auth/o2/token"
CLIENT_ID = "amzn1.application-oa2-client.0123456789abcdef"
CLIENT_SECRET = "amzn1.oa2-cs.v1.9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1f0e9d8c"
REFRESH = "Atzr|IwEBIHrefreshTokenForAcmeUS-0001"
REFRESH_2 = "Atzr|IwEBIHrefreshTokenForAcmeEU-0002"
ACCESS = "Atza|IwEBIAaccessTokenNumberOne"
ACCESS_2 = "Atza|IwEBIAaccessTokenNumberTwo"
SECRETS = (CLIENT_SECRET, REFRESH, REFRESH_2, ACCESS, ACCESS_2, "IwEB")

INVALID_GRANT = {
    "error": "invalid_grant",
    "error_description": "The request has an invalid grant parameter : refresh_token. "
    "User may have revoked or didn't grant the permission.",
}
INVALID_CLIENT = {"error": "invalid_client", "error_description": "Client authentication failed"}


def token_body(access: str = ACCESS, **extra: Any) -> dict[str, Any]:
    return {"access_token": access, "token_type": "bearer", "expires_in": 3600, **extra}


def make_client(clock: FakeClock, retry: RetryPolicy | None = None) -> LwaClient:
    return LwaClient(
        make_http_client(env={}),
        TOKEN_URL,
        CLIENT_ID,
        CLIENT_SECRET,
        clock=clock.now,
        retry=retry if retry is not None else RetryPolicy(rng=FixedRandom(0.5)),
        sleep=clock.sleep,
    )


def form_of(request: httpx.Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.content.decode()).items()}


def assert_no_secrets(exc: BaseException) -> None:
    shown = " ".join([str(exc), repr(exc), str(getattr(exc, "hint", "")), repr(exc.args)])
    for secret in SECRETS:
        assert secret not in shown


def test_refresh_sends_the_documented_form(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=TOKEN_URL, method="POST", json=token_body())
    client = make_client(FakeClock())
    assert client.access_token(REFRESH) == ACCESS
    request = httpx_mock.get_request()
    assert request is not None
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert form_of(request) == {
        "grant_type": "refresh_token",
        "refresh_token": REFRESH,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }


def test_access_token_is_cached_until_a_minute_before_expiry(httpx_mock: HTTPXMock) -> None:
    clock = FakeClock()
    client = make_client(clock)
    httpx_mock.add_response(url=TOKEN_URL, json=token_body(ACCESS))
    assert client.access_token(REFRESH) == ACCESS
    clock.advance(3600 - 61)
    assert client.access_token(REFRESH) == ACCESS
    assert len(httpx_mock.get_requests()) == 1
    clock.advance(1)
    httpx_mock.add_response(url=TOKEN_URL, json=token_body(ACCESS_2))
    assert client.access_token(REFRESH) == ACCESS_2
    assert len(httpx_mock.get_requests()) == 2


def test_short_expires_in_is_respected(httpx_mock: HTTPXMock) -> None:
    clock = FakeClock()
    client = make_client(clock)
    httpx_mock.add_response(url=TOKEN_URL, json=token_body(ACCESS, expires_in=120))
    httpx_mock.add_response(url=TOKEN_URL, json=token_body(ACCESS_2))
    assert client.access_token(REFRESH) == ACCESS
    clock.advance(61)
    assert client.access_token(REFRESH) == ACCESS_2


def test_each_refresh_token_has_its_own_cache_entry(httpx_mock: HTTPXMock) -> None:
    client = make_client(FakeClock())
    httpx_mock.add_response(url=TOKEN_URL, json=token_body(ACCESS))
    httpx_mock.add_response(url=TOKEN_URL, json=token_body(ACCESS_2))
    assert client.access_token(REFRESH) == ACCESS
    assert client.access_token(REFRESH_2) == ACCESS_2
    assert client.access_token(REFRESH) == ACCESS
    assert client.access_token(REFRESH_2) == ACCESS_2


def test_cache_is_keyed_by_a_hash_not_the_token(httpx_mock: HTTPXMock) -> None:
    client = make_client(FakeClock())
    httpx_mock.add_response(url=TOKEN_URL, json=token_body())
    client.access_token(REFRESH)
    keys = list(client._cache)
    assert len(keys) == 1
    assert REFRESH not in keys[0]
    assert "IwEB" not in keys[0]


def test_forget_drops_the_cached_token(httpx_mock: HTTPXMock) -> None:
    client = make_client(FakeClock())
    httpx_mock.add_response(url=TOKEN_URL, json=token_body(ACCESS))
    httpx_mock.add_response(url=TOKEN_URL, json=token_body(ACCESS_2))
    assert client.access_token(REFRESH) == ACCESS
    client.forget(REFRESH)
    assert client.access_token(REFRESH) == ACCESS_2


def test_concurrent_callers_share_one_refresh(httpx_mock: HTTPXMock) -> None:
    client = make_client(FakeClock(), retry=NO_RETRY)
    httpx_mock.add_response(url=TOKEN_URL, json=token_body())
    barrier = threading.Barrier(8)
    results: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        barrier.wait()
        token = client.access_token(REFRESH)
        with lock:
            results.append(token)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [ACCESS] * 8
    assert len(httpx_mock.get_requests()) == 1


def test_exchange_code_returns_a_grant_and_primes_the_cache(httpx_mock: HTTPXMock) -> None:
    clock = FakeClock()
    client = make_client(clock)
    httpx_mock.add_response(url=TOKEN_URL, json=token_body(ACCESS, refresh_token=REFRESH))
    grant = client.exchange_code("ANbcdEfgHijkLmnOpqRs", "https://agency.example/soldscope")
    assert grant.refresh_token == REFRESH
    assert grant.access_token == ACCESS
    assert grant.expires_at == START + timedelta(seconds=3600)
    assert REFRESH not in repr(grant)
    assert ACCESS not in repr(grant)
    request = httpx_mock.get_request()
    assert request is not None
    assert form_of(request) == {
        "grant_type": "authorization_code",
        "code": "ANbcdEfgHijkLmnOpqRs",
        "redirect_uri": "https://agency.example/soldscope",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }
    # No further request: the exchange's access token is reused.
    assert client.access_token(REFRESH) == ACCESS


def test_exchange_without_refresh_token_is_not_retried(httpx_mock: HTTPXMock) -> None:
    clock = FakeClock()
    client = make_client(clock)
    httpx_mock.add_response(url=TOKEN_URL, json=token_body())
    with pytest.raises(LwaTransient) as caught:
        client.exchange_code("ANbcdEfgHijkLmnOpqRs", "https://agency.example/soldscope")
    assert caught.value.code == "invalid_response"
    assert clock.sleeps == []


def test_invalid_grant_on_code_exchange_says_what_to_do(httpx_mock: HTTPXMock) -> None:
    body = {
        "error": "invalid_grant",
        "error_description": "The request has an invalid grant parameter : code",
    }
    httpx_mock.add_response(url=TOKEN_URL, status_code=400, json=body)
    client = make_client(FakeClock())
    with pytest.raises(GrantRejected) as caught:
        client.exchange_code("ANbcdEfgHijkLmnOpqRs", "https://agency.example/soldscope")
    assert caught.value.grant_type == "authorization_code"
    assert caught.value.hint is not None
    assert "5 minutes" in caught.value.hint


def test_grantless_sends_the_scope_and_is_cached(httpx_mock: HTTPXMock) -> None:
    scope = "sellingpartnerapi::client_credential:rotation"
    httpx_mock.add_response(url=TOKEN_URL, json=token_body())
    client = make_client(FakeClock())
    assert client.grantless(scope) == ACCESS
    assert client.grantless(scope) == ACCESS
    request = httpx_mock.get_request()
    assert request is not None
    assert form_of(request) == {
        "grant_type": "client_credentials",
        "scope": scope,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }


@pytest.mark.parametrize(
    ("status", "body", "cls", "code"),
    [
        (400, INVALID_GRANT, GrantRejected, "invalid_grant"),
        (401, INVALID_CLIENT, AppCredentialsRejected, "invalid_client"),
        (400, {"error": "unauthorized_client"}, AppCredentialsRejected, "unauthorized_client"),
        (400, {"error": "invalid_request"}, LwaBadRequest, "invalid_request"),
        (400, {"error": "unsupported_grant_type"}, LwaBadRequest, "unsupported_grant_type"),
        (400, {"error": "invalid_scope"}, LwaBadRequest, "invalid_scope"),
        (400, {"error": "access_denied"}, LwaBadRequest, "access_denied"),
        (403, {}, LwaBadRequest, "http_403"),
        (500, {"error": "server_error"}, LwaTransient, "server_error"),
        (503, {"error": "temporarily_unavailable"}, LwaTransient, "temporarily_unavailable"),
        (502, {}, LwaTransient, "http_502"),
        (429, {"error": "too_many_requests"}, LwaTransient, "too_many_requests"),
    ],
)
def test_error_mapping(
    httpx_mock: HTTPXMock, status: int, body: dict[str, str], cls: type[LwaError], code: str
) -> None:
    httpx_mock.add_response(url=TOKEN_URL, status_code=status, json=body)
    client = make_client(FakeClock(), retry=NO_RETRY)
    with pytest.raises(LwaError) as caught:
        client.access_token(REFRESH)
    exc = caught.value
    assert type(exc) is cls
    assert exc.code == code
    assert exc.status == status
    assert exc.description == body.get("error_description", "")
    assert_no_secrets(exc)


def test_invalid_grant_carries_amazons_description(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=TOKEN_URL, status_code=400, json=INVALID_GRANT)
    clock = FakeClock()
    with pytest.raises(GrantRejected) as caught:
        make_client(clock).access_token(REFRESH)
    exc = caught.value
    assert exc.description == INVALID_GRANT["error_description"]
    assert "User may have revoked" in str(exc)
    assert exc.exit_code == ExitCode.UNHEALTHY
    assert exc.hint is not None
    assert "authorize the app again" in exc.hint
    assert clock.sleeps == []


def test_rejected_client_secret_is_reported_as_an_app_problem(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=TOKEN_URL, status_code=401, json=INVALID_CLIENT)
    with pytest.raises(AppCredentialsRejected) as caught:
        make_client(FakeClock()).access_token(REFRESH)
    assert caught.value.hint is not None
    assert "every store" in caught.value.hint
    assert_no_secrets(caught.value)


def test_non_json_error_body_is_transient(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=TOKEN_URL, status_code=400, text="<html>proxy says no</html>")
    with pytest.raises(LwaTransient) as caught:
        make_client(FakeClock(), retry=NO_RETRY).access_token(REFRESH)
    assert caught.value.code == "http_400"
    assert caught.value.exit_code == ExitCode.INCOMPLETE


def test_transient_errors_are_retried_with_backoff(httpx_mock: HTTPXMock) -> None:
    clock = FakeClock()
    httpx_mock.add_response(
        url=TOKEN_URL, status_code=503, json={"error": "temporarily_unavailable"}
    )
    httpx_mock.add_response(url=TOKEN_URL, status_code=500, json={"error": "server_error"})
    httpx_mock.add_response(url=TOKEN_URL, json=token_body())
    assert make_client(clock).access_token(REFRESH) == ACCESS
    assert clock.sleeps == [0.25, 0.5]


def test_retry_after_is_honoured(httpx_mock: HTTPXMock) -> None:
    clock = FakeClock()
    httpx_mock.add_response(
        url=TOKEN_URL, status_code=429, headers={"Retry-After": "3"}, json={"error": "slow_down"}
    )
    httpx_mock.add_response(url=TOKEN_URL, json=token_body())
    assert make_client(clock).access_token(REFRESH) == ACCESS
    assert clock.sleeps == [3.0]


def test_persistent_failure_stops_after_max_attempts(httpx_mock: HTTPXMock) -> None:
    clock = FakeClock()
    for _ in range(5):
        httpx_mock.add_response(url=TOKEN_URL, status_code=500, json={"error": "server_error"})
    with pytest.raises(LwaTransient) as caught:
        make_client(clock).access_token(REFRESH)
    assert caught.value.code == "server_error"
    assert len(httpx_mock.get_requests()) == 5
    assert clock.sleeps == [0.25, 0.5, 1.0, 2.0]


def test_timeouts_and_connection_errors_are_retried(httpx_mock: HTTPXMock) -> None:
    clock = FakeClock()
    httpx_mock.add_exception(httpx.ReadTimeout("timed out"), url=TOKEN_URL)
    httpx_mock.add_exception(httpx.ConnectError("[Errno 111] Connection refused"), url=TOKEN_URL)
    httpx_mock.add_response(url=TOKEN_URL, json=token_body())
    assert make_client(clock).access_token(REFRESH) == ACCESS
    assert len(clock.sleeps) == 2


@pytest.mark.parametrize(
    ("exception", "code"),
    [
        (httpx.ConnectTimeout("timed out"), "timeout"),
        (httpx.ConnectError("[Errno -2] Name or service not known"), "connection_error"),
    ],
)
def test_network_failures_become_transient_errors(
    httpx_mock: HTTPXMock, exception: Exception, code: str
) -> None:
    httpx_mock.add_exception(exception, url=TOKEN_URL)
    with pytest.raises(LwaTransient) as caught:
        make_client(FakeClock(), retry=NO_RETRY).access_token(REFRESH)
    assert caught.value.code == code
    assert caught.value.status is None
    assert_no_secrets(caught.value)


def test_total_time_bounds_the_retries(httpx_mock: HTTPXMock) -> None:
    clock = FakeClock()
    httpx_mock.add_response(url=TOKEN_URL, status_code=503, headers={"Retry-After": "600"}, json={})
    with pytest.raises(LwaTransient) as caught:
        make_client(clock).access_token(REFRESH)
    assert caught.value.retry_after == 600.0
    assert clock.sleeps == []


def test_success_without_json_is_retried(httpx_mock: HTTPXMock) -> None:
    clock = FakeClock()
    httpx_mock.add_response(url=TOKEN_URL, text="<html>captive portal</html>")
    httpx_mock.add_response(url=TOKEN_URL, json=token_body())
    assert make_client(clock).access_token(REFRESH) == ACCESS
    assert clock.sleeps == [0.25]


def test_a_description_that_echoes_a_token_is_redacted(httpx_mock: HTTPXMock) -> None:
    body = {"error": "invalid_request", "error_description": f"bad value {REFRESH}"}
    httpx_mock.add_response(url=TOKEN_URL, status_code=400, json=body)
    with pytest.raises(LwaBadRequest) as caught:
        make_client(FakeClock()).access_token(REFRESH)
    assert_no_secrets(caught.value)
    assert caught.value.description.startswith("bad value Atzr|")


def test_client_repr_hides_the_secret() -> None:
    client = make_client(FakeClock())
    assert CLIENT_SECRET not in repr(client)
    assert CLIENT_ID in repr(client)


def test_errors_carry_amazons_request_id(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        url=TOKEN_URL,
        status_code=400,
        json=INVALID_GRANT,
        headers={"x-amzn-RequestId": "lwa-req-0001"},
    )
    with pytest.raises(GrantRejected) as caught:
        make_client(FakeClock()).access_token(REFRESH)
    assert caught.value.request_id == "lwa-req-0001"
