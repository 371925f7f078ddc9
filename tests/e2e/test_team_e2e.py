"""Team mode through the installed command: `team init`, then connect, sync, list, data, log and
export against the simulator, every row in PostgreSQL and no SQLite file."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from tests.e2e.conftest import Cli, simulator_env
from tests.pg import Cluster
from tests.prerequisites import require_soldscope

from soldscope_cli.db.postgres.migrations import MIGRATIONS
from soldscope_cli.simulator import Simulator, parse_scenario

pytestmark = pytest.mark.e2e

SELLER = "A1E2ETEAM0001"


@pytest.fixture
def team(tmp_path: Path, pg_cluster: Cluster) -> Iterator[tuple[Simulator, Cli, str]]:
    require_soldscope()
    scenario = {
        "reports": {"polls_in_queue": 0, "polls_in_progress": 0},
        "sellers": [
            {
                "selling_partner_id": SELLER,
                "region": "na",
                "marketplaces": ["US"],
                "inventory_items": 25,
                "transactions": 40,
                "search_terms_rows": 120,
            }
        ],
    }
    url = pg_cluster.fresh_database(template=None)  # empty: `team init` prepares it
    with Simulator(parse_scenario(scenario)) as sim:
        yield sim, Cli(tmp_path, simulator_env(sim, SOLDSCOPE_DATABASE_URL=url)), url


def pg(url: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return [tuple(r) for r in conn.execute(sql.encode()).fetchall()]


def test_team_init_then_a_sync_lands_in_postgresql(team: tuple[Simulator, Cli, str]) -> None:
    sim, cli, url = team
    first = cli.run("team", "init", "--json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["applied"] == [m.name for m in MIGRATIONS]
    again = cli.run("team", "init")
    assert again.returncode == 0, again.stderr
    assert "nothing to apply" in again.stdout
    assert f"Schema version: {MIGRATIONS[-1].name}" in again.stdout

    done = cli.run(
        "connect",
        "acme-us",
        "--marketplace",
        "US",
        "--selling-partner-id",
        SELLER,
        "--refresh-token-stdin",
        input=sim.authorize(SELLER) + "\n",
    )
    assert done.returncode == 0, done.stderr
    synced = cli.run("sync", "acme-us", timeout=120)
    assert synced.returncode == 0, synced.stderr

    [(store_id,)] = pg(url, "SELECT id FROM stores WHERE name = 'acme-us' AND deleted_at IS NULL")
    counts = {
        table: pg(url, f"SELECT COUNT(*), COUNT(*) FILTER (WHERE store_id = {store_id} AND"  # noqa: S608
                  f" store = 'acme-us') FROM {table}")[0]
        for table in ("inventory_summaries", "financial_transactions", "ba_search_terms")
    }  # fmt: skip
    assert all(total > 0 and total == own for total, own in counts.values()), counts
    assert pg(url, "SELECT COUNT(*) FROM sync_runs WHERE outcome = 'ok'") == [(3,)]
    assert not (cli.home / "data" / "soldscope.db").exists()

    listed = cli.run("list", "--json")
    assert listed.returncode == 0, listed.stderr
    [row] = json.loads(listed.stdout)
    assert row["name"] == "acme-us" and row["status"] == "active"
    assert row["last_sync_at"] is not None

    data = cli.run("data", "acme-us", "--json")
    assert data.returncode == 0, data.stderr
    assert [(r["dataset"], r["rows"], r["stale"]) for r in json.loads(data.stdout)] == [
        ("inventory", counts["inventory_summaries"][0], False),
        ("finances", counts["financial_transactions"][0], False),
        ("brand-analytics", counts["ba_search_terms"][0], False),
    ]
    log = cli.run("log", "acme-us", "--json")
    assert log.returncode == 0, log.stderr
    assert [e["kind"] for e in json.loads(log.stdout)] == ["connected"]

    exported = cli.run("export", "finances")
    assert exported.returncode == 0, exported.stderr
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert len(rows) == counts["financial_transactions"][0]
    assert all(r["store"] == "acme-us" and r["total_amount"] for r in rows)

    purged = cli.run("delete", "acme-us", "--yes", "--purge-data")
    assert purged.returncode == 0, purged.stderr
    for table in ("inventory_summaries", "financial_transactions", "ba_search_terms_rows"):
        assert pg(url, f"SELECT COUNT(*) FROM {table}") == [(0,)], table  # noqa: S608
    assert [e["kind"] for e in json.loads(cli.run("log", "acme-us", "--json").stdout)] == [
        "deleted",
        "connected",
    ]
