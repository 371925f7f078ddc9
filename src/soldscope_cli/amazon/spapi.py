"""SP-API calls for one store: auth header, rate limits, retries and Amazon's error shapes."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from json import loads as json_loads
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import httpx

from soldscope_cli.amazon.ratelimit import RateLimiter
from soldscope_cli.amazon.retry import RetryPolicy, parse_retry_after
from soldscope_cli.errors import Failure, SoldscopeError
from soldscope_cli.redact import redact
from soldscope_cli.untrusted import printable

log = logging.getLogger(__name__)

# https://developer-docs.amazon.com/sp-api/docs/connecting-to-the-selling-partner-api
ACCESS_TOKEN_HEADER = "x-amz-access-token"
# Amazon asks for the request id in every support case; S3 (report documents) names it differently.
REQUEST_ID_HEADERS = ("x-amzn-RequestId", "x-amz-request-id")
RATE_LIMIT_HEADER = "x-amzn-RateLimit-Limit"

# 429 is QuotaExceeded; 500/502/503/504 are Amazon's side. Other statuses will not change on retry.
# https://developer-docs.amazon.com/sp-api/docs/response-format
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
_BAD_REQUEST_STATUSES = frozenset({400, 413, 415})
_MAX_TEXT = 500
DOWNLOAD_OPERATION = "downloadReportDocument"
DATA_KIOSK = "/dataKiosk/2023-11-15"

_S3_CODE = re.compile(r"<Code>([^<]{1,100})</Code>")
_S3_MESSAGE = re.compile(r"<Message>([^<]{1,300})</Message>")


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _clean(text: str) -> str:
    # Amazon's text reaches terminals, alerts and the database: no escape sequences, one line.
    return redact(printable(text))[:_MAX_TEXT]


def iso8601(value: datetime) -> str:
    """A timezone-aware datetime in the UTC form SP-API examples use (2024-03-10T20:11:24.000Z)."""
    if value.tzinfo is None:
        raise ValueError("SP-API timestamps need a timezone-aware datetime")
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _without_query(url: str) -> str:
    # Presigned document URLs carry their signature in the query string.
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(unparseable URL)"
    return urlunsplit(parts._replace(query="", fragment=""))


class SpapiError(SoldscopeError):
    """An SP-API call failed; `message` is Amazon's own message, str() the full description."""

    failure = Failure.BROKEN
    hint_text: str | None = None

    def __init__(
        self,
        *,
        status: int | None,
        code: str,
        message: str,
        details: str | None,
        request_id: str | None,
        operation: str,
        store: str,
        retry_after: float | None = None,
        retryable: bool = False,
    ) -> None:
        parts = [f"{operation} for store {store!r} failed: "]
        parts.append(f"HTTP {status} {code}" if status is not None else code)
        if message:
            parts.append(f": {message}")
        if details:
            parts.append(f" ({details})")
        if request_id:
            parts.append(f" [request id {request_id}]")
        super().__init__("".join(parts), hint=self.hint_text)
        self.status = status
        self.code = code
        # Amazon's own message, safe to show; str(self) adds operation, store and request id.
        self.message = message
        self.details = details
        self.request_id = request_id
        self.operation = operation
        self.store = store
        self.retry_after = retry_after
        self.retryable = retryable


class SpapiBadRequest(SpapiError):
    """400 InvalidInput and friends: the request itself is wrong."""

    failure = Failure.BAD_INPUT


class SpapiForbidden(SpapiError):
    """403 Unauthorized: revoked grant, missing role, wrong region or a bad access token."""

    hint_text = (
        "the seller may have revoked the authorization, the app may lack the role this API needs, "
        "or the store may be connected in another region"
    )


class SpapiLinkRefused(SpapiError):
    """A presigned report-document URL was refused (403): it expired or was cut short.

    Not a SpapiForbidden: the link is its own credential, so this says nothing about the store's
    grant or the app's roles. Asking for the document again gives a fresh link.
    """

    failure = Failure.UNREACHABLE
    hint_text = "the download link expired before the download finished; the next sync asks again"


class SpapiNotFound(SpapiError):
    """404 NotFound: the resource (report, document, path) does not exist."""


class SpapiThrottled(SpapiError):
    """429 QuotaExceeded, still throttled after the retries allowed."""

    failure = Failure.UNREACHABLE
    hint_text = "Amazon's rate limit for this operation was reached; try again later"


class SpapiTransient(SpapiError):
    """5xx, timeouts or connection errors, still failing after the retries allowed."""

    failure = Failure.UNREACHABLE
    hint_text = "Amazon could not be reached or answered with an error; try again later"


def _error_class(status: int) -> type[SpapiError]:
    if status in _BAD_REQUEST_STATUSES:
        return SpapiBadRequest
    if status == 403:
        return SpapiForbidden
    if status == 404:
        return SpapiNotFound
    if status == 429:
        return SpapiThrottled
    if status in RETRYABLE_STATUSES:
        return SpapiTransient
    return SpapiError


def _request_id(headers: httpx.Headers) -> str | None:
    for name in REQUEST_ID_HEADERS:
        value: str | None = headers.get(name)
        if value:
            return value
    return None


def _error_fields(response: httpx.Response) -> tuple[str, str, str | None]:
    """(code, message, details) from Amazon's {"errors": [...]} shape, or a fallback."""
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        code = first.get("code")
        message = first.get("message")
        details = first.get("details")
        return (
            _clean(str(code)) if code not in (None, "") else f"HTTP{status}",
            _clean(str(message)) if message is not None else "",
            _clean(str(details)) if details not in (None, "") else None,
        )
    text = response.text if body is None else ""
    # S3 (report documents) answers with XML: <Error><Code>AccessDenied</Code><Message>...
    code_match = _S3_CODE.search(text)
    message_match = _S3_MESSAGE.search(text)
    if code_match:
        message = _clean(message_match.group(1)) if message_match else ""
        return _clean(code_match.group(1)), message, None
    return f"HTTP{status}", _clean(response.reason_phrase), None


@dataclass(frozen=True)
class SpapiResponse:
    """A successful SP-API answer: status, parsed JSON body (None if empty) and request id."""

    status: int
    body: Any
    request_id: str | None
    headers: httpx.Headers = field(repr=False)


PARTICIPATIONS_PATH = "/sellers/v1/marketplaceParticipations"
PARTICIPATIONS_OPERATION = "getMarketplaceParticipations"


def _invalid(response: SpapiResponse, message: str, operation: str, store: str) -> SpapiError:
    return SpapiError(
        status=response.status,
        code="InvalidResponse",
        message=message,
        details=None,
        request_id=response.request_id,
        operation=operation,
        store=store,
    )


def json_object(response: SpapiResponse, *, operation: str, store: str) -> dict[str, Any]:
    """The response body as a JSON object, or an SpapiError saying it is not one."""
    if not isinstance(response.body, dict):
        raise _invalid(response, "expected a JSON object", operation, store)
    return response.body


def participations_payload(response: SpapiResponse, *, store: str) -> list[dict[str, Any]]:
    """The `payload` list of a getMarketplaceParticipations response (FACTS §6).

    Every item must have the model's shape (a marketplace object with a string id, a
    participation object with a boolean isParticipating): a garbled answer is an invalid response,
    never read as "participates nowhere", which would look like a lasting marketplace mismatch.
    """
    payload = json_object(response, operation=PARTICIPATIONS_OPERATION, store=store).get("payload")
    if not isinstance(payload, list):
        raise _invalid(response, "expected a payload list", PARTICIPATIONS_OPERATION, store)
    for item in payload:
        market = item.get("marketplace") if isinstance(item, dict) else None
        status = item.get("participation") if isinstance(item, dict) else None
        if not (
            isinstance(market, dict)
            and isinstance(market.get("id"), str)
            and isinstance(status, dict)
            and isinstance(status.get("isParticipating"), bool)
        ):
            raise _invalid(
                response,
                "a payload item is not a marketplace participation",
                PARTICIPATIONS_OPERATION,
                store,
            )
    return [_printable_names(item) for item in payload]


def _printable_names(item: dict[str, Any]) -> dict[str, Any]:
    """A participation whose names (the seller's storeName, the marketplace's name) are safe to
    store and print: the seller chooses the store name, and it may carry escape sequences."""
    item = dict(item)
    market = dict(item["marketplace"])
    for holder, key in ((item, "storeName"), (market, "name")):
        if isinstance(holder.get(key), str):
            holder[key] = printable(holder[key])
    item["marketplace"] = market
    return item


class SpapiClient:
    """SP-API calls on behalf of one store (one seller in one region); thread-safe."""

    def __init__(
        self,
        http: httpx.Client,
        base_url: str,
        access_token: Callable[[], str],
        *,
        store: str,
        limiter: RateLimiter,
        retry: RetryPolicy,
        clock: Callable[[], datetime] = _utcnow,
        sleep: Callable[[float], None] = time.sleep,
        renew_access_token: Callable[[], None] | None = None,
    ) -> None:
        self._http = http
        self._base_url = base_url.rstrip("/")
        self._access_token = access_token
        # Drops the cached access token, so the next request asks LWA for a new one.
        self._renew_access_token = renew_access_token
        self._store = store
        self._limiter = limiter
        self._retry = retry
        self._clock = clock
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"SpapiClient(base_url={self._base_url!r}, store={self._store!r})"

    @property
    def store(self) -> str:
        """The store this client calls for."""
        return self._store

    def request(
        self,
        method: str,
        path: str,
        *,
        operation: str,
        params: Mapping[str, str] | None = None,
        json: Any = None,
    ) -> SpapiResponse:
        """Call an SP-API operation with rate limiting and retries; SpapiError on failure."""
        url = self._base_url + path
        started: datetime | None = None
        attempt = 0
        renewed = False
        while True:
            attempt += 1
            # The access token first: a refresh at LWA takes a while, and Amazon's bucket counts
            # a request when it arrives. A quota token taken before the refresh would let the
            # client run that long ahead of Amazon, and the next burst would meet a 429.
            access_token = self._access_token()
            if self._limiter.acquire(self._store, operation) > 0:
                # A long wait for quota may outlast the token: read it again (cached, and
                # refreshed only when it is about to expire).
                access_token = self._access_token()
            if started is None:
                # Waiting for the first token is rate limiting, not failure: don't count it.
                started = self._clock()
            try:
                return self._send(
                    method,
                    url,
                    operation=operation,
                    params=params,
                    json=json,
                    access_token=access_token,
                )
            except SpapiForbidden:
                # A single 403 can be an access token that expired in flight or a hiccup at
                # Amazon: with a fresh token it either works or repeats, and only a repeated 403
                # says something lasting about the store.
                if renewed or self._renew_access_token is None:
                    raise
                renewed = True
                log.debug(
                    "%s for %s: 403, retrying once with a new access token", operation, self._store
                )
                self._renew_access_token()
            except SpapiError as exc:
                if exc.status == 429:
                    self._limiter.penalize(self._store, operation, exc.retry_after)
                self._before_retry(exc, attempt, started)

    def _before_retry(self, exc: SpapiError, attempt: int, started: datetime) -> None:
        """Sleep before the next attempt, or re-raise `exc` when no retry is allowed."""
        if not exc.retryable:
            raise exc
        delay = self._retry.delay(attempt, exc.retry_after)
        elapsed = (self._clock() - started).total_seconds()
        if not self._retry.allows(attempt, elapsed, delay):
            raise exc
        log.debug(
            "%s for %s: attempt %d failed (%s %s); retrying in %.1f s",
            exc.operation,
            self._store,
            attempt,
            exc.status,
            exc.code,
            delay,
        )
        self._sleep(delay)

    def _send(
        self,
        method: str,
        url: str,
        *,
        operation: str,
        params: Mapping[str, str] | None,
        json: Any,
        access_token: str,
    ) -> SpapiResponse:
        headers = {ACCESS_TOKEN_HEADER: access_token, "Accept": "application/json"}
        try:
            response = self._http.request(method, url, params=params, json=json, headers=headers)
        except httpx.TransportError as exc:
            raise self._transport_error(exc, operation) from exc
        request_id = _request_id(response.headers)
        log.debug(
            "%s %s %s -> %d [request id %s]",
            self._store,
            operation,
            method,
            response.status_code,
            request_id,
        )
        if not response.is_success:
            raise self._error(response, operation)
        self._observe_rate(response, operation)
        body: Any = None
        if response.content.strip():
            try:
                # Amazon's BigDecimal (money) arrives as a JSON number: parse it as a Decimal so
                # no float ever rounds it.
                body = json_loads(response.content, parse_float=Decimal)
            except ValueError as exc:
                raise SpapiTransient(
                    status=response.status_code,
                    code="InvalidResponse",
                    message="the response body was not JSON",
                    details=None,
                    request_id=request_id,
                    operation=operation,
                    store=self._store,
                    retryable=True,
                ) from exc
        return SpapiResponse(response.status_code, body, request_id, response.headers)

    def _observe_rate(self, response: httpx.Response, operation: str) -> None:
        # Best effort: the header is absent on 429s and on some operations.
        raw = response.headers.get(RATE_LIMIT_HEADER)
        if not raw:
            return
        try:
            rate = float(raw)
        except ValueError:
            return
        self._limiter.update_rate(self._store, operation, rate)

    def _error(self, response: httpx.Response, operation: str) -> SpapiError:
        status = response.status_code
        code, message, details = _error_fields(response)
        return _error_class(status)(
            status=status,
            code=code,
            message=message,
            details=details,
            request_id=_request_id(response.headers),
            operation=operation,
            store=self._store,
            retry_after=parse_retry_after(response.headers.get("Retry-After"), self._clock()),
            retryable=status in RETRYABLE_STATUSES,
        )

    def _transport_error(self, exc: httpx.TransportError, operation: str) -> SpapiError:
        # A request that never got an answer may succeed next time; a malformed one will not.
        retryable = not isinstance(exc, httpx.UnsupportedProtocol | httpx.LocalProtocolError)
        code = "Timeout" if isinstance(exc, httpx.TimeoutException) else type(exc).__name__
        return SpapiTransient(
            status=None,
            code=code,
            message=redact(str(exc))[:_MAX_TEXT],
            details=None,
            request_id=None,
            operation=operation,
            store=self._store,
            retryable=retryable,
        )

    def _json_object(self, response: SpapiResponse, operation: str) -> dict[str, Any]:
        return json_object(response, operation=operation, store=self._store)

    def get_marketplace_participations(self) -> list[dict[str, Any]]:
        """The seller's marketplaces (Sellers API): the `payload` list."""
        response = self.request("GET", PARTICIPATIONS_PATH, operation=PARTICIPATIONS_OPERATION)
        return participations_payload(response, store=self._store)

    def get_inventory_summaries(
        self,
        marketplace_id: str,
        *,
        details: bool = True,
        start_date_time: datetime | None = None,
        next_token: str | None = None,
    ) -> dict[str, Any]:
        """One page of FBA inventory summaries for one marketplace: the whole response document.

        `pagination.nextToken` sits at the top level and expires after 30 seconds.
        https://developer-docs.amazon.com/sp-api/docs/fba-inventory-api-v1-reference
        """
        params = {
            "granularityType": "Marketplace",
            "granularityId": marketplace_id,
            "marketplaceIds": marketplace_id,
            "details": "true" if details else "false",
        }
        if start_date_time is not None:
            params["startDateTime"] = iso8601(start_date_time)
        if next_token is not None:
            params["nextToken"] = next_token
        op = "getInventorySummaries"
        response = self.request("GET", "/fba/inventory/v1/summaries", operation=op, params=params)
        return self._json_object(response, op)

    def list_transactions(
        self,
        *,
        posted_after: datetime,
        posted_before: datetime | None = None,
        marketplace_id: str | None = None,
        next_token: str | None = None,
    ) -> dict[str, Any]:
        """One page of Finances 2024-06-19 transactions: the whole response document.

        Amazon requires both bounds over 2 minutes in the past and at most 180 days apart.
        https://developer-docs.amazon.com/sp-api/docs/finances-api-v2024-06-19-reference
        """
        params = {"postedAfter": iso8601(posted_after)}
        if posted_before is not None:
            params["postedBefore"] = iso8601(posted_before)
        if marketplace_id is not None:
            params["marketplaceId"] = marketplace_id
        if next_token is not None:
            params["nextToken"] = next_token
        op = "listTransactions"
        response = self.request(
            "GET", "/finances/2024-06-19/transactions", operation=op, params=params
        )
        return self._json_object(response, op)

    def create_report(
        self,
        report_type: str,
        marketplace_ids: Sequence[str],
        *,
        data_start_time: datetime | None = None,
        data_end_time: datetime | None = None,
        report_options: Mapping[str, str] | None = None,
    ) -> str:
        """Request a report (Reports 2021-06-30) and return its reportId."""
        body: dict[str, Any] = {"reportType": report_type, "marketplaceIds": list(marketplace_ids)}
        if data_start_time is not None:
            body["dataStartTime"] = iso8601(data_start_time)
        if data_end_time is not None:
            body["dataEndTime"] = iso8601(data_end_time)
        if report_options:
            body["reportOptions"] = dict(report_options)
        op = "createReport"
        response = self.request("POST", "/reports/2021-06-30/reports", operation=op, json=body)
        return self._required_id(response, op, "reportId")

    def _required_id(self, response: SpapiResponse, op: str, key: str) -> str:
        value = self._json_object(response, op).get(key)
        if not isinstance(value, str) or not value:
            raise SpapiError(
                status=response.status,
                code="InvalidResponse",
                message=f"the answer had no {key}",
                details=None,
                request_id=response.request_id,
                operation=op,
                store=self._store,
            )
        return value

    def get_reports(
        self,
        report_types: Sequence[str] | None = None,
        *,
        processing_statuses: Sequence[str] = (),
        created_since: datetime | None = None,
        page_size: int = 100,
        next_token: str | None = None,
    ) -> dict[str, Any]:
        """One page of the reports Amazon lists (getReports): the whole response document.

        A next page is asked for with its nextToken alone, as Amazon requires.
        """
        params: dict[str, str] = {}
        if next_token is not None:
            params["nextToken"] = next_token
        else:
            params["reportTypes"] = ",".join(report_types or ())
            if processing_statuses:
                params["processingStatuses"] = ",".join(processing_statuses)
            if created_since is not None:
                params["createdSince"] = iso8601(created_since)
            params["pageSize"] = str(page_size)
        op = "getReports"
        response = self.request("GET", "/reports/2021-06-30/reports", operation=op, params=params)
        return self._json_object(response, op)

    def get_report(self, report_id: str) -> dict[str, Any]:
        """A report's status record (processingStatus, reportDocumentId, ...)."""
        op = "getReport"
        path = f"/reports/2021-06-30/reports/{quote(report_id, safe='')}"
        return self._json_object(self.request("GET", path, operation=op), op)

    def get_report_document(self, document_id: str) -> dict[str, Any]:
        """A report document's presigned url (valid 5 minutes) and compressionAlgorithm."""
        op = "getReportDocument"
        path = f"/reports/2021-06-30/documents/{quote(document_id, safe='')}"
        return self._json_object(self.request("GET", path, operation=op), op)

    # --- Data Kiosk 2023-11-15 (models/dataKiosk_2023-11-15.json) -----------------------------------

    def create_query(self, query: str, *, pagination_token: str | None = None) -> str:
        """Submit a GraphQL query to Data Kiosk and return its queryId."""
        body: dict[str, Any] = {"query": query}
        if pagination_token is not None:
            body["paginationToken"] = pagination_token
        op = "createQuery"
        response = self.request("POST", f"{DATA_KIOSK}/queries", operation=op, json=body)
        return self._required_id(response, op, "queryId")

    def get_query(self, query_id: str) -> dict[str, Any]:
        """A query's status record (processingStatus, dataDocumentId, errorDocumentId, ...)."""
        op = "getQuery"
        path = f"{DATA_KIOSK}/queries/{quote(query_id, safe='')}"
        return self._json_object(self.request("GET", path, operation=op), op)

    def get_document(self, document_id: str) -> dict[str, Any]:
        """A Data Kiosk document's presigned documentUrl (valid 5 minutes)."""
        op = "getDocument"
        path = f"{DATA_KIOSK}/documents/{quote(document_id, safe='')}"
        return self._json_object(self.request("GET", path, operation=op), op)

    @contextmanager
    def open_document(self, url: str) -> Iterator[Iterator[bytes]]:
        """Stream a presigned report document as raw (still compressed) chunks, without auth."""
        stack, response = self._open_stream(url)
        with stack:
            yield self._chunks(response)

    def _open_stream(self, url: str) -> tuple[ExitStack, httpx.Response]:
        started = self._clock()
        attempt = 0
        while True:
            attempt += 1
            stack = ExitStack()
            try:
                # The presigned URL is its own credential: no x-amz-access-token goes to S3.
                response = stack.enter_context(self._http.stream("GET", url))
            except httpx.TransportError as exc:
                stack.close()
                error = self._transport_error(exc, DOWNLOAD_OPERATION)
                error.__cause__ = exc
            else:
                if response.is_success:
                    return stack, response
                with stack:
                    error = self._read_error(response, DOWNLOAD_OPERATION)
                if isinstance(error, SpapiForbidden):
                    error = SpapiLinkRefused(
                        status=error.status,
                        code=error.code,
                        message=error.message or "the presigned download link was refused",
                        details=error.details,
                        request_id=error.request_id,
                        operation=DOWNLOAD_OPERATION,
                        store=self._store,
                    )
            log.debug("download of %s failed: %s", _without_query(url), error.code)
            self._before_retry(error, attempt, started)

    def _read_error(self, response: httpx.Response, operation: str) -> SpapiError:
        try:
            response.read()
        except httpx.TransportError as exc:
            error = self._transport_error(exc, operation)
            error.__cause__ = exc
            return error
        return self._error(response, operation)

    def _chunks(self, response: httpx.Response) -> Iterator[bytes]:
        try:
            yield from response.iter_raw()
        except httpx.TransportError as exc:
            raise self._transport_error(exc, DOWNLOAD_OPERATION) from exc
