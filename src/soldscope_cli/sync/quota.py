"""Amazon's quota kept across runs and hosts: the rate limiter's buckets in the state database.

A run that started with full buckets right after another run emptied Amazon's met 429s for its
first burst (a second Brand Analytics run within 15 minutes waited minutes on createReport instead
of seconds). The limiter now starts each store's buckets from where the last run, on any host of
the team, left them, refilled for the time since.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime

from soldscope_cli.amazon.ratelimit import BucketState
from soldscope_cli.db.interface import Database
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
