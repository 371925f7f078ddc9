"""Ctrl-C during the installed `soldscope sync`: it stops within 2 s, says so, and loses nothing."""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from soldscope_cli.simulator import Simulator, parse_scenario
from tests.sync.test_sync_e2e import OTHER, SELLER, fingerprint, make_cli, popen, query

pytestmark = pytest.mark.e2e

ROWS = 150_000
CLIENT_ID = "amzn1.application-oa2-client.synce2e00000000001"
SECRET = "amzn1.oa2-cs.v1.sync-e2e-secret"


def slow_scenario() -> dict[str, Any]:
    return {
        "app": {"client_id": CLIENT_ID, "client_secret": SECRET},
        "latency": {"default_ms": 30},
        # One poll in the queue: the store with the small document sits in the 5 s poll sleep.
        "reports": {"polls_in_queue": 1, "polls_in_progress": 0},
        "sellers": [
            {
                "selling_partner_id": SELLER,
                "region": "na",
                "marketplaces": ["US"],
                "inventory_items": 60,
                "transactions": 120,
                "search_terms_rows": ROWS,
            },
            {
                "selling_partner_id": OTHER,
                "region": "na",
                "marketplaces": ["US"],
                "inventory_items": 30,
                "transactions": 50,
                "search_terms_rows": 300,
            },
        ],
    }


@pytest.fixture
def slow_sim() -> Iterator[Simulator]:
    with Simulator(parse_scenario(slow_scenario())) as simulator:
        yield simulator


def everything(home: Path) -> list[Any]:
    """What a query sees after a sync: every dataset's rows, by value, without load ids."""
    return [
        fingerprint(home),
        query(
            home,
            "SELECT s.name, i.marketplace_id, i.seller_sku, i.total_quantity"
            " FROM inventory_summaries i JOIN stores s ON s.id = i.store_id ORDER BY 1, 2, 3",
        ),
        query(
            home,
            "SELECT s.name, f.transaction_id, f.total_amount FROM financial_transactions f"
            " JOIN stores s ON s.id = f.store_id ORDER BY 1, 2",
        ),
    ]


def test_ctrl_c_stops_within_2_s_with_a_summary_and_a_rerun_completes(
    tmp_path: Path, slow_sim: Simulator
) -> None:
    stores = {"acme-us": SELLER, "bolt-us": OTHER}
    cli = make_cli(tmp_path / "stopped", slow_sim, stores)
    running = popen(cli, "sync")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert running.poll() is None, "sync finished before Ctrl-C"
        staged = query(cli.home, "SELECT COUNT(*) FROM ba_search_terms_rows")
        if staged and staged[0][0] >= 20_000:
            break
        time.sleep(0.01)
    else:
        pytest.fail("the sync never reached the big document")
    pressed = time.monotonic()
    os.kill(running.pid, signal.SIGINT)
    out, err = running.communicate(timeout=30)
    took = time.monotonic() - pressed
    assert running.returncode == 130, err
    assert took < 2.0, f"took {took:.1f} s to stop"
    assert "stopping" in err and "Traceback" not in err
    assert re.search(r"^2 stores: .*rows added.*stopped by Ctrl-C", out, re.M), out
    assert "acme-us: failed" in out and "interrupted (Ctrl-C)" in out
    # The interrupted week is staged, never visible.
    assert all(week[1] in (300, ROWS, ROWS + 300) for week in fingerprint(cli.home))

    done = cli.run("sync", timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr

    clean = make_cli(tmp_path / "clean", slow_sim, stores)
    once = clean.run("sync", timeout=300)
    assert once.returncode == 0, once.stdout + once.stderr
    expected = everything(clean.home)
    assert expected[0] and expected[1] and expected[2]
    assert everything(cli.home) == expected
