"""The metric families and calendar contents built from a fleet snapshot."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from icalendar import Calendar
from prometheus_client.parser import text_string_to_metric_families

from soldscope_cli.db.model import DataFigures, Problem, StoreState
from soldscope_cli.fleet.config import StoreRecord
from soldscope_cli.fleet.listing import build_row
from soldscope_cli.monitoring.ical import build_calendar, calendar_text, event_uid
from soldscope_cli.monitoring.metrics import metrics_text
from soldscope_cli.monitoring.snapshot import FleetSnapshot
from soldscope_cli.sync.freshness import health

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def snapshot(home_id: str = "ns-1") -> FleetSnapshot:
    fresh = StoreRecord("fresh-us", "na", ["US"], NOW - timedelta(days=10), "A1")
    soon = StoreRecord("soon-eu", "eu", ["DE"], NOW - timedelta(days=350), "A2")
    broken = StoreRecord('odd"name', "fe", ["JP"], NOW - timedelta(days=100), "A3")
    checked = NOW - timedelta(hours=2)
    rows = [
        build_row(fresh, StoreState(last_checked_at=checked, last_sync_at=checked), NOW),
        build_row(soon, None, NOW),
        build_row(
            broken,
            StoreState(
                problem=Problem("invalid_grant", "revoked", checked), last_checked_at=checked
            ),
            NOW,
        ),
    ]
    synced = NOW - timedelta(hours=3)
    datasets = [
        health(
            "fresh-us", DataFigures("inventory", 42, None, synced, None), timedelta(hours=36), NOW
        ),
        health("soon-eu", DataFigures("inventory", 0, None, None, None), timedelta(hours=36), NOW),
    ]
    return FleetSnapshot(
        now=NOW,
        rows=rows,
        datasets=datasets,
        secret_due_at=datetime(2026, 6, 1, tzinfo=UTC),
        home_id=home_id,
    )


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def key(name: str, **labels: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    return (name, tuple(sorted(labels.items())))


def test_store_families_carry_expiry_days_status_and_times() -> None:
    snap = snapshot()
    got = samples(metrics_text(snap))
    fresh = snap.rows[0]
    assert got[key("soldscope_store_expiry_timestamp_seconds", store="fresh-us", region="na")] == (
        fresh.expires_at.timestamp()
    )
    assert got[key("soldscope_store_days_left", store="soon-eu", region="eu")] == 15
    for status in ("active", "expiring_soon", "expired", "error"):
        value = got[key("soldscope_store_status", store="soon-eu", region="eu", status=status)]
        assert value == (1.0 if status == "expiring_soon" else 0.0)
    # label values are escaped by the library, and parse back whole
    assert got[key("soldscope_store_status", store='odd"name', region="fe", status="error")] == 1
    assert got[key("soldscope_store_last_check_timestamp_seconds", store="fresh-us", region="na")]
    assert (
        key("soldscope_store_last_check_timestamp_seconds", store="soon-eu", region="eu") not in got
    )


def test_dataset_and_app_families() -> None:
    got = samples(metrics_text(snapshot()))
    labels = {"store": "fresh-us", "region": "na", "dataset": "inventory"}
    assert got[key("soldscope_dataset_rows", **labels)] == 42
    assert (
        got[key("soldscope_dataset_last_success_timestamp_seconds", **labels)]
        == (NOW - timedelta(hours=3)).timestamp()
    )
    assert got[key("soldscope_dataset_stale", **labels)] == 0
    never = {"store": "soon-eu", "region": "eu", "dataset": "inventory"}
    assert got[key("soldscope_dataset_stale", **never)] == 1
    assert key("soldscope_dataset_last_success_timestamp_seconds", **never) not in got
    assert (
        got[key("soldscope_app_client_secret_rotation_due_timestamp_seconds")]
        == datetime(2026, 6, 1, tzinfo=UTC).timestamp()
    )


def test_metrics_hold_no_secret_or_seller_id() -> None:
    text = metrics_text(snapshot())
    assert "A1" not in text and "token" not in text.lower()


def test_calendar_has_one_event_per_store_and_one_for_the_secret() -> None:
    snap = snapshot()
    cal = Calendar.from_ical(calendar_text(snap))
    events = list(cal.walk("VEVENT"))
    assert len(events) == 4
    by_summary = {str(e["SUMMARY"]): e for e in events}
    soon = by_summary["Amazon authorization of soon-eu expires"]
    assert soon.decoded("DTSTART") == snap.rows[1].expires_at.date()
    assert soon.decoded("DTEND") - soon.decoded("DTSTART") == timedelta(days=1)
    assert "soldscope connect soon-eu" in str(soon["DESCRIPTION"])
    assert "soldscope invite soon-eu" in str(soon["DESCRIPTION"])
    (alarm,) = soon.walk("VALARM")
    assert alarm.decoded("TRIGGER") == -timedelta(days=30)
    secret = by_summary["Rotate the SP-API app's LWA client secret"]
    assert secret.decoded("DTSTART") == date(2026, 6, 1)


def test_uids_are_stable_per_home_and_store() -> None:
    first = [str(e["UID"]) for e in build_calendar(snapshot()).walk("VEVENT")]
    again = [str(e["UID"]) for e in build_calendar(snapshot()).walk("VEVENT")]
    other = [str(e["UID"]) for e in build_calendar(snapshot("ns-2")).walk("VEVENT")]
    assert first == again
    assert len(set(first)) == 4
    assert not set(first) & set(other)
    assert event_uid("ns-1", "store:soon-eu") in first


def test_a_self_authorized_store_is_renewed_by_import() -> None:
    snap = snapshot()
    record = StoreRecord("private", "na", ["US"], NOW, self_authorized=True)
    snap.rows.append(build_row(record, None, NOW))
    text = calendar_text(snap).replace("\r\n ", "")
    assert "soldscope connect private --refresh-token-stdin" in text
