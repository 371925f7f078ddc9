"""What `soldscope data` reports: per store and dataset, what is held, how fresh, what is wrong.

Staleness is the age of the dataset's last successful sync, against the `[stale]` limits of
config.toml; a dataset never synced is stale. Problems come from the last sync run (the app lacks
the dataset's role, or it failed) and from Brand Analytics week marks (a report Amazon answered
FATAL, or one requested long ago and still not done).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from soldscope_cli.amazon.marketplaces import BY_ID
from soldscope_cli.datasets.registry import BY_NAME, NAMES
from soldscope_cli.datasets.spec import LISTED_AT, Limit
from soldscope_cli.db.interface import StateReads
from soldscope_cli.db.model import DataFigures, from_db_time
from soldscope_cli.fleet.config import Config, select_stores

NOT_AUTHORIZED = "not_authorized"
FAILED = "failed"
LISTING_OLD = "listing_old"
# Amazon builds a search terms report in minutes to hours: one requested a day ago and still not
# done is worth a look (sync asks for it afresh after three days).
INFLIGHT_STUCK = timedelta(days=1)


@dataclass(frozen=True)
class DataProblem:
    """Something that keeps a dataset from being current."""

    code: str
    message: str


@dataclass(frozen=True)
class DatasetHealth:
    """One store's dataset as `data` shows it."""

    store: str
    dataset: str
    rows: int
    newest: str | None
    last_sync_at: datetime | None
    age: timedelta | None  # since the last successful sync (None: never)
    stale_after: timedelta
    problems: list[DataProblem] = field(default_factory=list)
    # Datasets stale by their newest data point too (settlements): how old that point is.
    newest_age: timedelta | None = None
    # Datasets Amazon lists only for a while: when the last listing succeeded.
    listed_at: datetime | None = None

    @property
    def label(self) -> str:
        return BY_NAME[self.dataset].label

    @property
    def not_authorized(self) -> bool:
        """The last sync found the app lacks the dataset's role."""
        return any(p.code == NOT_AUTHORIZED for p in self.problems)

    @property
    def stale(self) -> bool:
        """Never synced successfully, or longer ago than the configured limit (or, for a
        dataset stale by its newest data point, that point is older than the limit)."""
        if self.newest_age is not None and self.newest_age > self.stale_after:
            return True
        return self.age is None or self.age > self.stale_after


def run_data(
    config: Config,
    db: StateReads,
    names: Sequence[str],
    now: datetime,
    datasets: Sequence[str] = NAMES,
) -> list[DatasetHealth]:
    """Rows per configured store (the named ones; unknown names are a usage error) and dataset."""
    found: list[DatasetHealth] = []
    for record in select_stores(config, names):
        store_id = db.live_store_id(record.name)
        for dataset in datasets:
            figures = (
                db.data_figures(store_id, [dataset])[0]
                if store_id is not None
                else DataFigures(dataset, 0, None, None, None)
            )
            found.append(health(record.name, figures, config.stale_after(dataset), now))
    return found


def health(
    store: str, figures: DataFigures, stale_after: timedelta, now: datetime
) -> DatasetHealth:
    """One dataset's figures judged at `now`."""
    last = figures.last_ok_sync
    declared = BY_NAME[figures.dataset]
    newest_at = _time(figures.newest) if declared.stale_by_newest else None
    listed_at = _time(figures.marks.get(LISTED_AT))
    found = problems(figures, now)
    if listing_overdue(declared.listing_alert, listed_at, now):
        assert listed_at is not None and declared.listing_alert is not None
        found.append(
            DataProblem(
                LISTING_OLD,
                f"last listed {(now - listed_at).days} days ago: Amazon lists "
                f"{declared.label.lower()} for 90 days only, so the oldest are about to be lost",
            )
        )
    return DatasetHealth(
        store=store,
        dataset=figures.dataset,
        rows=figures.rows,
        newest=figures.newest,
        last_sync_at=last,
        age=None if last is None else max(now - last, timedelta(0)),
        stale_after=stale_after,
        problems=found,
        newest_age=None if newest_at is None else max(now - newest_at, timedelta(0)),
        listed_at=listed_at,
    )


def listing_overdue(limit: Limit | None, listed_at: datetime | None, now: datetime) -> bool:
    """Whether a listed dataset's last successful listing is older than its alert limit."""
    return limit is not None and listed_at is not None and now - listed_at > limit.span


def problems(figures: DataFigures, now: datetime) -> list[DataProblem]:
    """What the last sync run and the dataset's marks say is wrong."""
    found: list[DataProblem] = []
    if figures.last_outcome == NOT_AUTHORIZED:
        found.append(
            DataProblem(
                NOT_AUTHORIZED,
                figures.last_error
                or "the app lacks this dataset's role: add it in Seller Central, then reauthorize",
            )
        )
    elif figures.last_outcome == FAILED:
        message = figures.last_error or "the last sync failed"
        code = figures.last_error_code or FAILED
        found.append(DataProblem("sync_failed", f"{code}: {message}"))
    # Every report dataset's lifecycle marks (none for the others).
    found.extend(_mark_problems(figures.marks, now))
    return found


def _mark_problems(marks: dict[str, str], now: datetime) -> list[DataProblem]:
    from soldscope_cli.sync.brand_analytics import POLICY

    found: list[DataProblem] = []
    for key in sorted(marks):
        kind, _, rest = key.partition(":")
        if ".." in rest:  # a window's bounds (sync/windowed.py)
            where = f"window {rest}"
        else:  # a marketplace's week (Brand Analytics)
            marketplace_id, _, week = rest.partition(":")
            market = BY_ID.get(marketplace_id)
            where = f"{market.code if market else marketplace_id} week {week}"
        try:
            value = json.loads(marks[key])
        except ValueError:
            continue
        if not isinstance(value, dict):
            continue
        if kind == "fatal":
            count = int(value.get("count", 1))
            at = _time(value.get("at"))
            if count >= POLICY.max_fatal_attempts:
                then = f"given up after {count} attempts"
            elif at is not None and now < at + POLICY.fatal_cooldown:
                then = f"retried after {(at + POLICY.fatal_cooldown):%Y-%m-%d %H:%MZ}"
            else:
                then = "retried by the next sync"
            reason = value.get("reason")
            found.append(
                DataProblem(
                    "report_fatal",
                    f"{where}: Amazon could not produce the report (FATAL, report "
                    f"{value.get('report_id', '?')}); {then}"
                    + (f". Amazon's reason: {reason}" if isinstance(reason, str) else ""),
                )
            )
        elif kind == "inflight":
            created = _time(value.get("created_at"))
            if created is not None and now - created > INFLIGHT_STUCK:
                hours = (now - created).total_seconds() / 3600
                found.append(
                    DataProblem(
                        "report_stuck",
                        f"{where}: report {value.get('report_id', '?')} requested {hours:.0f} h "
                        "ago is still not done",
                    )
                )
    return found


def _time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return from_db_time(value)
    except ValueError:
        return None


def any_stale(rows: Sequence[DatasetHealth]) -> bool:
    """True when a dataset shown is stale (`--fail-stale` exits 1)."""
    return any(row.stale for row in rows)
