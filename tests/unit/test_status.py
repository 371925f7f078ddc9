"""The status rules at every boundary, with an injected clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from soldscope_cli.status import (
    Problem,
    Status,
    authorization_time,
    compute_status,
    days_left,
    expires_at,
)

AUTH = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
EXP = AUTH + timedelta(days=365)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (AUTH, 365),
        (AUTH + timedelta(seconds=1), 365),
        (AUTH + timedelta(days=1), 364),
        (AUTH + timedelta(days=1, seconds=1), 364),
        (EXP - timedelta(days=30), 30),
        (EXP - timedelta(days=30, seconds=1), 31),
        (EXP - timedelta(seconds=1), 1),
        (EXP, 0),
        (EXP + timedelta(seconds=1), 0),
        (EXP + timedelta(days=1), -1),
        (EXP + timedelta(days=1, seconds=1), -1),
    ],
)
def test_days_left_is_the_ceiling_of_days_to_expiry(now: datetime, expected: int) -> None:
    assert days_left(AUTH, now) == expected


def test_expires_365_days_after_authorization() -> None:
    assert expires_at(AUTH) == datetime(2027, 1, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (AUTH, Status.ACTIVE),
        (EXP - timedelta(days=30, seconds=1), Status.ACTIVE),  # 31 days left
        (EXP - timedelta(days=30), Status.EXPIRING_SOON),  # exactly 30 days left
        (EXP - timedelta(seconds=1), Status.EXPIRING_SOON),  # 1 day left
        (EXP, Status.EXPIRED),  # days_left == 0
        (EXP + timedelta(days=400), Status.EXPIRED),
    ],
)
def test_status_without_problems_follows_days_left(now: datetime, expected: Status) -> None:
    assert compute_status(AUTH, None, now) is expected


def problem(code: str, found_at: datetime) -> Problem:
    return Problem(code=code, message="m", found_at=found_at)


@pytest.mark.parametrize(
    ("prob", "now", "expected"),
    [
        # a lasting problem found after authorization: error, whatever the days left
        (problem("forbidden", AUTH + timedelta(days=10)), AUTH + timedelta(days=11), Status.ERROR),
        (
            problem("marketplace_mismatch", AUTH + timedelta(days=1)),
            EXP + timedelta(days=1),
            Status.ERROR,
        ),
        # invalid_grant while days_left > 0: revoked, error
        (
            problem("invalid_grant", EXP - timedelta(seconds=1)),
            EXP + timedelta(days=2),
            Status.ERROR,
        ),
        # invalid_grant once the 365 days are over is the expiry itself
        (problem("invalid_grant", EXP), EXP + timedelta(days=2), Status.EXPIRED),
        # a re-authorization after the problem clears it
        # a problem found before authorized_at stays: only a later conclusive check clears it
        # (every connect records one), never the date, which a hand edit or a fast clock can set
        (
            problem("forbidden", AUTH - timedelta(seconds=1)),
            AUTH + timedelta(days=1),
            Status.ERROR,
        ),
        (
            problem("forbidden", AUTH - timedelta(days=3)),
            EXP - timedelta(days=3),
            Status.ERROR,
        ),
    ],
)
def test_problems_make_error_until_cleared(prob: Problem, now: datetime, expected: Status) -> None:
    assert compute_status(AUTH, prob, now) is expected


@pytest.mark.parametrize(
    ("prob", "now", "expected"),
    [
        # authorized_at a day ahead (a fast clock at connect time, or a hand edit): the check made
        # now found a revoked grant; the "authorization" has not happened yet and clears nothing
        (
            problem("invalid_grant", AUTH - timedelta(hours=1)),
            AUTH - timedelta(minutes=30),
            Status.ERROR,
        ),
        (problem("forbidden", AUTH - timedelta(days=1)), AUTH - timedelta(days=1), Status.ERROR),
        # no problem: active, and the future does not add days beyond Amazon's 365
        (None, AUTH - timedelta(days=1), Status.ACTIVE),
        # nor once the time has come: the date passing is no check
        (problem("forbidden", AUTH - timedelta(hours=1)), AUTH, Status.ERROR),
        (
            problem("invalid_grant", AUTH - timedelta(hours=1)),
            AUTH + timedelta(days=2),
            Status.ERROR,
        ),
    ],
)
def test_a_future_authorized_at_clears_no_problem(
    prob: Problem | None, now: datetime, expected: Status
) -> None:
    assert compute_status(AUTH, prob, now) is expected


def test_a_future_authorized_at_counts_from_now() -> None:
    now = AUTH - timedelta(days=1)
    assert authorization_time(AUTH, now) == now
    assert authorization_time(AUTH, AUTH + timedelta(days=1)) == AUTH
    assert days_left(authorization_time(AUTH, now), now) == 365


def test_statuses_sort_worst_first() -> None:
    assert sorted(Status, key=lambda s: s.rank) == [
        Status.ERROR,
        Status.EXPIRED,
        Status.EXPIRING_SOON,
        Status.ACTIVE,
    ]
    assert [s.label for s in Status] == ["Error", "Expired", "Expiring Soon", "Active"]
