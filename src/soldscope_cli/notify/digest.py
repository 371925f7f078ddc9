"""The weekly digest: what expires soon, what is broken, what is stale, in one message.

Unlike the alerts, a digest is not "once per change": it says the whole picture every time it
runs, so a week with nothing to report still proves that the alerts reach their targets.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from soldscope_cli import alert_kinds as kinds
from soldscope_cli.db.interface import NotifiedLog
from soldscope_cli.fleet.config import format_time
from soldscope_cli.fleet.listing import StoreRow
from soldscope_cli.notify.alerts import ROTATION_NOTICE, fix_command, span_text
from soldscope_cli.notify.announce import delivery_entries
from soldscope_cli.notify.sender import Delivery, Notifier
from soldscope_cli.notify.targets import Target
from soldscope_cli.status import Status
from soldscope_cli.sync.freshness import DatasetHealth

DEFAULT_WITHIN_DAYS = 30


@dataclass(frozen=True)
class Digest:
    """The fleet's open problems at one instant."""

    now: datetime
    within_days: int
    names: frozenset[str]  # every store the digest covers
    broken: list[StoreRow]
    expiring: list[StoreRow]
    stale: list[tuple[DatasetHealth, str]]  # and the store's region
    secret_due_at: datetime | None  # only when it is within ROTATION_NOTICE (or past)
    # Datasets the app lacks the role for, with the store's region and its renewal command.
    not_authorized: list[tuple[DatasetHealth, str, str]] = field(default_factory=list)

    def for_stores(self, names: Collection[str] | None) -> Digest:
        """The digest a target that follows only these stores gets (None: every store)."""
        if names is None:
            return self
        return Digest(
            self.now,
            self.within_days,
            self.names & frozenset(names),
            [r for r in self.broken if r.name in names],
            [r for r in self.expiring if r.name in names],
            [(d, region) for d, region in self.stale if d.store in names],
            self.secret_due_at,
            [item for item in self.not_authorized if item[0].store in names],
        )

    @property
    def stores(self) -> int:
        return len(self.names)

    @property
    def clean(self) -> bool:
        return not (
            self.broken or self.expiring or self.stale or self.secret_due_at or self.not_authorized
        )


def build_digest(
    rows: Sequence[StoreRow],
    datasets: Sequence[DatasetHealth],
    secret_due_at: datetime | None,
    now: datetime,
    within_days: int = DEFAULT_WITHIN_DAYS,
) -> Digest:
    """Broken stores first, then by days left; only datasets once synced count as stale."""
    regions = {row.name: row.record.region for row in rows}
    broken = sorted(
        (r for r in rows if r.status in (Status.ERROR, Status.EXPIRED)),
        key=lambda r: (r.status.rank, r.days_left, r.name),
    )
    expiring = sorted(
        (r for r in rows if not r.status.unhealthy and r.days_left <= within_days),
        key=lambda r: (r.days_left, r.name),
    )
    by_name = {row.name: row for row in rows}
    # A dataset the app may not read is listed once, with the renewal that fixes it: syncing it
    # again (the stale line's fix) cannot.
    stale = [
        (d, regions.get(d.store, "?"))
        for d in datasets
        if d.stale and d.last_sync_at is not None and not d.not_authorized
    ]
    refused = [
        (
            d,
            regions.get(d.store, "?"),
            fix_command(by_name[d.store])
            if d.store in by_name
            else kinds.NOT_AUTHORIZED.command(store=d.store) or "",
        )
        for d in datasets
        if d.not_authorized
    ]
    due = secret_due_at if secret_due_at and now >= secret_due_at - ROTATION_NOTICE else None
    return Digest(now, within_days, frozenset(regions), broken, expiring, stale, due, refused)


def _sync_command(item: DatasetHealth) -> str:
    return kinds.SYNC_DATASET.format(store=item.store, dataset=item.dataset)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def digest_message(digest: Digest) -> tuple[str, str]:
    """(title, body): plain text, one line per problem with the command that fixes it."""
    d = digest
    parts = [_plural(d.stores, "store")]
    if d.clean:
        parts.append("nothing to do")
    else:
        parts += [
            f"{len(d.broken)} broken",
            f"{len(d.expiring)} expiring within {d.within_days} days",
            _plural(len(d.stale), "stale dataset"),
        ]
        if d.not_authorized:
            parts.append(f"{_plural(len(d.not_authorized), 'dataset')} not authorized")
    title = "soldscope digest: " + ", ".join(parts)
    lines: list[str] = []
    if d.broken:
        lines.append(f"Broken ({len(d.broken)}):")
        for row in d.broken:
            what = row.status.value
            if row.problem is not None:
                what += f": {row.problem.code}"
            lines.append(f"  {row.name} ({row.record.region}): {what} — run: {fix_command(row)}")
    if d.expiring:
        lines.append(f"Expiring within {d.within_days} days ({len(d.expiring)}):")
        for row in d.expiring:
            lines.append(
                f"  {row.name} ({row.record.region}): {row.days_left} days left "
                f"(expires {row.expires_at:%Y-%m-%d}) — run: {fix_command(row)}"
            )
    if d.stale:
        lines.append(f"Stale ({len(d.stale)}):")
        for item, region in d.stale:
            lines.append(
                f"  {item.store} ({region}) {item.label}: last synced "
                f"{span_text(item.age or timedelta())} ago, limit {span_text(item.stale_after)} — run: "
                f"{_sync_command(item)}"
            )
    if d.not_authorized:
        lines.append(f"Not authorized ({len(d.not_authorized)}):")
        for item, region, command in d.not_authorized:
            lines.append(
                f"  {item.store} ({region}) {item.label}: the app lacks the role — run: {command}"
            )
    if d.secret_due_at is not None:
        days = (d.secret_due_at - d.now).days
        when = f"{days} days left" if days > 0 else "overdue"
        lines.append(
            f"App client secret: rotate by {d.secret_due_at:%Y-%m-%d} ({when}) — run: "
            f"{kinds.APP_FIX}"
        )
    if not lines:
        lines.append(
            f"Every store is active and none expires within {d.within_days} days; "
            "no synced data is stale."
        )
    return title, "\n".join(lines)


def digest_json(digest: Digest) -> dict[str, Any]:
    """The --json shape (docs/digest.md)."""
    d = digest
    return {
        "generated_at": format_time(d.now),
        "expiring_within_days": d.within_days,
        "stores": d.stores,
        "broken": [
            {
                "name": r.name,
                "region": r.record.region,
                "status": r.status.value,
                "error": None if r.problem is None else r.problem.code,
                "days_left": r.days_left,
                "command": fix_command(r),
            }
            for r in d.broken
        ],
        "expiring": [
            {
                "name": r.name,
                "region": r.record.region,
                "days_left": r.days_left,
                "expires_at": format_time(r.expires_at),
                "command": fix_command(r),
            }
            for r in d.expiring
        ],
        "stale": [
            {
                "name": item.store,
                "region": region,
                "dataset": item.dataset,
                "last_sync_at": None
                if item.last_sync_at is None
                else format_time(item.last_sync_at),
                "stale_after_hours": round(item.stale_after.total_seconds() / 3600, 1),
                "command": _sync_command(item),
            }
            for item, region in d.stale
        ],
        "not_authorized": [
            {"name": item.store, "region": region, "dataset": item.dataset, "command": command}
            for item, region, command in d.not_authorized
        ],
        "client_secret_due_at": None if d.secret_due_at is None else format_time(d.secret_due_at),
    }


def send_digest(
    notifier: Notifier, log: NotifiedLog, digest: Digest, clock: Callable[[], datetime]
) -> list[Delivery]:
    """One message per target that takes digests, limited to the stores it follows.

    Returns every delivery (the failed ones are reported); each is recorded for doctor.
    """
    messages: list[tuple[Target, str, str]] = []
    for target in notifier.targets:
        if target.wants("digest", None):
            messages.append((target, *digest_message(digest.for_stores(target.rule.stores))))
    if not messages:
        return []
    deliveries = notifier.deliver(messages)
    now = clock()
    log.log_notified(now, delivery_entries(deliveries, now))
    return deliveries
