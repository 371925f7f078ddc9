"""Ctrl-C during the installed `soldscope sync`: it stops within 2 s, says so, and loses nothing.

docs/sync.md promises that on Ctrl-C every store stops "within about a second" at its next page,
batch or report poll, and that running sync again finishes the job. Each test waits for a sign
that the sync is where it should be (a batch of the document staged in the database, or the
simulator's count of report polls), presses Ctrl-C, and times the exit from that moment.
"""

from __future__ import annotations

import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from soldscope_cli.simulator import Simulator, parse_scenario
from soldscope_cli.sync.brand_analytics import BATCH_ROWS
from tests.sync.test_parser_process import alive, parser_children
from tests.sync.test_sync_e2e import OTHER, SELLER, fingerprint, make_cli, popen, query

pytestmark = pytest.mark.e2e

CLIENT_ID = "amzn1.application-oa2-client.synce2e00000000001"
SECRET = "amzn1.oa2-cs.v1.sync-e2e-secret"
# One week of acme-us's Brand Analytics: 20 batches of 5,000 rows. Ctrl-C is pressed once the
# first batch is staged, so the other 95,000 (a few tenths of a second of loading, longer on a
# busy machine) leave room for the signal to land mid-document.
ROWS = 100_000
# The promise is "about a second"; the bound leaves room for a busy machine.
STOP_WITHIN_S = 2.0
# The same arguments for every run: one week keeps the documents and the runs short.
# The datasets these tests interrupt (the flat-file report datasets would add reports of their own).
SYNC = (
    "sync",
    "--dataset",
    "inventory",
    "--dataset",
    "finances",
    "--dataset",
    "brand-analytics",
    "--ba-weeks",
    "1",
)
STORES = {"acme-us": SELLER, "bolt-us": OTHER}


def scenario(*, polls_in_queue: int) -> dict[str, Any]:
    return {
        "app": {"client_id": CLIENT_ID, "client_secret": SECRET},
        # polls_in_queue = 1: each report's first poll says IN_QUEUE, and sync waits 5 s to poll
        # again; 0: the first poll says DONE and the document loads at once.
        "reports": {"polls_in_queue": polls_in_queue, "polls_in_progress": 0},
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
def sim() -> Iterator[Simulator]:
    with Simulator(parse_scenario(scenario(polls_in_queue=0))) as simulator:
        yield simulator


@pytest.fixture
def waiting_sim() -> Iterator[Simulator]:
    with Simulator(parse_scenario(scenario(polls_in_queue=1))) as simulator:
        yield simulator


def ctrl_c_when(
    running: subprocess.Popen[str], ready: Callable[[], bool], what: str
) -> tuple[str, str, float]:
    """Press Ctrl-C once `ready()`; the output, and the seconds from the signal to the exit."""
    deadline = time.monotonic() + 120
    while not ready():
        if running.poll() is not None:
            out, err = running.communicate()
            pytest.fail(f"sync ended before {what}:\n{out}\n{err}")
        if time.monotonic() > deadline:
            pytest.fail(f"the sync never reached {what}")
        time.sleep(0.01)
    pressed = time.monotonic()
    running.send_signal(signal.SIGINT)
    out, err = running.communicate(timeout=60)
    return out, err, time.monotonic() - pressed


def staged_rows(home: Path) -> int:
    """acme-us's Brand Analytics rows in the database, loaded or not."""
    found = query(
        home,
        "SELECT COUNT(*) FROM ba_search_terms_rows r JOIN stores s ON s.id = r.store_id"
        " WHERE s.name = 'acme-us'",
    )
    return int(found[0][0]) if found else 0


def visible_rows(home: Path) -> int:
    """acme-us's Brand Analytics rows that queries see (weeks loaded whole)."""
    found = query(home, "SELECT COUNT(*) FROM ba_search_terms WHERE store = 'acme-us'")
    return int(found[0][0]) if found else 0


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


def assert_stopped_by_ctrl_c(code: int | None, out: str, err: str, took: float) -> None:
    assert code == 130, err
    assert took < STOP_WITHIN_S, f"took {took:.2f} s from Ctrl-C to the exit"
    assert "stopping" in err and "Traceback" not in err, err
    assert re.search(r"^2 stores: .*rows added.*stopped by Ctrl-C", out, re.M), out
    assert "acme-us: failed" in out and "interrupted (Ctrl-C)" in out, out


def test_ctrl_c_mid_document_stops_within_2_s_and_a_rerun_ends_like_one_clean_run(
    tmp_path: Path, sim: Simulator
) -> None:
    cli = make_cli(tmp_path / "stopped", sim, STORES)
    running = popen(cli, *SYNC)
    parsers: list[int] = []

    def mid_document() -> bool:
        parsers.extend(set(parser_children(running.pid)) - set(parsers))
        return staged_rows(cli.home) >= BATCH_ROWS

    out, err, took = ctrl_c_when(running, mid_document, "a staged batch of acme-us's document")
    assert_stopped_by_ctrl_c(running.returncode, out, err, took)
    # The document (24 MB) was parsed by a child process, which ended with the sync.
    assert parsers
    assert not [pid for pid in parsers if alive(pid)]
    # Stopped mid-document: part of the week is staged, none of it visible.
    staged = staged_rows(cli.home)
    assert BATCH_ROWS <= staged < ROWS, f"{staged} rows staged: Ctrl-C did not land mid-document"
    assert visible_rows(cli.home) == 0

    done = cli.run(*SYNC, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr

    clean = make_cli(tmp_path / "clean", sim, STORES)
    once = clean.run(*SYNC, timeout=120)
    assert once.returncode == 0, once.stdout + once.stderr
    expected = everything(clean.home)
    assert expected[0] and expected[1] and expected[2]
    assert [week[1] for week in expected[0]] == [ROWS + 300]
    assert everything(cli.home) == expected


def test_ctrl_c_in_the_report_poll_wait_stops_within_2_s_and_the_rerun_resumes_the_reports(
    tmp_path: Path, waiting_sim: Simulator
) -> None:
    def polls() -> int:
        return int(waiting_sim.counters()["by_operation"].get("getReport", 0))

    cli = make_cli(tmp_path / "stopped", waiting_sim, STORES)
    running = popen(cli, *SYNC)
    # Each store's report has been polled once and answered IN_QUEUE: both wait 5 s to poll again.
    out, err, took = ctrl_c_when(running, lambda: polls() >= 2, "both stores' first report poll")
    assert_stopped_by_ctrl_c(running.returncode, out, err, took)
    assert "bolt-us: failed" in out, out
    assert polls() == 2, "a report was polled again after Ctrl-C"
    assert fingerprint(cli.home) == []

    # The next run polls the reports the stopped one requested instead of asking again.
    done = cli.run(*SYNC, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert waiting_sim.counters()["by_operation"]["createReport"] == 2
    assert [week[1] for week in fingerprint(cli.home)] == [ROWS + 300]
