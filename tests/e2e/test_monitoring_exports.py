"""`soldscope metrics` and `soldscope calendar` through the installed command."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime, timedelta

import pytest
from icalendar import Calendar
from prometheus_client.parser import text_string_to_metric_families
from tests.e2e.conftest import Cli

from soldscope_cli.datasets import registry

pytestmark = pytest.mark.e2e

STORE = (
    '[stores.{name}]\nregion = "{region}"\nmarketplaces = ["{market}"]\nauthorized_at = {when}\n'
)


def home_with_stores(cli: Cli) -> None:
    now = datetime.now(UTC)
    stores = [
        ("fresh-us", "na", "US", 5),
        ("soon-eu", "eu", "DE", 350),
        ("old-jp", "fe", "JP", 400),
    ]
    text = '[secrets]\nnamespace = "0123456789abcdef"\n\n' + "\n".join(
        STORE.format(
            name=name,
            region=region,
            market=market,
            when=(now - timedelta(days=age)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        for name, region, market, age in stores
    )
    (cli.home / "config").mkdir(parents=True)
    (cli.home / "config" / "config.toml").write_text(text)


def by_labels(text: str, name: str) -> dict[tuple[str, ...], float]:
    found: dict[tuple[str, ...], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name:
                found[tuple(s.labels[k] for k in sorted(s.labels))] = s.value
    return found


def test_metrics_match_list_json(cli: Cli) -> None:
    home_with_stores(cli)
    listed = json.loads(cli.run("list", "--json").stdout)
    result = cli.run("metrics")
    assert result.returncode == 0, result.stderr
    days = by_labels(result.stdout, "soldscope_store_days_left")
    expiry = by_labels(result.stdout, "soldscope_store_expiry_timestamp_seconds")
    status = by_labels(result.stdout, "soldscope_store_status")
    assert len(days) == len(listed) == 3
    for store in listed:
        labels = (store["region"], store["name"])
        assert days[labels] == store["days_left"]
        expires = datetime.strptime(store["expires_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        assert expiry[labels] == expires.timestamp()
        current = [s for (_, s, n), v in status.items() if n == store["name"] and v == 1]
        assert current == [store["status"]]
    assert {s["status"] for s in listed} == {"active", "expiring_soon", "expired"}
    rows = by_labels(result.stdout, "soldscope_dataset_rows")
    assert len(rows) == 3 * len(registry.NAMES)  # every store, every dataset


def test_textfile_is_written_atomically_and_readable(cli: Cli) -> None:
    home_with_stores(cli)
    target = cli.home / "textfile" / "soldscope.prom"
    target.parent.mkdir(parents=True, exist_ok=True)  # soldscope never creates it
    result = cli.run("metrics", "--textfile", str(target))
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert os.listdir(target.parent) == ["soldscope.prom"]  # no temp file left behind
    printed = cli.run("metrics").stdout
    drop = "soldscope_metrics_generated_timestamp_seconds "
    same = [line for line in printed.splitlines() if not line.startswith(drop)]
    written = [line for line in target.read_text().splitlines() if not line.startswith(drop)]
    assert written == same


def test_calendar_has_one_event_per_store_with_stable_uids(cli: Cli) -> None:
    home_with_stores(cli)
    listed = {s["name"]: s for s in json.loads(cli.run("list", "--json").stdout)}
    first = cli.run("calendar")
    assert first.returncode == 0, first.stderr
    events = list(Calendar.from_ical(first.stdout).walk("VEVENT"))
    assert len(events) == 3  # no client secret set: no rotation event
    for event in events:
        name = str(event["SUMMARY"]).split(" of ")[1].split(" ")[0]
        assert event.decoded("DTSTART").isoformat() == listed[name]["expires_at"][:10]
        assert f"soldscope connect {name}" in str(event["DESCRIPTION"])
    target = cli.home / "out" / "renewals.ics"
    target.parent.mkdir(parents=True, exist_ok=True)  # soldscope never creates it
    second = cli.run("calendar", "--output", str(target))
    assert second.returncode == 0, second.stderr
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    again = list(Calendar.from_ical(target.read_text()).walk("VEVENT"))
    assert sorted(str(e["UID"]) for e in again) == sorted(str(e["UID"]) for e in events)
