"""What is new to announce: pure functions of the current facts and what was last announced.

Each alert belongs to a channel (a store's status, a store's sync, the app) and carries the state
it announces; a `notified` event with that state is written once it was delivered, so the same
state is never announced twice, and a crash between sending and recording repeats one alert.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from soldscope_cli.fleet.listing import StoreRow
from soldscope_cli.status import INVALID_GRANT, MARKETPLACE_MISMATCH, MISSING_TOKEN, Status

STATUS, SYNC, APP = "status", "sync", "app"
APP_FIX = "soldscope app set --client-secret-stdin"

Last = Mapping[tuple[str | None, str], Mapping[str, Any]]


@dataclass(frozen=True)
class Alert:
    """One thing to tell: its event (as [[notify]] events name them), store and the fix."""

    event: str  # error, expired, expiring, recovered, sync_failed, app_rejected
    store: str | None
    headline: str  # "bolt-us (na): error"
    detail: str
    command: str | None
    channel: str
    state: dict[str, Any] = field(default_factory=dict)  # what the `notified` event records


def _state(channel: str, kind: str, **extra: Any) -> dict[str, Any]:
    return {"channel": channel, "kind": kind, **{k: v for k, v in extra.items() if v is not None}}


def _same(last: Mapping[str, Any] | None, state: Mapping[str, Any]) -> bool:
    return last is not None and all(last.get(k) == v for k, v in state.items())


def fix_command(row: StoreRow) -> str:
    """The one command that fixes a store in error, expired or expiring soon."""
    name = row.name
    code = row.problem.code if row.problem else None
    if code == MISSING_TOKEN or (row.record.self_authorized and code in (None, INVALID_GRANT)):
        return f"soldscope connect {name} --refresh-token-stdin"
    if code == MARKETPLACE_MISMATCH:
        return f"soldscope connect {name} --marketplace CC"
    return f"soldscope connect {name}"


def expiring_threshold(days_left: int, thresholds: Sequence[int]) -> int | None:
    """The smallest threshold the days left are within: 25 days of (30, 7) is 30, 5 is 7."""
    within = [t for t in thresholds if days_left <= t]
    return min(within) if within else None


def status_alerts(rows: Iterable[StoreRow], last: Last, thresholds: Sequence[int]) -> list[Alert]:
    """Stores that entered error, expired or an expiring threshold, or recovered to active."""
    alerts: list[Alert] = []
    for row in rows:
        before = last.get((row.name, STATUS))
        where = f"{row.name} ({row.record.region})"
        days = f"{row.days_left} days left" if row.days_left > 0 else "expired"
        if row.status == Status.ERROR and row.problem is not None:
            state = _state(STATUS, "error", code=row.problem.code)
            text = f"{row.problem.code}: {row.problem.message}".rstrip(": ")
            alert = Alert(
                "error",
                row.name,
                f"{where}: error",
                f"{text} ({days})",
                fix_command(row),
                STATUS,
                state,
            )
        elif row.status == Status.EXPIRED:
            state = _state(STATUS, "expired")
            alert = Alert(
                "expired",
                row.name,
                f"{where}: expired",
                "the 365-day authorization ran out; no data syncs until it is renewed",
                fix_command(row),
                STATUS,
                state,
            )
        elif row.status == Status.EXPIRING_SOON:
            threshold = expiring_threshold(row.days_left, thresholds)
            if threshold is None:
                continue
            state = _state(STATUS, "expiring", threshold=threshold)
            alert = Alert(
                "expiring",
                row.name,
                f"{where}: expiring soon",
                f"{row.days_left} days left (expires {row.expires_at:%Y-%m-%d})",
                fix_command(row),
                STATUS,
                state,
            )
        else:
            state = _state(STATUS, "recovered")
            if before is None or before.get("kind") == "recovered":
                continue  # never announced as a problem: nothing to recover from
            alert = Alert(
                "recovered",
                row.name,
                f"{where}: active again",
                f"{days}; checks pass",
                None,
                STATUS,
                state,
            )
        if not _same(before, state):
            alerts.append(alert)
    return alerts


@dataclass(frozen=True)
class SyncOutcome:
    """What sync did for one store, as alerts need it."""

    store: str
    region: str
    failed: bool
    reason: str | None = None


def sync_alerts(outcomes: Iterable[SyncOutcome], last: Last) -> list[Alert]:
    """Stores whose sync failed (once until one succeeds again), and those that recovered."""
    alerts: list[Alert] = []
    for outcome in outcomes:
        before = last.get((outcome.store, SYNC))
        was_failing = before is not None and before.get("kind") == "failed"
        where = f"{outcome.store} ({outcome.region})"
        if outcome.failed and not was_failing:
            alerts.append(
                Alert(
                    "sync_failed",
                    outcome.store,
                    f"{where}: sync failed",
                    outcome.reason or "a dataset could not be synced",
                    f"soldscope sync {outcome.store}",
                    SYNC,
                    _state(SYNC, "failed"),
                )
            )
        elif not outcome.failed and was_failing:
            alerts.append(
                Alert(
                    "recovered",
                    outcome.store,
                    f"{where}: sync works again",
                    "the last sync succeeded",
                    None,
                    SYNC,
                    _state(SYNC, "recovered"),
                )
            )
    return alerts


def app_alerts(app_error: str | None, last: Last, *, checked: bool) -> list[Alert]:
    """The app's client credentials rejected: one app-level alert, never one per store."""
    before = last.get((None, APP))
    rejected = before is not None and before.get("kind") == "rejected"
    if app_error is not None and not rejected:
        return [
            Alert(
                "app_rejected",
                None,
                "the app's client credentials were rejected",
                f"Login with Amazon: {app_error}; no store can be checked or synced",
                APP_FIX,
                APP,
                _state(APP, "rejected"),
            )
        ]
    if app_error is None and checked and rejected:
        return [
            Alert(
                "recovered",
                None,
                "the app's client credentials work again",
                "Login with Amazon accepts them",
                None,
                APP,
                _state(APP, "recovered"),
            )
        ]
    return []
