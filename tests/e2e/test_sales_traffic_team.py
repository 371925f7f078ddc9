"""Two team-mode workers syncing sales-traffic at once share the application's Data Kiosk budget:
together they never call createQuery more than Amazon's bucket holds (no 429)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import psycopg
import pytest
from tests.e2e.conftest import SOLDSCOPE, Cli, connect_sellers, simulator_env
from tests.pg import Cluster
from tests.prerequisites import require_soldscope

from soldscope_cli.fleet.sealed import new_key_text
from soldscope_cli.simulator import Simulator, parse_scenario
from soldscope_cli.sync.sales_traffic import AMAZON_BURST, BUDGET_BURST

pytestmark = pytest.mark.e2e

SELLERS = {f"t{i:02d}-us": f"A{i:02d}STTEAM0000" for i in range(20)}


def test_two_workers_never_exceed_the_fleets_budget_together(
    tmp_path: Path, pg_cluster: Cluster
) -> None:
    require_soldscope()
    url = pg_cluster.fresh_database(template=None)
    scenario = {
        "reports": {"polls_in_queue": 0, "polls_in_progress": 0},
        "sellers": [
            {"selling_partner_id": s, "region": "na", "marketplaces": ["US"], "inventory_items": 1}
            for s in SELLERS.values()
        ],
    }
    with Simulator(parse_scenario(scenario)) as sim:
        env = simulator_env(
            sim,
            SOLDSCOPE_DATABASE_URL=url,
            SOLDSCOPE_SECRETS="database",
            SOLDSCOPE_SECRETS_KEY=new_key_text(),
        )
        hosts = [Cli(tmp_path / name, dict(env)) for name in ("host-a", "host-b")]
        assert hosts[0].run("team", "init").returncode == 0
        connect_sellers(hosts[0], sim, SELLERS)
        sim.set_latency(50)  # both workers are mid-run at once
        workers = [
            subprocess.Popen(
                [str(SOLDSCOPE), "sync", "--dataset", "sales-traffic", "--json"],
                env=host.env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for host in hosts
        ]
        reports = []
        for worker in workers:
            out, err = worker.communicate(timeout=300)
            assert worker.returncode == 0, err
            reports.append(json.loads(out))
        counters = sim.counters()
    synced = [{s["name"] for s in r["stores"] if s["outcome"] == "ok"} for r in reports]
    assert synced[0] and synced[1]  # both workers synced stores at once
    creates = counters["by_operation"]["createQuery"]
    # Each worker alone would have spent 14 tokens: 20 calls, and Amazon's bucket of 15 would
    # have answered 429. Shared, they spent the budget once (one more if a minute passed).
    assert BUDGET_BURST <= creates <= AMAZON_BURST
    assert counters["by_status"].get("429", 0) == 0
    with psycopg.connect(url) as conn:
        loaded = conn.execute(
            b"SELECT COUNT(*) FROM sync_state WHERE dataset = 'sales-traffic' AND key = 'through'"
        ).fetchone()
    assert loaded is not None and loaded[0] == creates
