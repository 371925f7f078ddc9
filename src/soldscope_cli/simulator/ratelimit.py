"""Token buckets per operation × seller, with SP-API's documented rates and bursts."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from soldscope_cli.simulator.clock import Clock


@dataclass(frozen=True)
class UsagePlan:
    """Default rate (requests per second) and burst of one operation."""

    rate: float
    burst: int


# shared/spapi/FACTS.md §5 and each operation's "Usage Plan" table in the models.
USAGE_PLANS: dict[str, UsagePlan] = {
    "getMarketplaceParticipations": UsagePlan(0.016, 15),
    "getInventorySummaries": UsagePlan(2.0, 2),
    "listTransactions": UsagePlan(0.5, 10),
    "createReport": UsagePlan(0.0167, 15),
    "getReports": UsagePlan(0.0222, 10),
    "getReport": UsagePlan(2.0, 15),
    "cancelReport": UsagePlan(0.0222, 10),
    "getReportDocument": UsagePlan(0.0167, 15),
    "rotateApplicationClientSecret": UsagePlan(0.0167, 1),
    # Data Kiosk (FACTS.md §8); createQuery's own quota is the application's (datakiosk.AppQuota).
    "getQueries": UsagePlan(0.0222, 10),
    "getQuery": UsagePlan(2.0, 15),
    "cancelQuery": UsagePlan(0.0222, 10),
    "getDocument": UsagePlan(0.0167, 15),
}


class RateLimiter:
    """Thread-safe buckets; `scale` multiplies rate and burst, `enabled=False` lets all through."""

    def __init__(self, clock: Clock, *, enabled: bool = True, scale: float = 1.0) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}  # key -> (tokens, last)
        self.enabled = enabled
        self.scale = scale

    def configure(self, *, enabled: bool, scale: float) -> None:
        """Change the switches; buckets restart full so the new plan applies at once."""
        with self._lock:
            self.enabled = enabled
            self.scale = scale
            self._buckets.clear()

    def plan(self, operation: str) -> UsagePlan:
        """The scaled plan of an operation."""
        base = USAGE_PLANS[operation]
        return UsagePlan(base.rate * self.scale, max(1, round(base.burst * self.scale)))

    def limit_header(self, operation: str) -> str:
        """The x-amzn-RateLimit-Limit value Amazon sends for the operation."""
        return repr(round(self.plan(operation).rate, 4))

    def try_acquire(self, operation: str, seller: str) -> bool:
        """Take one token from the bucket of (operation, seller); False means throttle."""
        if not self.enabled:
            return True
        plan = self.plan(operation)
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.get((operation, seller), (float(plan.burst), now))
            tokens = min(float(plan.burst), tokens + max(0.0, now - last) * plan.rate)
            if tokens < 1.0:
                self._buckets[(operation, seller)] = (tokens, now)
                return False
            self._buckets[(operation, seller)] = (tokens - 1.0, now)
            return True

    def reset(self) -> None:
        """Refill every bucket."""
        with self._lock:
            self._buckets.clear()
