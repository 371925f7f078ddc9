"""Retention of checks, events and sync runs, and the indexed reads `list` makes."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import query

from soldscope_cli.db.database import (
    CHECK_INCOMPLETE,
    CHECK_OK,
    CHECK_PROBLEM,
    MIGRATIONS,
    CheckRecord,
    Database,
    read_states_if_exists,
)
from soldscope_cli.db.sqlite.dialect import DIALECT
from soldscope_cli.db.tables import core

NOW = datetime(2027, 6, 1, tzinfo=UTC)


def day(n: int) -> datetime:
    return NOW - timedelta(days=n)


def count(db: Database, table: str) -> int:
    return int(query(db, f"SELECT COUNT(*) FROM {table}")[0][0])  # noqa: S608


@pytest.fixture
def db(make_db: Callable[..., Any]) -> Database:
    """The state database, of each engine in turn."""
    database: Database = make_db(retention_days=400)
    return database


def test_prune_keeps_the_retention_window_and_everything_a_status_needs(db: Database) -> None:
    # "old": its only conclusive check and only good sync are far past the retention.
    db.record_check(CheckRecord("old", day(450), "validate", CHECK_PROBLEM, "forbidden", "no"))
    for n in (440, 430, 420):
        db.record_check(CheckRecord("old", day(n), "sync", CHECK_INCOMPLETE, "transient"))
    good = db.start_sync_run("old", "inventory", day(450))
    db.finish_sync_run(good, day(450), "ok")
    failed = db.start_sync_run("old", "inventory", day(430))
    db.finish_sync_run(failed, day(430), "failed")
    # "busy": a check a day for 500 days.
    for n in range(500, -1, -1):
        db.record_check(CheckRecord("busy", day(n), "validate", CHECK_OK))
        db.log_event("checked", day(n), "busy", {"outcome": "ok"})
    before = db.states(["old", "busy"])

    removed = db.prune(NOW)

    assert removed == {"checks": 100 + 2, "sync_runs": 1, "events": 100}
    assert db.states(["old", "busy"]) == before
    old = [(r["outcome"], r["checked_at"][:10]) for r in db.checks("old")]
    assert old == [
        ("problem", day(450).date().isoformat()),
        ("incomplete", day(420).date().isoformat()),
    ]
    assert len(db.checks("busy")) == 401
    assert count(db, "sync_runs") == 1 and count(db, "events") == 401
    assert db.prune(NOW) == {"checks": 0, "sync_runs": 0, "events": 0}


def test_prune_works_in_short_slices(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    from soldscope_cli.db.tables import core

    monkeypatch.setattr(core, "PRUNE_SLICE", 7)
    for n in range(430, 400, -1):
        db.record_check(CheckRecord("a", day(n), "validate", CHECK_OK))
    db.record_check(CheckRecord("a", day(1), "validate", CHECK_OK))
    assert db.prune(NOW)["checks"] == 30
    assert count(db, "checks") == 1


def test_retention_comes_from_the_config(make_db: Callable[..., Any]) -> None:
    short = make_db(retention_days=10)
    for n in (30, 20, 5):
        short.record_check(CheckRecord("a", day(n), "validate", CHECK_OK))
    short.prune(NOW)
    assert [r["checked_at"][:10] for r in short.checks("a")] == [day(5).date().isoformat()]


def plan(conn: sqlite3.Connection, sql: str, *params: object) -> list[str]:
    return [str(row[3]) for row in conn.execute("EXPLAIN QUERY PLAN " + sql, params)]


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Database:
    """For the tests of SQLite's query plans and file."""
    return Database(tmp_path / "s.db", MIGRATIONS, retention_days=400)


def test_the_status_read_uses_indexes_and_never_scans_the_history(sqlite_db: Database) -> None:
    db = sqlite_db
    for store in ("a", "b", "c"):
        for n in range(20):
            db.record_check(CheckRecord(store, day(n), "validate", CHECK_OK))
    conn = db.connection()
    conn.execute("ANALYZE")
    states_for_names = core.states_sql(DIALECT, named=True)
    state_checks = core.state_checks_sql(DIALECT)
    for sql, params in (
        (states_for_names, (json.dumps(["a", "b"]),)),
        (state_checks, (json.dumps([1, 2]),)),
    ):
        steps = plan(conn, sql, *params)
        # Only the list of names or ids is scanned; every table is searched by key or index.
        scans = [s for s in steps if s.startswith("SCAN")]
        assert all("VIRTUAL TABLE" in s for s in scans), steps
    assert "SEARCH c USING INTEGER PRIMARY KEY (rowid=?)" in plan(conn, state_checks, "[1]")
    steps = plan(conn, states_for_names, json.dumps(["a"]))
    assert "SEARCH s USING INDEX stores_live_name (name=?)" in steps
    assert "SEARCH checks USING COVERING INDEX checks_store (store_id=?)" in steps
    assert "SEARCH checks USING INDEX checks_conclusive (store_id=?)" in steps
    assert "SEARCH sync_runs USING INDEX sync_runs_ok (store_id=?)" in steps


def test_list_reads_only_the_named_stores(sqlite_db: Database, tmp_path: Path) -> None:
    db = sqlite_db
    db.record_check(CheckRecord("a", day(1), "validate", CHECK_PROBLEM, "forbidden", "no"))
    db.record_check(CheckRecord("b", day(1), "validate", CHECK_OK))
    db.close()
    states = read_states_if_exists(tmp_path / "s.db", ["a"])
    assert list(states) == ["a"]
    problem = states["a"].problem
    assert problem is not None and problem.code == "forbidden"
