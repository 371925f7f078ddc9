"""Applying the ordered migrations to a PostgreSQL database, and reading which ones it has."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import psycopg

from soldscope_cli.db.postgres.connect import unavailable
from soldscope_cli.db.postgres.migrations import Migration
from soldscope_cli.db.postgres.state import Conn

# One key for every soldscope schema change: two hosts migrating at once take turns.
MIGRATION_LOCK = 0x50_1D_5C_0E


def apply_migrations(conn: Conn, url: str, migrations: Sequence[Migration]) -> list[str]:
    """Apply the steps the database lacks, each in its own transaction; their names, in order.

    Any failure (the server gone, a role that may not create tables) is one DatabaseUnavailable
    line; the steps committed before it stay, and the next run carries on from there.
    """
    applied: list[str] = []
    if _current(conn, url, migrations):
        # Nothing to apply: no DDL, no lock, so a role that may only read (a dashboard's) works.
        return applied
    try:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations"
                " (name text PRIMARY KEY, applied_at timestamptz NOT NULL)"
            )
        for name, sql in migrations:
            with conn.transaction():
                # Under the lock, re-check: another host may have just applied it.
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
                if conn.execute(
                    "SELECT 1 FROM schema_migrations WHERE name = %s", (name,)
                ).fetchone():
                    continue
                conn.execute(sql)
                conn.execute(
                    "INSERT INTO schema_migrations (name, applied_at) VALUES (%s, %s)",
                    (name, datetime.now(UTC)),
                )
                applied.append(name)
    except psycopg.Error as exc:
        raise unavailable(url, exc, doing="migrate") from exc
    return applied


def _current(conn: Conn, url: str, migrations: Sequence[Migration]) -> bool:
    """Whether every step is recorded already, found by reading alone."""
    done = set(recorded_migrations(conn, url))
    return all(name in done for name, _ in migrations)


def recorded_migrations(conn: Conn, url: str) -> list[str]:
    """The steps the database has recorded, by name (none before the first migration)."""
    try:
        with conn.transaction():
            exists = conn.execute("SELECT to_regclass('schema_migrations')").fetchone()
            if exists is None or exists[0] is None:
                return []
            rows = conn.execute("SELECT name FROM schema_migrations ORDER BY name").fetchall()
    except psycopg.Error as exc:
        raise unavailable(url, exc, doing="read") from exc
    return [str(r[0]) for r in rows]
