"""`sync --watch`: a long-running worker that syncs each store's datasets when they are due.

A dataset is due when its latest sync (whatever the outcome) started longer ago than its
`[watch]` interval. Each round re-reads the config, so stores connected or deleted meanwhile are
picked up, and syncs the due stores, grouped by the datasets they need. In team mode several
watchers share the stores through the database's claims; on one machine each round holds the
sync lock only while it syncs, so a manual `soldscope sync` can still run between rounds.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from soldscope_cli.db.interface import Database
from soldscope_cli.fleet.config import Config, StoreRecord
from soldscope_cli.fleet.listing import build_row

# The longest a watcher sleeps between looks, so a config change or a store that another host
# left unsynced is noticed within this time.
MAX_NAP = timedelta(seconds=60)
# A store tried in a round is not tried again sooner than this.
COOLDOWN = timedelta(seconds=60)


@dataclass(frozen=True)
class Due:
    """One round's work: the stores due for the same datasets."""

    datasets: tuple[str, ...]
    stores: list[str] = field(default_factory=list)


def due_work(
    config: Config,
    db: Database,
    datasets: Sequence[str],
    now: datetime,
    records: Sequence[StoreRecord],
    exclude: Collection[str] = (),
) -> tuple[list[Due], datetime]:
    """The due stores, grouped by the datasets they need, and when the next one falls due.

    Stores in error or expired are never due: sync would only skip them (validate or a renewal
    brings them back).
    """
    groups: dict[tuple[str, ...], list[str]] = {}
    next_due = now + MAX_NAP
    candidates = [r for r in records if r.name not in exclude]
    states = db.states([r.name for r in candidates])
    for record in candidates:
        if build_row(record, states.get(record.name), now).status.unhealthy:
            continue
        store_id = db.live_store_id(record.name)
        wanted: list[str] = []
        for dataset in datasets:
            last = None if store_id is None else db.last_sync_start(store_id, dataset)
            due_at = now if last is None else last + config.watch_every(dataset)
            if due_at <= now:
                wanted.append(dataset)
            else:
                next_due = min(next_due, due_at)
        if wanted:
            groups.setdefault(tuple(wanted), []).append(record.name)
    return [Due(key, sorted(names)) for key, names in sorted(groups.items())], next_due


def nap_seconds(next_due: datetime, now: datetime) -> float:
    """How long to sleep before the next look: until the next due time, at most MAX_NAP."""
    return max(1.0, min((next_due - now).total_seconds(), MAX_NAP.total_seconds()))


class Watcher:
    """Rounds until stopped; `run_round` syncs one group and says whether to go on.

    A store tried in a round is left alone for COOLDOWN whatever happened to it (synced, busy on
    another worker, failed before its first dataset), so nothing is retried in a tight loop.
    """

    def __init__(
        self,
        plan: Callable[[set[str]], tuple[list[Due], datetime]],
        run_round: Callable[[Due], bool],
        clock: Callable[[], datetime],
        stop: threading.Event,
    ) -> None:
        self.plan = plan
        self.run_round = run_round
        self.clock = clock
        self.stop = stop
        self.tried: dict[str, datetime] = {}

    def run(self) -> None:
        while not self.stop.is_set():
            now = self.clock()
            self.tried = {n: t for n, t in self.tried.items() if now - t < COOLDOWN}
            work, next_due = self.plan(set(self.tried))
            if not work:
                wake = min([next_due, *(t + COOLDOWN for t in self.tried.values())])
                self.stop.wait(nap_seconds(wake, now))
                continue
            for due in work:
                if self.stop.is_set():
                    return
                go_on = self.run_round(due)
                at = self.clock()
                self.tried.update(dict.fromkeys(due.stores, at))
                if not go_on:
                    self.stop.set()
                    return
