"""sync_state: a dataset's cursors and marks, written in the transaction of the rows they cover."""

from __future__ import annotations

from datetime import datetime

from soldscope_cli.db.sql import Tx


def get_state(tx: Tx, store_id: int, dataset: str, key: str) -> str | None:
    """One sync_state value."""
    value = tx.value(
        "SELECT value FROM sync_state WHERE store_id = ? AND dataset = ? AND key = ?",
        (store_id, dataset, key),
    )
    return None if value is None else str(value)


def states_with_prefix(tx: Tx, store_id: int, dataset: str, prefix: str) -> dict[str, str]:
    """Every value of a store's dataset whose key starts with prefix."""
    rows = tx.all(
        "SELECT key, value FROM sync_state WHERE store_id = ? AND dataset = ?"
        " AND substr(key, 1, ?) = ?",
        (store_id, dataset, len(prefix), prefix),
    )
    return {str(r[0]): str(r[1]) for r in rows}


def put_state(tx: Tx, store_id: int, dataset: str, key: str, value: str, at: datetime) -> None:
    """Write a cursor or mark inside the transaction that wrote the rows it covers."""
    tx.execute(
        "INSERT INTO sync_state (store_id, dataset, key, value, updated_at) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (store_id, dataset, key) DO UPDATE SET value = excluded.value,"
        " updated_at = excluded.updated_at",
        (store_id, dataset, key, value, at),
    )


def delete_state(tx: Tx, store_id: int, dataset: str, key: str) -> None:
    """Remove a cursor or mark."""
    tx.execute(
        "DELETE FROM sync_state WHERE store_id = ? AND dataset = ? AND key = ?",
        (store_id, dataset, key),
    )
