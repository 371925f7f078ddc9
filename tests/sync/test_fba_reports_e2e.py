"""The installed `soldscope` with the orders, returns and reimbursements datasets against the
simulator, on SQLite: sync, data, export, a missing role, --purge-data, kill -9 mid-document."""

from __future__ import annotations

import json
import os
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from soldscope_cli.simulator import Simulator, parse_scenario
from tests.sync.test_sync_e2e import SyncCli, popen, query, write_home

pytestmark = pytest.mark.e2e

CLIENT_ID = "amzn1.application-oa2-client.fbae2e0000000001"
SECRET = "amzn1.oa2-cs.v1.fba-e2e-secret"
EU_SELLER = "A1FBAE2EDE0001"
NO_ROLES = "A2FBAE2EDE0002"

CONTRACT = {
    "orders": {
        "store",
        "amazon_order_id",
        "order_item_key",
        "purchase_date",
        "last_updated_date",
        "order_status",
        "fulfillment_channel",
        "sales_channel",
        "sku",
        "asin",
        "quantity",
        "item_price",
        "currency",
    },
    "returns": {
        "store",
        "return_date",
        "order_id",
        "sku",
        "asin",
        "fnsku",
        "quantity",
        "fulfillment_center_id",
        "detailed_disposition",
        "reason",
        "status",
        "license_plate_number",
    },
    "reimbursements": {
        "store",
        "reimbursement_id",
        "approval_date",
        "case_id",
        "amazon_order_id",
        "reason",
        "sku",
        "asin",
        "currency",
        "amount_per_unit",
        "amount_total",
        "quantity_reimbursed_cash",
        "quantity_reimbursed_inventory",
        "quantity_reimbursed_total",
    },
}
TABLES = {"orders": "order_items", "returns": "fba_returns", "reimbursements": "fba_reimbursements"}
MONEY = {
    "orders": ("item_price",),
    "returns": (),
    "reimbursements": ("amount_per_unit", "amount_total"),
}
TIMES = {
    "orders": ("purchase_date", "last_updated_date"),
    "returns": ("return_date",),
    "reimbursements": ("approval_date",),
}
RFC3339_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z\Z")
DECIMAL = re.compile(r"-?\d+(\.\d+)?\Z")


def scenario(orders_rows: int = 120) -> dict[str, Any]:
    return {
        "app": {"client_id": CLIENT_ID, "client_secret": SECRET},
        "reports": {"polls_in_queue": 0, "polls_in_progress": 0},
        "sellers": [
            {
                "selling_partner_id": EU_SELLER,
                "region": "eu",
                "marketplaces": ["DE", "FR"],
                "inventory_items": 10,
                "transactions": 10,
                "search_terms_rows": 10,
                "orders_rows": orders_rows,
                "returns_rows": 25,
                "reimbursements_rows": 15,
            },
            {
                "selling_partner_id": NO_ROLES,
                "region": "eu",
                "marketplaces": ["DE"],
                "roles": ["sellers", "inventory", "finances", "brand_analytics"],
            },
        ],
    }


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(parse_scenario(scenario())) as simulator:
        yield simulator


def eu_cli(home: Path, sim: Simulator, stores: dict[str, str]) -> SyncCli:
    """A data dir with the app and EU stores (name → seller) in DE and FR."""
    return write_home(
        home,
        sim,
        "amzn1.sp.solution.fba-e2e",
        CLIENT_ID,
        SECRET,
        [
            (name, seller, "eu", ["DE", "FR"] if seller == EU_SELLER else ["DE"])
            for name, seller in stores.items()
        ],
    )


def synced(cli: SyncCli, *args: str) -> dict[str, Any]:
    done = cli.run("sync", *args, "--json", timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def exported(cli: SyncCli, dataset: str) -> list[dict[str, Any]]:
    done = cli.run("export", dataset, "--format", "jsonl")
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


@pytest.mark.parametrize("dataset", ["orders", "returns", "reimbursements"])
def test_sync_data_export_and_purge(tmp_path: Path, sim: Simulator, dataset: str) -> None:
    cli = eu_cli(tmp_path, sim, {"acme-de": EU_SELLER})
    [store] = synced(cli, "--dataset", dataset)["stores"]
    [outcome] = store["datasets"]
    assert (outcome["dataset"], outcome["outcome"]) == (dataset, "ok"), outcome
    [(count,)] = query(cli.home, f"SELECT COUNT(*) FROM {TABLES[dataset]}")  # noqa: S608
    assert count > 0 and outcome["rows_added"] == count

    rows = exported(cli, dataset)
    assert len(rows) == count
    for row in rows:
        assert CONTRACT[dataset] <= set(row), CONTRACT[dataset] - set(row)
        assert row["store"] == "acme-de"
        for name in MONEY[dataset]:
            assert row[name] is None or DECIMAL.match(row[name]), row[name]
        for name in TIMES[dataset]:
            assert row[name] is None or RFC3339_UTC.match(row[name]), row[name]
    # EU amounts ("1.234,56", "1 234,56") were read by the marketplace's convention: some
    # amounts reach four digits, and every one of them is an exact two-place decimal.
    amounts = [row[name] for row in rows for name in MONEY[dataset] if row[name] is not None]
    if amounts:
        assert all(re.fullmatch(r"-?\d+\.\d\d", a) for a in amounts)
    if dataset == "orders":
        assert {r["currency"] for r in rows if r["currency"]} == {"EUR"}
        assert any(float(a) >= 1000 for a in amounts)
        assert not {"buyer_email", "buyer_name", "ship_city", "ship_postal_code"} & set(rows[0])
        assert {r["sales_channel"] for r in rows} == {"Amazon.de", "Amazon.fr"}

    data = cli.run("data", "--json")
    assert data.returncode in (0, 1), data.stderr
    [figures] = [r for r in json.loads(data.stdout) if r["dataset"] == dataset]
    assert figures["rows"] == count

    # A second sync asks for nothing already covered: no more rows.
    [again] = synced(cli, "--dataset", dataset)["stores"][0]["datasets"]
    assert again["outcome"] == "ok" and again["rows_added"] == 0, again
    assert query(cli.home, f"SELECT COUNT(*) FROM {TABLES[dataset]}") == [(count,)]  # noqa: S608

    purged = cli.run("delete", "acme-de", "--yes", "--purge-data")
    assert purged.returncode == 0, purged.stderr
    assert query(cli.home, f"SELECT COUNT(*) FROM {TABLES[dataset]}") == [(0,)]  # noqa: S608


def test_a_store_without_the_roles_is_not_authorized_for_these_datasets_only(
    tmp_path: Path, sim: Simulator
) -> None:
    cli = eu_cli(tmp_path, sim, {"plain-de": NO_ROLES})
    done = cli.run("sync", "--json", timeout=120)
    assert done.returncode in (0, 1), done.stderr
    [store] = json.loads(done.stdout)["stores"]
    outcomes = {d["dataset"]: d for d in store["datasets"]}
    for dataset, role in (
        ("orders", "Inventory and Order Tracking"),
        ("returns", "Amazon Fulfillment"),
        ("reimbursements", "Amazon Fulfillment"),
    ):
        assert outcomes[dataset]["outcome"] == "not_authorized", outcomes[dataset]
        assert f"add the {role} role to the app" in outcomes[dataset]["error"]["message"]
    assert outcomes["inventory"]["outcome"] == "ok"
    listed = json.loads(cli.run("list", "--json").stdout)
    assert [s["status"] for s in listed] == ["active"]
    data = json.loads(cli.run("data", "--json").stdout)
    assert {r["dataset"] for r in data if r.get("problems")} >= {"orders", "returns"}


def test_kill_9_mid_orders_document_then_rerun_equals_one_clean_run(tmp_path: Path) -> None:
    from tests.sync.test_parser_process import parser_children

    # 120,000 lines (about 27 MB): read in the parser process, staged, published at the end.
    rows = 120_000
    with Simulator(parse_scenario(scenario(orders_rows=rows))) as simulator:
        clean = eu_cli(tmp_path / "clean", simulator, {"acme-de": EU_SELLER})
        synced(clean, "--dataset", "orders")
        expected = fingerprint(clean.home)

        killed = eu_cli(tmp_path / "killed", simulator, {"acme-de": EU_SELLER})
        simulator.update_section("reports", {"document_chunk_delay_ms": 20})
        process = popen(killed, "sync", "--dataset", "orders", "--no-notify")
        deadline = time.monotonic() + 120
        while not parser_children(process.pid):
            assert time.monotonic() < deadline, "the sync never started a parser process"
            assert process.poll() is None, "the sync finished before it could be killed"
            time.sleep(0.01)
        time.sleep(0.5)  # batches parsed and staged, the document half read
        assert process.poll() is None, "the sync finished before it could be killed"
        os.kill(process.pid, signal.SIGKILL)
        process.communicate(timeout=10)  # reaps it and closes its pipes
        partial = query(killed.home, "SELECT COUNT(*) FROM order_items")[0][0]
        assert partial < expected[0][0]
        assert query(killed.home, "SELECT value FROM sync_state WHERE key = 'covered'") == []

        simulator.update_section("reports", {"document_chunk_delay_ms": 0})
        synced(killed, "--dataset", "orders")
    assert fingerprint(killed.home) == expected


def fingerprint(home: Path) -> list[tuple[Any, ...]]:
    """Rows, distinct keys and value sums of the orders table."""
    return query(
        home,
        "SELECT COUNT(*), COUNT(DISTINCT amazon_order_id || '|' || order_item_key),"
        " SUM(quantity), SUM(CAST(REPLACE(item_price, '.', '') AS INTEGER)),"
        " COUNT(DISTINCT order_status) FROM order_items",
    )
