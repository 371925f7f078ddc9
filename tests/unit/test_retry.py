"""RetryPolicy timing and Retry-After parsing."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from client_fakes import FixedRandom

from soldscope_cli.amazon.retry import NO_RETRY, RetryPolicy, parse_retry_after

NOW = datetime(2015, 10, 21, 7, 28, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("attempt", "cap"),
    [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 8.0), (6, 16.0), (7, 20.0), (50, 20.0)],
)
def test_backoff_cap_doubles_then_stops_at_max_delay(attempt: int, cap: float) -> None:
    assert RetryPolicy().backoff_cap(attempt) == cap


def test_backoff_cap_survives_huge_attempt_numbers() -> None:
    assert RetryPolicy().backoff_cap(10_000) == 20.0


@pytest.mark.parametrize(("value", "attempt", "expected"), [(0.5, 1, 0.25), (0.5, 3, 1.0)])
def test_delay_is_the_random_fraction_of_the_cap(
    value: float, attempt: int, expected: float
) -> None:
    assert RetryPolicy(rng=FixedRandom(value)).delay(attempt) == expected


def test_full_jitter_spreads_over_the_whole_range() -> None:
    policy = RetryPolicy(rng=random.Random(1234))
    samples = [policy.delay(5) for _ in range(2000)]
    assert all(0.0 <= s <= 8.0 for s in samples)
    assert min(samples) < 0.5
    assert max(samples) > 7.5


def test_retry_after_is_a_floor_even_above_max_delay() -> None:
    policy = RetryPolicy(rng=FixedRandom(0.5))
    assert policy.delay(1, retry_after=2.0) == 2.0
    assert policy.delay(1, retry_after=45.0) == 45.0
    assert policy.delay(6, retry_after=1.0) == 8.0


@pytest.mark.parametrize(
    ("attempt", "elapsed", "delay", "allowed"),
    [
        (1, 0.0, 0.1, True),
        (4, 0.0, 0.1, True),
        (5, 0.0, 0.1, False),
        (1, 59.0, 1.0, True),
        (1, 59.0, 1.5, False),
        (1, 0.0, 61.0, False),
    ],
)
def test_allows_bounds_attempts_and_total_time(
    attempt: int, elapsed: float, delay: float, allowed: bool
) -> None:
    assert RetryPolicy().allows(attempt, elapsed, delay) is allowed


def test_no_retry_policy_never_allows_a_second_attempt() -> None:
    assert not NO_RETRY.allows(1, 0.0, 0.0)


@pytest.mark.parametrize("kwargs", [{"max_attempts": 0}, {"base_delay": -1.0}, {"max_total": -0.1}])
def test_invalid_policies_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


def test_repr_and_equality_ignore_the_rng() -> None:
    assert RetryPolicy(rng=FixedRandom(0.1)) == RetryPolicy()
    assert "rng" not in repr(RetryPolicy(rng=FixedRandom(0.1)))


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("2", 2.0),
        (" 120 ", 120.0),
        ("1.5", 1.5),
        ("0", 0.0),
        ("Wed, 21 Oct 2015 07:28:30 GMT", 30.0),
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),
        ("Wednesday, 21-Oct-15 07:29:00 GMT", 60.0),
        (None, None),
        ("", None),
        ("soon", None),
        ("-1", None),
        ("inf", None),
        ("nan", None),
        ("Wed, 21 Oct 2015 07:28:30 -0000", 30.0),  # RFC 5322 "unknown zone": still GMT
        ("Wed, 21 Oct 2015 07:28:30 GMT, Wed, 21 Oct 2015 07:28:30 GMT", 30.0),  # repeated
        ("Wed, 21 Oct 2015 07:28:30 GMT, Wed, 21 Oct 2015 07:29:30 GMT", None),  # two answers
        ("Fri, 31 Dec 9999 23:59:59 -1400", None),  # past datetime's range in UTC
        ("Mon, 01 Jan 0001 00:00:00 +1400", 0.0),
        ("9" * 400, None),
    ],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header, NOW) == expected


def test_parse_retry_after_accepts_a_naive_now_as_utc() -> None:
    naive = NOW.replace(tzinfo=None)
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", naive) == 10.0
