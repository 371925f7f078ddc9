"""SQLite stores search term rows many per statement, within the connection's parameter limit."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from soldscope_cli.db.database import MIGRATIONS, Database

T0 = datetime(2026, 6, 1, tzinfo=UTC)
US = "ATVPDKIKX0DER"


def test_rows_fit_a_low_bound_parameter_limit(tmp_path: Path) -> None:
    db = Database(tmp_path / "state.db", MIGRATIONS)
    # Builds of SQLite before 3.32 allow 999 bound parameters; some allow fewer.
    db.connection().setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 25)  # two rows a statement
    store_id = db.store_id("a")
    load_id = db.search_terms.start_load(store_id, US, "2026-05-24", "R1", T0)
    rows = [(load_id, store_id, "d", f"t{i}", i, "B1", "x", 1, 0.5, 0.25) for i in range(7)]
    db.search_terms.add_rows(rows)
    stored = (
        db.connection()
        .execute("SELECT search_term FROM ba_search_terms_rows ORDER BY rowid")
        .fetchall()
    )
    assert [r[0] for r in stored] == [f"t{i}" for i in range(7)]
    db.close()
