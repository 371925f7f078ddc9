"""Client-side token buckets per (store, operation), seeded with Amazon's documented usage plans."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Protocol


@dataclass(frozen=True)
class UsagePlan:
    """A token bucket's refill rate (requests per second) and burst (bucket size)."""

    rate: float
    burst: int


# Default usage plans from each operation's model and
# https://developer-docs.amazon.com/sp-api/docs/usage-plans-and-rate-limits (FACTS.md §5).
# Buckets are per operation x selling partner x app, so each store gets its own.
USAGE_PLANS: Mapping[str, UsagePlan] = MappingProxyType(
    {
        "getMarketplaceParticipations": UsagePlan(0.016, 15),
        "createReport": UsagePlan(0.0167, 15),
        "getReportDocument": UsagePlan(0.0167, 15),
        "getReport": UsagePlan(2.0, 15),
        "getReports": UsagePlan(0.0222, 10),
        "getInventorySummaries": UsagePlan(2.0, 2),
        "listTransactions": UsagePlan(0.5, 10),
        "listFinancialEvents": UsagePlan(0.5, 30),
        # Data Kiosk 2023-11-15 (FACTS.md §8); createQuery is also kept per application, fleet-wide
        # (sync/quota.py FleetBudget).
        "createQuery": UsagePlan(0.0167, 15),
        "getQuery": UsagePlan(2.0, 15),
        "getDocument": UsagePlan(0.0167, 15),
    }
)

# For operations not in the table: slow enough to stay under most documented plans; a 429 still
# triggers penalize() and the retry policy if Amazon's plan is stricter.
DEFAULT_PLAN = UsagePlan(0.2, 1)


class WaitObserver(Protocol):
    """Told when a caller waits for a token (sync shows the wait and adds it up per store)."""

    def waiting(self, store: str, operation: str, seconds: float) -> None:
        """A wait of `seconds` for (store, operation)'s quota begins."""

    def waited(self, store: str, operation: str, seconds: float) -> None:
        """That wait is over."""


@dataclass(frozen=True)
class BucketState:
    """One bucket as a run leaves it: tokens left and refill rate at a wall-clock time (epoch s)."""

    operation: str
    tokens: float
    rate: float
    at: float


class BucketStore(Protocol):
    """Where buckets outlive the run (the state database), so the next run starts where Amazon's
    bucket is instead of full."""

    def load(self, store: str) -> Sequence[BucketState]:
        """The store's buckets as the last run left them."""

    def save(self, store: str, buckets: Sequence[BucketState]) -> None:
        """Keep the store's buckets for the next run."""


class _Bucket:
    """One token bucket; tokens go negative when callers have reserved future tokens."""

    __slots__ = ("burst", "rate", "tokens", "updated")

    def __init__(self, plan: UsagePlan, now: float) -> None:
        self.rate = plan.rate
        self.burst = float(plan.burst)
        # Start full: that is how Amazon's bucket looks after an idle period.
        self.tokens = self.burst
        self.updated = now

    def refill(self, now: float) -> None:
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(self.burst, self.tokens + elapsed * self.rate)
        self.updated = now


class RateLimiter:
    """Thread-safe token buckets; `acquire` blocks via the injected sleep until a token is free."""

    def __init__(
        self,
        *,
        plans: Mapping[str, UsagePlan] = USAGE_PLANS,
        default: UsagePlan = DEFAULT_PLAN,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        observer: WaitObserver | None = None,
    ) -> None:
        self._observer = observer
        self._plans = plans
        self._default = default
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._kept: BucketStore | None = None
        self._wall: Callable[[], float] = time.time
        self._loaded: dict[str, dict[str, BucketState]] = {}

    def keep_in(self, store: BucketStore, *, wall: Callable[[], float] = time.time) -> None:
        """Start each store's buckets from `store` (refilled for the time since) and let `flush`
        write them back; `wall` is the clock those times are read on."""
        with self._lock:
            self._kept = store
            self._wall = wall
            self._loaded.clear()

    def flush(self) -> None:
        """Write every bucket this limiter used back to its store (after a run)."""
        if self._kept is None:
            return
        with self._lock:
            now, wall = self._clock(), self._wall()
            by_store: dict[str, list[BucketState]] = {}
            for (store, operation), bucket in self._buckets.items():
                bucket.refill(now)
                by_store.setdefault(store, []).append(
                    BucketState(operation, bucket.tokens, bucket.rate, wall)
                )
        for store, buckets in by_store.items():
            self._kept.save(store, buckets)

    def plan(self, operation: str) -> UsagePlan:
        """The usage plan an operation's buckets start with."""
        return self._plans.get(operation, self._default)

    def _bucket(self, store: str, operation: str, now: float) -> _Bucket:
        bucket = self._buckets.get((store, operation))
        if bucket is None:
            bucket = _Bucket(self.plan(operation), now)
            kept = self._kept_state(store, operation)
            if kept is not None:
                # Amazon's bucket as the last run left it, refilled since (never past the burst).
                elapsed = max(0.0, self._wall() - kept.at)
                bucket.rate = kept.rate
                bucket.tokens = min(bucket.burst, kept.tokens + elapsed * kept.rate)
            self._buckets[(store, operation)] = bucket
        else:
            bucket.refill(now)
        return bucket

    def _kept_state(self, store: str, operation: str) -> BucketState | None:
        if self._kept is None:
            return None
        states = self._loaded.get(store)
        if states is None:
            states = {b.operation: b for b in self._kept.load(store)}
            self._loaded[store] = states
        kept = states.get(operation)
        if kept is None or not (math.isfinite(kept.rate) and kept.rate > 0):
            return None
        return kept

    def reserve(self, store: str, operation: str) -> float:
        """Take the next token of (store, operation); returns how long to wait before using it."""
        with self._lock:
            now = self._clock()
            bucket = self._bucket(store, operation, now)
            # Reserving (going below zero) gives waiting threads first-come order and means no
            # thread has to recheck after sleeping.
            bucket.tokens -= 1.0
            if bucket.tokens >= 0:
                return 0.0
            return -bucket.tokens / bucket.rate

    def acquire(self, store: str, operation: str) -> float:
        """Block until a token for (store, operation) is available; returns the seconds waited."""
        wait = self.reserve(store, operation)
        if wait > 0:
            if self._observer is not None:
                self._observer.waiting(store, operation, wait)
            try:
                self._sleep(wait)
            finally:
                if self._observer is not None:
                    self._observer.waited(store, operation, wait)
        return wait

    def penalize(self, store: str, operation: str, retry_after: float | None = None) -> None:
        """Empty the bucket after a 429 so no token is handed out before Retry-After has passed."""
        with self._lock:
            now = self._clock()
            bucket = self._bucket(store, operation, now)
            if retry_after is not None and retry_after >= 0:
                # Amazon said when to come back. The next reservation waits (1 - tokens) / rate:
                # make that exactly retry_after; an emptied bucket of a slow operation
                # (getMarketplaceParticipations: 0.016/s) would otherwise hold it for a minute.
                ceiling = 1.0 - retry_after * bucket.rate
            else:
                ceiling = 0.0
            bucket.tokens = min(bucket.tokens, ceiling)

    def update_rate(self, store: str, operation: str, rate: float) -> None:
        """Adopt the rate Amazon reports in x-amzn-RateLimit-Limit for this bucket.

        Selling partners with higher plans get higher rates than the documented defaults.
        https://developer-docs.amazon.com/sp-api/docs/usage-plans-and-rate-limits
        """
        if not math.isfinite(rate) or rate <= 0:
            return
        with self._lock:
            bucket = self._bucket(store, operation, self._clock())
            bucket.rate = rate

    def tokens(self, store: str, operation: str) -> float:
        """Tokens currently in the bucket (negative while reservations are outstanding)."""
        with self._lock:
            return self._bucket(store, operation, self._clock()).tokens
