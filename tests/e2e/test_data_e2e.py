"""`log`, `data` and `export` through the installed command, against the simulator."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.e2e.conftest import Cli, connect_sellers, query, simulator_env
from tests.prerequisites import require_soldscope

from soldscope_cli.datasets import registry
from soldscope_cli.simulator import Simulator, parse_scenario

pytestmark = pytest.mark.e2e

SELLERS = {"acme-us": "A1E2EDATA0001", "bolt-us": "A1E2EDATA0002"}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Simulator, Cli]]:
    require_soldscope()
    scenario = {
        "reports": {"polls_in_queue": 0, "polls_in_progress": 0},
        "sellers": [
            {
                "selling_partner_id": seller,
                "region": "na",
                "marketplaces": ["US"],
                "inventory_items": 25,
                "transactions": 40,
                "search_terms_rows": 120,
            }
            for seller in SELLERS.values()
        ],
    }
    with Simulator(parse_scenario(scenario)) as sim:
        cli = Cli(tmp_path, simulator_env(sim))
        connect_sellers(cli, sim, SELLERS)
        yield sim, cli


def test_log_after_connect_validate_revoke_shows_the_status_change(
    world: tuple[Simulator, Cli],
) -> None:
    sim, cli = world
    assert cli.run("validate").returncode == 0
    sim.revoke(SELLERS["bolt-us"])
    assert cli.run("validate").returncode == 1
    done = cli.run("log", "bolt-us", "--json")
    assert done.returncode == 0, done.stderr
    entries = json.loads(done.stdout)
    assert [e["kind"] for e in entries] == ["status_changed", "connected"]
    change = entries[0]["detail"]
    assert (change["from"], change["to"], change["code"]) == ("active", "error", "invalid_grant")
    assert "refused the refresh token" in change["message"]
    assert entries[1]["detail"] == {
        "marketplaces": ["US"],
        "region": "na",
        "selling_partner_id": SELLERS["bolt-us"],
    }
    text = cli.run("log", "bolt-us").stdout
    assert "active → error: invalid_grant" in text.splitlines()[1]
    everything = json.loads(cli.run("log", "bolt-us", "--all", "--json").stdout)
    assert [e["kind"] for e in everything].count("checked") == 1

    assert cli.run("delete", "bolt-us", "--yes").returncode == 0
    after = json.loads(cli.run("log", "bolt-us", "--json").stdout)
    assert [e["kind"] for e in after] == ["deleted", "status_changed", "connected"]

    unknown = cli.run("log", "bolt-uss")
    assert unknown.returncode == 2
    assert "did you mean bolt-us?" in unknown.stderr


def test_data_shows_staleness_and_fail_stale_exits_1(world: tuple[Simulator, Cli]) -> None:
    _, cli = world
    before = cli.run("data", "--fail-stale", "--json")
    assert before.returncode == 1, before.stderr
    assert {(r["store"], r["dataset"], r["stale"]) for r in json.loads(before.stdout)} == {
        (store, dataset, True) for store in SELLERS for dataset in registry.NAMES
    }
    synced = cli.run("sync", "acme-us", timeout=120)
    assert synced.returncode == 0, synced.stderr
    rows = json.loads(cli.run("data", "acme-us", "--json").stdout)
    # Brand Analytics is read through its view; the others from their declared tables.
    tables = {d.name: d.reads.name if d.reads else "ba_search_terms" for d in registry.DATASETS}
    assert [(r["dataset"], r["stale"], r["rows"]) for r in rows] == [
        (name, False, query(cli, f"SELECT COUNT(*) FROM {tables[name]}")[0][0])  # noqa: S608
        for name in registry.NAMES
    ]
    assert cli.run("data", "acme-us", "--fail-stale").returncode == 0
    # Three days later (the runs moved back), inventory (36 h) and finances (48 h) are stale.
    conn = sqlite3.connect(cli.home / "data" / "soldscope.db")
    with conn:
        conn.execute(
            "UPDATE sync_runs SET finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', finished_at,"
            " '-3 days')"
        )
    conn.close()
    later = cli.run("data", "acme-us", "--fail-stale")
    assert later.returncode == 1
    lines = later.stdout.splitlines()
    assert lines[0].split() == [
        "Store",
        "Dataset",
        "Rows",
        "Newest",
        "data",
        "Last",
        "sync",
        "Age",
        "State",
    ]
    assert lines[1].endswith("3 d  stale (> 36 h)")
    assert lines[2].endswith("3 d  stale (> 48 h)")
    assert lines[3].endswith("3 d  ok")
    config = cli.home / "config" / "config.toml"
    config.write_text(config.read_text() + "\n[stale]\ninventory_hours = 1\n")
    config.write_text(config.read_text().replace("inventory_hours = 1", "inventory_hour = 1"))
    bad = cli.run("data")
    assert bad.returncode == 2
    assert "line" in bad.stderr and "inventory_hours" in bad.stderr


def test_export_round_trips_rows_and_writes_0600(world: tuple[Simulator, Cli]) -> None:
    _, cli = world
    assert cli.run("sync", timeout=120).returncode == 0
    done = cli.run("export", "finances", "acme-us")
    assert done.returncode == 0, done.stderr
    exported = list(csv.DictReader(io.StringIO(done.stdout, newline="")))
    stored = query(
        cli,
        "SELECT transaction_id, total_amount FROM financial_transactions f JOIN stores s"
        " ON s.id = f.store_id WHERE s.name = 'acme-us'",
    )
    assert sorted((r["transaction_id"], r["total_amount"]) for r in exported) == sorted(stored)
    assert {r["store"] for r in exported} == {"acme-us"}

    lines = cli.run("export", "ba", "--format", "jsonl").stdout.splitlines()
    assert len(lines) == query(cli, "SELECT COUNT(*) FROM ba_search_terms")[0][0]
    first = json.loads(lines[0])
    assert list(first) == [
        "store",
        "marketplace_id",
        "week_start",
        "week_end",
        "department_name",
        "search_term",
        "search_frequency_rank",
        "clicked_asin",
        "clicked_item_name",
        "click_share_rank",
        "click_share",
        "conversion_share",
    ]

    target = cli.home / "out" / "inventory.csv"
    target.parent.mkdir(parents=True, exist_ok=True)  # soldscope never creates it
    written = cli.run("export", "inventory", "-o", str(target))
    assert written.returncode == 0, written.stderr
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    with target.open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert len(rows) - 1 == query(cli, "SELECT COUNT(*) FROM inventory_summaries")[0][0]
    assert not [p for p in target.parent.iterdir() if p.name.endswith(".tmp")]

    weeks = sorted({json.loads(line)["week_start"] for line in lines})
    since = cli.run("export", "ba", "--format", "jsonl", "--since", weeks[-1]).stdout
    assert {json.loads(line)["week_start"] for line in since.splitlines()} == {weeks[-1]}

    assert cli.run("export", "nope").returncode == 2
