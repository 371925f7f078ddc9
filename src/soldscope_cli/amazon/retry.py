"""Retry timing: exponential backoff with full jitter, bounded attempts and total time."""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from soldscope_cli.amazon.headers import parse_http_date

_SECONDS = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*$")
# Beyond this many doublings the cap is always max_delay; stop before floats overflow.
_MAX_EXPONENT = 60
_SYSTEM_RANDOM = random.SystemRandom()


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry a failed call.

    Full jitter (a uniform delay between 0 and the exponential cap) keeps many threads that failed
    together from retrying together; Amazon recommends it for SP-API throttling.
    https://developer-docs.amazon.com/sp-api/docs/usage-plans-and-rate-limits
    """

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 20.0
    max_total: float = 60.0
    rng: random.Random | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if min(self.base_delay, self.max_delay, self.max_total) < 0:
            raise ValueError("delays must not be negative")

    def backoff_cap(self, attempt: int) -> float:
        """The upper bound of the jittered delay after failed attempt `attempt` (1-based)."""
        exponent = min(max(attempt, 1) - 1, _MAX_EXPONENT)
        return float(min(self.max_delay, self.base_delay * 2.0**exponent))

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt `attempt`: full jitter, at least Retry-After."""
        rng = self.rng if self.rng is not None else _SYSTEM_RANDOM
        jittered = rng.random() * self.backoff_cap(attempt)
        if retry_after is None:
            return jittered
        # The server's own instruction wins over our cap; max_total still bounds the whole call.
        return max(jittered, retry_after)

    def allows(self, attempt: int, elapsed: float, delay: float) -> bool:
        """Whether another attempt may follow failed attempt `attempt` after waiting `delay`."""
        return attempt < self.max_attempts and elapsed + delay <= self.max_total


NO_RETRY = RetryPolicy(max_attempts=1)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header (delay-seconds or HTTP-date), None if unusable.

    RFC 9110 §10.2.3 allows both forms; a date in the past means "now".
    """
    if value is None or not value.strip():
        return None
    match = _SECONDS.match(value)
    if match:
        seconds = float(match.group(1))
        # 400 digits parse as inf, which would later reach time.sleep (OverflowError).
        return seconds if math.isfinite(seconds) else None
    when = parse_http_date(value)
    if when is None:
        return None
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())
