"""Settlements' freshness: stale by the newest settlement, and the alert before Amazon's 90-day
listing window loses them."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from soldscope_cli import alert_kinds as kinds
from soldscope_cli.datasets.spec import LISTED_AT
from soldscope_cli.db.model import DataFigures, to_db_time
from soldscope_cli.notify.alerts import StaleDataset, listing_alerts, stale_alerts
from soldscope_cli.sync.freshness import LISTING_OLD, health

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
LIMIT = timedelta(days=21)


def figures(
    newest: datetime | None, listed: datetime | None, dataset: str = "settlements"
) -> DataFigures:
    return DataFigures(
        dataset,
        10,
        None if newest is None else to_db_time(newest),
        NOW - timedelta(hours=1),  # synced an hour ago
        "ok",
        marks={} if listed is None else {LISTED_AT: to_db_time(listed)},
    )


def test_settlements_go_stale_by_their_newest_settlement_though_synced_an_hour_ago() -> None:
    old = health("acme-de", figures(NOW - timedelta(days=22), NOW), LIMIT, NOW)
    assert old.stale and old.newest_age == timedelta(days=22)
    recent = health("acme-de", figures(NOW - timedelta(days=20), NOW), LIMIT, NOW)
    assert not recent.stale
    # None loaded yet (a new seller): the last sync decides, as for any dataset.
    assert not health("acme-de", figures(None, NOW), LIMIT, NOW).stale
    # Other datasets keep judging by their last sync only.
    finances = health("acme-de", figures(NOW - timedelta(days=90), None, "finances"), LIMIT, NOW)
    assert not finances.stale


def test_a_listing_older_than_60_days_is_a_problem_data_shows() -> None:
    item = health("acme-de", figures(NOW, NOW - timedelta(days=61)), LIMIT, NOW)
    [problem] = item.problems
    assert problem.code == LISTING_OLD
    assert problem.message.startswith("last listed 61 days ago: Amazon lists settlements for 90")
    assert health("acme-de", figures(NOW, NOW - timedelta(days=59)), LIMIT, NOW).problems == []


def dataset(listed: datetime | None) -> StaleDataset:
    return StaleDataset(
        "acme-de",
        "eu",
        "settlements",
        "Settlements",
        False,
        True,
        timedelta(hours=1),
        LIMIT,
        listed_at=listed,
        listing_alert=timedelta(days=60),
    )


def test_the_listing_alert_is_sent_once_and_its_recovery_once() -> None:
    [alert] = listing_alerts([dataset(NOW - timedelta(days=61))], {}, NOW)
    assert alert.kind is kinds.LISTING_OLD
    assert "about to fall out of Amazon's 90-day window" in alert.headline
    assert alert.command == "soldscope sync acme-de --dataset settlements"
    told = {("acme-de", alert.channel): alert.state}
    assert listing_alerts([dataset(NOW - timedelta(days=62))], told, NOW) == []
    [back] = listing_alerts([dataset(NOW - timedelta(hours=1))], told, NOW)
    assert back.kind is kinds.RECOVERED
    # Never listed (never synced, or not authorized): not this alert's news.
    assert listing_alerts([dataset(None)], {}, NOW) == []


def test_a_settlement_stale_by_its_newest_says_so() -> None:
    item = replace(dataset(NOW), stale=True, newest_age=timedelta(days=30))
    [alert] = stale_alerts([item], {})
    assert alert.detail == "the newest is 30 days old; the limit is 21 days"
