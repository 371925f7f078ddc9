"""rate_buckets: Amazon's quota per store and operation as the last run left it.

A run that starts with full buckets (what a fresh client assumes) right after another run emptied
Amazon's would meet 429s for its first burst; the next run, on this host or another of the team,
starts from what is stored here, refilled for the time since.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from soldscope_cli.datasets.schema import Column, Kind, Table
from soldscope_cli.db.model import RateBucket
from soldscope_cli.db.sql import Tx

TABLE = Table(
    "rate_buckets",
    columns=(
        Column("store_id", Kind.ID, required=True),
        Column("operation", Kind.TEXT, required=True),
        Column("remaining", Kind.REAL, required=True),
        Column("rate", Kind.REAL, required=True),
        Column("updated_at", Kind.TIME, required=True),
    ),
    key=("store_id", "operation"),
)


def read_buckets(tx: Tx, store_id: int) -> list[RateBucket]:
    """The store's stored buckets."""
    rows = tx.all(
        "SELECT operation, remaining, rate, updated_at FROM rate_buckets WHERE store_id = ?"
        " ORDER BY operation",
        (store_id,),
    )
    out: list[RateBucket] = []
    for operation, tokens, rate, updated_at in rows:
        at = tx.d.time(updated_at)
        if at is not None:
            out.append(RateBucket(str(operation), float(tokens), float(rate), at))
    return out


def write_buckets(tx: Tx, store_id: int, buckets: Sequence[RateBucket]) -> None:
    """Replace what is stored for these operations of the store."""
    for bucket in buckets:
        tx.execute(
            "INSERT INTO rate_buckets (store_id, operation, remaining, rate, updated_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (store_id, operation) DO UPDATE SET"
            " remaining = excluded.remaining, rate = excluded.rate, updated_at = excluded.updated_at",
            (store_id, bucket.operation, bucket.tokens, bucket.rate, bucket.updated_at),
        )


# A quota Amazon keeps per application, not per store (Data Kiosk's createQuery: FACTS.md §8):
# one row per operation for the whole fleet, taken from under a row lock (PostgreSQL) or the
# database's write lock (SQLite's BEGIN IMMEDIATE), so two runs or two hosts never both spend the
# last token.
FLEET_TABLE = Table(
    "fleet_buckets",
    columns=(
        Column("operation", Kind.TEXT, required=True),
        Column("remaining", Kind.REAL, required=True),
        Column("updated_at", Kind.TIME, required=True),
    ),
    key=("operation",),
)


def take_fleet_token(tx: Tx, operation: str, burst: int, rate: float, now: datetime) -> float:
    """Take one token of the fleet's bucket for `operation` (burst, rate per second): 0.0 when
    taken, else the seconds until one will be there (nothing taken). Call inside a write
    transaction: the row stays locked until it ends."""
    tx.execute(
        "INSERT INTO fleet_buckets (operation, remaining, updated_at) VALUES (?, ?, ?)"
        " ON CONFLICT (operation) DO NOTHING",
        (operation, float(burst), now),
    )
    row = tx.one(
        "SELECT remaining, updated_at FROM fleet_buckets WHERE operation = ?"  # noqa: S608 (dialect clause)
        + tx.d.lock(),
        (operation,),
    )
    assert row is not None  # inserted above
    at = tx.d.time(row[1]) or now
    # A clock that went back (another host's) refills nothing rather than taking tokens away.
    elapsed = max(0.0, (now - at).total_seconds())
    remaining = min(float(burst), float(row[0]) + elapsed * rate)
    if remaining < 1.0:
        return (1.0 - remaining) / rate
    tx.execute(
        "UPDATE fleet_buckets SET remaining = ?, updated_at = ? WHERE operation = ?",
        (remaining - 1.0, max(now, at), operation),
    )
    return 0.0
