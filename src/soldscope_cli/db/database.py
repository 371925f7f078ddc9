"""The state database as the app uses it: the engine-neutral records and today's engine, SQLite.

Callers import from here (or db.model); which engine implements the Database is decided here and
in the composition root (context.py), which passes it its migrations.
"""

from __future__ import annotations

from soldscope_cli.db.model import (
    BRAND_ANALYTICS,
    CHECK_APP_ERROR,
    CHECK_INCOMPLETE,
    CHECK_OK,
    CHECK_OUTCOMES,
    CHECK_PROBLEM,
    DEFAULT_RETENTION_DAYS,
    FINANCES,
    INVENTORY,
    CheckRecord,
    IntegrityReport,
    StoreDeleted,
    StoreState,
    from_db_time,
    to_db_time,
)
from soldscope_cli.db.sqlite.engine import (
    Database,
    check_integrity,
    read_states_if_exists,
)
from soldscope_cli.db.sqlite.migrations import MIGRATIONS, Migration
from soldscope_cli.db.tables.core import STORE_TABLES, read_states

__all__ = [
    "BRAND_ANALYTICS",
    "CHECK_APP_ERROR",
    "CHECK_INCOMPLETE",
    "CHECK_OK",
    "CHECK_OUTCOMES",
    "CHECK_PROBLEM",
    "DEFAULT_RETENTION_DAYS",
    "FINANCES",
    "INVENTORY",
    "MIGRATIONS",
    "STORE_TABLES",
    "CheckRecord",
    "Database",
    "IntegrityReport",
    "Migration",
    "StoreDeleted",
    "StoreState",
    "check_integrity",
    "from_db_time",
    "read_states",
    "read_states_if_exists",
    "to_db_time",
]
