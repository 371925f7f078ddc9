"""The status rules: pure functions of (store record, latest conclusive check, now)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

AUTHORIZATION_LIFETIME = timedelta(days=365)
EXPIRING_SOON_DAYS = 30
_DAY_S = 86400.0


class Status(StrEnum):
    """A connection's status, in the order the table sorts them (worst first)."""

    ERROR = "error"
    EXPIRED = "expired"
    EXPIRING_SOON = "expiring_soon"
    ACTIVE = "active"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").title()

    @property
    def rank(self) -> int:
        return list(Status).index(self)

    @property
    def unhealthy(self) -> bool:
        return self in (Status.ERROR, Status.EXPIRED)


@dataclass(frozen=True)
class Problem:
    """A lasting problem a completed check or sync found (never a transient one)."""

    code: str  # invalid_grant, forbidden, marketplace_mismatch, ...
    message: str
    found_at: datetime
    request_id: str | None = None


# The problem codes a live check records (checks/ decides them). An invalid_grant seen after the
# 365 days is just expiry.
INVALID_GRANT = "invalid_grant"
FORBIDDEN = "forbidden"
MARKETPLACE_MISMATCH = "marketplace_mismatch"
MISSING_TOKEN = "missing_token"


def authorization_time(authorized_at: datetime, now: datetime) -> datetime:
    """authorized_at, but never later than now.

    A future authorized_at (a clock that ran fast at connect time, or a hand edit) is not a real
    authorization: it must neither push the expiry beyond Amazon's 365 days nor clear problems that
    a live check finds before that time comes.
    """
    return min(authorized_at, now)


def expires_at(authorized_at: datetime) -> datetime:
    """When Amazon's 365-day authorization runs out."""
    return authorized_at + AUTHORIZATION_LIFETIME


def days_left(authorized_at: datetime, now: datetime) -> int:
    """ceil((expires_at - now) / 1 day): 365 when fresh, <= 0 exactly when now >= expires_at."""
    seconds = (expires_at(authorized_at) - now).total_seconds()
    return math.ceil(seconds / _DAY_S)


def effective_problem(
    authorized_at: datetime, problem: Problem | None, now: datetime
) -> Problem | None:
    """The problem that makes a store `error`, if any.

    Only a later conclusive check clears a problem a live check found (every connect and renewal
    records one before it reports success), never the authorized_at date alone: a date can be
    edited by hand or written by a fast clock, and a problem found by a live check is never hidden.
    An invalid_grant found once the 365 days were over is the expiry itself, not an error.
    """
    if problem is None:
        return None
    authorized_at = authorization_time(authorized_at, now)
    if problem.code == INVALID_GRANT and problem.found_at >= expires_at(authorized_at):
        return None
    return problem


def compute_status(authorized_at: datetime, problem: Problem | None, now: datetime) -> Status:
    """error > expired > expiring_soon > active, by the documented rules."""
    if effective_problem(authorized_at, problem, now) is not None:
        return Status.ERROR
    left = days_left(authorization_time(authorized_at, now), now)
    if left <= 0:
        return Status.EXPIRED
    if left <= EXPIRING_SOON_DAYS:
        return Status.EXPIRING_SOON
    return Status.ACTIVE
