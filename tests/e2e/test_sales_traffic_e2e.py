"""`sales-traffic` through the installed command against the simulator: sync, data, export
(the contract's keys, money exact next to its currency), a store without the Brand Analytics
role, and delete --purge-data."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from tests.e2e.conftest import Cli, connect_sellers, query, simulator_env
from tests.prerequisites import require_soldscope

from soldscope_cli.simulator import Simulator, parse_scenario

pytestmark = pytest.mark.e2e

SELLERS = {"acme-us": "A1E2ESALES001", "norole-us": "A1E2ESALES002"}
CONTRACT = {
    "store",
    "marketplace",
    "date",
    "ordered_product_sales",
    "currency",
    "units_ordered",
    "total_order_items",
    "page_views",
    "sessions",
    "buy_box_percentage",
    "unit_session_percentage",
}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Simulator, Cli]]:
    require_soldscope()
    scenario = {
        "reports": {"polls_in_queue": 0, "polls_in_progress": 0},
        "sellers": [
            {
                "selling_partner_id": SELLERS["acme-us"],
                "region": "na",
                "marketplaces": ["US"],
                "inventory_items": 4,
            },
            {
                "selling_partner_id": SELLERS["norole-us"],
                "region": "na",
                "marketplaces": ["US"],
                "inventory_items": 4,
                "roles": ["sellers", "inventory", "finances"],
            },
        ],
    }
    with Simulator(parse_scenario(scenario)) as sim:
        cli = Cli(tmp_path, simulator_env(sim))
        connect_sellers(cli, sim, SELLERS)
        yield sim, cli


def test_sync_data_export_and_purge(world: tuple[Simulator, Cli]) -> None:
    _, cli = world
    synced = cli.run("sync", "--dataset", "st", "--json", timeout=120)
    assert synced.returncode == 0, synced.stderr
    report = json.loads(synced.stdout)
    outcomes = {s["name"]: s["datasets"][0] for s in report["stores"]}
    assert outcomes["acme-us"]["outcome"] == "ok"
    assert outcomes["acme-us"]["rows_added"] == 30 + 30 * 4  # days, and days × child ASINs
    denied = outcomes["norole-us"]
    assert denied["outcome"] == "not_authorized"
    assert "Brand Analytics role" in denied["error"]["message"]

    # The store without the role stays Active; `data` names the fix for this dataset only.
    listed = {s["name"]: s for s in json.loads(cli.run("list", "--json").stdout)}
    assert listed["norole-us"]["status"] == "active"
    data = json.loads(cli.run("data", "norole-us", "--json").stdout)
    problems = {r["dataset"]: [p["code"] for p in r["problems"]] for r in data}
    assert problems["sales-traffic"] == ["not_authorized"]
    rows = {
        r["dataset"]: r["rows"] for r in json.loads(cli.run("data", "acme-us", "--json").stdout)
    }
    assert rows["sales-traffic"] == 30

    exported = cli.run("export", "sales-traffic", "--format", "jsonl")
    assert exported.returncode == 0, exported.stderr
    lines = [json.loads(line) for line in exported.stdout.splitlines()]
    assert len(lines) == 30
    for line in lines:
        assert set(line) >= CONTRACT
        assert line["store"] == "acme-us" and line["currency"] == "USD"
        assert len(line["date"]) == 10 and line["date"][4] == "-"
        assert isinstance(line["ordered_product_sales"], str)
        assert str(Decimal(line["ordered_product_sales"])) == line["ordered_product_sales"]
    stored = dict(query(cli, "SELECT date, raw FROM sales_traffic_by_date"))
    for line in lines:
        written = json.loads(stored[line["date"]], parse_float=Decimal)
        assert (
            Decimal(line["ordered_product_sales"])
            == written["sales"]["orderedProductSales"]["amount"]
        )

    purged = cli.run("delete", "acme-us", "--purge-data", "--yes")
    assert purged.returncode == 0, purged.stderr
    assert query(cli, "SELECT COUNT(*) FROM sales_traffic_by_date") == [(0,)]
    assert query(cli, "SELECT COUNT(*) FROM sales_traffic_by_asin") == [(0,)]
