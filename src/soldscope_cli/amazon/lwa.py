"""Login with Amazon: code exchange, cached access tokens, grantless tokens and error mapping."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import httpx

from soldscope_cli.amazon.retry import RetryPolicy, parse_retry_after
from soldscope_cli.errors import Failure, SoldscopeError
from soldscope_cli.redact import redact, register_secret
from soldscope_cli.untrusted import printable

log = logging.getLogger(__name__)

# The official SDKs treat an access token as expired a minute early so that it never expires
# between being read and reaching Amazon.
# https://developer-docs.amazon.com/sp-api/docs/connecting-to-the-selling-partner-api
EXPIRY_MARGIN = timedelta(seconds=60)
DEFAULT_EXPIRES_IN = 3600
_MAX_DESCRIPTION = 500

# Error codes of the LWA token endpoint (RFC 6749 §5.2 plus Amazon's additions).
# https://developer-docs.amazon.com/sp-api/docs/connecting-to-the-selling-partner-api
_GRANT_CODES = frozenset({"invalid_grant"})
_APP_CODES = frozenset({"invalid_client", "unauthorized_client"})
_TRANSIENT_CODES = frozenset({"server_error", "temporarily_unavailable"})


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class TokenGrant:
    """What a successful code exchange yields; the tokens are kept out of repr."""

    refresh_token: str = field(repr=False)
    access_token: str = field(repr=False)
    expires_at: datetime


class LwaError(SoldscopeError):
    """Login with Amazon refused or failed a token request."""

    failure = Failure.BROKEN
    summary: ClassVar[str] = "Login with Amazon refused the token request"

    def __init__(
        self,
        code: str,
        description: str,
        status: int | None,
        *,
        grant_type: str,
        retry_after: float | None = None,
        request_id: str | None = None,
    ) -> None:
        self.code = code
        self.description = description
        self.status = status
        self.grant_type = grant_type
        self.retry_after = retry_after
        # Amazon's id of the failed request, for support cases; None when nothing answered.
        self.request_id = request_id
        detail = f": {description}" if description else ""
        status_text = f"HTTP {status}, " if status is not None else ""
        super().__init__(f"{self.summary} ({status_text}{code}){detail}", hint=self._hint())

    def _hint(self) -> str | None:
        return None


class GrantRejected(LwaError):
    """invalid_grant: the refresh token (or authorization code) is no longer accepted."""

    summary = "Login with Amazon rejected the seller's authorization"

    def _hint(self) -> str:
        if self.grant_type == "authorization_code":
            # https://developer-docs.amazon.com/sp-api/docs/website-authorization-workflow
            return (
                "authorization codes work once, expire after 5 minutes and need the exact "
                "redirect_uri of the consent request: start the consent again"
            )
        # Amazon returns the same error for a revoked grant and one past its 365 days.
        return (
            "the seller revoked the authorization or it expired (365 days): "
            "the seller must authorize the app again"
        )


class AppCredentialsRejected(LwaError):
    """invalid_client / unauthorized_client: the app's client id or secret is wrong or expired."""

    summary = "Login with Amazon rejected the app's client credentials"

    def _hint(self) -> str:
        # https://developer-docs.amazon.com/sp-api/docs/rotating-your-apps-lwa-credentials
        return (
            "this affects every store: check the LWA client id and secret "
            "(client secrets expire every 180 days) and update the app configuration"
        )


class LwaBadRequest(LwaError):
    """The token request itself was refused (invalid_request, invalid_scope, other 4xx)."""

    failure = Failure.BAD_INPUT
    summary = "Login with Amazon refused the token request"


class LwaTransient(LwaError):
    """Login with Amazon could not answer now (5xx, timeout, connection error, garbled body)."""

    failure = Failure.UNREACHABLE
    summary = "Login with Amazon is unavailable"

    def _hint(self) -> str:
        return "try again in a few minutes; check the network or proxy if it persists"


def _cache_key(kind: str, value: str) -> str:
    # Hash the refresh token so the cache never holds it in a readable form.
    return kind + ":" + hashlib.sha256(value.encode()).hexdigest()


@dataclass
class _Cached:
    value: str = field(repr=False)
    expires_at: datetime


def _describe(body: Any) -> str:
    raw = body.get("error_description") if isinstance(body, dict) else None
    if not isinstance(raw, str):
        return ""
    # Amazon's text reaches terminals, alerts and the database: no escape sequences, one line.
    return redact(printable(raw))[:_MAX_DESCRIPTION]


def error_from_response(response: httpx.Response, grant_type: str, now: datetime) -> LwaError:
    """The typed error for a non-2xx answer of the LWA token endpoint."""
    status = response.status_code
    retry_after = parse_retry_after(response.headers.get("Retry-After"), now)
    request_id = response.headers.get("x-amzn-RequestId")
    try:
        body = response.json()
    except ValueError:
        # Proxies and load balancers answer with HTML; that is not Amazon's verdict.
        return LwaTransient(
            f"http_{status}",
            "the response was not JSON",
            status,
            grant_type=grant_type,
            retry_after=retry_after,
            request_id=request_id,
        )
    raw_code = body.get("error") if isinstance(body, dict) else None
    code = printable(raw_code, limit=60) if isinstance(raw_code, str) else ""
    code = code or f"http_{status}"
    description = _describe(body)
    cls: type[LwaError]
    if code in _GRANT_CODES:
        cls = GrantRejected
    elif code in _APP_CODES:
        cls = AppCredentialsRejected
    elif code in _TRANSIENT_CODES or status >= 500 or status == 429:
        cls = LwaTransient
    else:
        cls = LwaBadRequest
    return cls(
        code,
        description,
        status,
        grant_type=grant_type,
        retry_after=retry_after,
        request_id=request_id,
    )


class LwaClient:
    """Token requests to Login with Amazon for one app (client id + secret); thread-safe."""

    def __init__(
        self,
        http: httpx.Client,
        token_url: str,
        client_id: str,
        client_secret: str,
        *,
        clock: Callable[[], datetime] = _utcnow,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        register_secret(client_secret)
        self._http = http
        self._token_url = token_url
        self._client_id = client_id
        self._client_secret = client_secret
        self._clock = clock
        self._retry = retry if retry is not None else RetryPolicy()
        self._sleep = sleep
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}
        self._cache: dict[str, _Cached] = {}

    def __repr__(self) -> str:
        return f"LwaClient(token_url={self._token_url!r}, client_id={self._client_id!r})"

    def exchange_code(self, code: str, redirect_uri: str) -> TokenGrant:
        """Exchange a consent's spapi_oauth_code for a refresh token (do it within 5 minutes)."""
        register_secret(code)
        body = self._post(
            {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri},
            "authorization_code",
        )
        refresh_token = body.get("refresh_token")
        if not isinstance(refresh_token, str) or not refresh_token:
            # Not retried: the code is single-use, a second exchange would be invalid_grant.
            raise LwaTransient(
                "invalid_response",
                "the answer had no refresh_token",
                200,
                grant_type="authorization_code",
            )
        register_secret(refresh_token)
        access, expires_at = self._access_from(body)
        with self._lock:
            self._cache[_cache_key("refresh", refresh_token)] = _Cached(access, expires_at)
        return TokenGrant(refresh_token=refresh_token, access_token=access, expires_at=expires_at)

    def access_token(self, refresh_token: str) -> str:
        """An access token for a store's refresh token, cached until a minute before it expires."""
        register_secret(refresh_token)
        return self._cached_token(
            _cache_key("refresh", refresh_token),
            {"grant_type": "refresh_token", "refresh_token": refresh_token},
            "refresh_token",
        )

    def grantless(self, scope: str) -> str:
        """An app-level access token for a grantless scope, cached like store tokens."""
        return self._cached_token(
            "scope:" + scope,
            {"grant_type": "client_credentials", "scope": scope},
            "client_credentials",
        )

    def forget(self, refresh_token: str) -> None:
        """Drop the cached access token of a refresh token (after Amazon refused it)."""
        with self._lock:
            self._cache.pop(_cache_key("refresh", refresh_token), None)

    def _key_lock(self, key: str) -> threading.Lock:
        with self._lock:
            return self._key_locks.setdefault(key, threading.Lock())

    def _cached_token(self, key: str, form: dict[str, str], grant_type: str) -> str:
        # One lock per token: threads of the same store wait for one refresh instead of each
        # spending a request; other stores are not held up.
        with self._key_lock(key):
            with self._lock:
                cached = self._cache.get(key)
            if cached is not None and self._clock() < cached.expires_at - EXPIRY_MARGIN:
                return cached.value
            body = self._post(form, grant_type)
            access, expires_at = self._access_from(body)
            with self._lock:
                self._cache[key] = _Cached(access, expires_at)
            return access

    def _access_from(self, body: dict[str, Any]) -> tuple[str, datetime]:
        access = body["access_token"]
        register_secret(access)
        raw = body.get("expires_in", DEFAULT_EXPIRES_IN)
        seconds = raw if isinstance(raw, int) and raw > 0 else DEFAULT_EXPIRES_IN
        return access, self._clock() + timedelta(seconds=seconds)

    def _post(self, form: dict[str, str], grant_type: str) -> dict[str, Any]:
        data = {**form, "client_id": self._client_id, "client_secret": self._client_secret}
        started = self._clock()
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._post_once(data, grant_type)
            except LwaTransient as exc:
                delay = self._retry.delay(attempt, exc.retry_after)
                elapsed = (self._clock() - started).total_seconds()
                if not self._retry.allows(attempt, elapsed, delay):
                    raise
                log.debug(
                    "LWA %s attempt %d failed (%s); retrying in %.1f s",
                    grant_type,
                    attempt,
                    exc.code,
                    delay,
                )
                self._sleep(delay)

    def _post_once(self, data: dict[str, str], grant_type: str) -> dict[str, Any]:
        try:
            response = self._http.post(
                self._token_url, data=data, headers={"Accept": "application/json"}
            )
        except httpx.TimeoutException as exc:
            raise LwaTransient(
                "timeout", redact(f"no answer in time ({exc})"), None, grant_type=grant_type
            ) from exc
        except httpx.TransportError as exc:
            raise LwaTransient(
                "connection_error",
                redact(f"{type(exc).__name__}: {exc}"),
                None,
                grant_type=grant_type,
            ) from exc
        log.debug("LWA %s grant: HTTP %d", grant_type, response.status_code)
        if not response.is_success:
            raise error_from_response(response, grant_type, self._clock())
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
            raise LwaTransient(
                "invalid_response",
                "the answer had no access_token",
                response.status_code,
                grant_type=grant_type,
            )
        return body
