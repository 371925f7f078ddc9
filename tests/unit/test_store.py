"""The SQLite state database itself: its file, migrations and read-only lookup.

What both engines must do (checks, states, purge, rollbacks) is in test_engines.py.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from datetime import UTC, datetime
from pathlib import Path

from soldscope_cli.db.database import (
    CHECK_OK,
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


def test_read_only_lookup_never_creates_the_database(tmp_path: Path) -> None:
    path = tmp_path / "absent.db"
    assert read_states_if_exists(path, ["a"]) == {}
    assert not path.exists()


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
