"""The installed `soldscope sync` in team mode: kill -9 mid-document, then a re-run, leaves
PostgreSQL with exactly one clean run's rows."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from soldscope_cli.simulator import Simulator, parse_scenario
from tests.pg import Cluster
from tests.sync.test_sync_e2e import SELLER, SyncCli, make_cli, popen, scenario

pytestmark = pytest.mark.e2e

ROWS_PER_WEEK = 60_000
WEEKS = 4
ARGS = ("sync", "--dataset", "brand-analytics", "--json")


@pytest.fixture
def sim() -> Iterator[Simulator]:
    spec = scenario()
    for seller in spec["sellers"]:
        seller["search_terms_rows"] = (
            ROWS_PER_WEEK if seller["selling_partner_id"] == SELLER else 300
        )
    with Simulator(parse_scenario(spec)) as simulator:
        yield simulator


def team_cli(home: Path, sim: Simulator, url: str) -> SyncCli:
    cli = make_cli(home, sim, {"acme-us": SELLER})
    cli.env["SOLDSCOPE_DATABASE_URL"] = url
    # In team mode the stores are the team database's: move the home's into it.
    moved = cli.run("team", "import", "--from-secrets", "file")
    assert moved.returncode == 0, moved.stderr
    return cli


def query(url: str, sql: str) -> list[tuple[Any, ...]]:
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            return [tuple(r) for r in conn.execute(sql.encode()).fetchall()]
    except psycopg.errors.UndefinedTable:
        return []  # not migrated yet


def fingerprint(url: str) -> list[tuple[Any, ...]]:
    """Per week: rows, distinct keys and value sums of what queries see."""
    return query(
        url,
        "SELECT week_start::text, COUNT(*), COUNT(DISTINCT department_name || '|' || search_term"
        " || '|' || clicked_asin), SUM(search_frequency_rank),"
        " ROUND(SUM(click_share)::numeric, 4) FROM ba_search_terms GROUP BY week_start"
        " ORDER BY week_start",
    )


def kill_when(process: Any, url: str, loaded: int) -> None:
    """SIGKILL the process once `loaded` weeks are visible and the next one is partly staged."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, "sync finished before it could be killed"
        weeks = query(url, "SELECT COUNT(*) FROM ba_search_terms_weeks")
        staged = query(url, "SELECT COUNT(*) FROM ba_search_terms_rows")
        if (
            weeks
            and staged
            and weeks[0][0] == loaded
            and staged[0][0] >= loaded * ROWS_PER_WEEK + 10_000
        ):
            os.kill(process.pid, signal.SIGKILL)
            process.communicate(timeout=10)  # reaps it and closes its pipes
            return
        time.sleep(0.005)
    process.kill()
    process.communicate(timeout=10)
    pytest.fail("the sync never reached the point to kill it")


def test_kill_9_mid_document_then_rerun_equals_one_clean_run(
    tmp_path: Path, sim: Simulator, pg_cluster: Cluster
) -> None:
    crashy_url = pg_cluster.fresh_database()
    crashy = team_cli(tmp_path / "crashy", sim, crashy_url)
    first = popen(crashy, *ARGS)
    kill_when(first, crashy_url, loaded=0)
    assert fingerprint(crashy_url) == []  # staged rows of the interrupted week are invisible
    second = popen(crashy, *ARGS)
    kill_when(second, crashy_url, loaded=1)
    done = crashy.run(*ARGS, timeout=300)
    assert done.returncode == 0, done.stderr

    clean_url = pg_cluster.fresh_database()
    once = team_cli(tmp_path / "clean", sim, clean_url).run(*ARGS, timeout=300)
    assert once.returncode == 0, once.stderr
    assert json.loads(once.stdout)["stores"][0]["rows_added"] == WEEKS * ROWS_PER_WEEK
    expected = fingerprint(clean_url)
    assert len(expected) == WEEKS
    assert all(week[1] == week[2] == ROWS_PER_WEEK for week in expected)
    assert fingerprint(crashy_url) == expected
    assert query(crashy_url, "SELECT COUNT(*) FROM ba_search_terms_rows") == [
        (WEEKS * ROWS_PER_WEEK,)
    ]
    again = crashy.run(*ARGS, timeout=120)
    assert again.returncode == 0
    assert json.loads(again.stdout)["stores"][0]["rows_added"] == 0
    assert not (crashy.home / "data" / "soldscope.db").exists()
