"""Time sources for the simulator: the real clock, or a manual one that tests move by hand."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], float]
Sleep = Callable[[float], None]


class ManualClock:
    """A thread-safe clock (epoch seconds) that moves only when advanced; its sleep advances it."""

    def __init__(self, start: float | datetime = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)) -> None:
        self._now = start.timestamp() if isinstance(start, datetime) else float(start)
        self._lock = threading.Lock()
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        with self._lock:
            self._now += seconds

    def set(self, when: float | datetime) -> None:
        """Jump to an absolute time."""
        with self._lock:
            self._now = when.timestamp() if isinstance(when, datetime) else float(when)

    def sleep(self, seconds: float) -> None:
        """Record the requested sleep and advance by it instead of waiting."""
        with self._lock:
            self.sleeps.append(seconds)
            self._now += max(0.0, seconds)


def to_datetime(epoch: float) -> datetime:
    """UTC datetime for epoch seconds."""
    return datetime.fromtimestamp(epoch, tz=UTC)


def iso(epoch: float, *, millis: bool = False) -> str:
    """ISO 8601 UTC with a Z suffix, as Amazon writes timestamps."""
    moment = to_datetime(epoch)
    if millis:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(value: str) -> datetime:
    """Parse an ISO 8601 date or date-time (naive means UTC); ValueError when malformed."""
    text = value.strip()
    if not text:
        raise ValueError("empty date")
    moment = datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment
