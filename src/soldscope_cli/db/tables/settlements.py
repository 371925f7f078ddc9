"""Settlement lines: each settlement written whole in one transaction, exactly once.

A load holds one write transaction from its first line to its last (`loading`): until it commits
nobody sees its rows, and a killed process leaves nothing behind. Its first write claims the
settlement's header line by key; a second loader of the same settlement (another run, another
host) waits for the first to commit, finds the line taken and gives up (`AlreadyLoaded`), its
transaction rolled back. Memory follows the batch: rows go in through the dialect's bulk insert.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from soldscope_cli.datasets.settlements import LINES, NAME
from soldscope_cli.db.tables.base import Engine
from soldscope_cli.db.tables.keyed import KeyedTable


class AlreadyLoaded(Exception):
    """The settlement is stored already (by an earlier or a concurrent load)."""


class SettlementsTable(KeyedTable):
    """settlement_lines of every store, loaded settlement by settlement."""

    def __init__(self, db: Engine) -> None:
        super().__init__(db, LINES, NAME)

    def loaded_reports(self, store_id: int) -> set[str]:
        """Report ids whose settlement is stored."""
        with self._db.reading() as tx:
            rows = tx.all(
                f"SELECT DISTINCT report_id FROM {LINES.name} WHERE store_id = ?",  # noqa: S608
                (store_id,),
            )
        return {str(r[0]) for r in rows}

    @contextmanager
    def loading(self, store_id: int) -> Iterator[None]:
        """The one transaction a settlement is written in; the writes below join it."""
        with self._db.store_transaction(store_id):
            yield

    def row_start(self, store_id: int) -> tuple[Any, ...]:
        """What every row of the store's settlements starts with: the store's id and name. The
        rest of a row is text, numbers and None, times as model.to_db_time's text, which both
        engines store as they store a time."""
        return (store_id, self._db.store_name(store_id))

    def claim(self, store_id: int, first: Sequence[Any]) -> None:
        """Write a settlement's first line (a whole table row), or AlreadyLoaded.

        PostgreSQL: a concurrent loader's uncommitted line makes this wait for its commit (then
        nothing is inserted) or its rollback (then this one inserts).
        """
        names = self.table.names
        marks = ", ".join("?" for _ in names)
        with self._db.store_transaction(store_id) as tx:
            added = tx.count(
                f"INSERT INTO {LINES.name} ({', '.join(names)}) VALUES ({marks})"  # noqa: S608
                f" ON CONFLICT ({', '.join(LINES.key)}) DO NOTHING",
                first,
            )
        if not added:
            raise AlreadyLoaded

    def add_lines(
        self,
        store_id: int,
        start: Sequence[Any],
        lines: Sequence[Sequence[Any]],
        end: Sequence[Any],
    ) -> None:
        """Append lines of a claimed settlement: each row is `start`, a line's values, `end`,
        whose text holds no U+0000.

        The loader removes U+0000 from a line's text (one search per line) as sql.scrub would
        from each value; skipping scrub's call per value saves a fifth of a load.
        """
        if lines:
            rows = [(*start, *line, *end) for line in lines]
            with self._db.store_transaction(store_id) as tx:
                tx.d.bulk_insert(tx, LINES.name, self.table.names, rows)
