"""The installed `soldscope sync` against the simulator: kill -9 mid-document, concurrent runs."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from soldscope_cli.datasets import registry
from soldscope_cli.fleet.secrets import CLIENT_SECRET_KEY, token_key
from soldscope_cli.simulator import Simulator, parse_scenario
from tests.e2e.conftest import SOLDSCOPE, Cli
from tests.prerequisites import require, require_soldscope

pytestmark = pytest.mark.e2e

CLIENT_ID = "amzn1.application-oa2-client.synce2e00000000001"
SECRET = "amzn1.oa2-cs.v1.sync-e2e-secret"
SELLER = "A1SYNCE2E00001"
OTHER = "A2SYNCE2E00002"
ROWS_PER_WEEK = 150_000
WEEKS = 4  # the first run's default


def scenario() -> dict[str, Any]:
    return {
        "app": {"client_id": CLIENT_ID, "client_secret": SECRET},
        "reports": {"polls_in_queue": 0, "polls_in_progress": 0},
        "sellers": [
            {
                "selling_partner_id": SELLER,
                "region": "na",
                "marketplaces": ["US"],
                "inventory_items": 60,
                "transactions": 120,
                "search_terms_rows": ROWS_PER_WEEK,
            },
            {
                "selling_partner_id": OTHER,
                "region": "na",
                "marketplaces": ["US", "CA"],
                "inventory_items": 30,
                "transactions": 50,
                "search_terms_rows": 300,
            },
        ],
    }


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(parse_scenario(scenario())) as simulator:
        yield simulator


def make_cli(home: Path, sim: Simulator, stores: dict[str, str]) -> SyncCli:
    """A data dir with the app and the given stores (name → seller) written directly."""
    return write_home(
        home,
        sim,
        "amzn1.sp.solution.sync-e2e",
        CLIENT_ID,
        SECRET,
        [(name, seller, "na", ["US"]) for name, seller in stores.items()],
    )


def write_home(
    home: Path,
    sim: Simulator,
    application_id: str,
    client_id: str,
    secret: str,
    stores: list[tuple[str, str, str, list[str]]],
) -> SyncCli:
    """A data dir with the app and stores (name, seller, region, marketplaces) written directly,
    so a test spends its time on the sync rather than on connecting."""
    require_soldscope()
    cli = SyncCli(
        home, {"SOLDSCOPE_SECRETS": "file", "SOLDSCOPE_RETRY_MAX_TOTAL": "5", **sim.env()}
    )
    config = textwrap.dedent(
        f"""
        [app]
        application_id = "{application_id}"
        client_id = "{client_id}"
        """
    )
    secrets = {CLIENT_SECRET_KEY: secret}
    for name, seller, region, markets in stores:
        config += textwrap.dedent(
            f"""
            [stores.{name}]
            region = "{region}"
            marketplaces = {json.dumps(markets)}
            selling_partner_id = "{seller}"
            authorized_at = 2026-11-01T00:00:00Z
            """
        )
        secrets[token_key(name)] = sim.authorize(seller)
    (home / "config").mkdir(parents=True)
    (home / "config" / "config.toml").write_text(config)
    (home / "data").mkdir(parents=True)
    secrets_file = home / "data" / "secrets.json"
    secrets_file.write_text(json.dumps(secrets))
    secrets_file.chmod(0o600)
    return cli


def query(home: Path, sql: str) -> list[tuple[Any, ...]]:
    try:
        conn = sqlite3.connect(
            f"file:{home / 'data' / 'soldscope.db'}?mode=ro", uri=True, timeout=10
        )
    except sqlite3.OperationalError:
        return []  # not created yet
    try:
        return [tuple(r) for r in conn.execute(sql).fetchall()]
    except sqlite3.OperationalError:
        return []  # not migrated yet
    finally:
        conn.close()


def command() -> list[str]:
    """The installed soldscope command."""
    return [str(SOLDSCOPE)]


class SyncCli(Cli):
    """Cli running `command()` instead of assuming the console script has `sync`."""

    def run(  # type: ignore[override]
        self, *args: str, timeout: float = 60, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*command(), *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=timeout,
            check=False,
            input=input,
        )


@pytest.fixture(autouse=True)
def reap() -> Iterator[list[subprocess.Popen[str]]]:
    """Kill whatever a failed test left running."""
    started: list[subprocess.Popen[str]] = []
    _RUNNING[:] = []
    yield started
    for process in _RUNNING:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=30)


_RUNNING: list[subprocess.Popen[str]] = []


def popen(cli: Cli, *args: str) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [*command(), *args],
        env=cli.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _RUNNING.append(process)
    return process


def kill_when(process: subprocess.Popen[str], home: Path, loaded: int) -> None:
    """SIGKILL the process once `loaded` weeks are visible and the next one is half staged."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, "sync finished before it could be killed"
        weeks = query(home, "SELECT COUNT(*) FROM ba_search_terms_weeks")
        staged = query(home, "SELECT COUNT(*) FROM ba_search_terms_rows")
        if (
            weeks
            and staged
            and weeks[0][0] == loaded
            and staged[0][0] >= loaded * ROWS_PER_WEEK + 20_000
        ):
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
            return
        time.sleep(0.01)
    process.kill()
    pytest.fail("the sync never reached the point to kill it")


def fingerprint(home: Path) -> list[tuple[Any, ...]]:
    """Per week: rows, distinct keys and value sums of what queries see."""
    return query(
        home,
        "SELECT week_start, COUNT(*), COUNT(DISTINCT department_name || '|' || search_term || '|'"
        " || clicked_asin), SUM(search_frequency_rank), ROUND(SUM(click_share), 4)"
        " FROM ba_search_terms GROUP BY week_start ORDER BY week_start",
    )


def test_kill_9_mid_document_then_rerun_equals_one_clean_run(
    tmp_path: Path, sim: Simulator
) -> None:
    crashy = make_cli(tmp_path / "crashy", sim, {"acme-us": SELLER})
    args = ("sync", "--dataset", "brand-analytics", "--json")
    first = popen(crashy, *args)
    kill_when(first, crashy.home, loaded=0)
    # Staged rows of the interrupted week are invisible; its report is remembered, not lost.
    assert fingerprint(crashy.home) == []
    inflight = query(crashy.home, "SELECT COUNT(*) FROM sync_state WHERE key LIKE 'inflight:%'")
    assert inflight[0][0] >= 1
    second = popen(crashy, *args)
    kill_when(second, crashy.home, loaded=1)
    done = crashy.run(*args, timeout=300)
    assert done.returncode == 0, done.stderr
    reports_requested = sim.counters()["by_operation"]["createReport"]

    clean = make_cli(tmp_path / "clean", sim, {"acme-us": SELLER})
    once = clean.run(*args, timeout=300)
    assert once.returncode == 0, once.stderr
    assert json.loads(once.stdout)["stores"][0]["rows_added"] == WEEKS * ROWS_PER_WEEK
    expected = fingerprint(clean.home)
    assert len(expected) == WEEKS
    assert all(week[1] == week[2] == ROWS_PER_WEEK for week in expected)
    assert fingerprint(crashy.home) == expected
    # The resumed runs reused the in-flight reports: no week was requested twice.
    assert reports_requested == WEEKS
    # Nothing invisible is left behind either.
    assert query(crashy.home, "SELECT COUNT(*) FROM ba_search_terms_rows") == [
        (WEEKS * ROWS_PER_WEEK,)
    ]

    again = crashy.run(*args, timeout=120)
    assert again.returncode == 0
    assert json.loads(again.stdout)["stores"][0]["rows_added"] == 0
    assert fingerprint(crashy.home) == expected


def test_second_sync_while_one_runs_exits_75_and_the_first_completes(
    tmp_path: Path, sim: Simulator
) -> None:
    cli = make_cli(tmp_path, sim, {"acme-us": SELLER, "other-us": OTHER})
    first = popen(cli, "sync", "--json")
    holder = cli.home / "data" / "sync.lock.holder"
    deadline = time.monotonic() + 30
    while not holder.exists():
        assert time.monotonic() < deadline, "the first sync never took the lock"
        assert first.poll() is None, first.communicate()
        time.sleep(0.01)
    started = time.monotonic()
    second = cli.run("sync", timeout=30)
    assert time.monotonic() - started < 10  # refused at once, not after waiting
    assert second.returncode == 75, second.stderr
    assert f"pid {first.pid}" in second.stderr
    out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    report = json.loads(out)
    assert [s["outcome"] for s in report["stores"]] == ["ok", "ok"]
    # The lock is free again; an up-to-date re-run adds nothing.
    rerun = cli.run("sync", "--json", timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert all(s["rows_added"] == 0 for s in json.loads(rerun.stdout)["stores"])


def test_piped_run_prints_a_line_per_store_and_logs_privately(
    tmp_path: Path, sim: Simulator
) -> None:
    cli = make_cli(tmp_path, sim, {"acme-us": OTHER, "gone-us": SELLER})
    sim.revoke(SELLER)
    result = cli.run("sync", "--dataset", "inventory", "--dataset", "finances", timeout=120)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    # Lines come as stores finish; the summary comes last.
    first, second = sorted(lines[:2])
    assert first.startswith("acme-us: ok")
    assert second.startswith("gone-us: failed") and "invalid_grant" in second
    assert "soldscope connect gone-us" in second
    assert len(lines) == 3
    assert lines[2].startswith("2 stores: 1 ok, 1 failed")
    log = cli.home / "data" / "soldscope.log"
    assert oct(log.stat().st_mode & 0o777) == "0o600"
    secrets = json.loads((cli.home / "data" / "secrets.json").read_text())
    text = log.read_text() + result.stdout + result.stderr
    for value in secrets.values():
        assert value not in text
    listed = cli.run("list", "--json")
    statuses = {row["name"]: row["status"] for row in json.loads(listed.stdout)}
    assert statuses == {"acme-us": "active", "gone-us": "error"}


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 3 MB tmpfs: a disk that fills up mid-sync (needs root, as in CI)."""
    where = tmp_path / "small"
    where.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=3m,mode=0700", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    require(mounted.returncode == 0, f"mounting a tmpfs needs root: {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_a_full_disk_stops_the_sync_with_its_summary_and_one_error_line(
    sim: Simulator, small_disk: Path
) -> None:
    cli = make_cli(small_disk / "home", sim, {"big": SELLER, "small": OTHER})
    result = cli.run("sync", timeout=120)
    assert result.returncode == 74, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith("error: cannot write the state database")
    assert "the disk is full" in errors[0] and "free some space" in errors[0]
    assert "2 stores:" in result.stdout  # the summary is still printed


def test_watch_syncs_what_is_due_then_stops_cleanly_on_sigterm(
    tmp_path: Path, sim: Simulator
) -> None:
    cli = make_cli(tmp_path, sim, {"acme-us": SELLER, "other-us": OTHER})
    first = cli.run("sync", "--dataset", "inventory", "--json", timeout=120)
    assert first.returncode == 0, first.stderr
    watcher = popen(cli, "sync", "--watch", "--json", "--no-notify")
    assert watcher.stdout is not None
    line = watcher.stdout.readline()  # the first round: only what was due
    round_one = json.loads(line)
    assert round_one["outcome"] == "ok"
    assert [s["name"] for s in round_one["stores"]] == ["acme-us", "other-us"]
    assert {d["dataset"] for s in round_one["stores"] for d in s["datasets"]} == set(
        registry.NAMES
    ) - {"inventory"}  # inventory was synced a moment ago: not due for 6 hours
    time.sleep(1)
    assert watcher.poll() is None  # nothing more is due: it naps
    started = time.monotonic()
    watcher.send_signal(signal.SIGTERM)
    out, err = watcher.communicate(timeout=30)
    assert time.monotonic() - started < 10
    assert watcher.returncode == 0, err
    assert out == ""  # no further round
    runs = query(tmp_path, "SELECT dataset, COUNT(*) FROM sync_runs GROUP BY dataset ORDER BY 1")
    assert runs == sorted((name, 2) for name in registry.NAMES)


def test_watch_refuses_since(tmp_path: Path, sim: Simulator) -> None:
    cli = make_cli(tmp_path, sim, {"acme-us": SELLER})
    done = cli.run("sync", "--watch", "--since", "2026-01-01")
    assert done.returncode == 2
    assert done.stderr.startswith("error: --since is for one backfill run, not for --watch")


def test_a_constant_next_token_fails_its_dataset_and_the_sync_ends_with_exit_1(
    tmp_path: Path,
) -> None:
    # Amazon answering every inventory page with the token it was asked with: the sync used to
    # page forever, holding the sync lock, so every later cron run exited 75 silently.
    looping = scenario()
    looping["pagination"] = {"repeat_next_token": ["inventory"]}
    looping["sellers"][0]["search_terms_rows"] = 300
    with Simulator(parse_scenario(looping)) as simulator:
        cli = make_cli(tmp_path, simulator, {"acme-us": SELLER})
        result = cli.run("sync", "--json", timeout=90)
        assert result.returncode == 1, result.stderr
        assert "Traceback" not in result.stdout + result.stderr
        store = json.loads(result.stdout)["stores"][0]
        outcomes = {d["dataset"]: d for d in store["datasets"]}
        inventory = outcomes["inventory"]
        assert inventory["outcome"] == "failed"
        assert inventory["error"]["code"] == "repeated_next_token"
        assert "Amazon sent the same nextToken again" in inventory["error"]["message"]
        # The store's other datasets still ran.
        assert outcomes["finances"]["outcome"] == "ok"
        assert outcomes["brand-analytics"]["outcome"] == "ok"
        # The lock is free: the next run is not refused with 75, and a piped run says why.
        again = cli.run("sync", "--dataset", "inventory", timeout=90)
        assert again.returncode == 1, again.stderr
        assert "acme-us: failed" in again.stdout
        assert "same nextToken" in again.stdout + again.stderr


def test_an_inventory_sync_after_a_slow_token_refresh_meets_no_429(tmp_path: Path) -> None:
    # getInventorySummaries is 2/s with a burst of 2; the first call waits for LWA. The client
    # used to take its quota token before the refresh, so it ran ahead of Amazon's bucket by the
    # refresh's duration and the third page of every inventory sync got a 429.
    paged = scenario()
    paged["sellers"][0]["inventory_items"] = 150  # three pages of 50
    paged["latency"] = {"by_prefix": {"/auth/o2/token": 400}}
    with Simulator(parse_scenario(paged)) as simulator:
        cli = make_cli(tmp_path, simulator, {"acme-us": SELLER})
        result = cli.run("sync", "--dataset", "inventory", "--json", timeout=90)
        assert result.returncode == 0, result.stderr
        counters = simulator.counters()
        assert counters["by_operation"]["getInventorySummaries"] == 3, counters
        assert counters["by_status"].get("429", 0) == 0, counters


def test_a_sync_right_after_another_starts_from_amazons_bucket_not_a_full_one(
    tmp_path: Path,
) -> None:
    # listTransactions refills 0.5 tokens a second after a burst of 10. The first run spends the
    # burst; a fresh process used to assume a full bucket again, and the second run's first call
    # met a 429. Now the buckets are kept in the state database.
    busy = scenario()
    busy["sellers"][0]["transactions"] = 3300  # about 1,100 in the first run's 30 days: 11 pages
    with Simulator(parse_scenario(busy)) as simulator:
        cli = make_cli(tmp_path, simulator, {"acme-us": SELLER})
        first = cli.run("sync", "--dataset", "finances", timeout=90)
        assert first.returncode == 0, first.stderr
        assert simulator.counters()["by_operation"]["listTransactions"] >= 11
        [(tokens, rate)] = query(
            tmp_path,
            "SELECT remaining, rate FROM rate_buckets WHERE operation = 'listTransactions'",
        )
        assert tokens < 1 and rate == 0.5
        simulator.reset_counters()
        second = cli.run("sync", "--dataset", "finances", timeout=90)
        assert second.returncode == 0, second.stderr
        counters = simulator.counters()
        assert counters["by_status"].get("429", 0) == 0, counters
