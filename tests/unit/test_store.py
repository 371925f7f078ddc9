"""The state database: migrations, check history, states, purge."""

from __future__ import annotations

import os
import sqlite3
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

from soldscope_cli.db.database import (
    CHECK_INCOMPLETE,
    CHECK_OK,
    CHECK_PROBLEM,
    MIGRATIONS,
    CheckRecord,
    Database,
    Migration,
    read_states_if_exists,
)

T0 = datetime(2026, 6, 1, tzinfo=UTC)


def test_migrations_are_recorded_once_and_the_file_is_private(tmp_path: Path) -> None:
    db = Database(tmp_path / "state.db", MIGRATIONS)
    db.connection()
    db.close()
    again = Database(tmp_path / "state.db", MIGRATIONS)
    names = [r[0] for r in again.connection().execute("SELECT name FROM schema_migrations")]
    assert names == [name for name, _ in MIGRATIONS]
    assert names[0] == "0001_state" and names == sorted(names)
    assert again.pending_migrations() == []
    assert stat.S_IMODE(os.stat(tmp_path / "state.db").st_mode) == 0o600
    mode = again.connection().execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def check(store: str, outcome: str, at: datetime, code: str | None = None) -> CheckRecord:
    return CheckRecord(store, at, "validate", outcome, code, "msg" if code else None, "req-1")


def test_latest_conclusive_check_decides_the_problem(tmp_path: Path) -> None:
    db = Database(tmp_path / "s.db", MIGRATIONS)
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
    db = Database(tmp_path / "s.db", MIGRATIONS)
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
    db = Database(tmp_path / "s.db", MIGRATIONS)
    try:
        with db.transaction() as tx:
            db.record_check(check("a", CHECK_OK, T0), tx=tx)
            raise ValueError("boom")
    except ValueError:
        pass
    assert db.checks("a") == []


def test_purge_removes_a_stores_rows_and_keeps_the_event_log(tmp_path: Path) -> None:
    db = Database(tmp_path / "s.db", MIGRATIONS)
    db.record_check(check("a", CHECK_OK, T0))
    db.record_check(check("b", CHECK_OK, T0))
    db.log_event("connected", T0, "a")
    a = db.store_id("a")
    db.update_sync_state(a, "inventory", T0, set_={"cursor": "x"})
    removed = db.delete_store("a", T0, purge_tables=["inventory_summaries"])
    assert removed == 2
    assert db.checks("a") == [] and len(db.checks("b")) == 1
    assert db.get_sync_state(a, "inventory", "cursor") is None
    assert [e["kind"] for e in db.events("a")] == ["deleted", "connected"]


def test_secrets_are_not_in_the_schema(tmp_path: Path) -> None:
    db = Database(tmp_path / "s.db", MIGRATIONS)
    db.connection()
    conn = sqlite3.connect(tmp_path / "s.db")
    columns = " ".join(
        row[1]
        for t in ("checks", "events", "sync_runs", "sync_state")
        for row in conn.execute(f"PRAGMA table_info({t})")
    )
    assert "token" not in columns and "secret" not in columns


def test_a_migration_added_to_the_list_is_applied_to_an_existing_database(
    tmp_path: Path,
) -> None:
    db = Database(tmp_path / "s.db", MIGRATIONS)
    db.record_check(check("a", CHECK_OK, T0))
    db.close()

    def late(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE late_data (store TEXT)")

    newer = Database(tmp_path / "s.db", [*MIGRATIONS, Migration("9999_late", late)])
    assert newer.pending_migrations() == ["9999_late"]
    newer.connection().execute("INSERT INTO late_data VALUES ('a')")
    assert newer.pending_migrations() == []
    assert len(newer.checks("a")) == 1


def test_opening_the_database_imports_no_network_amazon_or_sync_code(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from datetime import UTC, datetime\n"
        "from pathlib import Path\n"
        "from soldscope_cli.db.database import MIGRATIONS, Database\n"
        "db = Database(Path(sys.argv[1]), MIGRATIONS)\n"
        "db.connection()\n"
        "db.delete_store('a', datetime.now(UTC), purge_tables=['inventory_summaries'])\n"
        "print('\\n'.join(sorted(sys.modules)))\n"
    )
    modules = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "s.db")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert "soldscope_cli.db.sqlite.engine" in modules
    assert [m for m in modules if m == "httpx" or m.startswith("httpx.")] == []
    assert [
        m for m in modules if m.startswith(("soldscope_cli.amazon", "soldscope_cli.sync"))
    ] == []
    for forbidden in ("typer", "keyring", "soldscope_cli.commands", "soldscope_cli.checks"):
        assert forbidden not in modules


def test_every_migration_stays_inside_its_transaction(tmp_path: Path) -> None:
    """A migration that commits on its own (executescript) could be applied half-way."""
    conn = sqlite3.connect(tmp_path / "m.db", isolation_level=None)
    for name, apply in MIGRATIONS:
        conn.execute("BEGIN IMMEDIATE")
        apply(conn)
        assert conn.in_transaction, f"migration {name} committed its own transaction"
        conn.execute("COMMIT")
