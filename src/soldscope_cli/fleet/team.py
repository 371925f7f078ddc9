"""Team mode's database: preparing it (`soldscope team init`) and reading its schema's state.

The URL comes from the composition root (SOLDSCOPE_DATABASE_URL or [database] url); what is
reported names the server with its password masked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from soldscope_cli.errors import UsageError

if TYPE_CHECKING:
    from soldscope_cli.db.model import StoreState
    from soldscope_cli.db.postgres.engine import Database

NO_URL_HINT = (
    "set SOLDSCOPE_DATABASE_URL=postgresql://user@host/dbname (or [database] url in "
    "config.toml), then run `soldscope team init`"
)


@dataclass(frozen=True)
class TeamSchema:
    """What the team database holds of this soldscope's schema."""

    database: str  # the URL, password masked
    applied: tuple[str, ...]  # migrations this run applied (init) or none (a status read)
    recorded: tuple[str, ...]  # every migration the database has recorded
    schema_version: str  # the newest migration this soldscope knows
    pending: tuple[str, ...]  # known migrations not yet recorded
    unknown: tuple[str, ...] = ()  # recorded migrations this soldscope does not know (newer)

    @property
    def current(self) -> bool:
        return not self.pending


def require_url(url: str | None) -> str:
    """The team database URL, or the usage error that says how to set one."""
    if url is None:
        raise UsageError(
            "no PostgreSQL database is configured (this home uses SQLite)", NO_URL_HINT
        )
    return url


def init_team_database(url: str | None) -> TeamSchema:
    """Apply every migration the database lacks (idempotent); what it did and the version."""
    url = require_url(url)
    from soldscope_cli.db.postgres.engine import Database
    from soldscope_cli.db.postgres.url import masked_url

    db = Database(url)
    try:
        applied = db.migrate()
    finally:
        db.close()
    return _schema(db, masked_url(url), tuple(applied))


def team_schema(url: str, *, timeout: float) -> TeamSchema:
    """The schema's state without changing anything (doctor's check)."""
    from soldscope_cli.db.postgres.engine import Database
    from soldscope_cli.db.postgres.url import masked_url

    return _schema(Database(url, connect_timeout=timeout), masked_url(url), ())


def _schema(db: Database, shown: str, applied: tuple[str, ...]) -> TeamSchema:
    recorded = tuple(db.applied_migrations())
    known = [name for name, _ in db.migrations]
    return TeamSchema(
        database=shown,
        applied=applied,
        recorded=recorded,
        schema_version=db.schema_version,
        pending=tuple(name for name in known if name not in recorded),
        unknown=tuple(name for name in recorded if name not in known),
    )


@dataclass(frozen=True)
class TeamStates:
    """The stores' states in the team database, read on one short-lived connection (doctor)."""

    url: str
    timeout: float

    def peek_states(self, stores: Sequence[str]) -> dict[str, StoreState]:
        """states() without migrating anything; the connection is closed again."""
        from soldscope_cli.db.postgres.engine import Database

        db = Database(self.url, connect_timeout=self.timeout)
        try:
            return db.peek_states(stores)
        finally:
            db.close()
