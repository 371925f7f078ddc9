"""Brand Analytics search terms: staged loads, their rows, and the week marks that publish them.

A load's rows are visible (through the `ba_search_terms` view) only once ba_search_terms_weeks
points at that load, and that mark is written in the transaction that stores the last rows.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from datetime import datetime
from functools import lru_cache
from itertools import chain
from typing import TYPE_CHECKING, Any

from soldscope_cli.db.model import BRAND_ANALYTICS, SEARCH_TERM_FIELDS, to_db_time
from soldscope_cli.db.sqlite.state import delete_state, stream

if TYPE_CHECKING:
    from soldscope_cli.db.sqlite.state import Connections

ROWS_TABLE = "ba_search_terms_rows"
LOADS_TABLE = "ba_search_terms_loads"
WEEKS_TABLE = "ba_search_terms_weeks"
VIEW = "ba_search_terms"

_DELETE_SLICE = 50_000
_WIDTH = len(SEARCH_TERM_FIELDS) + 2
_VALUES = f"({', '.join(['?'] * _WIDTH)})"
_INSERT = (
    f"INSERT INTO {ROWS_TABLE} (load_id, store_id, {', '.join(SEARCH_TERM_FIELDS)})"  # noqa: S608
    f" VALUES {_VALUES}"
)
# executemany steps its statement once per row, and sqlite3 releases the GIL around every step:
# per row, the module's overhead and a handover to any other busy thread, whose return waits up
# to a switch interval (5 ms). One statement of many rows pays both once per thousand rows.
_ROWS_PER_STATEMENT = 1000


@lru_cache(maxsize=4)
def _insert_many(rows: int) -> str:
    return _INSERT + f", {_VALUES}" * (rows - 1)


def _insert(tx: sqlite3.Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """Insert rows, as many per statement as the connection's bound-parameter limit allows."""
    limit = tx.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // _WIDTH
    per = max(1, min(_ROWS_PER_STATEMENT, limit))
    whole = len(rows) - len(rows) % per
    for start in range(0, whole, per):
        tx.execute(_insert_many(per), list(chain.from_iterable(rows[start : start + per])))
    if whole < len(rows):
        tx.executemany(_INSERT, rows[whole:])


class SearchTermsTable:
    """Weekly search term reports of every store and marketplace."""

    def __init__(self, db: Connections) -> None:
        self._db = db

    def loaded_weeks(self, store_id: int, marketplace_id: str) -> set[str]:
        """Week starts (ISO dates) already loaded, with rows or without."""
        rows = (
            self._db.connection()
            .execute(
                f"SELECT week_start FROM {WEEKS_TABLE} WHERE store_id = ? AND marketplace_id = ?",  # noqa: S608
                (store_id, marketplace_id),
            )
            .fetchall()
        )
        return {str(r[0]) for r in rows}

    def clear_staged(self, store_id: int, marketplace_id: str, week_start: str) -> None:
        """Remove what interrupted loads of this week left behind (never visible)."""
        conn = self._db.connection()
        stale = conn.execute(
            f"SELECT l.load_id FROM {LOADS_TABLE} l LEFT JOIN {WEEKS_TABLE} w"  # noqa: S608
            " ON w.store_id = l.store_id AND w.marketplace_id = l.marketplace_id"
            " AND w.week_start = l.week_start AND w.load_id = l.load_id"
            " WHERE l.store_id = ? AND l.marketplace_id = ? AND l.week_start = ?"
            " AND w.load_id IS NULL",
            (store_id, marketplace_id, week_start),
        ).fetchall()
        for (load_id,) in stale:
            while True:
                # Slices keep each write transaction short, so other stores' writers never wait.
                with self._db.transaction(conn) as tx:
                    cur = tx.execute(
                        f"DELETE FROM {ROWS_TABLE} WHERE rowid IN (SELECT rowid FROM {ROWS_TABLE}"  # noqa: S608
                        " WHERE load_id = ? LIMIT ?)",
                        (load_id, _DELETE_SLICE),
                    )
                    if cur.rowcount < _DELETE_SLICE:
                        tx.execute(f"DELETE FROM {LOADS_TABLE} WHERE load_id = ?", (load_id,))  # noqa: S608
                        break

    def start_load(
        self, store_id: int, marketplace_id: str, week_start: str, report_id: str, at: datetime
    ) -> int:
        """A new (invisible) load of one week's report; its rows carry the returned load id."""
        with self._db.store_transaction(store_id) as tx:
            cur = tx.execute(
                f"INSERT INTO {LOADS_TABLE} (store_id, marketplace_id, week_start, report_id,"  # noqa: S608
                " started_at) VALUES (?, ?, ?, ?, ?)",
                (store_id, marketplace_id, week_start, report_id, to_db_time(at)),
            )
            return int(cur.lastrowid or 0)

    def add_rows(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Insert a batch of (load_id, store_id, *SEARCH_TERM_FIELDS) rows in one transaction."""
        if not rows:
            return
        with self._db.store_transaction(int(rows[0][1])) as tx:
            _insert(tx, rows)

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
                _insert(tx, rows)
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
                    to_db_time(at),
                ),
            )
            for key in forget:
                delete_state(tx, store_id, BRAND_ANALYTICS, key)

    # --- reads for `data` and `export` ------------------------------------------------------------

    def figures(self, store_id: int) -> tuple[int, str | None]:
        """Rows held (the row_count stored per week, never a count of the rows table) and the
        newest week with data."""
        row = (
            self._db.connection()
            .execute(
                f"SELECT COALESCE(SUM(row_count), 0), MAX(CASE WHEN row_count > 0 THEN week_start"  # noqa: S608
                f" END) FROM {WEEKS_TABLE} WHERE store_id = ?",
                (store_id,),
            )
            .fetchone()
        )
        return int(row[0]), row[1]

    def export(
        self, store_id: int, since: str | None, size: int
    ) -> Iterator[list[tuple[Any, ...]]]:
        """Visible rows week by week (the weeks' key order, rows as loaded), `size` at a time;
        since: weeks starting on or after this date."""
        sql = (
            f"SELECT ?, w.marketplace_id, w.week_start, w.week_end,"  # noqa: S608
            f" {', '.join('r.' + f for f in SEARCH_TERM_FIELDS)}"
            f" FROM {WEEKS_TABLE} w JOIN {ROWS_TABLE} r ON r.load_id = w.load_id"
            " WHERE w.store_id = ?"
        )
        params: tuple[Any, ...] = (self._db.store_name(store_id), store_id)
        if since is not None:
            sql += " AND w.week_start >= ?"
            params += (since[:10],)
        return stream(
            self._db.connection(),
            sql + " ORDER BY w.marketplace_id, w.week_start, r.rowid",
            params,
            size,
        )


EXPORT_COLUMNS = ("store", "marketplace_id", "week_start", "week_end", *SEARCH_TERM_FIELDS)
