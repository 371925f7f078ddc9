"""Amazon's quota kept across runs and hosts: the rate limiter's buckets in the state database.

A run that started with full buckets right after another run emptied Amazon's met 429s for its
first burst (a second Brand Analytics run within 15 minutes waited minutes on createReport instead
of seconds). The limiter now starts each store's buckets from where the last run, on any host of
the team, left them, refilled for the time since.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from soldscope_cli.amazon.ratelimit import BucketState
from soldscope_cli.db.interface import Database, DatasetDatabase
from soldscope_cli.db.model import RateBucket


class DatabaseBuckets:
    """The limiter's BucketStore on the state database, by each store's connection id."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._lock = threading.Lock()
        # The id each store had when its buckets were read (during the run, while it was live):
        # a store deleted meanwhile keeps it, so saving never creates a connection of that name.
        self._ids: dict[str, int] = {}

    def load(self, store: str) -> Sequence[BucketState]:
        """The store's buckets as the last run left them."""
        store_id = self._db.store_id(store)
        with self._lock:
            self._ids[store] = store_id
        return [
            BucketState(b.operation, b.tokens, b.rate, b.updated_at.timestamp())
            for b in self._db.rate_buckets(store_id)
        ]

    def save(self, store: str, buckets: Sequence[BucketState]) -> None:
        """Keep the store's buckets for the next run (stores never read this run are skipped)."""
        with self._lock:
            store_id = self._ids.get(store)
        if store_id is None:
            return
        self._db.save_rate_buckets(
            store_id,
            [
                RateBucket(b.operation, b.tokens, b.rate, datetime.fromtimestamp(b.at, UTC))
                for b in buckets
            ],
        )


class FleetBudget:
    """A quota Amazon keeps per application, shared by every store, run and host of the fleet:
    a token is taken in the state database (fleet_buckets), atomically across processes.

    A run that finds it empty does not wait for the refill (one token a minute would hold a
    200-store run for hours, and the sync lock with it): `take` answers how long until the next
    token, and the dataset leaves the rest for the next runs.
    """

    def __init__(
        self,
        db: DatasetDatabase,
        operation: str,
        *,
        burst: int,
        per_hour: int,
        clock: Callable[[], datetime],
    ) -> None:
        self._db = db
        self.operation = operation
        self.burst = burst
        self.rate = per_hour / 3600.0
        self._clock = clock

    def take(self) -> float:
        """0.0 when a token was taken for one call, else the seconds until one is there."""
        return self._db.take_fleet_token(self.operation, self.burst, self.rate, self._clock())
