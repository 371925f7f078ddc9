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

from soldscope_cli.datasets import registry
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


def pg_run(url: str, sql: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.encode())


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
        for table in (*(d.reads.name for d in registry.DATASETS if d.reads), "ba_search_terms")
    }  # fmt: skip
    assert all(total > 0 and total == own for total, own in counts.values()), counts
    assert pg(url, "SELECT COUNT(*) FROM sync_runs WHERE outcome = 'ok'") == [
        (len(registry.NAMES),)
    ]
    assert not (cli.home / "data" / "soldscope.db").exists()

    listed = cli.run("list", "--json")
    assert listed.returncode == 0, listed.stderr
    [row] = json.loads(listed.stdout)
    assert row["name"] == "acme-us" and row["status"] == "active"
    assert row["last_sync_at"] is not None

    data = cli.run("data", "acme-us", "--json")
    assert data.returncode == 0, data.stderr
    read = {d.name: d.reads.name if d.reads else "ba_search_terms" for d in registry.DATASETS}
    assert [(r["dataset"], r["rows"], r["stale"]) for r in json.loads(data.stdout)] == [
        (name, counts[read[name]][0], False) for name in registry.NAMES
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


def test_a_read_only_role_can_list_and_export_a_current_database(
    team: tuple[Simulator, Cli, str], pg_cluster: Cluster
) -> None:
    # Every command used to issue CREATE TABLE IF NOT EXISTS schema_migrations first, which a
    # role with SELECT only may not: a dashboard's reader could not even run `list`.
    sim, cli, url = team
    assert cli.run("team", "init").returncode == 0
    done = cli.run(
        "connect", "acme-us", "--marketplace", "US", "--selling-partner-id", SELLER,
        "--refresh-token-stdin", input=sim.authorize(SELLER) + "\n",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert cli.run("sync", "acme-us", "--dataset", "finances", timeout=120).returncode == 0
    dbname = url.rsplit("/", 1)[1]
    for statement in (
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC",  # PostgreSQL 15's default, on any version
        "CREATE ROLE soldscope_reader LOGIN",
        "GRANT USAGE ON SCHEMA public TO soldscope_reader",
        "GRANT SELECT ON ALL TABLES IN SCHEMA public TO soldscope_reader",
    ):
        pg_run(url, statement)
    try:
        reader = f"postgresql://soldscope_reader@127.0.0.1:{pg_cluster.port}/{dbname}"
        as_reader = {"SOLDSCOPE_DATABASE_URL": reader}
        listed = cli.run("list", "--json", env=as_reader)
        assert listed.returncode == 0, listed.stderr
        assert [r["name"] for r in json.loads(listed.stdout)] == ["acme-us"]
        metrics = cli.run("metrics", env=as_reader)
        assert metrics.returncode == 0, metrics.stderr
        assert "soldscope_" in metrics.stdout
        exported = cli.run("export", "finances", env=as_reader)
        assert exported.returncode == 0, exported.stderr
        assert len(list(csv.DictReader(io.StringIO(exported.stdout)))) > 0
    finally:
        pg_run(url, "DROP OWNED BY soldscope_reader")
        pg_run(url, "DROP ROLE soldscope_reader")


@pytest.mark.parametrize("where", ["environment", "config"])
def test_a_malformed_database_url_is_a_usage_error_with_the_fix(cli: Cli, where: str) -> None:
    url = "postgresql://ada:pa55-xyz@[::1:15432/fleet"
    env = {}
    if where == "environment":
        env["SOLDSCOPE_DATABASE_URL"] = url
    else:
        (cli.home / "config").mkdir(parents=True)
        (cli.home / "config" / "config.toml").write_text(f'[database]\nurl = "{url}"\n')
    result = cli.run("list", env=env)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "unexpected" not in result.stderr
    assert "pa55-xyz" not in result.stdout + result.stderr
    [line] = result.stderr.strip().splitlines()
    assert "database url is malformed" in line
    assert "postgresql://user@[::1]:5432/dbname" in line
