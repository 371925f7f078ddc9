"""Brand Analytics search terms: staged loads, their rows, and the week marks that publish them.

A load's rows are visible (through the `ba_search_terms` view) only once ba_search_terms_weeks
points at that load, and that mark is written in the transaction that stores the last rows. Rows
go in through the dialect's bulk insert (executemany in SQLite, COPY in PostgreSQL), one batch
per transaction: memory follows the batch, never the document.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from soldscope_cli.datasets.brand_analytics import LOADS, NAME, ROWS, SEARCH_TERM_FIELDS, WEEKS
from soldscope_cli.db.tables.base import Engine
from soldscope_cli.db.tables.sync_state import delete_state

ROWS_TABLE = ROWS.name
LOADS_TABLE = LOADS.name
WEEKS_TABLE = WEEKS.name
VIEW = "ba_search_terms"
ROW_COLUMNS = ROWS.names
EXPORT_COLUMNS = ("store", "marketplace_id", "week_start", "week_end", *SEARCH_TERM_FIELDS)

_DELETE_SLICE = 50_000


class SearchTermsTable:
    """Weekly search term reports of every store and marketplace."""

    columns = EXPORT_COLUMNS

    def __init__(self, db: Engine) -> None:
        self._db = db

    def loaded_weeks(self, store_id: int, marketplace_id: str) -> set[str]:
        """Week starts (ISO dates) already loaded, with rows or without."""
        with self._db.reading() as tx:
            rows = tx.all(
                f"SELECT week_start FROM {WEEKS_TABLE} WHERE store_id = ? AND marketplace_id = ?",  # noqa: S608
                (store_id, marketplace_id),
            )
        return {str(r[0]) for r in rows}

    def clear_staged(self, store_id: int, marketplace_id: str, week_start: str) -> None:
        """Remove what interrupted loads of this week left behind (never visible)."""
        with self._db.reading() as tx:
            stale = tx.all(
                f"SELECT l.load_id FROM {LOADS_TABLE} l LEFT JOIN {WEEKS_TABLE} w"  # noqa: S608
                " ON w.store_id = l.store_id AND w.marketplace_id = l.marketplace_id"
                " AND w.week_start = l.week_start AND w.load_id = l.load_id"
                " WHERE l.store_id = ? AND l.marketplace_id = ? AND l.week_start = ?"
                " AND w.load_id IS NULL",
                (store_id, marketplace_id, week_start),
            )
        for (load_id,) in stale:
            while True:
                # Slices keep each write transaction short, so other stores' writers never wait.
                with self._db.writing() as tx:
                    removed = tx.count(
                        tx.d.slice_delete(ROWS_TABLE, "load_id = ?"), (load_id, _DELETE_SLICE)
                    )
                    if removed < _DELETE_SLICE:
                        tx.execute(f"DELETE FROM {LOADS_TABLE} WHERE load_id = ?", (load_id,))  # noqa: S608
                        break

    def start_load(
        self, store_id: int, marketplace_id: str, week_start: str, report_id: str, at: datetime
    ) -> int:
        """A new (invisible) load of one week's report; its rows carry the returned load id."""
        with self._db.store_transaction(store_id) as tx:
            return tx.insert(
                f"INSERT INTO {LOADS_TABLE} (store_id, marketplace_id, week_start, report_id,"  # noqa: S608
                " started_at) VALUES (?, ?, ?, ?, ?) RETURNING load_id",
                (store_id, marketplace_id, week_start, report_id, at),
            )

    def add_rows(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Insert a batch of (load_id, store_id, *SEARCH_TERM_FIELDS) rows in one transaction."""
        if not rows:
            return
        with self._db.store_transaction(int(rows[0][1])) as tx:
            tx.bulk_insert(ROWS_TABLE, ROW_COLUMNS, rows)

    def mark_loaded(
        self,
        store_id: int,
        marketplace_id: str,
        week_start: str,
        week_end: str,
        *,
        report_id: str,
        status: str,
        row_count: int,
        at: datetime,
        load_id: int | None = None,
        rows: Sequence[tuple[Any, ...]] = (),
        forget: Sequence[str] = (),
    ) -> None:
        """Store the last rows and the week's mark together: from this commit on the week's rows
        are visible and the week is skipped. `forget` names brand analytics marks to remove."""
        with self._db.store_transaction(store_id) as tx:
            if rows:
                tx.bulk_insert(ROWS_TABLE, ROW_COLUMNS, rows)
            tx.execute(
                f"INSERT INTO {WEEKS_TABLE} (store_id, marketplace_id, week_start, week_end,"  # noqa: S608
                " report_id, processing_status, row_count, load_id, loaded_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (store_id, marketplace_id, week_start) DO UPDATE SET"
                " week_end = excluded.week_end, report_id = excluded.report_id,"
                " processing_status = excluded.processing_status, row_count = excluded.row_count,"
                " load_id = excluded.load_id, loaded_at = excluded.loaded_at",
                (
                    store_id,
                    marketplace_id,
                    week_start,
                    week_end,
                    report_id,
                    status,
                    row_count,
                    load_id,
                    at,
                ),
            )
            for key in forget:
                delete_state(tx, store_id, NAME, key)

    # --- reads for `data` and `export` ------------------------------------------------------------

    def figures(self, store_id: int) -> tuple[int, str | None]:
        """Rows held (the row_count stored per week, never a count of the rows table) and the
        newest week with data."""
        with self._db.reading() as tx:
            row = tx.one(
                f"SELECT COALESCE(SUM(row_count), 0), MAX(CASE WHEN row_count > 0 THEN week_start"  # noqa: S608
                f" END) FROM {WEEKS_TABLE} WHERE store_id = ?",
                (store_id,),
            )
        assert row is not None  # an aggregate always answers
        return int(row[0]), None if row[1] is None else str(row[1])

    def export(
        self, store_id: int, since: str | None, size: int
    ) -> Iterator[list[tuple[Any, ...]]]:
        """Visible rows week by week (the weeks' key order, rows as loaded), `size` at a time;
        since: weeks starting on or after this date."""
        tx = self._db.session()
        week = WEEKS.column("week_start")
        sql = (
            f"SELECT CAST(? AS TEXT), w.marketplace_id, w.{tx.d.export_text(week)},"  # noqa: S608
            f" w.{tx.d.export_text(WEEKS.column('week_end'))},"
            f" {', '.join('r.' + f for f in SEARCH_TERM_FIELDS)}"
            f" FROM {WEEKS_TABLE} w JOIN {ROWS_TABLE} r ON r.load_id = w.load_id"
            " WHERE w.store_id = ?"
        )
        params: tuple[Any, ...] = (self._db.store_name(store_id), store_id)
        if since is not None:
            sql += " AND w.week_start >= ?"
            params += (since[:10],)
        order = f" ORDER BY w.marketplace_id, w.week_start, r.{tx.d.row_order}"
        return tx.d.stream(tx, sql + order, params, size)
