"""A dataset table whose rows are upserted by key: `data`'s figures and `export`'s stream from
its declaration, and the page write every keyed dataset shares (rows and the sync_state marks
that cover them, in one transaction)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from itertools import repeat
from operator import add, itemgetter
from typing import Any

from soldscope_cli.datasets.schema import Kind, Table
from soldscope_cli.db import sql
from soldscope_cli.db.model import PageCounts, to_db_time
from soldscope_cli.db.sql import Dialect, Tx
from soldscope_cli.db.tables.base import Engine
from soldscope_cli.db.tables.sync_state import delete_state, get_state, put_state


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
        forget: Sequence[str] = (),
    ) -> PageCounts:
        """Upsert rows (values in `row_columns` order), set `marks` and remove the marks named in
        `forget`, in one transaction: a cursor never runs ahead of the rows it covers."""
        values = self.table_rows(store_id, rows, at)
        with self._db.store_transaction(store_id) as tx:
            added, updated = self.upsert(tx, values)
            if self.table.newest_mark:
                self._keep_newest(tx, store_id, _newest_of(self.table, values), at)
            self._set_marks(tx, store_id, marks, forget, at)
        return PageCounts(added, updated)

    def load_rows(
        self,
        store_id: int,
        rows: Sequence[Sequence[Any]],
        *,
        at: datetime,
        marks: Mapping[str, str] | None = None,
        forget: Sequence[str] = (),
        whole: bool = False,
        delete: Sequence[Sequence[Any]] = (),
        fresh: bool = False,
    ) -> None:
        """write_rows for a document's large batches, without the counts: the rows go into a
        staging table with the engine's bulk insert (many-row INSERTs, COPY) and are upserted
        from there in one statement, a fraction of a row-by-row upsert's cost, with the rows
        stage_rows held back. The last of rows with the same key wins, as it would row by row.
        whole: the rows are whole table rows already (row_start, values, the sync time as
        stored), their text without U+0000, as a parser process builds them. delete: keys
        (without store_id) of rows to remove first, as stale_rows found them. fresh: the keys
        are likely new (the store held no rows when its load began): where the engine has a
        cheaper path for new keys and nothing is staged, they are tried that way first."""
        with self._db.store_transaction(store_id) as tx:
            fresh = fresh and not delete and not self.stages_rows and bool(rows)
            if not (fresh and self._insert_new(tx, store_id, rows, at, whole)):
                self._upsert_through_stage(tx, store_id, rows, at, whole, delete)
            self._set_marks(tx, store_id, marks, forget, at)

    def _insert_new(
        self, tx: Tx, store_id: int, rows: Sequence[Sequence[Any]], at: datetime, whole: bool
    ) -> bool:
        """The rows inserted at once where the engine can (insert_new); False, with nothing
        written, where it cannot or a key is held already."""
        values = self._engine_rows(tx, store_id, rows, at, whole)
        if not tx.d.insert_new(tx, self.table.name, self.table.names, values):
            return False
        if self.table.newest_mark:
            self._keep_newest(tx, store_id, _newest_of(self.table, values), at)
        return True

    def _upsert_through_stage(
        self,
        tx: Tx,
        store_id: int,
        rows: Sequence[Sequence[Any]],
        at: datetime,
        whole: bool,
        delete: Sequence[Sequence[Any]],
    ) -> None:
        """The rows and what stage_rows held back upserted from the stage, `delete` first."""
        self._stage(tx, store_id, rows, at, whole)
        if delete:
            match = " AND ".join(f"{k} = ?" for k in self.table.key)
            for key in delete:
                tx.execute(f"DELETE FROM {self.table.name} WHERE {match}", (store_id, *key))  # noqa: S608 (declared names)
        if self.table.newest_mark:
            newest = sql.newest_text(tx, self.table, self._stage_name)
            self._keep_newest(tx, store_id, newest, at)
        # SQLite reads the stage in insertion order and lets a later row update one the same
        # statement inserted: the last of a key wins across staged batches too.
        tx.execute(self._upsert_staged(tx.d))
        tx.execute(tx.d.empty(self._stage_name))

    def _set_marks(
        self,
        tx: Tx,
        store_id: int,
        marks: Mapping[str, str] | None,
        forget: Sequence[str],
        at: datetime,
    ) -> None:
        for key, value in (marks or {}).items():
            put_state(tx, store_id, self.dataset, key, value, at)
        for key in forget:
            delete_state(tx, store_id, self.dataset, key)

    def _keep_newest(self, tx: Tx, store_id: int, newest: str | None, at: datetime) -> None:
        """Raise the table's newest mark to `newest` (text as export shows it: fixed-width, so
        text order is time order) if that is later."""
        if newest is None:
            return
        key = self.table.newest_key
        kept = get_state(tx, store_id, self.dataset, key)
        if kept is None or newest > kept:
            put_state(tx, store_id, self.dataset, key, newest, at)

    @property
    def stages_rows(self) -> bool:
        """Whether stage_rows holds a batch back for the next load_rows (SQLite) rather than
        upserting it now (PostgreSQL)."""
        return bool(self._db.dialect.upsert_repeats)

    def stage_rows(
        self, store_id: int, rows: Sequence[Sequence[Any]], *, at: datetime, whole: bool = False
    ) -> None:
        """A document's batch held back until the next load_rows upserts it with its own rows,
        where the engine allows (SQLite): its commit writes every page a transaction dirtied, and
        rows spread over the whole key range dirty as many pages for 5,000 rows as for 50,000, so
        upserting many batches at once writes a fraction of the pages per row. Elsewhere
        (PostgreSQL, whose upsert cannot meet a key twice) the batch is upserted now. Staged rows
        live in this connection's temporary table: a process that dies loses them with it."""
        if not self.stages_rows:
            self.load_rows(store_id, rows, at=at, whole=whole)
            return
        with self._db.writing() as tx:
            self._stage(tx, store_id, rows, at, whole)

    def discard_staged(self) -> None:
        """Forget what stage_rows holds on this connection (a load that stopped half way)."""
        with self._db.writing() as tx:
            self._stage(tx, 0, [], datetime.min)
            tx.execute(tx.d.empty(self._stage_name))

    @property
    def _stage_name(self) -> str:
        return f"staged_{self.table.name}"

    def stale_rows(
        self, store_id: int, rows: Sequence[Sequence[Any]], *, whole: bool = False
    ) -> list[tuple[Any, ...]]:
        """The keys (without store_id) of stored rows that belong to a group these rows bring
        whole (the table's whole_group: an order's lines) but that the rows no longer hold.

        A seek per group, driven by the list of groups, so that neither engine's planner scans
        the table mid-load (it cannot tell how long the list is, and PostgreSQL's statistics of a
        table being loaded are stale)."""
        group = self.table.whole_group
        if group is None:
            return []
        names = self.table.names if whole else self.row_columns
        key = [k for k in self.table.key if k != "store_id"]
        at_key = [names.index(k) for k in key]
        # itemgetter: a generator per row was a third of this method's time.
        key_of = itemgetter(*at_key) if len(at_key) > 1 else lambda row: (row[at_key[0]],)
        present = set(map(key_of, rows))
        groups = sorted(set(map(itemgetter(names.index(group)), rows)))
        if not groups:
            return []
        with self._db.reading() as tx:
            join = tx.d.ids_join(
                "g", f"{self.table.name} t", f"t.store_id = ? AND t.{group} = g.value", names=True
            )
            found = tx.all(
                f"SELECT {', '.join(f't.{k}' for k in key)} FROM {join}",  # noqa: S608 (declared names)
                (sql.Ids(groups), store_id),
            )
        return [tuple(row) for row in found if tuple(row) not in present]

    def holds_rows(self, store_id: int) -> bool:
        """Whether the table holds any row of the store."""
        with self._db.reading() as tx:
            found = tx.value(
                f"SELECT 1 FROM {self.table.name} WHERE store_id = ? LIMIT 1",  # noqa: S608 (declared names)
                (store_id,),
            )
        return found is not None

    def row_start(self, store_id: int) -> tuple[Any, ...]:
        """What a whole row of the store starts with: its id and name (see load_rows)."""
        return (store_id, self._db.store_name(store_id))

    def _stage(
        self,
        tx: Tx,
        store_id: int,
        rows: Sequence[Sequence[Any]],
        at: datetime,
        whole: bool = False,
    ) -> None:
        """Rows into this connection's stage (created if need be); where the upsert cannot meet a
        key twice, only the last of each key of the batch."""
        # Per connection, emptied after each upsert: a temporary table lives as long as the
        # connection and is seen by no other.
        tx.execute(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {self._stage_name} AS"  # noqa: S608
            f" SELECT {', '.join(self.table.names)} FROM {self.table.name} WHERE 1 = 0"
        )
        if not rows:
            return
        values = self._engine_rows(tx, store_id, rows, at, whole)
        tx.d.bulk_insert(tx, self._stage_name, self.table.names, values)

    def _engine_rows(
        self, tx: Tx, store_id: int, rows: Sequence[Sequence[Any]], at: datetime, whole: bool
    ) -> Sequence[Sequence[Any]]:
        """Whole table rows, their text without U+0000; where the engine's upsert cannot meet a
        key twice, only the last of each key."""
        values: Sequence[Sequence[Any]] = (
            rows if whole else sql.scrub_rows(self.table_rows(store_id, rows, at))
        )
        if not tx.d.upsert_repeats:
            key = itemgetter(*(self.table.names.index(k) for k in self.table.key))
            values = list(dict(zip(map(key, values), values, strict=True)).values())
        return values

    def _upsert_staged(self, d: Dialect) -> str:
        statement = sql.upsert_from_sql(
            d, self.table.name, self._stage_name, self.table.names, self.table.key
        )
        if not d.upsert_repeats:
            return statement
        # Staged batches in the order they came (a rowid scan, no sort), so the last wins.
        conflict = statement.index(" ON CONFLICT (")
        return f"{statement[:conflict]} ORDER BY {d.row_order}{statement[conflict:]}"

    def table_rows(
        self, store_id: int, rows: Sequence[Sequence[Any]], at: datetime, **fixed: Any
    ) -> list[tuple[Any, ...]]:
        """Whole table rows: the connection, its name and the sync time filled in, `fixed`
        columns (the same for every row) too, and each row's values for the others in table
        order. Our times go in as the engine stores them (SQLite: fixed-width UTC text)."""
        param = self._db.dialect.param
        fills = {
            "store_id": store_id,
            "store": self._db.store_name(store_id),
            "synced_at": param(at),
            **fixed,
        }
        timed = {c.name for c in self.table.columns if c.kind is Kind.TIME}
        slots = [(i, n in timed) for i, n in enumerate(self.table.names) if n not in fills]
        fast = _concatenated(rows, slots, len(self.table.names))
        if fast is not None:
            head, tail = fast
            prefix = tuple(fills[n] for n in self.table.names[:head])
            suffix = tuple(fills[n] for n in self.table.names[tail:])
            # One C-level concatenation per row: filling a list value by value was a tenth of a
            # bulk load's time.
            return list(map(add, map(add, repeat(prefix), rows), repeat(suffix)))
        template = [fills.get(n) for n in self.table.names]
        values: list[tuple[Any, ...]] = []
        for row in rows:
            full = list(template)
            for (i, is_time), value in zip(slots, row, strict=True):
                full[i] = param(value) if is_time else value
            values.append(tuple(full))
        return values

    def upsert(self, tx: Tx, values: Sequence[tuple[Any, ...]]) -> tuple[int, int]:
        """Insert or update whole table rows by the declared key: (added, updated)."""
        return tx.upsert(self.table.name, self.table.names, self.table.key, values)

    # --- reads for `data` and `export` ------------------------------------------------------------

    def figures(self, store_id: int) -> tuple[int, str | None]:
        """Rows held and the newest value of the declared `newest` column, as export shows it."""
        with self._db.reading() as tx:
            if self.table.newest_mark:
                newest = get_state(tx, store_id, self.dataset, self.table.newest_key)
                return sql.count_rows(tx, self.table, store_id), newest
            return sql.figures(tx, self.table, store_id)

    def export(
        self, store_id: int, since: str | None, size: int
    ) -> Iterator[list[tuple[Any, ...]]]:
        """The store's rows in the declared order, `size` at a time; since: the declared `since`
        expression at or after this UTC text."""
        return sql.export(self._db.session(), self.table, store_id, since, size)


def _newest_of(table: Table, values: Sequence[Sequence[Any]]) -> str | None:
    """The newest `table.newest` value of whole table rows (as the engine takes them), as
    export shows it."""
    assert table.newest is not None
    at = table.names.index(table.newest)
    found = [v for v in map(itemgetter(at), values) if v is not None]
    if not found:
        return None
    newest = max(found)
    # A date's text is its ISO form already; a time's is the database's fixed-width UTC text.
    return to_db_time(newest) if isinstance(newest, datetime) else str(newest)


def _concatenated(
    rows: Sequence[Sequence[Any]], slots: list[tuple[int, bool]], width: int
) -> tuple[int, int] | None:
    """(start, end) of the row's columns within the table's when whole rows are the filled
    columns before, the row (tuples, each of the same length) and the filled columns after, with
    no time to convert (already text, as a bulk load's parser hands them); else None."""
    if not slots:
        return None
    head, tail = slots[0][0], slots[-1][0] + 1
    if tail - head != len(slots) or not (head >= 0 and tail <= width):
        return None
    if set(map(type, rows)) - {tuple} or set(map(len, rows)) - {len(slots)}:
        return None
    for at, (_, is_time) in enumerate(slots):
        if is_time and set(map(type, map(itemgetter(at), rows))) - {str, type(None)}:
            return None
    return head, tail
