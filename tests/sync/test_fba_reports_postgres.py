"""The orders, returns and reimbursements datasets in team mode (PostgreSQL): the installed
command end to end, kill -9 mid-document, and `team import` of their tables."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from soldscope_cli.datasets import registry
from soldscope_cli.db.database import MIGRATIONS, Database
from soldscope_cli.db.model import to_db_time
from soldscope_cli.db.postgres.engine import Database as TeamDatabase
from soldscope_cli.fleet.secrets import MemorySecretStore
from soldscope_cli.simulator import Simulator, parse_scenario
from tests.pg import Cluster
from tests.sync.test_fba_reports_e2e import (
    CONTRACT,
    EU_SELLER,
    MONEY,
    RFC3339_UTC,
    TABLES,
    eu_cli,
    scenario,
)
from tests.sync.test_sync_e2e import SyncCli, popen
from tests.sync.test_sync_team_e2e import query
from tests.unit.test_team_import import STORES, pg, run, secrets_with_tokens

pytestmark = pytest.mark.e2e

ROWS = 60_000


def team_cli(home: Path, sim: Simulator, url: str) -> SyncCli:
    cli = eu_cli(home, sim, {"acme-de": EU_SELLER})
    cli.env["SOLDSCOPE_DATABASE_URL"] = url
    # In team mode the stores are the team database's: move the home's into it.
    moved = cli.run("team", "import", "--from-secrets", "file")
    assert moved.returncode == 0, moved.stderr
    return cli


def fingerprint(url: str) -> list[tuple[Any, ...]]:
    return query(
        url,
        "SELECT COUNT(*), COUNT(DISTINCT amazon_order_id || '|' || order_item_key),"
        " SUM(quantity), SUM(item_price)::text, COUNT(DISTINCT order_status) FROM order_items",
    )


@pytest.fixture
def big_sim() -> Iterator[Simulator]:
    with Simulator(parse_scenario(scenario(orders_rows=ROWS))) as simulator:
        yield simulator


def test_orders_in_team_mode_sync_export_purge_and_kill_9(
    tmp_path: Path, big_sim: Simulator, pg_cluster: Cluster
) -> None:
    clean_url = pg_cluster.fresh_database()
    clean = team_cli(tmp_path / "clean", big_sim, clean_url)
    done = clean.run("sync", "--dataset", "orders", "--json", timeout=300)
    assert done.returncode == 0, done.stderr
    [outcome] = json.loads(done.stdout)["stores"][0]["datasets"]
    assert outcome["outcome"] == "ok" and outcome["rows_added"] == ROWS, outcome
    expected = fingerprint(clean_url)
    assert expected[0][0] == expected[0][1] == ROWS

    exported = clean.run("export", "orders", "--format", "jsonl")
    assert exported.returncode == 0, exported.stderr
    first = json.loads(exported.stdout.splitlines()[0])
    assert CONTRACT["orders"] <= set(first)
    assert RFC3339_UTC.match(first["purchase_date"])
    assert all(
        first[m] is None or str(first[m]).replace("-", "").replace(".", "").isdigit()
        for m in MONEY["orders"]
    )
    data = json.loads(clean.run("data", "--json").stdout)
    assert [r["rows"] for r in data if r["dataset"] == "orders"] == [ROWS]

    crashy_url = pg_cluster.fresh_database()
    crashy = team_cli(tmp_path / "crashy", big_sim, crashy_url)
    process = popen(crashy, "sync", "--dataset", "orders", "--no-notify")
    deadline = time.monotonic() + 120
    while True:
        assert time.monotonic() < deadline, "the sync never reached the middle of the file"
        assert process.poll() is None, "the sync finished before it could be killed"
        loaded = query(crashy_url, "SELECT COUNT(*) FROM order_items")
        if loaded and loaded[0][0] >= 10_000:
            os.kill(process.pid, signal.SIGKILL)
            process.communicate(timeout=10)
            break
        time.sleep(0.005)
    assert query(crashy_url, "SELECT COUNT(*) FROM order_items")[0][0] < ROWS
    again = crashy.run("sync", "--dataset", "orders", "--json", timeout=300)
    assert again.returncode == 0, again.stderr
    assert fingerprint(crashy_url) == expected

    purged = clean.run("delete", "acme-de", "--yes", "--purge-data")
    assert purged.returncode == 0, purged.stderr
    assert query(clean_url, "SELECT COUNT(*) FROM order_items") == [(0,)]


def test_team_import_copies_the_new_datasets_tables(tmp_path: Path, pg_cluster: Cluster) -> None:
    home = Database(tmp_path / "soldscope.db", MIGRATIONS)
    at = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    sid = home.connect_store("acme-us", at, event="connected", selling_partner_id="A1", region="na")
    home.dataset_table("orders").write_rows(
        sid,
        [
            ("111-1", "S1", at, at, "Shipped", "Amazon", "Amazon.de", "A1PA6795UKMFR9", "S1",
             "B0X", "Shipped", 2, "1234.56", "-0.99", None, "EUR"),
        ],
        at=at,
        marks={"covered": '[["2026-11-01T00:00:00Z", "2026-11-20T00:00:00Z"]]'},
    )  # fmt: skip
    home.dataset_table("returns").write_rows(
        sid,
        [(at, "111-1", "S1", "B0X", "X001", "Thing", 1, "LEJ1", "SELLABLE", "UNWANTED_ITEM",
          "Unit returned to inventory", "LPN1")],
        at=at,
    )  # fmt: skip
    home.dataset_table("reimbursements").write_rows(
        sid,
        [("9001", at, None, "111-1", "Lost_Warehouse", "S1", "X001", "B0X", "Thing", "New",
          "EUR", "1234.56", "2469.12", 2, 0, 2, None, None)],
        at=at,
    )  # fmt: skip
    team = TeamDatabase(pg_cluster.fresh_database(template=None))
    try:
        report = run(home, team, secrets_with_tokens(*STORES), MemorySecretStore())
        [acme] = [s for s in report.stores if s.name == "acme-us"]
        for table in TABLES.values():
            assert acme.rows[table] == 1, acme.rows
        assert pg(team, "SELECT item_price::text, item_tax::text FROM order_items") == [
            ("1234.56", "-0.99")
        ]
        assert pg(team, "SELECT amount_total::text FROM fba_reimbursements") == [("2469.12",)]
        assert pg(team, "SELECT return_date, license_plate_number FROM fba_returns") == [
            (at, "LPN1")
        ]
        assert pg(team, "SELECT key FROM sync_state WHERE dataset = 'orders' ORDER BY key") == [
            ("covered",),
            ("newest:order_items",),
        ]
        # The newest line's time came as the mark the rows were written with, not by a lookup.
        [orders] = team.data_figures(team.store_id("acme-us"), ["orders"])
        assert orders.newest == to_db_time(at)
        # What `team import` copies comes from the declarations: every new table is among them.
        for dataset, table in TABLES.items():
            assert table in registry.BY_NAME[dataset].table_names
    finally:
        team.close()
        home.close()
