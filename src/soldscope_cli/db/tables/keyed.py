"""A dataset table whose rows are upserted by key: `data`'s figures and `export`'s stream from
its declaration, and the page write every keyed dataset shares (rows and the sync_state marks
that cover them, in one transaction)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from soldscope_cli.datasets.schema import Kind, Table
from soldscope_cli.db import sql
from soldscope_cli.db.model import PageCounts
from soldscope_cli.db.tables.base import Engine
from soldscope_cli.db.tables.sync_state import get_state, put_state


class KeyedTable:
    """One dataset table of every store, one row per key."""

    def __init__(self, db: Engine, table: Table, dataset: str) -> None:
        self._db = db
        self.table = table
        self.dataset = dataset
        self.columns = tuple(c.name for c in table.export_columns)
        # What a sync hands over per row: every column but those the storage fills itself.
        self.row_columns = tuple(
            n for n in table.names if n not in ("store_id", "store", "synced_at")
        )

    def mark(self, store_id: int, key: str) -> str | None:
        """One of the dataset's sync_state marks (a cursor), or None."""
        with self._db.reading() as tx:
            return get_state(tx, store_id, self.dataset, key)

    def write_rows(
        self,
        store_id: int,
        rows: Sequence[Sequence[Any]],
        *,
        at: datetime,
        marks: Mapping[str, str] | None = None,
    ) -> PageCounts:
        """Upsert rows (values in `row_columns` order) and set `marks`, in one transaction: a
        cursor never runs ahead of the rows it covers."""
        names = self.table.names
        store = self._db.store_name(store_id)
        stamp = self._db.dialect.param(at)
        fills = {"store_id": store_id, "store": store, "synced_at": stamp}
        index = {n: i for i, n in enumerate(self.row_columns)}
        # Our times go in as the engine stores them (SQLite: fixed-width UTC text).
        param = self._db.dialect.param
        timed = {c.name for c in self.table.columns if c.kind is Kind.TIME}
        values = [
            tuple(
                fills[n] if n in fills else param(row[index[n]]) if n in timed else row[index[n]]
                for n in names
            )
            for row in rows
        ]
        with self._db.store_transaction(store_id) as tx:
            added, updated = tx.d.upsert(tx, self.table.name, names, self.table.key, values)
            for key, value in (marks or {}).items():
                put_state(tx, store_id, self.dataset, key, value, at)
        return PageCounts(added, updated)

    # --- reads for `data` and `export` ------------------------------------------------------------

    def figures(self, store_id: int) -> tuple[int, str | None]:
        """Rows held and the newest value of the declared `newest` column, as export shows it."""
        with self._db.reading() as tx:
            return sql.figures(tx, self.table, store_id)

    def export(
        self, store_id: int, since: str | None, size: int
    ) -> Iterator[list[tuple[Any, ...]]]:
        """The store's rows in the declared order, `size` at a time; since: the declared `since`
        expression at or after this UTC text."""
        return sql.export(self._db.session(), self.table, store_id, since, size)
