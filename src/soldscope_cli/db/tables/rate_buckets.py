"""rate_buckets: Amazon's quota per store and operation as the last run left it.

A run that starts with full buckets (what a fresh client assumes) right after another run emptied
Amazon's would meet 429s for its first burst; the next run, on this host or another of the team,
starts from what is stored here, refilled for the time since.
"""

from __future__ import annotations

from collections.abc import Sequence

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
