"""A state database written by the previous release opens with today's code on both engines:
every row is kept, and everything the commands read back is what that release read back."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from tests.fixtures.release_state import observe
from tests.pg import Cluster

FIXTURES = Path(__file__).parent.parent / "fixtures"
SQLITE_DUMP = FIXTURES / "release_0320.sql"
POSTGRES_DUMP = FIXTURES / "release_0320_pg.sql"
SEEN = json.loads((FIXTURES / "release_0320.json").read_text())
TABLES = (
    "stores", "checks", "events", "sync_runs", "sync_state", "inventory_summaries",
    "financial_transactions", "ba_search_terms_loads", "ba_search_terms_rows",
    "ba_search_terms_weeks", "invitations", "consent_states", "secrets", "schema_migrations",
)  # fmt: skip


def rows_of(
    conn: Any, engine: str, columns: dict[str, list[str]] | None = None
) -> tuple[dict[str, list[tuple[Any, ...]]], dict[str, list[str]]]:
    """Every row of the release's tables, by the columns the release had (a migration may add
    columns: those are not the release's rows), and those columns."""
    found: dict[str, list[tuple[Any, ...]]] = {}
    names: dict[str, list[str]] = {}
    for table in TABLES:
        if engine == "postgres" and table == "schema_migrations":
            sql = "SELECT name FROM schema_migrations ORDER BY name"
        else:
            picked = ", ".join(columns[table]) if columns else "*"
            sql = f"SELECT {picked} FROM {table} ORDER BY 1, 2"  # noqa: S608
        cursor = conn.execute(sql)
        names[table] = [c[0] for c in cursor.description]
        found[table] = [tuple(r) for r in cursor.fetchall()]
    return found, names


def test_a_sqlite_home_of_the_previous_release_reads_back_the_same(tmp_path: Path) -> None:
    from soldscope_cli.db.database import MIGRATIONS, Database

    path = tmp_path / "soldscope.db"
    conn = sqlite3.connect(path)
    conn.executescript(SQLITE_DUMP.read_text())
    before, columns = rows_of(conn, "sqlite")
    conn.close()
    db = Database(path, MIGRATIONS)
    assert json.loads(json.dumps(observe(db))) == SEEN
    db.close()
    conn = sqlite3.connect(path)
    after, _ = rows_of(conn, "sqlite", columns)
    conn.close()
    had = {row[0] for row in before.pop("schema_migrations")}
    has = {row[0] for row in after.pop("schema_migrations")}
    assert has == had | {m.name for m in MIGRATIONS}  # today's steps added, none lost
    assert after == before  # every row kept, none changed


def test_a_team_database_of_the_previous_release_reads_back_the_same(
    pg_cluster: Cluster,
) -> None:
    import psycopg

    from soldscope_cli.db.postgres.engine import Database as PostgresDatabase

    url = pg_cluster.fresh_database(template=None)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(POSTGRES_DUMP.read_text().encode())
    with psycopg.connect(url) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        before, columns = rows_of(conn, "postgres")
    had = {row[0] for row in before.pop("schema_migrations")}
    db = PostgresDatabase(url)
    assert db.migrate() == [m.name for m in db.migrations if m.name not in had]
    assert json.loads(json.dumps(observe(db))) == SEEN
    db.close()
    with psycopg.connect(url) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        after, _ = rows_of(conn, "postgres", columns)
    after.pop("schema_migrations")
    assert after == before  # every row kept, none changed
