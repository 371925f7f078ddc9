"""What is new to announce: pure functions of the current facts and what was last announced.

Each alert belongs to a channel (a store's status, a store's sync, the app) and carries the state
it announces; a `notified` event with that state is written once it was delivered, so the same
state is never announced twice, and a crash between sending and recording repeats one alert.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from soldscope_cli import alert_kinds as kinds
from soldscope_cli.fleet.listing import StoreRow
from soldscope_cli.status import INVALID_GRANT, MARKETPLACE_MISMATCH, MISSING_TOKEN, Status

STATUS, SYNC, APP, ROTATION, INVITATION = "status", "sync", "app", "app-secret", "invitation"
STALE = "stale:"  # + the dataset: each of a store's datasets is its own channel
LISTING = "listing:"  # + the dataset: a listed dataset's listing age
ROLE = "role:"  # + the dataset: whether the app may read it, per store and dataset
# The client secret's rotation is announced this long before Amazon expires it.
ROTATION_NOTICE = timedelta(days=30)

Last = Mapping[tuple[str | None, str], Mapping[str, Any]]


@dataclass(frozen=True)
class Alert:
    """One thing to tell: its kind, store and the fix."""

    kind: kinds.AlertKind
    store: str | None
    headline: str  # "bolt-us (na): error"
    detail: str
    command: str | None
    channel: str
    state: dict[str, Any] = field(default_factory=dict)  # what the `notified` event records
    invite: str | None = None  # the other fix: a renewal link the seller clicks

    @property
    def event(self) -> str:
        """The kind's name, as [[notify]] events choose it."""
        return self.kind.name


def _state(channel: str, kind: str, **extra: Any) -> dict[str, Any]:
    return {"channel": channel, "kind": kind, **{k: v for k, v in extra.items() if v is not None}}


def _same(last: Mapping[str, Any] | None, state: Mapping[str, Any]) -> bool:
    return last is not None and all(last.get(k) == v for k, v in state.items())


def fix_command(row: StoreRow) -> str:
    """The one command that fixes a store in error, expired or expiring soon."""
    connect = kinds.CONNECT.format(store=row.name)
    code = row.problem.code if row.problem else None
    if code == MISSING_TOKEN or (row.record.self_authorized and code in (None, INVALID_GRANT)):
        return f"{connect} --refresh-token-stdin"
    if code == MARKETPLACE_MISMATCH:
        return f"{connect} --marketplace CC"
    return connect


def invite_command(row: StoreRow) -> str | None:
    """`soldscope invite NAME` when a seller's consent renews the store, else None.

    A self-authorized store is renewed from Seller Central by its owner, not through a link, and a
    marketplace mismatch needs the marketplaces given to `connect`.
    """
    code = row.problem.code if row.problem else None
    if row.record.self_authorized or code in (MISSING_TOKEN, MARKETPLACE_MISMATCH):
        return None
    return f"soldscope invite {row.name}"


def skipped_by_sync(row: StoreRow) -> bool:
    """Whether `soldscope sync` skips the store (sync/runner.skip_reason): only a renewal helps."""
    return row.status in (Status.ERROR, Status.EXPIRED)


def expiring_threshold(days_left: int, thresholds: Sequence[int]) -> int | None:
    """The smallest threshold the days left are within: 25 days of (30, 7) is 30, 5 is 7."""
    within = [t for t in thresholds if days_left <= t]
    return min(within) if within else None


def _was(last: Last, store: str | None, channel: str, kind: str) -> bool:
    """Whether the last alert sent on this store's channel was of `kind`."""
    before = last.get((store, channel))
    return before is not None and before.get("kind") == kind


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
                kinds.ERROR,
                row.name,
                f"{where}: error",
                f"{text} ({days})",
                fix_command(row),
                STATUS,
                state,
                invite=invite_command(row),
            )
        elif row.status == Status.EXPIRED:
            state = _state(STATUS, "expired")
            alert = Alert(
                kinds.EXPIRED,
                row.name,
                f"{where}: expired",
                "the 365-day authorization ran out; no data syncs until it is renewed",
                fix_command(row),
                STATUS,
                state,
                invite=invite_command(row),
            )
        elif row.status == Status.EXPIRING_SOON:
            threshold = expiring_threshold(row.days_left, thresholds)
            if threshold is None:
                continue
            state = _state(STATUS, "expiring", threshold=threshold)
            alert = Alert(
                kinds.EXPIRING,
                row.name,
                f"{where}: expiring soon",
                f"{row.days_left} days left (expires {row.expires_at:%Y-%m-%d})",
                fix_command(row),
                STATUS,
                state,
                invite=invite_command(row),
            )
        else:
            state = _state(STATUS, "recovered")
            if before is None or before.get("kind") == "recovered":
                continue  # never announced as a problem: nothing to recover from
            alert = Alert(
                kinds.RECOVERED,
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
    fix: str | None = None  # when `sync NAME` cannot help (sync skips the store now)
    invite: str | None = None


def sync_outcome(
    store: str, region: str, failed: bool, reason: str | None, row: StoreRow | None
) -> SyncOutcome:
    """What sync did for a store; a failure that left it in error or expired (which the next sync
    skips) is fixed by a renewal, not by `soldscope sync NAME`."""
    if failed and row is not None and skipped_by_sync(row):
        return SyncOutcome(
            store, region, failed, reason, fix=fix_command(row), invite=invite_command(row)
        )
    return SyncOutcome(store, region, failed, reason)


def sync_alerts(outcomes: Iterable[SyncOutcome], last: Last) -> list[Alert]:
    """Stores whose sync failed (once until one succeeds again), and those that recovered."""
    alerts: list[Alert] = []
    for outcome in outcomes:
        was_failing = _was(last, outcome.store, SYNC, "failed")
        where = f"{outcome.store} ({outcome.region})"
        if outcome.failed and not was_failing:
            alerts.append(
                Alert(
                    kinds.SYNC_FAILED,
                    outcome.store,
                    f"{where}: sync failed",
                    outcome.reason or "a dataset could not be synced",
                    outcome.fix or kinds.SYNC_FAILED.command(store=outcome.store),
                    SYNC,
                    _state(SYNC, "failed"),
                    invite=outcome.invite,
                )
            )
        elif not outcome.failed and was_failing:
            alerts.append(
                Alert(
                    kinds.RECOVERED,
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
    rejected = _was(last, None, APP, "rejected")
    if app_error is not None and not rejected:
        return [
            Alert(
                kinds.APP_REJECTED,
                None,
                "the app's client credentials were rejected",
                f"Login with Amazon: {app_error}; no store can be checked or synced",
                kinds.APP_REJECTED.command(),
                APP,
                _state(APP, "rejected"),
            )
        ]
    if app_error is None and checked and rejected:
        return [
            Alert(
                kinds.RECOVERED,
                None,
                "the app's client credentials work again",
                "Login with Amazon accepts them",
                None,
                APP,
                _state(APP, "recovered"),
            )
        ]
    return []


@dataclass(frozen=True)
class StaleDataset:
    """One store's dataset as the stale alert needs it."""

    store: str
    region: str
    dataset: str
    label: str  # "Brand Analytics"
    stale: bool
    synced_once: bool
    age: timedelta | None
    stale_after: timedelta
    fix: str | None = None  # when `sync NAME` cannot help (sync skips the store now)
    invite: str | None = None
    # A dataset Amazon lists only for a while: its last successful listing, and how old that
    # may get (None for the others).
    listed_at: datetime | None = None
    listing_alert: timedelta | None = None
    # A dataset stale by its newest data point (settlements): how old that point is.
    newest_age: timedelta | None = None


def span_text(span: timedelta) -> str:
    """A data age as people say it: hours up to three days, then days."""
    hours = span.total_seconds() / 3600
    return f"{hours / 24:.0f} days" if hours >= 72 else f"{hours:.0f} h"


def stale_alerts(datasets: Iterable[StaleDataset], last: Last) -> list[Alert]:
    """Datasets that stopped being synced in time, once, and again when they are fresh.

    Only a dataset that was synced successfully at least once can go stale: a home that never
    syncs (validate only) or a store connected a minute ago is not news.
    """
    alerts: list[Alert] = []
    for item in datasets:
        channel = STALE + item.dataset
        was_stale = _was(last, item.store, channel, "stale")
        where = f"{item.store} ({item.region})"
        if item.stale and item.synced_once and not was_stale and item.age is not None:
            alerts.append(
                Alert(
                    kinds.STALE,
                    item.store,
                    f"{where}: {item.label} data is stale",
                    (
                        f"the newest is {span_text(item.newest_age)} old"
                        if item.newest_age is not None and item.newest_age > item.stale_after
                        else f"last synced {span_text(item.age)} ago"
                    )
                    + f"; the limit is {span_text(item.stale_after)}",
                    item.fix or kinds.STALE.command(store=item.store, dataset=item.dataset),
                    channel,
                    _state(channel, "stale"),
                    invite=item.invite,
                )
            )
        elif not item.stale and was_stale:
            alerts.append(
                Alert(
                    kinds.RECOVERED,
                    item.store,
                    f"{where}: {item.label} data is fresh again",
                    f"synced {span_text(item.age or timedelta())} ago",
                    None,
                    channel,
                    _state(channel, "fresh"),
                )
            )
    return alerts


def listing_alerts(datasets: Iterable[StaleDataset], last: Last, now: datetime) -> list[Alert]:
    """Datasets Amazon lists only for a while (settlements: 90 days) whose last successful
    listing is older than their limit: announced once, and again when listed again."""
    alerts: list[Alert] = []
    for item in datasets:
        if item.listing_alert is None or item.listed_at is None:
            continue
        channel = LISTING + item.dataset
        was_old = _was(last, item.store, channel, "listing_old")
        where = f"{item.store} ({item.region})"
        age = now - item.listed_at
        if age > item.listing_alert and not was_old:
            alerts.append(
                Alert(
                    kinds.LISTING_OLD,
                    item.store,
                    f"{where}: {item.label} are about to fall out of Amazon's 90-day window",
                    f"last listed {span_text(age)} ago; Amazon lists them for 90 days only",
                    item.fix or kinds.LISTING_OLD.command(store=item.store, dataset=item.dataset),
                    channel,
                    _state(channel, "listing_old"),
                    invite=item.invite,
                )
            )
        elif age <= item.listing_alert and was_old:
            alerts.append(
                Alert(
                    kinds.RECOVERED,
                    item.store,
                    f"{where}: {item.label} listed again",
                    f"listed {span_text(age)} ago",
                    None,
                    channel,
                    _state(channel, "listed"),
                )
            )
    return alerts


@dataclass(frozen=True)
class DatasetAccess:
    """Whether a store's dataset was readable in the last sync, as the role alert needs it.

    Only conclusive outcomes count: synced (authorized) or refused for a missing role; a dataset
    that failed for another reason says nothing about its role.
    """

    store: str
    region: str
    dataset: str
    label: str  # "Finances"
    authorized: bool
    reason: str | None = None  # sync's words for the refusal
    fix: str | None = None
    invite: str | None = None


def dataset_access(
    store: str,
    region: str,
    dataset: str,
    label: str,
    authorized: bool,
    reason: str | None,
    row: StoreRow | None,
) -> DatasetAccess:
    """One dataset's access; a refused one is fixed by the seller's new consent (once the role is
    added to the app), as the store's own renewal command says."""
    if authorized or row is None:
        return DatasetAccess(store, region, dataset, label, authorized, reason)
    return DatasetAccess(
        store,
        region,
        dataset,
        label,
        authorized,
        reason,
        fix=fix_command(row),
        invite=invite_command(row),
    )


def role_alerts(items: Iterable[DatasetAccess], last: Last) -> list[Alert]:
    """Datasets the app lost the role for (once), and again when they sync again."""
    alerts: list[Alert] = []
    for item in items:
        channel = ROLE + item.dataset
        was_refused = _was(last, item.store, channel, "not_authorized")
        where = f"{item.store} ({item.region})"
        if not item.authorized and not was_refused:
            alerts.append(
                Alert(
                    kinds.NOT_AUTHORIZED,
                    item.store,
                    f"{where}: {item.label} not authorized",
                    item.reason
                    or f"the app is not authorized for {item.dataset} data of this store",
                    item.fix or kinds.NOT_AUTHORIZED.command(store=item.store),
                    channel,
                    _state(channel, "not_authorized"),
                    invite=item.invite,
                )
            )
        elif item.authorized and was_refused:
            alerts.append(
                Alert(
                    kinds.RECOVERED,
                    item.store,
                    f"{where}: {item.label} authorized again",
                    "the last sync of it succeeded",
                    None,
                    channel,
                    _state(channel, "authorized"),
                )
            )
    return alerts


def rotation_alerts(
    due_at: datetime | None, now: datetime, last: Last, *, queue: bool = False
) -> list[Alert]:
    """The app's client secret within 30 days of its 180-day expiry: once per secret.

    The due date is part of the announced state, so the next secret's rotation is announced too.
    queue: a rotation queue is set up, so `soldscope app rotate` gets the new secret from Amazon;
    without one it is rotated in the Solution Provider Portal and stored with `app set`.
    """
    if due_at is None or now < due_at - ROTATION_NOTICE:
        return []
    due = f"{due_at:%Y-%m-%d}"
    state = _state(ROTATION, "due", due=due)
    if _same(last.get((None, ROTATION)), state):
        return []
    days = (due_at - now).days
    when = f"in {days} days" if days > 0 else "now: Amazon may reject it any moment"
    how = (
        "rotate it with `soldscope app rotate` (sync --watch and serve do it on their own)"
        if queue
        else "rotate it in the Solution Provider Portal, then store the new one"
    )
    return [
        Alert(
            kinds.ROTATION_DUE,
            None,
            "the app's client secret must be rotated",
            f"Amazon expires it on {due}, {when}; {how}",
            kinds.ROTATE_FIX if queue else kinds.ROTATION_DUE.command(),
            ROTATION,
            state,
        )
    ]


def invitation_alert(
    store: str, region: str, selling_partner_id: str, invitation_id: int, *, renewed: bool
) -> Alert:
    """A client used an invitation link: a store connected or renewed without an operator."""
    verb = "renewed" if renewed else "connected"
    return Alert(
        kinds.INVITATION_USED,
        store,
        f"{store} ({region}): {verb} through its invitation link",
        f"seller {selling_partner_id} authorized the app",
        kinds.INVITATION_USED.command(store=store),
        INVITATION,
        _state(INVITATION, "used", invitation=invitation_id),
    )


def secret_rotated_alert(
    at: datetime, expires_at: datetime | None, *, requested: bool, proven_with: str | None
) -> Alert:
    """The app's client secret was rotated and the new one stored (every host uses it)."""
    when = f"{at:%Y-%m-%d %H:%M} UTC"
    until = f"; Amazon expires it on {expires_at:%Y-%m-%d}" if expires_at else ""
    how = "requested by soldscope" if requested else "rotated in Solution Provider Portal"
    proof = f", proven with {proven_with}" if proven_with else ""
    return Alert(
        kinds.SECRET_ROTATED,
        None,
        "the app's client secret was rotated",
        f"a new secret ({how}{proof}) is stored since {when}{until}",
        kinds.SECRET_ROTATED.command(),
        ROTATION,
        _state(ROTATION, "rotated", at=at.isoformat(timespec="seconds")),
    )


def rotation_failed_alert(reason: str, at: datetime, deadline: datetime | None) -> Alert:
    """A rotation did not complete: the secret in use stays, and stops working at `deadline`."""
    what = {
        "lost": "Amazon rotated the client secret but its message never reached the queue",
        "refused": "Login with Amazon refused the new client secret, so it was not stored",
    }.get(reason, "the client secret's rotation did not complete")
    by = f"; Amazon stops accepting it by {deadline:%Y-%m-%d %H:%M} UTC" if deadline else ""
    return Alert(
        kinds.ROTATION_FAILED,
        None,
        "the app's client secret was not rotated",
        f"{what}. The current secret stays in use{by}. Check the queue and the app's "
        "notification preferences (docs/rotation.md)",
        kinds.ROTATION_FAILED.command(),
        ROTATION,
        _state(ROTATION, "failed", reason=reason, at=at.isoformat(timespec="seconds")),
    )
