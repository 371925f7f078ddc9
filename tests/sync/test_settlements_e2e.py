"""The installed `soldscope sync` on settlements against the simulator: each settlement loaded
once, EU amounts read exactly, kill -9 mid-document, a missing role."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest

from soldscope_cli.simulator import Simulator, parse_scenario
from tests.pg import Cluster
from tests.sync.test_sync_e2e import CLIENT_ID, SECRET, SyncCli, command, query, write_home

pytestmark = pytest.mark.e2e

DE_SELLER = "A1SETTLEDE0001"
US_SELLER = "A2SETTLEUS0002"
NO_ROLE = "A3SETTLENR0003"
LINES = 40
BIG_LINES = 10_000


def scenario(**reports: Any) -> dict[str, Any]:
    return {
        "app": {"client_id": CLIENT_ID, "client_secret": SECRET},
        "reports": {"polls_in_queue": 0, "polls_in_progress": 0, **reports},
        "sellers": [
            {
                "selling_partner_id": DE_SELLER,
                "region": "eu",
                "marketplaces": ["DE", "FR"],
                "settlement_lines": LINES,
            },
            {
                "selling_partner_id": US_SELLER,
                "region": "na",
                "marketplaces": ["US"],
                "settlement_lines": BIG_LINES,
            },
            {
                "selling_partner_id": NO_ROLE,
                "region": "eu",
                "marketplaces": ["FR"],
                "roles": ["sellers", "inventory", "brand_analytics"],
            },
        ],
    }


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(parse_scenario(scenario())) as simulator:
        yield simulator


STORES = {
    "acme-de": (DE_SELLER, "eu", ["DE", "FR"]),
    "big-us": (US_SELLER, "na", ["US"]),
    "norole-fr": (NO_ROLE, "eu", ["FR"]),
}


def make_cli(home: Path, sim: Simulator, names: list[str]) -> SyncCli:
    """A data dir with the app and the named stores of STORES written directly."""
    return write_home(
        home,
        sim,
        "amzn1.sp.solution.settle-e2e",
        CLIENT_ID,
        SECRET,
        [(name, *STORES[name]) for name in names],
    )


def listed(sim: Simulator) -> int:
    """Settlement reports the simulator lists for one seller over 90 days."""
    return sim.counters()["by_operation"]["getReportDocument"]


def settlements_of(cli: SyncCli, store: str) -> dict[str, list[dict[str, Any]]]:
    done = cli.run("export", "settlements", store, "--format", "jsonl")
    assert done.returncode == 0, done.stderr
    by_id: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in done.stdout.splitlines():
        row = json.loads(line)
        by_id[row["settlement_id"]].append(row)
    return by_id


def test_eu_settlements_load_once_with_exact_amounts(tmp_path: Path, sim: Simulator) -> None:
    cli = make_cli(tmp_path, sim, ["acme-de"])
    first = cli.run("sync", "--dataset", "settlements", "--json", timeout=120)
    assert first.returncode == 0, first.stderr
    [store] = json.loads(first.stdout)["stores"]
    [dataset] = store["datasets"]
    assert dataset["outcome"] == "ok", dataset
    settlements = settlements_of(cli, "acme-de")
    # One settlement every 14 days, listed for 90 days: six or seven.
    assert 6 <= len(settlements) <= 7
    assert store["rows_added"] == len(settlements) * (LINES + 1)
    contract = {
        "store", "settlement_id", "settlement_start", "settlement_end", "deposit_date",
        "total_amount", "currency", "transaction_type", "order_id", "sku", "amount_type",
        "amount_description", "amount", "posted_at",
    }  # fmt: skip
    big = 0
    for rows in settlements.values():
        assert len(rows) == LINES + 1
        header, *lines = rows
        assert contract <= set(header)
        assert header["currency"] == "EUR" and header["transaction_type"] is None
        assert header["settlement_start"].endswith("Z") and header["posted_at"] is None
        # The lines add up to the header's total to the cent: every "1.234,56" read exactly.
        total = sum((Decimal(line["amount"]) for line in lines), Decimal(0))
        assert total == Decimal(header["total_amount"])
        for line in lines:
            assert "," not in line["amount"] and len(line["amount"].split(".")[1]) == 2
            big += abs(Decimal(line["amount"])) >= 1000
            assert line["posted_at"] >= header["settlement_start"]
    assert big > 0  # grouped thousands were among them

    # Listed again by the next run: nothing is loaded twice.
    downloads = sim.counters()["by_operation"].get("downloadReportDocument", 0)
    again = cli.run("sync", "--dataset", "settlements", "--json", timeout=120)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["stores"][0]["rows_added"] == 0
    assert sim.counters()["by_operation"].get("downloadReportDocument", 0) == downloads
    assert settlements_of(cli, "acme-de") == settlements
    counts = query(
        cli.home,
        "SELECT COUNT(*), COUNT(DISTINCT settlement_id || ':' || line) FROM settlement_lines",
    )
    assert counts[0][0] == counts[0][1] == len(settlements) * (LINES + 1)


def test_a_store_without_the_finance_role_is_not_authorized_and_stays_active(
    tmp_path: Path, sim: Simulator
) -> None:
    cli = make_cli(tmp_path, sim, ["norole-fr"])
    done = cli.run("sync", "--dataset", "settlements", "--json", timeout=120)
    [dataset] = json.loads(done.stdout)["stores"][0]["datasets"]
    assert dataset["outcome"] == "not_authorized"
    assert "add the Finance and Accounting role to the app" in dataset["error"]["message"]
    listed = cli.run("list", "--json")
    assert [row["status"] for row in json.loads(listed.stdout)] == ["active"]
    data = cli.run("data", "--json")
    [row] = [r for r in json.loads(data.stdout) if r["dataset"] == "settlements"]
    assert [p["code"] for p in row["problems"]] == ["not_authorized"]


def _kill_mid_document(process: subprocess.Popen[str], home: Path, sim: Simulator) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        if sim.counters()["by_operation"].get("downloadReportDocument", 0) >= 1:
            time.sleep(1.0)  # well into the document
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
            return
        time.sleep(0.01)
    process.kill()
    pytest.fail("the sync never started a download")


def rerun_then_clean_run(
    cli: SyncCli, sim: Simulator, clean_home: Path, args: tuple[str, ...]
) -> SyncCli:
    """After the kill: rerun at full speed, and sync a fresh data dir once to compare against."""
    # Nothing of the interrupted settlement is visible, nor stored at all.
    assert query(cli.home, "SELECT COUNT(*) FROM settlement_lines") in ([(0,)], [])
    sim.update_section("reports", {"document_chunk_delay_ms": 0})
    done = cli.run(*args, timeout=600)
    assert done.returncode == 0, done.stderr

    clean = make_cli(clean_home, sim, ["big-us"])
    once = clean.run(*args, timeout=600)
    assert once.returncode == 0, once.stderr
    return clean


def test_kill_9_mid_document_then_rerun_equals_one_clean_run(tmp_path: Path) -> None:
    slow = scenario(document_chunk_delay_ms=150)
    with Simulator(parse_scenario(slow)) as sim:
        cli = make_cli(tmp_path / "crashy", sim, ["big-us"])
        args = ("sync", "--dataset", "settlements", "--json")
        first = subprocess.Popen(
            [*command(), *args], env=cli.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        try:
            _kill_mid_document(first, cli.home, sim)
        finally:
            if first.poll() is None:
                first.kill()
            first.communicate(timeout=30)
        clean = rerun_then_clean_run(cli, sim, tmp_path / "clean", args)

    assert_same_settlements(cli.home, clean.home, BIG_LINES)


def test_two_team_workers_store_each_settlement_once(tmp_path: Path, pg_cluster: Cluster) -> None:
    spec = scenario()
    spec["sellers"][1]["settlement_lines"] = 2000
    # Slow answers keep both workers' runs overlapping.
    spec["latency"] = {"default_ms": 30}
    with Simulator(parse_scenario(spec)) as sim:
        url = pg_cluster.fresh_database()
        cli = make_cli(tmp_path, sim, ["acme-de", "big-us"])
        cli.env["SOLDSCOPE_DATABASE_URL"] = url
        moved = cli.run("team", "import", "--from-secrets", "file")
        assert moved.returncode == 0, moved.stderr
        args = ("sync", "--dataset", "settlements", "--json")
        workers = [
            subprocess.Popen(
                [*command(), *args],
                env=cli.env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        for worker in workers:
            _, err = worker.communicate(timeout=300)
            assert worker.returncode == 0, err
        again = cli.run(*args, timeout=120)
        assert again.returncode == 0, again.stderr
        assert all(s["rows_added"] == 0 for s in json.loads(again.stdout)["stores"])
    with psycopg.connect(url) as conn:
        per_settlement = conn.execute(
            "SELECT s.name, l.settlement_id, COUNT(*), COUNT(DISTINCT l.line),"
            " COUNT(DISTINCT l.report_id) FROM settlement_lines l JOIN stores s"
            " ON s.id = l.store_id GROUP BY s.name, l.settlement_id"
        ).fetchall()
    assert per_settlement
    expected = {"acme-de": LINES + 1, "big-us": 2001}
    for name, _, count, distinct, reports in per_settlement:
        assert count == distinct == expected[name] and reports == 1
    assert {row[0] for row in per_settlement} == set(expected)


def test_team_import_carries_settlements_over_exactly(
    tmp_path: Path, sim: Simulator, pg_cluster: Cluster
) -> None:
    cli = make_cli(tmp_path, sim, ["acme-de"])
    first = cli.run("sync", "--dataset", "settlements", "--json", timeout=120)
    assert first.returncode == 0, first.stderr
    local = query(
        cli.home,
        "SELECT settlement_id, line, total_amount, amount, posted_at FROM settlement_lines"
        " ORDER BY settlement_id, line",
    )
    assert local

    url = pg_cluster.fresh_database()
    cli.env["SOLDSCOPE_DATABASE_URL"] = url
    moved = cli.run("team", "import", "--from-secrets", "file")
    assert moved.returncode == 0, moved.stderr
    with psycopg.connect(url) as conn:
        copied = conn.execute(
            "SELECT settlement_id, line, total_amount::text, amount::text,"
            " to_char(posted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
            " FROM settlement_lines ORDER BY settlement_id, line"
        ).fetchall()
    assert [tuple(r) for r in copied] == local
    # The team knows them loaded: its first sync downloads nothing.
    downloads = sim.counters()["by_operation"].get("downloadReportDocument", 0)
    again = cli.run("sync", "--dataset", "settlements", "--json", timeout=120)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["stores"][0]["rows_added"] == 0
    assert sim.counters()["by_operation"].get("downloadReportDocument", 0) == downloads


def test_delete_purge_data_removes_the_store_settlements(tmp_path: Path, sim: Simulator) -> None:
    cli = make_cli(tmp_path, sim, ["acme-de"])
    assert cli.run("sync", "--dataset", "settlements", timeout=120).returncode == 0
    assert query(cli.home, "SELECT COUNT(*) FROM settlement_lines")[0][0] > 0
    purged = cli.run("delete", "acme-de", "--purge-data", "--yes")
    assert purged.returncode == 0, purged.stderr
    assert query(cli.home, "SELECT COUNT(*) FROM settlement_lines") == [(0,)]


def test_kill_9_mid_document_in_team_mode_then_rerun_equals_one_clean_run(
    tmp_path: Path, pg_cluster: Cluster
) -> None:
    fingerprint = (
        "SELECT settlement_id, COUNT(*), COUNT(DISTINCT line), SUM(amount)::text"
        " FROM settlement_lines GROUP BY settlement_id ORDER BY settlement_id"
    )

    def pg(url: str, sql: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(url) as conn:
            return [tuple(r) for r in conn.execute(sql.encode()).fetchall()]

    slow = scenario(document_chunk_delay_ms=150)
    with Simulator(parse_scenario(slow)) as sim:
        urls = [pg_cluster.fresh_database() for _ in range(2)]
        clis = []
        for name, url in zip(("crashy", "clean"), urls, strict=True):
            cli = make_cli(tmp_path / name, sim, ["big-us"])
            cli.env["SOLDSCOPE_DATABASE_URL"] = url
            moved = cli.run("team", "import", "--from-secrets", "file")
            assert moved.returncode == 0, moved.stderr
            clis.append(cli)
        crashy, clean = clis
        args = ("sync", "--dataset", "settlements", "--json")
        first = subprocess.Popen(
            [*command(), *args], env=crashy.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        try:
            _kill_mid_document(first, crashy.home, sim)
        finally:
            if first.poll() is None:
                first.kill()
            first.communicate(timeout=30)
        assert pg(urls[0], "SELECT COUNT(*) FROM settlement_lines") == [(0,)]
        sim.update_section("reports", {"document_chunk_delay_ms": 0})
        done = crashy.run(*args, timeout=600)
        assert done.returncode == 0, done.stderr
        once = clean.run(*args, timeout=600)
        assert once.returncode == 0, once.stderr
    expected = pg(urls[1], fingerprint)
    assert expected and all(row[1] == row[2] == BIG_LINES + 1 for row in expected)
    assert pg(urls[0], fingerprint) == expected


def test_kill_9_while_the_parser_process_reads_then_rerun_equals_one_clean_run(
    tmp_path: Path,
) -> None:
    from tests.sync.test_parser_process import alive, parser_children

    # 60,000 lines (about 12 MB): read and parsed in the parser process. Four weeks of them.
    lines = 60_000
    slow = scenario(document_chunk_delay_ms=20)
    slow["sellers"][1].update({"settlement_lines": lines, "settlement_days": 28})
    with Simulator(parse_scenario(slow)) as sim:
        cli = make_cli(tmp_path / "crashy", sim, ["big-us"])
        args = ("sync", "--dataset", "settlements", "--json")
        first = subprocess.Popen(
            [*command(), *args], env=cli.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        try:
            deadline = time.monotonic() + 120
            children: list[int] = []
            while not children and time.monotonic() < deadline:
                assert first.poll() is None, first.communicate()
                children = parser_children(first.pid)
                time.sleep(0.01)
            assert children, "the sync never started a parser process"
            time.sleep(0.3)  # rows written, the settlement's transaction open
            os.kill(first.pid, signal.SIGKILL)
            first.wait(timeout=10)
        finally:
            if first.poll() is None:
                first.kill()
            first.communicate(timeout=30)
        # The parser process ends with its parent (EOF on its input, or a closed pipe).
        gone = time.monotonic() + 10
        while any(alive(pid) for pid in children) and time.monotonic() < gone:
            time.sleep(0.05)
        assert not any(alive(pid) for pid in children)
        clean = rerun_then_clean_run(cli, sim, tmp_path / "clean", args)

    assert_same_settlements(cli.home, clean.home, lines)


def assert_same_settlements(got: Path, clean: Path, lines: int) -> None:
    """The two homes hold the same settlements, each whole: its header line and `lines` more."""
    fingerprint = (
        "SELECT settlement_id, COUNT(*), COUNT(DISTINCT line), MIN(line), MAX(line),"
        " SUM(CAST(amount AS REAL)), MAX(posted_at) FROM settlement_lines"
        " GROUP BY settlement_id ORDER BY settlement_id"
    )
    expected = query(clean, fingerprint)
    assert expected and all(row[1] == row[2] == lines + 1 for row in expected)
    assert query(got, fingerprint) == expected
