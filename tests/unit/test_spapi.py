"""SP-API client: auth header, rate limiting, retries, error shapes, typed calls, downloads."""

from __future__ import annotations

import gzip
import random
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from client_fakes import FakeClock, FixedRandom, FrozenSleeps, load_model, sandbox_response
from pytest_httpx import HTTPXMock, IteratorStream

from soldscope_cli.amazon.http import make_http_client, user_agent
from soldscope_cli.amazon.ratelimit import RateLimiter
from soldscope_cli.amazon.retry import RetryPolicy
from soldscope_cli.amazon.spapi import (
    SpapiBadRequest,
    SpapiClient,
    SpapiError,
    SpapiForbidden,
    SpapiLinkRefused,
    SpapiNotFound,
    SpapiThrottled,
    SpapiTransient,
    iso8601,
)
from soldscope_cli.errors import ExitCode

BASE = "https://sellingpartnerapi-na.amazon.com"
PARTICIPATIONS = f"{BASE}/sellers/v1/marketplaceParticipations"
SUMMARIES = f"{BASE}/fba/inventory/v1/summaries"
SUMMARIES_ANY = re.compile(re.escape(SUMMARIES) + r"\?.*")
ACCESS = "Atza|IwEBIspapiAccessTokenForAcmeUS"
STORE = "acme-us"
US = "ATVPDKIKX0DER"

# Error bodies as Amazon sends them (https://developer-docs.amazon.com/sp-api/docs/response-format).
UNAUTHORIZED = {
    "errors": [
        {
            "code": "Unauthorized",
            "message": "Access to requested resource is denied.",
            "details": "The access token you provided is revoked, malformed or invalid.",
        }
    ]
}
QUOTA_EXCEEDED = {
    "errors": [
        {
            "code": "QuotaExceeded",
            "message": "You exceeded your quota for the requested resource.",
            "details": "",
        }
    ]
}
NOT_FOUND = {"errors": [{"code": "NotFound", "message": "Resource not found.", "details": ""}]}
SERVICE_UNAVAILABLE = {
    "errors": [
        {
            "code": "ServiceUnavailable",
            "message": "Service temporarily unavailable. Please try again later.",
            "details": "",
        }
    ]
}
PARTICIPATION = {
    "marketplace": {
        "id": US,
        "name": "Amazon.com",
        "countryCode": "US",
        "defaultCurrencyCode": "USD",
        "defaultLanguageCode": "en_US",
        "domainName": "www.amazon.com",
    },
    "participation": {"isParticipating": True, "hasSuspendedListings": False},
    "storeName": "Acme",
}
PRESIGNED = (
    "https://tortuga-prod-na.s3-external-1.amazonaws.com/%2FNinetyDays/amzn1.tortuga.3.abc.T1"
    "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=300&X-Amz-Signature=5f1e0c2bd9a84e7f"
)
S3_EXPIRED = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
    "<Message>Request has expired</Message><X-Amz-Expires>300</X-Amz-Expires>"
    "<RequestId>6W4MZ7QK0</RequestId></Error>"
)


class RecordingLimiter(RateLimiter):
    """The real limiter, remembering what the client asked of it."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock=clock.monotonic, sleep=clock.sleep)
        self.acquired: list[tuple[str, str]] = []
        self.penalized: list[tuple[str, str, float | None]] = []
        self.rates: list[tuple[str, str, float]] = []

    def acquire(self, store: str, operation: str) -> float:
        self.acquired.append((store, operation))
        return super().acquire(store, operation)

    def penalize(self, store: str, operation: str, retry_after: float | None = None) -> None:
        self.penalized.append((store, operation, retry_after))
        super().penalize(store, operation, retry_after)

    def update_rate(self, store: str, operation: str, rate: float) -> None:
        self.rates.append((store, operation, rate))
        super().update_rate(store, operation, rate)


class Harness:
    def __init__(
        self,
        *,
        max_attempts: int = 5,
        max_total: float = 60.0,
        token: Any = None,
    ) -> None:
        self.clock = FakeClock()
        self.limiter = RecordingLimiter(self.clock)
        self.http = make_http_client(env={})
        self.client = SpapiClient(
            self.http,
            BASE + "/",
            token or (lambda: ACCESS),
            store=STORE,
            limiter=self.limiter,
            retry=RetryPolicy(max_attempts=max_attempts, max_total=max_total, rng=FixedRandom(0.5)),
            clock=self.clock.now,
            sleep=self.clock.sleep,
        )


def assert_no_secrets(exc: BaseException) -> None:
    shown = " ".join([str(exc), repr(exc), str(getattr(exc, "hint", ""))])
    assert ACCESS not in shown
    assert "IwEB" not in shown
    assert "X-Amz-Signature" not in shown


def test_request_sends_token_and_user_agent_and_returns_the_response(
    httpx_mock: HTTPXMock,
) -> None:
    httpx_mock.add_response(
        url=PARTICIPATIONS,
        json={"payload": [PARTICIPATION]},
        headers={"x-amzn-RequestId": "a1b2c3", "x-amzn-RateLimit-Limit": "0.016"},
    )
    h = Harness()
    response = h.client.request(
        "GET", "/sellers/v1/marketplaceParticipations", operation="getMarketplaceParticipations"
    )
    assert response.status == 200
    assert response.body == {"payload": [PARTICIPATION]}
    assert response.request_id == "a1b2c3"
    assert response.headers["x-amzn-RateLimit-Limit"] == "0.016"
    request = httpx_mock.get_request()
    assert request is not None
    assert request.headers["x-amz-access-token"] == ACCESS
    assert request.headers["User-Agent"] == user_agent()
    assert "Authorization" not in request.headers
    assert h.limiter.acquired == [(STORE, "getMarketplaceParticipations")]
    assert h.limiter.rates == [(STORE, "getMarketplaceParticipations", 0.016)]
    assert ACCESS not in repr(response)
    assert ACCESS not in repr(h.client)


def test_marketplace_participations_from_the_model_example(httpx_mock: HTTPXMock) -> None:
    model = load_model("sellers.json")
    ok = model["paths"]["/sellers/v1/marketplaceParticipations"]["get"]["responses"]["200"]
    httpx_mock.add_response(url=PARTICIPATIONS, json=ok["examples"])
    payload = Harness().client.get_marketplace_participations()
    assert payload == ok["examples"]["payload"]
    assert payload[0]["marketplace"]["id"] == US


def test_unexpected_participations_shape_is_an_error(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=PARTICIPATIONS, json={"payload": {"not": "a list"}})
    with pytest.raises(SpapiError) as caught:
        Harness().client.get_marketplace_participations()
    assert caught.value.code == "InvalidResponse"


def test_forbidden_is_not_retried_and_carries_amazons_fields(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        url=PARTICIPATIONS, status_code=403, json=UNAUTHORIZED, headers={"x-amzn-RequestId": "r403"}
    )
    h = Harness()
    with pytest.raises(SpapiForbidden) as caught:
        h.client.get_marketplace_participations()
    exc = caught.value
    assert (exc.status, exc.code, exc.request_id) == (403, "Unauthorized", "r403")
    assert exc.message == "Access to requested resource is denied."
    assert exc.details == "The access token you provided is revoked, malformed or invalid."
    assert exc.operation == "getMarketplaceParticipations"
    assert exc.store == STORE
    assert "r403" in str(exc)
    assert STORE in str(exc)
    assert exc.hint is not None
    assert exc.exit_code == ExitCode.UNHEALTHY
    assert h.clock.sleeps == []
    assert_no_secrets(exc)


def test_not_found(httpx_mock: HTTPXMock) -> None:
    url = f"{BASE}/reports/2021-06-30/reports/ID404"
    httpx_mock.add_response(url=url, status_code=404, json=NOT_FOUND)
    with pytest.raises(SpapiNotFound) as caught:
        Harness().client.get_report("ID404")
    assert caught.value.code == "NotFound"
    assert caught.value.details is None


@pytest.mark.parametrize(
    ("model", "path", "method", "code"),
    [
        ("sellers.json", "/sellers/v1/account", "get", "InvalidInput"),
        ("finances_2024-06-19.json", "/finances/2024-06-19/transactions", "get", "InvalidInput"),
        ("reports_2021-06-30.json", "/reports/2021-06-30/reports", "post", "400"),
    ],
)
def test_bad_request_bodies_from_the_models(
    httpx_mock: HTTPXMock, model: str, path: str, method: str, code: str
) -> None:
    body = sandbox_response(model, path, method, "400")
    httpx_mock.add_response(url=BASE + path, method=method.upper(), status_code=400, json=body)
    h = Harness()
    with pytest.raises(SpapiBadRequest) as caught:
        h.client.request(method.upper(), path, operation="someOperation")
    exc = caught.value
    first = body["errors"][0]
    assert exc.status == 400
    assert exc.code == code
    assert exc.message == first["message"]
    assert exc.details == first.get("details")
    assert exc.exit_code == ExitCode.USAGE
    assert h.clock.sleeps == []


def test_503_twice_then_200_succeeds_after_backoff(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=PARTICIPATIONS, status_code=503, json=SERVICE_UNAVAILABLE)
    httpx_mock.add_response(url=PARTICIPATIONS, status_code=503, json=SERVICE_UNAVAILABLE)
    httpx_mock.add_response(url=PARTICIPATIONS, json={"payload": [PARTICIPATION]})
    h = Harness()
    assert h.client.get_marketplace_participations() == [PARTICIPATION]
    # Full jitter with random() = 0.5: half of 0.5 s, then half of 1 s.
    assert h.clock.sleeps == [0.25, 0.5]
    assert h.limiter.acquired == [(STORE, "getMarketplaceParticipations")] * 3
    assert h.limiter.penalized == []


def test_persistent_503_raises_transient_after_max_attempts(httpx_mock: HTTPXMock) -> None:
    for _ in range(5):
        httpx_mock.add_response(
            url=PARTICIPATIONS,
            status_code=503,
            json=SERVICE_UNAVAILABLE,
            headers={"x-amzn-RequestId": "r503"},
        )
    h = Harness()
    with pytest.raises(SpapiTransient) as caught:
        h.client.get_marketplace_participations()
    exc = caught.value
    assert (exc.status, exc.code, exc.request_id) == (503, "ServiceUnavailable", "r503")
    assert exc.exit_code == ExitCode.INCOMPLETE
    assert len(httpx_mock.get_requests()) == 5
    assert h.clock.sleeps == [0.25, 0.5, 1.0, 2.0]
    assert_no_secrets(exc)


@pytest.mark.parametrize("status", [500, 502, 504])
def test_other_server_errors_are_retried(httpx_mock: HTTPXMock, status: int) -> None:
    httpx_mock.add_response(url=PARTICIPATIONS, status_code=status, text="")
    httpx_mock.add_response(url=PARTICIPATIONS, json={"payload": []})
    h = Harness()
    assert h.client.get_marketplace_participations() == []
    assert h.clock.sleeps == [0.25]


def test_429_with_retry_after_waits_at_least_that_long(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        url=SUMMARIES,
        match_params={
            "granularityType": "Marketplace",
            "granularityId": US,
            "marketplaceIds": US,
            "details": "true",
        },
        status_code=429,
        json=QUOTA_EXCEEDED,
        headers={"Retry-After": "2"},
    )
    httpx_mock.add_response(url=SUMMARIES_ANY, json={"payload": {}})
    h = Harness()
    assert h.client.get_inventory_summaries(US) == {"payload": {}}
    assert sum(h.clock.sleeps) >= 2.0
    assert h.clock.sleeps[0] >= 2.0
    assert h.limiter.penalized == [(STORE, "getInventorySummaries", 2.0)]


def test_429_with_an_http_date_retry_after(httpx_mock: HTTPXMock) -> None:
    h = Harness()
    when = h.clock.now() + timedelta(seconds=7)
    header = when.strftime("%a, %d %b %Y %H:%M:%S GMT")
    httpx_mock.add_response(
        url=PARTICIPATIONS, status_code=429, json=QUOTA_EXCEEDED, headers={"Retry-After": header}
    )
    httpx_mock.add_response(url=PARTICIPATIONS, json={"payload": []})
    h.client.get_marketplace_participations()
    assert h.clock.sleeps[0] == 7.0


def test_persistent_429_raises_throttled(httpx_mock: HTTPXMock) -> None:
    for _ in range(5):
        httpx_mock.add_response(url=SUMMARIES_ANY, status_code=429, json=QUOTA_EXCEEDED)
    h = Harness()
    with pytest.raises(SpapiThrottled) as caught:
        h.client.get_inventory_summaries(US)
    exc = caught.value
    assert (exc.status, exc.code) == (429, "QuotaExceeded")
    assert exc.message == "You exceeded your quota for the requested resource."
    assert exc.details is None
    assert exc.exit_code == ExitCode.INCOMPLETE
    assert len(h.limiter.penalized) == 5
    assert len(httpx_mock.get_requests()) == 5


def test_retry_after_beyond_the_total_budget_gives_up_at_once(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        url=PARTICIPATIONS, status_code=429, json=QUOTA_EXCEEDED, headers={"Retry-After": "120"}
    )
    h = Harness()
    with pytest.raises(SpapiThrottled) as caught:
        h.client.get_marketplace_participations()
    assert caught.value.retry_after == 120.0
    assert h.clock.sleeps == []


def test_total_time_bounds_the_retries(httpx_mock: HTTPXMock) -> None:
    for _ in range(3):
        httpx_mock.add_response(url=PARTICIPATIONS, status_code=503, json=SERVICE_UNAVAILABLE)
    h = Harness(max_total=1.0)
    with pytest.raises(SpapiTransient):
        h.client.get_marketplace_participations()
    # 0.25 + 0.5 fit in one second; the next 1.0 s would not.
    assert h.clock.sleeps == [0.25, 0.5]


def test_waiting_for_the_first_token_does_not_count_against_the_budget(
    httpx_mock: HTTPXMock,
) -> None:
    h = Harness(max_total=0.5)
    h.limiter.acquire(STORE, "getInventorySummaries")
    h.limiter.acquire(STORE, "getInventorySummaries")
    httpx_mock.add_response(url=SUMMARIES_ANY, status_code=503, json={})
    httpx_mock.add_response(url=SUMMARIES_ANY, json={"payload": {}})
    assert h.client.get_inventory_summaries(US) == {"payload": {}}
    # First token wait 0.5 s (not counted), backoff 0.25 s, then the limiter's next slot.
    assert h.clock.sleeps == [0.5, 0.25, 0.25]


@pytest.mark.parametrize(
    "exception",
    [
        httpx.ReadTimeout("The read operation timed out"),
        httpx.ConnectTimeout("timed out"),
        httpx.ConnectError("[Errno 111] Connection refused"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
    ],
)
def test_timeouts_and_connection_errors_are_retried(
    httpx_mock: HTTPXMock, exception: Exception
) -> None:
    httpx_mock.add_exception(exception, url=PARTICIPATIONS)
    httpx_mock.add_response(url=PARTICIPATIONS, json={"payload": []})
    h = Harness()
    assert h.client.get_marketplace_participations() == []
    assert h.clock.sleeps == [0.25]


def test_persistent_connection_failure_raises_transient(httpx_mock: HTTPXMock) -> None:
    for _ in range(3):
        httpx_mock.add_exception(httpx.ConnectError("[Errno 111] Connection refused"))
    h = Harness(max_attempts=3)
    with pytest.raises(SpapiTransient) as caught:
        h.client.get_marketplace_participations()
    exc = caught.value
    assert exc.status is None
    assert exc.code == "ConnectError"
    assert "Connection refused" in exc.message
    assert isinstance(exc.__cause__, httpx.ConnectError)
    assert_no_secrets(exc)


def test_timeout_error_code(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_exception(httpx.ReadTimeout("The read operation timed out"))
    with pytest.raises(SpapiTransient) as caught:
        Harness(max_attempts=1).client.get_marketplace_participations()
    assert caught.value.code == "Timeout"


def test_local_protocol_errors_are_not_retried(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_exception(httpx.LocalProtocolError("Illegal header value"))
    h = Harness()
    with pytest.raises(SpapiTransient):
        h.client.get_marketplace_participations()
    assert h.clock.sleeps == []


def test_access_token_is_asked_for_on_every_attempt(httpx_mock: HTTPXMock) -> None:
    tokens = iter(["Atza|first-token-value", "Atza|second-token-value"])
    httpx_mock.add_response(url=PARTICIPATIONS, status_code=503, json={})
    httpx_mock.add_response(url=PARTICIPATIONS, json={"payload": []})
    Harness(token=lambda: next(tokens)).client.get_marketplace_participations()
    sent = [r.headers["x-amz-access-token"] for r in httpx_mock.get_requests()]
    assert sent == ["Atza|first-token-value", "Atza|second-token-value"]


@pytest.mark.parametrize(
    ("status", "text", "cls", "code", "message"),
    [
        (403, "", SpapiForbidden, "HTTP403", "Forbidden"),
        (502, "<html><body>Bad Gateway</body></html>", SpapiTransient, "HTTP502", "Bad Gateway"),
        (401, "not json", SpapiError, "HTTP401", "Unauthorized"),
        (404, "null", SpapiNotFound, "HTTP404", "Not Found"),
    ],
)
def test_non_json_and_empty_error_bodies(
    httpx_mock: HTTPXMock, status: int, text: str, cls: type[SpapiError], code: str, message: str
) -> None:
    httpx_mock.add_response(url=PARTICIPATIONS, status_code=status, text=text)
    with pytest.raises(SpapiError) as caught:
        Harness(max_attempts=1).client.get_marketplace_participations()
    exc = caught.value
    assert type(exc) is cls
    assert (exc.status, exc.code, exc.message, exc.details) == (status, code, message, None)


def test_partial_error_entries(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        url=PARTICIPATIONS, status_code=400, json={"errors": [{"code": "InvalidInput"}]}
    )
    with pytest.raises(SpapiBadRequest) as caught:
        Harness().client.get_marketplace_participations()
    assert (caught.value.code, caught.value.message, caught.value.details) == (
        "InvalidInput",
        "",
        None,
    )


def test_error_text_that_echoes_a_token_is_redacted(httpx_mock: HTTPXMock) -> None:
    body = {"errors": [{"code": "InvalidInput", "message": f"bad header {ACCESS}"}]}
    httpx_mock.add_response(url=PARTICIPATIONS, status_code=400, json=body)
    with pytest.raises(SpapiBadRequest) as caught:
        Harness().client.get_marketplace_participations()
    assert_no_secrets(caught.value)


def test_success_with_a_garbled_body_is_retried(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=PARTICIPATIONS, text='{"payload": [')
    httpx_mock.add_response(url=PARTICIPATIONS, json={"payload": []})
    h = Harness()
    assert h.client.get_marketplace_participations() == []
    assert h.clock.sleeps == [0.25]


def test_empty_success_body_is_none(httpx_mock: HTTPXMock) -> None:
    url = f"{BASE}/reports/2021-06-30/reports/ID1"
    httpx_mock.add_response(url=url, method="DELETE", status_code=200, text="")
    response = Harness().client.request(
        "DELETE", "/reports/2021-06-30/reports/ID1", operation="cancelReport"
    )
    assert response.body is None


def test_inventory_summaries_parameters(httpx_mock: HTTPXMock) -> None:
    body = {"payload": {"inventorySummaries": []}, "pagination": {"nextToken": "n2"}}
    httpx_mock.add_response(
        url=SUMMARIES,
        match_params={
            "granularityType": "Marketplace",
            "granularityId": "A1PA6795UKMFR9",
            "marketplaceIds": "A1PA6795UKMFR9",
            "details": "false",
            "startDateTime": "2026-02-01T00:00:00.000Z",
            "nextToken": "n1",
        },
        json=body,
    )
    result = Harness().client.get_inventory_summaries(
        "A1PA6795UKMFR9",
        details=False,
        start_date_time=datetime(2026, 2, 1, tzinfo=UTC),
        next_token="n1",
    )
    assert result == body


def test_list_transactions_with_the_model_example(httpx_mock: HTTPXMock) -> None:
    body = sandbox_response(
        "finances_2024-06-19.json", "/finances/2024-06-19/transactions", "get", "200"
    )
    httpx_mock.add_response(
        url=f"{BASE}/finances/2024-06-19/transactions",
        match_params={
            "postedAfter": "2026-01-01T05:00:00.000Z",
            "postedBefore": "2026-01-31T00:00:00.250Z",
            "marketplaceId": US,
            "nextToken": "jehgri34yo7jr9e8f984tr9i4o",
        },
        json=body,
    )
    eastern = timezone(timedelta(hours=-5))
    result = Harness().client.list_transactions(
        posted_after=datetime(2026, 1, 1, tzinfo=eastern),
        posted_before=datetime(2026, 1, 31, 0, 0, 0, 250_000, tzinfo=UTC),
        marketplace_id=US,
        next_token="jehgri34yo7jr9e8f984tr9i4o",
    )
    assert result == body
    assert result["payload"]["transactions"][0]["transactionType"] == "Shipment"


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError):
        iso8601(datetime(2026, 1, 1))


def test_create_report_posts_the_documented_body(httpx_mock: HTTPXMock) -> None:
    created = sandbox_response(
        "reports_2021-06-30.json", "/reports/2021-06-30/reports", "post", "202"
    )
    httpx_mock.add_response(
        url=f"{BASE}/reports/2021-06-30/reports",
        method="POST",
        match_json={
            "reportType": "GET_BRAND_ANALYTICS_SEARCH_TERMS_REPORT",
            "marketplaceIds": [US],
            "dataStartTime": "2026-02-01T00:00:00.000Z",
            "dataEndTime": "2026-02-07T23:59:59.000Z",
            "reportOptions": {"reportPeriod": "WEEK"},
        },
        status_code=202,
        json=created,
    )
    h = Harness()
    report_id = h.client.create_report(
        "GET_BRAND_ANALYTICS_SEARCH_TERMS_REPORT",
        [US],
        data_start_time=datetime(2026, 2, 1, tzinfo=UTC),
        data_end_time=datetime(2026, 2, 7, 23, 59, 59, tzinfo=UTC),
        report_options={"reportPeriod": "WEEK"},
    )
    assert report_id == created["reportId"] == "ID323"
    assert h.limiter.acquired == [(STORE, "createReport")]


def test_create_report_without_report_id_is_an_error(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=f"{BASE}/reports/2021-06-30/reports", method="POST", json={})
    with pytest.raises(SpapiError) as caught:
        Harness().client.create_report("GET_MERCHANT_LISTINGS_ALL_DATA", [US])
    assert caught.value.code == "InvalidResponse"


def test_get_report_and_document_from_the_model_examples(httpx_mock: HTTPXMock) -> None:
    model = "reports_2021-06-30.json"
    report = sandbox_response(model, "/reports/2021-06-30/reports/{reportId}", "get", "200")
    document = sandbox_response(
        model, "/reports/2021-06-30/documents/{reportDocumentId}", "get", "200"
    )
    httpx_mock.add_response(url=f"{BASE}/reports/2021-06-30/reports/ID323", json=report)
    doc_id = document["reportDocumentId"]
    httpx_mock.add_response(url=f"{BASE}/reports/2021-06-30/documents/{doc_id}", json=document)
    h = Harness()
    assert h.client.get_report("ID323") == report
    assert h.client.get_report_document(doc_id)["url"] == document["url"]
    assert h.limiter.acquired == [(STORE, "getReport"), (STORE, "getReportDocument")]


def test_path_parameters_are_escaped(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json={"reportId": "a/b"})
    Harness().client.get_report("a/b")
    request = httpx_mock.get_request()
    assert request is not None
    assert request.url.raw_path == b"/reports/2021-06-30/reports/a%2Fb"


def test_open_document_streams_raw_bytes_without_the_token(httpx_mock: HTTPXMock) -> None:
    compressed = gzip.compress(random.Random(7).randbytes(20_000))
    pieces = [compressed[i : i + 1024] for i in range(0, len(compressed), 1024)]
    produced: list[int] = []

    def body() -> Iterator[bytes]:
        for index, piece in enumerate(pieces):
            produced.append(index)
            yield piece

    httpx_mock.add_response(
        url=PRESIGNED,
        stream=IteratorStream(body()),
        headers={"Content-Encoding": "gzip", "Content-Type": "text/plain"},
    )
    h = Harness()
    received: list[bytes] = []
    with h.client.open_document(PRESIGNED) as chunks:
        first = next(chunks)
        # Only what was asked for has been pulled from the network so far.
        assert len(produced) == 1
        received.append(first)
        received.extend(chunks)
    assert b"".join(received) == compressed
    assert len(received) > 1
    request = httpx_mock.get_request()
    assert request is not None
    assert "x-amz-access-token" not in request.headers
    assert request.headers["User-Agent"] == user_agent()
    assert h.limiter.acquired == []


def test_expired_document_url_is_a_refused_link_without_leaking_the_signature(
    httpx_mock: HTTPXMock,
) -> None:
    httpx_mock.add_response(
        url=PRESIGNED,
        status_code=403,
        text=S3_EXPIRED,
        headers={"Content-Type": "application/xml", "x-amz-request-id": "6W4MZ7QK0"},
    )
    h = Harness()
    with pytest.raises(SpapiLinkRefused) as caught, h.client.open_document(PRESIGNED):
        pytest.fail("the body must not be yielded")
    exc = caught.value
    # The link is its own credential: its refusal says nothing about the grant or the roles.
    assert not isinstance(exc, SpapiForbidden)
    assert (exc.code, exc.message, exc.request_id) == (
        "AccessDenied",
        "Request has expired",
        "6W4MZ7QK0",
    )
    assert exc.operation == "downloadReportDocument"
    assert_no_secrets(exc)
    assert h.clock.sleeps == []


def test_document_download_retries_server_errors(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        url=PRESIGNED, status_code=503, text="<Error><Code>SlowDown</Code></Error>"
    )
    httpx_mock.add_exception(httpx.ConnectError("reset"), url=PRESIGNED)
    httpx_mock.add_response(url=PRESIGNED, content=b"\x1f\x8bdata")
    h = Harness()
    with h.client.open_document(PRESIGNED) as chunks:
        assert b"".join(chunks) == b"\x1f\x8bdata"
    assert h.clock.sleeps == [0.25, 0.5]


def test_document_failure_mid_stream_is_transient(httpx_mock: HTTPXMock) -> None:
    def body() -> Iterator[bytes]:
        yield b"\x1f\x8b first part"
        raise httpx.ReadError("connection reset by peer")

    httpx_mock.add_response(url=PRESIGNED, stream=IteratorStream(body()))
    h = Harness()
    with pytest.raises(SpapiTransient) as caught, h.client.open_document(PRESIGNED) as chunks:
        for _ in chunks:
            pass
    assert caught.value.code == "ReadError"
    assert_no_secrets(caught.value)


def test_all_errors_share_one_base() -> None:
    for cls in (SpapiBadRequest, SpapiForbidden, SpapiNotFound, SpapiThrottled, SpapiTransient):
        assert issubclass(cls, SpapiError)


def test_threads_share_one_client_and_one_bucket(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=SUMMARIES_ANY, json={"payload": {}}, is_reusable=True)
    clock = FakeClock()
    sleeps = FrozenSleeps()
    limiter = RateLimiter(clock=clock.monotonic, sleep=sleeps)
    client = SpapiClient(
        make_http_client(env={}),
        BASE,
        lambda: ACCESS,
        store=STORE,
        limiter=limiter,
        retry=RetryPolicy(rng=FixedRandom(0.5)),
        clock=clock.now,
        sleep=clock.sleep,
    )
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: client.get_inventory_summaries(US), range(8)))
    assert results == [{"payload": {}}] * 8
    assert len(httpx_mock.get_requests()) == 8
    # Burst 2 at 2 requests per second: the other six wait for consecutive slots.
    assert sorted(sleeps.sleeps) == [0.5 * n for n in range(1, 7)]


def test_a_single_403_is_retried_once_with_a_new_access_token(httpx_mock: HTTPXMock) -> None:
    expired = {
        "errors": [
            {"code": "Unauthorized", "message": "The access token you provided has expired."}
        ]
    }
    httpx_mock.add_response(url=PARTICIPATIONS, status_code=403, json=expired)
    httpx_mock.add_response(url=PARTICIPATIONS, json={"payload": [PARTICIPATION]})
    tokens = iter(["Atza|old", "Atza|new"])
    current = {"token": next(tokens)}
    renewals: list[bool] = []

    def renew() -> None:
        renewals.append(True)
        current["token"] = next(tokens)

    h = Harness(token=lambda: current["token"])
    h.client._renew_access_token = renew
    assert h.client.get_marketplace_participations() == [PARTICIPATION]
    sent = [r.headers["x-amz-access-token"] for r in httpx_mock.get_requests()]
    assert (sent, renewals) == (["Atza|old", "Atza|new"], [True])


def test_a_repeated_403_is_forbidden_after_one_renewal(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=PARTICIPATIONS, status_code=403, json=UNAUTHORIZED)
    httpx_mock.add_response(url=PARTICIPATIONS, status_code=403, json=UNAUTHORIZED)
    renewals: list[bool] = []
    h = Harness()
    h.client._renew_access_token = lambda: renewals.append(True)
    with pytest.raises(SpapiForbidden):
        h.client.get_marketplace_participations()
    assert (len(httpx_mock.get_requests()), renewals) == (2, [True])


@pytest.mark.parametrize(
    "item",
    [
        {"marketplace": "ATVPDKIKX0DER", "participation": True},
        {"marketplace": {"id": 42}, "participation": {"isParticipating": True}},
        {"marketplace": {"id": US}, "participation": {"isParticipating": "yes"}},
        "ATVPDKIKX0DER",
    ],
)
def test_garbled_participations_are_an_invalid_response(httpx_mock: HTTPXMock, item: Any) -> None:
    httpx_mock.add_response(url=PARTICIPATIONS, json={"payload": [PARTICIPATION, item]})
    with pytest.raises(SpapiError) as caught:
        Harness().client.get_marketplace_participations()
    assert caught.value.code == "InvalidResponse"
    assert not isinstance(caught.value, SpapiForbidden)


def test_numbers_with_a_fraction_arrive_as_exact_decimals(httpx_mock: HTTPXMock) -> None:
    """Amazon's BigDecimal is a JSON number: a float would round 0.1 + 0.2 style amounts."""
    from decimal import Decimal

    httpx_mock.add_response(
        url=PARTICIPATIONS,
        content=b'{"payload": {"amount": 12345678901234567.89, "small": 0.1, "count": 3}}',
        headers={"content-type": "application/json"},
    )
    response = Harness().client.request(
        "GET", "/sellers/v1/marketplaceParticipations", operation="getMarketplaceParticipations"
    )
    payload = response.body["payload"]
    assert payload["amount"] == Decimal("12345678901234567.89")
    assert payload["small"] == Decimal("0.1") and payload["count"] == 3


def test_the_quota_token_is_taken_after_the_access_token_so_amazon_is_never_outrun(
    httpx_mock: HTTPXMock,
) -> None:
    # The first call refreshes the access token at LWA (0.4 s here). Amazon's bucket starts when
    # the first request reaches it; taking the quota token before the refresh let the client run
    # 0.4 s ahead of Amazon, and the third getInventorySummaries (2/s, burst 2) got a 429.
    harness: dict[str, Harness] = {}
    refreshed: list[bool] = []

    def access_token() -> str:
        if not refreshed:
            refreshed.append(True)
            harness["h"].clock.advance(0.4)
        return ACCESS

    h = harness["h"] = Harness(token=access_token)
    sent: list[float] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(h.clock.monotonic())
        return httpx.Response(200, json={"payload": {}})

    httpx_mock.add_callback(answer, url=SUMMARIES_ANY, is_reusable=True)
    for _ in range(3):
        h.client.get_inventory_summaries(US)
    # Amazon's view: a full bucket of 2 at the first request, refilled at 2 per second.
    first = sent[0]
    assert [round(t - first, 3) for t in sent] == [0.0, 0.0, 0.5]
