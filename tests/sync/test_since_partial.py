"""`sync --since` that could not load everything it was asked for says so: never "ok"."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from soldscope_cli.simulator import Simulator, parse_scenario
from tests.sync.test_sync_e2e import OTHER, make_cli, scenario, sim  # noqa: F401  (the fixture)

pytestmark = pytest.mark.e2e

# 30 weeks back: more than Amazon lets one run request at once (15 reports).
SINCE = (datetime.now(UTC) - timedelta(weeks=30)).strftime("%Y-%m-%d")
ARGS = ("sync", "--dataset", "brand-analytics", "--since", SINCE, "--no-notify")


def test_a_backfill_left_for_the_next_runs_is_partial(
    tmp_path: Path,
    sim: Simulator,  # noqa: F811
) -> None:
    cli = make_cli(tmp_path / "json", sim, {"other-us": OTHER})
    first = cli.run(*ARGS, "--json", timeout=120)
    assert first.returncode == 3, first.stderr  # incomplete, nothing known bad
    report = json.loads(first.stdout)
    assert report["outcome"] == "partial"
    store = report["stores"][0]
    assert store["outcome"] == "partial", store
    dataset = store["datasets"][0]
    assert dataset["outcome"] == "partial"
    assert any("next syncs" in note for note in dataset["notes"]), dataset["notes"]
    # Another simulator: this one's createReport quota is spent (Amazon's is 1 a minute).
    with Simulator(parse_scenario(scenario())) as fresh:
        piped = make_cli(tmp_path / "plain", fresh, {"other-us": OTHER}).run(*ARGS, timeout=120)
    assert piped.returncode == 3, piped.stderr
    assert piped.stdout.startswith("other-us: partial "), piped.stdout
    assert "1 partial" in piped.stdout


def test_a_sync_without_since_that_leaves_reports_for_later_is_ok(
    tmp_path: Path,
    sim: Simulator,  # noqa: F811
) -> None:
    cli = make_cli(tmp_path, sim, {"other-us": OTHER})
    done = cli.run("sync", "--dataset", "brand-analytics", "--ba-weeks", "30", "--json")
    assert done.returncode == 0, done.stderr  # the regular run goes on next time: not news
    assert json.loads(done.stdout)["stores"][0]["outcome"] == "ok"
