"""Brand Analytics search terms on PostgreSQL: staged loads, rows copied in, week marks.

Rows go in with COPY, one batch (the sync's BATCH_ROWS) per transaction: memory follows the batch,
never the document. As in SQLite, a load's rows are visible (through the `ba_search_terms` view)
only once ba_search_terms_weeks points at that load, written with the last rows.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from soldscope_cli.db.model import BRAND_ANALYTICS, SEARCH_TERM_FIELDS
from soldscope_cli.db.postgres.state import Conn, delete_state, stream
from soldscope_cli.db.sqlite.brand_analytics import (
    EXPORT_COLUMNS,
    LOADS_TABLE,
    ROWS_TABLE,
    WEEKS_TABLE,
)

if TYPE_CHECKING:
    from soldscope_cli.db.postgres.state import Connections

__all__ = ["EXPORT_COLUMNS", "SearchTermsTable"]

_DELETE_SLICE = 50_000
_COPY = f"COPY {ROWS_TABLE} (load_id, store_id, {', '.join(SEARCH_TERM_FIELDS)}) FROM STDIN"


def _copy_rows(tx: Conn, rows: Sequence[tuple[Any, ...]]) -> None:
    with tx.cursor() as cur, cur.copy(_COPY) as copy:
        for row in rows:
            copy.write_row(row)


class SearchTermsTable:
    """Weekly search term reports of every store and marketplace."""

    def __init__(self, db: Connections) -> None:
        self._db = db

    def loaded_weeks(self, store_id: int, marketplace_id: str) -> set[str]:
        """Week starts (ISO dates) already loaded, with rows or without."""
        rows = self._db.query(
            f"SELECT week_start::text FROM {WEEKS_TABLE}"  # noqa: S608
            " WHERE store_id = %s AND marketplace_id = %s",
            (store_id, marketplace_id),
        )
        return {str(r[0]) for r in rows}

    def clear_staged(self, store_id: int, marketplace_id: str, week_start: str) -> None:
        """Remove what interrupted loads of this week left behind (never visible)."""
        stale = self._db.query(
            f"SELECT l.load_id FROM {LOADS_TABLE} l LEFT JOIN {WEEKS_TABLE} w"  # noqa: S608
            " ON w.store_id = l.store_id AND w.marketplace_id = l.marketplace_id"
            " AND w.week_start = l.week_start AND w.load_id = l.load_id"
            " WHERE l.store_id = %s AND l.marketplace_id = %s AND l.week_start = %s::date"
            " AND w.load_id IS NULL",
            (store_id, marketplace_id, week_start),
        )
        for (load_id,) in stale:
            while True:
                # Slices keep each write transaction short, so other stores' writers never wait.
                with self._db.transaction() as tx:
                    cur = tx.execute(
                        f"DELETE FROM {ROWS_TABLE} WHERE ctid = ANY (ARRAY(SELECT ctid"  # noqa: S608
                        f" FROM {ROWS_TABLE} WHERE load_id = %s LIMIT %s))",
                        (load_id, _DELETE_SLICE),
                    )
                    if cur.rowcount < _DELETE_SLICE:
                        tx.execute(f"DELETE FROM {LOADS_TABLE} WHERE load_id = %s", (load_id,))  # noqa: S608
                        break

    def start_load(
        self, store_id: int, marketplace_id: str, week_start: str, report_id: str, at: datetime
    ) -> int:
        """A new (invisible) load of one week's report; its rows carry the returned load id."""
        with self._db.store_transaction(store_id) as tx:
            row = tx.execute(
                f"INSERT INTO {LOADS_TABLE} (store_id, marketplace_id, week_start, report_id,"  # noqa: S608
                " started_at) VALUES (%s, %s, %s::date, %s, %s) RETURNING load_id",
                (store_id, marketplace_id, week_start, report_id, at),
            ).fetchone()
            assert row is not None  # RETURNING of an INSERT
            return int(row[0])

    def add_rows(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """COPY a batch of (load_id, store_id, *SEARCH_TERM_FIELDS) rows in one transaction."""
        if not rows:
            return
        with self._db.store_transaction(int(rows[0][1])) as tx:
            _copy_rows(tx, rows)

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
                _copy_rows(tx, rows)
            tx.execute(
                f"INSERT INTO {WEEKS_TABLE} (store_id, marketplace_id, week_start, week_end,"  # noqa: S608
                " report_id, processing_status, row_count, load_id, loaded_at)"
                " VALUES (%s, %s, %s::date, %s::date, %s, %s, %s, %s, %s)"
                " ON CONFLICT (store_id, marketplace_id, week_start) DO UPDATE SET"
                " week_end = EXCLUDED.week_end, report_id = EXCLUDED.report_id,"
                " processing_status = EXCLUDED.processing_status, row_count = EXCLUDED.row_count,"
                " load_id = EXCLUDED.load_id, loaded_at = EXCLUDED.loaded_at",
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
                delete_state(tx, store_id, BRAND_ANALYTICS, key)

    # --- reads for `data` and `export` ------------------------------------------------------------

    def figures(self, store_id: int) -> tuple[int, str | None]:
        """Rows held (the row_count stored per week) and the newest week with data."""
        total, newest = self._db.query(
            f"SELECT COALESCE(SUM(row_count), 0), MAX(CASE WHEN row_count > 0 THEN week_start"  # noqa: S608
            f" END)::text FROM {WEEKS_TABLE} WHERE store_id = %s",
            (store_id,),
        )[0]
        return int(total), newest

    def export(
        self, store_id: int, since: str | None, size: int
    ) -> Iterator[list[tuple[Any, ...]]]:
        """Visible rows week by week (rows in document order), `size` at a time."""
        sql = (
            "SELECT %s::text, w.marketplace_id, w.week_start::text, w.week_end::text,"  # noqa: S608
            f" {', '.join('r.' + f for f in SEARCH_TERM_FIELDS)}"
            f" FROM {WEEKS_TABLE} w JOIN {ROWS_TABLE} r ON r.load_id = w.load_id"
            " WHERE w.store_id = %s"
        )
        params: tuple[Any, ...] = (self._db.store_name(store_id), store_id)
        if since is not None:
            sql += " AND w.week_start >= %s::date"
            params += (since[:10],)
        return stream(
            self._db, sql + " ORDER BY w.marketplace_id, w.week_start, r.seq", params, size
        )
