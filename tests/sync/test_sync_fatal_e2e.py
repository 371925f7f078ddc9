"""The installed `soldscope sync` when Amazon answers FATAL: its reason reaches the user and stays."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from soldscope_cli.simulator import Simulator, parse_scenario
from tests.sync.test_sync_e2e import SELLER, make_cli, query, scenario

pytestmark = pytest.mark.e2e

SEARCH_TERMS = "GET_BRAND_ANALYTICS_SEARCH_TERMS_REPORT"
# What a FATAL report's document says, with the control characters a careless producer leaves in.
REASON = "Report generation failed:\tthe marketplace\x1b[0m data is not available.\r\n"
SHOWN = "Report generation failed: the marketplace data is not available."


@pytest.fixture
def fatal_sim() -> Iterator[Simulator]:
    settings = scenario()
    settings["reports"] = {
        "polls_in_queue": 0,
        "polls_in_progress": 0,
        "outcomes": {SEARCH_TERMS: "FATAL"},
        "error_details": {SEARCH_TERMS: REASON},
    }
    with Simulator(parse_scenario(settings)) as simulator:
        yield simulator


def test_a_fatal_report_shows_amazons_reason_in_sync_and_in_data(
    tmp_path: Path, fatal_sim: Simulator
) -> None:
    cli = make_cli(tmp_path, fatal_sim, {"acme-us": SELLER})
    done = cli.run("sync", "--dataset", "brand-analytics", "--ba-weeks", "1", "--json")
    assert done.returncode == 0, done.stderr
    [dataset] = json.loads(done.stdout)["stores"][0]["datasets"]
    [note] = dataset["notes"]
    assert "Amazon could not produce the report (FATAL, report " in note
    assert note.endswith(f"retrying after 24 h. Amazon's reason: {SHOWN}")

    [(mark,)] = query(cli.home, "SELECT value FROM sync_state WHERE key LIKE 'fatal:%'")
    assert json.loads(mark)["reason"] == SHOWN

    data = cli.run("data", "--json")
    assert data.returncode in (0, 1), data.stderr
    problems = [
        problem
        for row in json.loads(data.stdout)
        for problem in row["problems"]
        if problem["code"] == "report_fatal"
    ]
    assert len(problems) == 1 and problems[0]["message"].endswith(f"Amazon's reason: {SHOWN}")
