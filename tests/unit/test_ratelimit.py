"""Token buckets per (store, operation): documented plans, blocking, threads, penalties."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest
from client_fakes import FakeClock, FrozenSleeps

from soldscope_cli.amazon.ratelimit import (
    DEFAULT_PLAN,
    USAGE_PLANS,
    BucketState,
    RateLimiter,
    UsagePlan,
)


@pytest.mark.parametrize(
    ("operation", "rate", "burst"),
    [
        ("getMarketplaceParticipations", 0.016, 15),
        ("createReport", 0.0167, 15),
        ("getReportDocument", 0.0167, 15),
        ("getReport", 2.0, 15),
        ("getReports", 0.0222, 10),
        ("getInventorySummaries", 2.0, 2),
        ("listTransactions", 0.5, 10),
        ("listFinancialEvents", 0.5, 30),
    ],
)
def test_documented_usage_plans(operation: str, rate: float, burst: int) -> None:
    assert RateLimiter().plan(operation) == UsagePlan(rate, burst)


def test_unknown_operations_get_the_conservative_default() -> None:
    assert RateLimiter().plan("getOrders") == DEFAULT_PLAN
    assert DEFAULT_PLAN.burst == 1
    assert DEFAULT_PLAN.rate <= min(p.rate for p in USAGE_PLANS.values() if p.rate >= 0.1)


def test_burst_is_free_then_each_token_waits_one_interval() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock.monotonic, sleep=clock.sleep)
    waits = [limiter.acquire("acme-us", "getInventorySummaries") for _ in range(5)]
    assert waits == [0.0, 0.0, 0.5, 0.5, 0.5]
    assert clock.sleeps == [0.5, 0.5, 0.5]


def test_bucket_refills_with_time_up_to_its_burst() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock.monotonic, sleep=clock.sleep)
    for _ in range(15):
        limiter.acquire("acme-us", "getReport")
    assert limiter.tokens("acme-us", "getReport") == 0.0
    clock.advance(2.0)
    assert limiter.tokens("acme-us", "getReport") == 4.0
    clock.advance(3600.0)
    assert limiter.tokens("acme-us", "getReport") == 15.0


def test_stores_and_operations_do_not_share_buckets() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock.monotonic, sleep=clock.sleep)
    for _ in range(2):
        limiter.acquire("acme-us", "getInventorySummaries")
    assert limiter.acquire("acme-eu", "getInventorySummaries") == 0.0
    assert limiter.acquire("acme-us", "listTransactions") == 0.0
    assert limiter.acquire("acme-us", "getInventorySummaries") == 0.5


def test_concurrent_acquires_are_spaced_by_the_bucket() -> None:
    # Time stands still, so each thread's wait is exactly its place in the queue.
    clock = FakeClock()
    sleeps = FrozenSleeps()
    limiter = RateLimiter(clock=clock.monotonic, sleep=sleeps)
    barrier = threading.Barrier(12)
    waits: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        barrier.wait()
        wait = limiter.acquire("acme-us", "getInventorySummaries")
        with lock:
            waits.append(wait)

    threads = [threading.Thread(target=worker) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Burst 2, then one token every 0.5 s: no two threads get the same slot.
    assert sorted(waits) == [0.0, 0.0] + [0.5 * n for n in range(1, 11)]
    assert sorted(sleeps.sleeps) == [0.5 * n for n in range(1, 11)]


def test_sleeping_happens_outside_the_lock() -> None:
    clock = FakeClock()
    limiter: RateLimiter

    def sleep(seconds: float) -> None:
        # Another thread must be able to use the limiter while this one waits.
        other = threading.Thread(target=limiter.acquire, args=("acme-eu", "getReport"))
        other.start()
        other.join(timeout=2.0)
        assert not other.is_alive()
        clock.sleep(seconds)

    limiter = RateLimiter(clock=clock.monotonic, sleep=sleep)
    limiter.acquire("acme-us", "getInventorySummaries")
    limiter.acquire("acme-us", "getInventorySummaries")
    assert limiter.acquire("acme-us", "getInventorySummaries") == 0.5
    assert clock.sleeps == [0.5]


def test_penalize_empties_the_bucket() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock.monotonic, sleep=clock.sleep)
    limiter.penalize("acme-us", "getReport")
    assert limiter.tokens("acme-us", "getReport") == 0.0
    assert limiter.acquire("acme-us", "getReport") == 0.5


def test_penalize_with_retry_after_holds_tokens_back_that_long() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock.monotonic, sleep=clock.sleep)
    limiter.penalize("acme-us", "getInventorySummaries", retry_after=2.0)
    assert limiter.acquire("acme-us", "getInventorySummaries") == pytest.approx(2.0)


def test_penalize_keeps_outstanding_reservations() -> None:
    clock = FakeClock()
    sleeps = FrozenSleeps()
    limiter = RateLimiter(clock=clock.monotonic, sleep=sleeps)
    for _ in range(4):
        limiter.acquire("acme-us", "getInventorySummaries")
    limiter.penalize("acme-us", "getInventorySummaries", retry_after=0.1)
    assert limiter.tokens("acme-us", "getInventorySummaries") == -2.0


def test_update_rate_adopts_amazons_reported_rate() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock.monotonic, sleep=clock.sleep)
    limiter.update_rate("acme-us", "getInventorySummaries", 10.0)
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        limiter.update_rate("acme-us", "getInventorySummaries", bad)
    waits = [limiter.acquire("acme-us", "getInventorySummaries") for _ in range(3)]
    assert waits == [0.0, 0.0, pytest.approx(0.1)]


def test_custom_plans_are_used() -> None:
    clock = FakeClock()
    limiter = RateLimiter(
        plans={"getOrders": UsagePlan(0.0167, 20)}, clock=clock.monotonic, sleep=clock.sleep
    )
    assert limiter.plan("getOrders") == UsagePlan(0.0167, 20)
    assert limiter.plan("getReport") == DEFAULT_PLAN


class KeptBuckets:
    """A BucketStore in memory (the state database's stand-in)."""

    def __init__(self) -> None:
        self.saved: dict[str, list[BucketState]] = {}
        self.loads: list[str] = []

    def load(self, store: str) -> list[BucketState]:
        self.loads.append(store)
        return list(self.saved.get(store, []))

    def save(self, store: str, buckets: Sequence[BucketState]) -> None:
        self.saved[store] = list(buckets)


def a_run(clock: FakeClock, kept: KeptBuckets) -> RateLimiter:
    limiter = RateLimiter(clock=clock.monotonic, sleep=clock.sleep)
    limiter.keep_in(kept, wall=lambda: clock.now().timestamp())
    return limiter


def test_a_second_run_starts_where_the_first_left_amazons_bucket() -> None:
    # Ten createReport calls (one token a minute after a burst of 15); five minutes later a
    # second run: Amazon's bucket holds 5 + 5 tokens, not a fresh burst of 15.
    clock, kept = FakeClock(), KeptBuckets()
    first = a_run(clock, kept)
    assert [first.acquire("acme-us", "createReport") for _ in range(10)] == [0.0] * 10
    first.flush()
    [state] = kept.saved["acme-us"]
    assert (state.operation, round(state.tokens, 6), state.rate) == ("createReport", 5.0, 0.0167)
    clock.advance(300)
    second = a_run(clock, kept)
    waits = [second.acquire("acme-us", "createReport") for _ in range(11)]
    assert waits[:10] == [0.0] * 10  # 5 left + 300 s x 0.0167/s refilled
    assert waits[10] == pytest.approx((1 - 0.01) / 0.0167, rel=1e-3)
    # Another store's buckets start full, and a store is read from the database once.
    assert second.acquire("bolt-us", "createReport") == 0.0
    assert kept.loads == ["acme-us", "acme-us", "bolt-us"]


def test_kept_buckets_never_refill_past_the_burst_and_keep_amazons_rate() -> None:
    clock, kept = FakeClock(), KeptBuckets()
    first = a_run(clock, kept)
    first.update_rate("acme-us", "getInventorySummaries", 5.0)  # x-amzn-RateLimit-Limit
    first.acquire("acme-us", "getInventorySummaries")
    first.flush()
    clock.advance(3600)
    second = a_run(clock, kept)
    assert second.tokens("acme-us", "getInventorySummaries") == 2.0
    second.acquire("acme-us", "getInventorySummaries")
    second.acquire("acme-us", "getInventorySummaries")
    assert second.acquire("acme-us", "getInventorySummaries") == pytest.approx(0.2)
