"""Announcing what a command observed: decide, send one message per target, record.

validate, sync, connect and serve each hand over what they saw as an `Observed`; everything else
(the stale datasets, the client secret's rotation date) is read here from the home, and only when
a target is configured, so a home without alerts pays nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from soldscope_cli.datasets.registry import BY_NAME
from soldscope_cli.db.interface import NotifiedLog, StateReads
from soldscope_cli.fleet.app_credentials import secret_due
from soldscope_cli.fleet.config import Config
from soldscope_cli.fleet.listing import StoreRow
from soldscope_cli.notify.alerts import (
    Alert,
    DatasetAccess,
    Last,
    StaleDataset,
    SyncOutcome,
    app_alerts,
    fix_command,
    invitation_alert,
    invite_command,
    listing_alerts,
    role_alerts,
    rotation_alerts,
    skipped_by_sync,
    stale_alerts,
    status_alerts,
    sync_alerts,
)
from soldscope_cli.notify.message import compose
from soldscope_cli.notify.sender import Delivery, Notifier
from soldscope_cli.notify.targets import Target
from soldscope_cli.sync.freshness import run_data

DELIVERY = "delivery:"  # + the target's fingerprint: its last delivery, for doctor


@dataclass(frozen=True)
class Observed:
    """What one command saw. `app_checked`: Amazon was asked, so a rejection can have cleared."""

    rows: Sequence[StoreRow] = ()
    outcomes: Sequence[SyncOutcome] = ()
    access: Sequence[DatasetAccess] = ()  # sync: which datasets the app may read
    app_error: str | None = None
    app_checked: bool = False
    invitation: Alert | None = None
    stale: bool = True  # also look at the datasets' freshness and the client secret's age
    rotation_queue: bool = False  # a rotation queue is set up: `app rotate` renews the secret


def after_connect(
    row: StoreRow, *, renewed: bool = False, invitation_id: int | None = None
) -> Observed:
    """What connecting a store (at the terminal or through an invitation link) observed.

    The new check is a status like any other (a store that was in error is announced active
    again); a link used by the client is news of its own.
    """
    invitation = None
    if invitation_id is not None:
        invitation = invitation_alert(
            row.name,
            row.record.region,
            row.record.selling_partner_id or "?",
            invitation_id,
            renewed=renewed,
        )
    return Observed([row], invitation=invitation, stale=False)


def fingerprint(url: str) -> str:
    """A target's stable id in the events table: a digest, since the URL itself is a secret."""
    return hashlib.sha256(url.encode()).hexdigest()[:16]


def datasets_of(
    config: Config, db: StateReads, rows: Sequence[StoreRow], now: datetime
) -> list[StaleDataset]:
    """The freshness of every dataset of the given stores, as the stale alerts need it."""
    if not rows:
        return []
    by_name = {row.name: row for row in rows}
    regions = {row.name: row.record.region for row in rows}
    out: list[StaleDataset] = []
    for item in run_data(config, db, list(regions), now):
        if item.not_authorized:
            continue  # announced as not_authorized: syncing again cannot make it fresh
        row = by_name[item.store]
        skipped = skipped_by_sync(row)
        out.append(
            StaleDataset(
                item.store,
                regions[item.store],
                item.dataset,
                item.label,
                item.stale,
                item.last_sync_at is not None,
                item.age,
                item.stale_after,
                fix=fix_command(row) if skipped else None,
                invite=invite_command(row) if skipped else None,
                listed_at=item.listed_at,
                listing_alert=_listing_limit(item.dataset),
                newest_age=item.newest_age,
            )
        )
    return out


def _listing_limit(dataset: str) -> timedelta | None:
    limit = BY_NAME[dataset].listing_alert
    return None if limit is None else limit.span


def alerts_for(
    observed: Observed,
    last: Last,
    *,
    config: Config,
    db: StateReads,
    now: datetime,
) -> list[Alert]:
    """Everything new in what was observed, against what the targets were last told."""
    alerts = app_alerts(observed.app_error, last, checked=observed.app_checked)
    if observed.stale:
        set_at = config.app.client_secret_set_at
        due = None if set_at is None else secret_due(set_at)
        alerts += rotation_alerts(due, now, last, queue=observed.rotation_queue)
    if observed.app_error is None:
        alerts += status_alerts(observed.rows, last, config.expiring_days)
        alerts += sync_alerts(observed.outcomes, last)
        alerts += role_alerts(observed.access, last)
        if observed.stale:
            datasets = datasets_of(config, db, observed.rows, now)
            alerts += stale_alerts(datasets, last)
            alerts += listing_alerts(datasets, last, now)
    if observed.invitation is not None:
        alerts.append(observed.invitation)
    return alerts


class AlertLog(NotifiedLog, StateReads, Protocol):
    """The database as announcing uses it: what was told, and the datasets' figures."""


def announce_observed(
    notifier: Notifier,
    db: AlertLog,
    config: Config,
    observed: Observed,
    clock: Callable[[], datetime],
) -> list[Delivery]:
    """Announce what is new in `observed`; returns the failed deliveries (for one stderr line)."""
    if not notifier.targets:
        return []
    alerts = alerts_for(observed, db.last_notified(), config=config, db=db, now=clock())
    return announce(notifier, db, alerts, clock)


def announce(
    notifier: Notifier, log: NotifiedLog, alerts: Sequence[Alert], clock: Callable[[], datetime]
) -> list[Delivery]:
    """Send each target one message of the alerts it wants; record those delivered somewhere.

    An alert is recorded as announced when a target that wants it took it (or none wants it), so
    one that no target could take is tried again on the next run. Each target's delivery is
    recorded too, for doctor. Returns the failed deliveries.
    """
    if not alerts:
        return []
    messages: list[tuple[Target, str, str]] = []
    wanted: dict[int, list[Alert]] = {}
    for target in notifier.targets:
        mine = [a for a in alerts if target.wants(a.event, a.store)]
        if mine:
            wanted[len(messages)] = mine
            messages.append((target, *compose(mine)))
    deliveries = notifier.deliver(messages)
    delivered = {id(a) for i, d in enumerate(deliveries) if d.ok for a in wanted[i]}
    attempted = {id(a) for group in wanted.values() for a in group}
    done = [a for a in alerts if id(a) in delivered or id(a) not in attempted]
    now = clock()
    entries = [(a.store, a.state) for a in done] + delivery_entries(deliveries, now)
    if entries:
        log.log_notified(now, entries)
    return [d for d in deliveries if not d.ok]


def delivery_entries(
    deliveries: Sequence[Delivery], at: datetime
) -> list[tuple[str | None, dict[str, Any]]]:
    """The `notified` entries recording how each target's delivery went (never its URL)."""
    return [
        (
            None,
            {
                "channel": DELIVERY + fingerprint(d.target.url),
                "kind": "ok" if d.ok else "failed",
                "target": d.target.label,
                "at": at.isoformat(timespec="seconds"),
                **({} if d.ok else {"error": d.error}),
            },
        )
        for d in deliveries
    ]


def last_deliveries(log: NotifiedLog) -> dict[str, dict[str, Any]]:
    """Per target fingerprint: how its last delivery went (kind ok/failed, error, at)."""
    return {
        channel.removeprefix(DELIVERY): detail
        for (store, channel), detail in log.last_notified().items()
        if store is None and channel.startswith(DELIVERY)
    }


def failure_line(failures: Sequence[Delivery]) -> str | None:
    """One stderr line for every target that could not be reached (never a URL)."""
    if not failures:
        return None
    parts = "; ".join(f"{d.target.label}: {d.error}" for d in failures)
    return f"notify: not delivered to {parts}"
