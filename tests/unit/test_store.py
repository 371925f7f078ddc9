"""The state database: migrations, check history, states, purge."""

from __future__ import annotations

import os
import sqlite3
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from soldscope_cli.db.database import (
    CHECK_INCOMPLETE,
    CHECK_OK,
    CHECK_PROBLEM,
    MIGRATIONS,
    CheckRecord,
    Database,
    read_states_if_exists,
)

T0 = datetime(2026, 6, 1, tzinfo=UTC)


def test_migrations_are_recorded_once_and_the_file_is_private(tmp_path: Path) -> None:
    db = Database(tmp_path / "state.db")
    db.connection()
    db.close()
    again = Database(tmp_path / "state.db")
    names = [r[0] for r in again.connection().execute("SELECT name FROM schema_migrations")]
    assert names == [name for name, _ in MIGRATIONS]
    assert names[0] == "0001_state"
    assert again.pending_migrations() == []
    assert stat.S_IMODE(os.stat(tmp_path / "state.db").st_mode) == 0o600
    mode = again.connection().execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def check(store: str, outcome: str, at: datetime, code: str | None = None) -> CheckRecord:
    return CheckRecord(store, at, "validate", outcome, code, "msg" if code else None, "req-1")


def test_latest_conclusive_check_decides_the_problem(tmp_path: Path) -> None:
    db = Database(tmp_path / "s.db")
    db.record_check(check("a", CHECK_PROBLEM, T0, "forbidden"))
    db.record_check(check("a", CHECK_INCOMPLETE, T0 + timedelta(hours=1), "transient"))
    db.record_check(check("b", CHECK_PROBLEM, T0, "invalid_grant"))
    db.record_check(check("b", CHECK_OK, T0 + timedelta(hours=2)))
    states = db.states()
    assert states["a"].problem is not None and states["a"].problem.code == "forbidden"
    assert states["a"].problem.request_id == "req-1"
    assert states["a"].last_checked_at == T0 + timedelta(
        hours=1
    )  # incomplete still counts as checked
    assert states["b"].problem is None


def test_last_sync_is_the_latest_successful_run(tmp_path: Path) -> None:
    db = Database(tmp_path / "s.db")
    run = db.start_sync_run("a", "inventory", T0)
    db.finish_sync_run(run, T0 + timedelta(minutes=1), "ok", rows_added=3)
    failed = db.start_sync_run("a", "finances", T0 + timedelta(hours=1))
    db.finish_sync_run(failed, T0 + timedelta(hours=1, minutes=1), "failed")
    assert db.states()["a"].last_sync_at == T0 + timedelta(minutes=1)


def test_read_only_lookup_never_creates_the_database(tmp_path: Path) -> None:
    path = tmp_path / "absent.db"
    assert read_states_if_exists(path, ["a"]) == {}
    assert not path.exists()


def test_transactions_roll_back_on_error(tmp_path: Path) -> None:
    db = Database(tmp_path / "s.db")
    try:
        with db.transaction() as tx:
            db.record_check(check("a", CHECK_OK, T0), tx=tx)
            raise ValueError("boom")
    except ValueError:
        pass
    assert db.checks("a") == []


def test_purge_removes_a_stores_rows_and_keeps_the_event_log(tmp_path: Path) -> None:
    db = Database(tmp_path / "s.db")
    db.record_check(check("a", CHECK_OK, T0))
    db.record_check(check("b", CHECK_OK, T0))
    db.log_event("connected", T0, "a")
    with db.transaction() as tx:
        db.set_sync_state("a", "inventory", "cursor", "x", T0, tx)
    removed = db.purge_store("a", T0)
    assert removed == 2
    assert db.checks("a") == [] and len(db.checks("b")) == 1
    assert db.get_sync_state("a", "inventory", "cursor") is None
    assert [e["kind"] for e in db.events("a")] == ["deleted", "connected"]


def test_secrets_are_not_in_the_schema(tmp_path: Path) -> None:
    db = Database(tmp_path / "s.db")
    db.connection()
    conn = sqlite3.connect(tmp_path / "s.db")
    columns = " ".join(
        row[1]
        for t in ("checks", "events", "sync_runs", "sync_state")
        for row in conn.execute(f"PRAGMA table_info({t})")
    )
    assert "token" not in columns and "secret" not in columns


def test_migrations_registered_after_the_first_connection_are_applied(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from soldscope_cli.db import database as store

    monkeypatch.setattr(store, "MIGRATIONS", list(store.MIGRATIONS))
    db = Database(tmp_path / "s.db")
    db.record_check(check("a", CHECK_OK, T0))

    def late(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE late_data (store TEXT)")

    store.register_migration("9999_late", late)
    db.connection().execute("INSERT INTO late_data VALUES ('a')")
    assert "9999_late" not in db.pending_migrations()


def test_a_fresh_process_knows_every_dataset_table(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from soldscope_cli.db import database as store\n"
        "db = store.Database(Path(sys.argv[1]))\n"
        "db.purge_store('a', __import__('datetime').datetime.now(__import__('datetime').UTC))\n"
        "print(sorted(store.DATA_TABLES))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "s.db")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "inventory_summaries" in out and "financial_transactions" in out


def test_every_migration_stays_inside_its_transaction(tmp_path: Path) -> None:
    """A migration that commits on its own (executescript) could be applied half-way."""
    import soldscope_cli.sync  # noqa: F401  (registers the dataset migrations)

    conn = sqlite3.connect(tmp_path / "m.db", isolation_level=None)
    for name, apply in MIGRATIONS:
        conn.execute("BEGIN IMMEDIATE")
        apply(conn)
        assert conn.in_transaction, f"migration {name} committed its own transaction"
        conn.execute("COMMIT")
