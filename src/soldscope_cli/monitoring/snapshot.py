"""One read of everything the monitoring exports show: store rows, dataset figures, app secret.

Reads config.toml and the state database only: no network, no secret store, so nothing here can
carry a token or the client secret.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from soldscope_cli.db.interface import StateLookup, StateReads
from soldscope_cli.fleet.app_credentials import secret_due
from soldscope_cli.fleet.config import Config
from soldscope_cli.fleet.listing import ListQuery, StoreRow, run_list
from soldscope_cli.services import Services
from soldscope_cli.sync.freshness import DatasetHealth, run_data


@dataclass(frozen=True)
class FleetSnapshot:
    """The fleet at one instant."""

    now: datetime
    rows: list[StoreRow]
    datasets: list[DatasetHealth]
    secret_due_at: datetime | None  # when the app's LWA client secret must be rotated
    home_id: str  # stable per home: the secrets namespace, else the config file's path

    def region_of(self, store: str) -> str:
        for row in self.rows:
            if row.name == store:
                return row.record.region
        return ""


def take_snapshot(
    config: Config,
    db: StateReads,
    database: StateLookup,
    config_path: Path,
    now: datetime,
) -> FleetSnapshot:
    """Every configured store, sorted by name, with its datasets and the app's rotation date."""
    rows = run_list(config, database, ListQuery(sort="name"), now).rows
    datasets = run_data(config, db, [], now) if rows else []
    set_at = config.app.client_secret_set_at
    return FleetSnapshot(
        now=now,
        rows=rows,
        datasets=datasets,
        secret_due_at=None if set_at is None else secret_due(set_at),
        home_id=config.secrets_namespace or str(config_path.resolve()),
    )


def fleet_snapshot(services: Services) -> FleetSnapshot:
    """The snapshot of the home the services belong to, at their clock's now."""
    paths = services.paths
    db = services.database()
    # The database answers for the states too: it reads a SQLite file without creating it.
    return take_snapshot(services.config(), db, db, paths.config_file, services.clock())
