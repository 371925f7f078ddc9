"""Team mode's database: preparing it (`soldscope team init`) and reading its schema's state.

The URL comes from the composition root (SOLDSCOPE_DATABASE_URL or [database] url); what is
reported names the server with its password masked.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, cast

from soldscope_cli.errors import UsageError

if TYPE_CHECKING:
    from soldscope_cli.amazon.marketplaces import Region
    from soldscope_cli.db.interface import TeamDatabase
    from soldscope_cli.db.model import RegistryRecord, StoreState
    from soldscope_cli.fleet.config import Config, StoreRecord

# Opens the team database at a URL with a connect timeout: the composition root's, so that only it
# picks the engine.
OpenTeam = Callable[[str, float], "TeamDatabase"]

CONNECT_TIMEOUT_S = 10

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


def init_team_database(url: str | None, open_team: OpenTeam) -> TeamSchema:
    """Apply every migration the database lacks (idempotent); what it did and the version."""
    url = require_url(url)
    from soldscope_cli.db.url import masked_url

    db = open_team(url, CONNECT_TIMEOUT_S)
    try:
        applied = db.migrate()
    finally:
        db.close()
    return _schema(db, masked_url(url), tuple(applied))


def team_schema(url: str, open_team: OpenTeam, *, timeout: float) -> TeamSchema:
    """The schema's state without changing anything (doctor's check)."""
    from soldscope_cli.db.url import masked_url

    return _schema(open_team(url, timeout), masked_url(url), ())


def _schema(db: TeamDatabase, shown: str, applied: tuple[str, ...]) -> TeamSchema:
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
    open_team: OpenTeam

    def peek_states(self, stores: Sequence[str]) -> dict[str, StoreState]:
        """states() without migrating anything; the connection is closed again."""
        db = self.open_team(self.url, self.timeout)
        try:
            return db.peek_states(stores)
        finally:
            db.close()

    def peek_token_writes(self) -> dict[str, datetime]:
        """The ledger's token_written names and times, without migrating (doctor)."""
        db = self.open_team(self.url, self.timeout)
        try:
            return db.peek_token_writes()
        finally:
            db.close()

    def fleet(self, loaded: Config) -> Config:
        """config.toml's settings with the registry's stores, read without migrating."""
        db = self.open_team(self.url, self.timeout)
        try:
            return team_config(
                loaded, db.peek_registry(), secret_set_at=db.peek_client_secret_set_at()
            )
        finally:
            db.close()

    def client_secret_set_at(self) -> datetime | None:
        """When the team's client secret was stored, read without migrating (doctor)."""
        db = self.open_team(self.url, self.timeout)
        try:
            return db.peek_client_secret_set_at()
        finally:
            db.close()


# --- the registry: the fleet every host sees ------------------------------------------------------


def to_registry(record: StoreRecord) -> RegistryRecord:
    """A config store as the team database's registry keeps it."""
    from soldscope_cli.db.model import RegistryRecord

    return RegistryRecord(
        name=record.name,
        region=record.region,
        marketplaces=tuple(record.marketplaces),
        authorized_at=record.authorized_at,
        selling_partner_id=record.selling_partner_id,
        region_wide=record.region_wide,
        self_authorized=record.self_authorized,
        store_names=tuple(sorted(record.store_names.items())),
    )


def from_registry(row: RegistryRecord) -> StoreRecord:
    """The registry's store as the rest of soldscope knows stores."""
    from soldscope_cli.fleet.config import StoreRecord

    region = cast("Region", row.region)  # written by to_registry from a checked StoreRecord
    return StoreRecord(
        row.name,
        region,
        list(row.marketplaces),
        row.authorized_at,
        selling_partner_id=row.selling_partner_id,
        region_wide=row.region_wide,
        self_authorized=row.self_authorized,
        store_names=dict(row.store_names),
    )


def team_config(
    loaded: Config,
    rows: Sequence[RegistryRecord],
    namespace: str | None = None,
    *,
    secret_set_at: datetime | None = None,
) -> Config:
    """config.toml's settings with the team database's stores instead of the file's.

    With the team's namespace, what is derived from it (the calendar's event UIDs) is the same
    on every host; so is the client secret's date, the team's since the secret is (the file's
    date only when the team has none, e.g. a secret stored before the team kept dates).
    """
    import dataclasses

    view = dataclasses.replace(loaded, stores={r.name: from_registry(r) for r in rows})
    if namespace is not None:
        view.secrets_namespace = namespace
    if secret_set_at is not None:
        view.app = dataclasses.replace(loaded.app, client_secret_set_at=secret_set_at)
    return view


def local_only_note(loaded: Config, team: Config) -> str | None:
    """What to say when config.toml lists stores the team database does not have."""
    missing = sorted(set(loaded.stores) - set(team.stores))
    if not missing:
        return None
    shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
    return (
        f"note: config.toml lists {len(missing)} store{'s' if len(missing) != 1 else ''} the team "
        f"database does not have ({shown}); this home now uses the team database's stores: copy "
        "them into it with `soldscope team import`"
    )
