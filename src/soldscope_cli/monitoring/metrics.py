"""The Prometheus exposition of a FleetSnapshot (`soldscope metrics`, serve's /metrics).

prometheus_client is the reference Python client: its text format is what node_exporter's
textfile collector and Prometheus parse, escaping of label values included, so nothing here
builds exposition lines by hand. A custom collector in a private CollectorRegistry reports the
snapshot as it is (no process or platform metrics, no state kept between scrapes).
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from soldscope_cli.monitoring.snapshot import FleetSnapshot
from soldscope_cli.status import Status

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
STATUSES = (Status.ACTIVE, Status.EXPIRING_SOON, Status.EXPIRED, Status.ERROR)


class FleetCollector(Collector):
    """Gauges for every store and dataset of one snapshot."""

    def __init__(self, snapshot: FleetSnapshot) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[GaugeMetricFamily]:
        snap = self.snapshot
        store = ["store", "region"]
        expiry = GaugeMetricFamily(
            "soldscope_store_expiry_timestamp_seconds",
            "When the store's 365-day authorization expires (unix time).",
            labels=store,
        )
        days = GaugeMetricFamily(
            "soldscope_store_days_left",
            "Whole days left before the authorization expires (negative once expired).",
            labels=store,
        )
        status = GaugeMetricFamily(
            "soldscope_store_status",
            "1 for the store's current status, 0 for the others.",
            labels=[*store, "status"],
        )
        checked = GaugeMetricFamily(
            "soldscope_store_last_check_timestamp_seconds",
            "When the store was last checked live (unix time; absent if never).",
            labels=store,
        )
        synced = GaugeMetricFamily(
            "soldscope_store_last_sync_timestamp_seconds",
            "When the store last synced (unix time; absent if never).",
            labels=store,
        )
        for row in snap.rows:
            labels = [row.name, row.record.region]
            expiry.add_metric(labels, row.expires_at.timestamp())
            days.add_metric(labels, row.days_left)
            for each in STATUSES:
                status.add_metric([*labels, each.value], 1.0 if row.status is each else 0.0)
            if row.last_checked_at is not None:
                checked.add_metric(labels, row.last_checked_at.timestamp())
            if row.last_sync_at is not None:
                synced.add_metric(labels, row.last_sync_at.timestamp())
        yield from (expiry, days, status, checked, synced)

        dataset = [*store, "dataset"]
        last_ok = GaugeMetricFamily(
            "soldscope_dataset_last_success_timestamp_seconds",
            "When the dataset last synced successfully (unix time; absent if never).",
            labels=dataset,
        )
        rows = GaugeMetricFamily(
            "soldscope_dataset_rows", "Rows the state database holds.", labels=dataset
        )
        stale = GaugeMetricFamily(
            "soldscope_dataset_stale",
            "1 when the last successful sync is older than its [stale] limit, or never happened.",
            labels=dataset,
        )
        stale_after = GaugeMetricFamily(
            "soldscope_dataset_stale_after_seconds",
            "The dataset's [stale] limit from config.toml.",
            labels=dataset,
        )
        for health in snap.datasets:
            labels = [health.store, snap.region_of(health.store), health.dataset]
            if health.last_sync_at is not None:
                last_ok.add_metric(labels, health.last_sync_at.timestamp())
            rows.add_metric(labels, health.rows)
            stale.add_metric(labels, 1.0 if health.stale else 0.0)
            stale_after.add_metric(labels, health.stale_after.total_seconds())
        yield from (last_ok, rows, stale, stale_after)

        due = GaugeMetricFamily(
            "soldscope_app_client_secret_rotation_due_timestamp_seconds",
            "When the app's LWA client secret must be rotated (180 days after it was set; "
            "absent when unknown).",
        )
        if snap.secret_due_at is not None:
            due.add_metric([], snap.secret_due_at.timestamp())
        yield due
        yield GaugeMetricFamily(
            "soldscope_metrics_generated_timestamp_seconds",
            "When these metrics were computed (unix time).",
            value=snap.now.timestamp(),
        )


def registry_for(snapshot: FleetSnapshot) -> CollectorRegistry:
    """A private registry holding only the fleet's gauges."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FleetCollector(snapshot))
    return registry


def metrics_text(snapshot: FleetSnapshot) -> str:
    """The Prometheus text exposition format."""
    return generate_latest(registry_for(snapshot)).decode("utf-8")
