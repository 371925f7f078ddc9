"""One sync run: the lock, the log file, the stores selected, the runner."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING

from soldscope_cli.db.interface import StoreClaims
from soldscope_cli.fleet.config import select_stores
from soldscope_cli.services import Services

if TYPE_CHECKING:
    from soldscope_cli.sync.runner import SyncObserver, SyncReport


@dataclass(frozen=True)
class SyncRequest:
    """What `sync` was asked to do, parsed."""

    names: list[str]
    datasets: tuple[str, ...]
    since: datetime | None
    concurrency: int
    options: dict[str, int] = field(default_factory=dict)  # dataset options given as flags


def run_sync_command(
    app: Services,
    request: SyncRequest,
    observer: SyncObserver | None = None,
    *,
    on_interrupt: Callable[[], None] = lambda: None,
) -> SyncReport:
    """Take the sync lock, open the log, and sync the selected stores.

    Ctrl-C stops every store at its next page, batch or poll (on_interrupt is told at once) and
    returns the partial report, marked interrupted.
    """
    # Imported here: the runner pulls in the Amazon clients, which parsing a request must not.
    from soldscope_cli.db.model import StoreDeleted
    from soldscope_cli.errors import StorageError
    from soldscope_cli.sync.base import StopSignal, log
    from soldscope_cli.sync.lock import SyncLock
    from soldscope_cli.sync.logfile import sync_log
    from soldscope_cli.sync.quota import DatabaseBuckets
    from soldscope_cli.sync.runner import (
        QuotaWaits,
        SilentObserver,
        SyncEnvironment,
        SyncOptions,
        run_sync,
    )

    records = select_stores(app.config(), request.names)
    stop = StopSignal()
    waits = QuotaWaits(observer)
    db = app.database()
    # Team mode: workers on any host claim stores one by one; a SQLite home runs one sync at once.
    claims = db.claims()
    lock = SyncLock(app.paths.sync_lock, app.clock) if claims is None else nullcontext()
    with closing_claims(claims), lock, sync_log(app.paths.log_file):
        clients = app.amazon_clients(sleep=stop.sleeper(app.sleep), rate_waits=waits)
        # Amazon's buckets as the last run on any host left them, and kept for the next.
        clients.limiter.keep_in(DatabaseBuckets(db), wall=lambda: app.clock().timestamp())
        env = SyncEnvironment(
            db=db,
            secrets=app.secret_store(),
            client_for=clients.spapi_for,
            clock=app.clock,
            sleep=app.sleep,
            monotonic=app.monotonic,
            observer=observer or SilentObserver(),
            stop=stop,
            on_interrupt=on_interrupt,
            quota_waits=waits,
            claims=claims,
        )
        options = SyncOptions(
            datasets=request.datasets,
            since=request.since,
            concurrency=request.concurrency,
            # A flag wins over config.toml's [sync], which wins over the dataset's default.
            options={**app.config().sync_options, **request.options},
        )
        report = run_sync(records, options, env)
        try:
            clients.limiter.flush()
        except (StorageError, StoreDeleted) as exc:
            # Only the next run's pace depends on it: say so in the log, keep the report.
            log.warning("Amazon's quota could not be kept for the next run: %s", exc)
        return report


@contextmanager
def closing_claims(claims: StoreClaims | None) -> Iterator[None]:
    """End the claims' session when the run ends (a killed process ends it just the same)."""
    try:
        yield
    finally:
        if claims is not None:
            claims.close()


def watch_sync(
    app: Services,
    request: SyncRequest,
    *,
    stop: threading.Event,
    on_round: Callable[[SyncRequest, SyncReport], bool],
    on_busy: Callable[[str], None],
    observer: Callable[[], SyncObserver | None] = lambda: None,
) -> None:
    """Sync each store's datasets whenever they are due, until `stop` is set or a round says so.

    `on_round` renders and announces each round's report and returns False to stop (Ctrl-C, a
    local failure). A round that finds another sync running on this machine is skipped
    (`on_busy` is told) and tried again later.
    """
    from soldscope_cli.errors import LockHeldError
    from soldscope_cli.sync.watch import Due, Watcher, due_work

    def plan(exclude: set[str]) -> tuple[list[Due], datetime]:
        config = app.config(reload=True)
        # Named stores that were deleted meanwhile drop out instead of ending the watch.
        wanted = request.names or list(config.stores)
        records = [config.stores[n] for n in wanted if n in config.stores]
        return due_work(config, app.database(), request.datasets, app.clock(), records, exclude)

    def run_round(due: Due) -> bool:
        sub = replace(request, names=due.stores, datasets=due.datasets)
        try:
            report = run_sync_command(app, sub, observer())
        except LockHeldError as exc:
            on_busy(exc.message)
            return True
        return on_round(sub, report)

    Watcher(plan, run_round, app.clock, stop).run()
