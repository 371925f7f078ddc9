"""Announcing what validate and sync found: decide, send one message per target, record."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from soldscope_cli.db.interface import NotifiedLog
from soldscope_cli.fleet.listing import StoreRow
from soldscope_cli.notify.alerts import Alert, SyncOutcome, app_alerts, status_alerts, sync_alerts
from soldscope_cli.notify.message import compose
from soldscope_cli.notify.sender import Delivery, Notifier
from soldscope_cli.notify.targets import Target


def announce(
    notifier: Notifier, log: NotifiedLog, alerts: Sequence[Alert], clock: Callable[[], datetime]
) -> list[Delivery]:
    """Send each target one message of the alerts it wants; record those delivered somewhere.

    An alert is recorded as announced when a target that wants it took it (or none wants it), so
    one that no target could take is tried again on the next run. Returns the failed deliveries.
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
    if done:
        log.log_notified(clock(), [(a.store, a.state) for a in done])
    return [d for d in deliveries if not d.ok]


def announce_validation(
    notifier: Notifier,
    log: NotifiedLog,
    rows: Sequence[StoreRow],
    app_error: str | None,
    *,
    thresholds: Sequence[int],
    clock: Callable[[], datetime],
) -> list[Delivery]:
    """After validate: the app's rejection, else every store's status change."""
    if not notifier.targets:
        return []
    last = log.last_notified()
    alerts = app_alerts(app_error, last, checked=bool(rows))
    if app_error is None:
        alerts += status_alerts(rows, last, thresholds)
    return announce(notifier, log, alerts, clock)


def announce_sync(
    notifier: Notifier,
    log: NotifiedLog,
    rows: Sequence[StoreRow],
    outcomes: Sequence[SyncOutcome],
    app_error: str | None,
    *,
    thresholds: Sequence[int],
    clock: Callable[[], datetime],
) -> list[Delivery]:
    """After sync: the app's rejection, else status changes and failed or recovered syncs."""
    if not notifier.targets:
        return []
    last = log.last_notified()
    alerts = app_alerts(app_error, last, checked=bool(outcomes))
    if app_error is None:
        alerts += status_alerts(rows, last, thresholds) + sync_alerts(outcomes, last)
    return announce(notifier, log, alerts, clock)


def failure_line(failures: Sequence[Delivery]) -> str | None:
    """One stderr line for every target that could not be reached (never a URL)."""
    if not failures:
        return None
    parts = "; ".join(f"{d.target.label}: {d.error}" for d in failures)
    return f"notify: not delivered to {parts}"
