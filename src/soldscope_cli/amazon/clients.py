"""Builds the Amazon clients a command uses: one LWA client, one rate limiter, one retry policy."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from soldscope_cli.amazon.lwa import LwaClient
from soldscope_cli.amazon.marketplaces import Region
from soldscope_cli.amazon.ratelimit import RateLimiter, WaitObserver
from soldscope_cli.amazon.retry import RetryPolicy
from soldscope_cli.amazon.spapi import SpapiClient
from soldscope_cli.errors import ConfigError

if TYPE_CHECKING:
    import httpx

    from soldscope_cli.amazon.endpoints import Endpoints

# Scripts, CI and the end-to-end tests shorten the retry budget so a persistent outage ends in
# seconds instead of a minute per store (docs/validate.md#environment).
RETRY_MAX_TOTAL_ENV = "SOLDSCOPE_RETRY_MAX_TOTAL"
RETRY_BASE_DELAY_ENV = "SOLDSCOPE_RETRY_BASE_DELAY"
RETRY_MAX_ATTEMPTS_ENV = "SOLDSCOPE_RETRY_MAX_ATTEMPTS"


def _number(env: Mapping[str, str], name: str, default: float, *, integer: bool = False) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0 or (integer and (value < 1 or value != int(value))):
        kind = "a whole number ≥ 1" if integer else "a number of seconds ≥ 0"
        raise ConfigError(f"{name}={raw!r} is not {kind}", hint=f"fix or unset {name}")
    return value


def retry_policy_from_env(env: Mapping[str, str]) -> RetryPolicy:
    """The default RetryPolicy with SOLDSCOPE_RETRY_* overrides applied."""
    base = RetryPolicy()
    return RetryPolicy(
        max_attempts=int(_number(env, RETRY_MAX_ATTEMPTS_ENV, base.max_attempts, integer=True)),
        base_delay=_number(env, RETRY_BASE_DELAY_ENV, base.base_delay),
        max_delay=base.max_delay,
        max_total=_number(env, RETRY_MAX_TOTAL_ENV, base.max_total),
    )


class StoreRef(Protocol):
    """What the clients need to know of a store: its name (for errors) and its region."""

    @property
    def name(self) -> str: ...

    @property
    def region(self) -> Region: ...


@dataclass
class AmazonClients:
    """The clients of one command run, shared by every store it touches (all thread-safe)."""

    http: httpx.Client
    lwa: LwaClient
    limiter: RateLimiter
    retry: RetryPolicy
    endpoints: Endpoints
    clock: Callable[[], datetime]
    sleep: Callable[[float], None]

    @classmethod
    def build(
        cls,
        *,
        http: httpx.Client,
        endpoints: Endpoints,
        client_id: str,
        client_secret: str,
        env: Mapping[str, str],
        clock: Callable[[], datetime],
        sleep: Callable[[float], None],
        monotonic: Callable[[], float],
        rate_waits: WaitObserver | None = None,
    ) -> AmazonClients:
        """Clients for one app's LWA credentials (the composition root resolves them).

        `rate_waits` is told of every wait for a rate-limit token (sync shows them).
        """
        retry = retry_policy_from_env(env)
        lwa = LwaClient(
            http, endpoints.lwa_url, client_id, client_secret, clock=clock, retry=retry, sleep=sleep
        )
        limiter = RateLimiter(clock=monotonic, sleep=sleep, observer=rate_waits)
        return cls(http, lwa, limiter, retry, endpoints, clock, sleep)

    def spapi_for(self, record: StoreRef, refresh_token: str) -> SpapiClient:
        """An SP-API client acting for one store, refreshing its access token through LWA."""
        lwa = self.lwa
        return SpapiClient(
            self.http,
            self.endpoints.spapi_base(record.region),
            lambda: lwa.access_token(refresh_token),
            store=record.name,
            limiter=self.limiter,
            retry=self.retry,
            clock=self.clock,
            sleep=self.sleep,
            renew_access_token=lambda: lwa.forget(refresh_token),
        )
