"""`soldscope sync` wiring: options reach the run, output modes, exit codes (in-process simulator)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pytest_httpx import HTTPXMock

from soldscope_cli.fleet.config import ConfigFile
from soldscope_cli.fleet.secrets import CLIENT_SECRET_KEY, token_key
from soldscope_cli.simulator import Simulator, parse_scenario
from soldscope_cli.sync.lock import SyncLock
from tests.conftest import NOW, Harness, make_harness

CLIENT_ID = "amzn1.application-oa2-client.synctests0000000001"
SECRET = "amzn1.oa2-cs.v1.sync-tests-secret"
SELLER = "A1SYNCTESTS0001"


def scenario() -> dict[str, Any]:
    return {
        "app": {"client_id": CLIENT_ID, "client_secret": SECRET},
        "rate_limits": {"enabled": False},
        "sellers": [
            {
                "selling_partner_id": SELLER,
                "region": "na",
                "marketplaces": ["US"],
                "inventory_items": 120,
                "transactions": 300,
                "search_terms_rows": 600,
            },
            {
                "selling_partner_id": "A3SYNCBOLT0003",
                "region": "na",
                "marketplaces": ["US"],
                "inventory_items": 10,
                "transactions": 10,
                "search_terms_rows": 600,
            },
            {
                "selling_partner_id": "A2SYNCNOBA0002",
                "region": "na",
                "marketplaces": ["US"],
                "roles": ["sellers", "inventory", "finances"],
                "inventory_items": 10,
                "transactions": 10,
            },
        ],
    }


@pytest.fixture
def sim() -> Iterator[Simulator]:
    # The simulator's clock is the harness's: reports for "last week" are valid for both.
    with Simulator(parse_scenario(scenario()), clock=lambda: NOW.timestamp()) as simulator:
        yield simulator


def add_store(h: Harness, sim: Simulator, name: str, seller: str = SELLER) -> None:
    h.add_store(name, seller=seller, authorized_at=datetime(2026, 11, 1, tzinfo=NOW.tzinfo))
    h.secrets.set(token_key(name), sim.authorize(seller))


@pytest.fixture
def h(tmp_path: Path, sim: Simulator) -> Harness:
    harness = make_harness(tmp_path, env=sim.env())
    with ConfigFile(harness.ctx.paths.config_file, harness.ctx.paths.config_lock).edit() as cfg:
        cfg.app.application_id = "amzn1.sp.solution.synctests"
        cfg.app.client_id = CLIENT_ID
    harness.secrets.set(CLIENT_SECRET_KEY, SECRET)
    return harness


def counts(h: Harness) -> dict[str, int]:
    conn = h.ctx.database().connection()
    return {
        t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]  # noqa: S608
        for t in ("inventory_summaries", "financial_transactions", "ba_search_terms")
    }


def test_json_run_syncs_everything_and_rerun_adds_nothing(
    h: Harness, sim: Simulator, invoke: Callable[..., Any]
) -> None:
    add_store(h, sim, "acme-us")
    result = invoke(h, "sync", "--json")
    assert result.exit_code == 0, h.stderr
    data = json.loads(h.stdout)
    store = data["stores"][0]
    assert (data["outcome"], store["name"], store["outcome"]) == ("ok", "acme-us", "ok")
    got = {d["dataset"]: (d["outcome"], d["rows_added"]) for d in store["datasets"]}
    assert got["inventory"] == ("ok", 120)
    assert got["brand-analytics"] == ("ok", 4 * 600)
    assert got["finances"][0] == "ok" and got["finances"][1] > 0
    before = counts(h)
    assert before["ba_search_terms"] == 2400
    again = invoke(h, "sync", "--json")
    assert again.exit_code == 0
    second = json.loads(h.stdout)["stores"][0]
    assert all(d["rows_added"] == 0 for d in second["datasets"])
    assert counts(h) == before


def test_ba_weeks_sets_how_far_a_first_run_reaches(
    h: Harness, sim: Simulator, invoke: Callable[..., Any]
) -> None:
    add_store(h, sim, "acme-us")
    result = invoke(h, "sync", "-d", "brand-analytics", "--ba-weeks", "2", "--json")
    assert result.exit_code == 0, h.stderr
    assert json.loads(h.stdout)["stores"][0]["rows_added"] == 2 * 600
    weeks = (
        h.ctx.database()
        .connection()
        .execute("SELECT week_start FROM ba_search_terms_weeks ORDER BY 1")
        .fetchall()
    )
    assert [w[0] for w in weeks] == ["2026-11-08", "2026-11-15"]


def test_a_dataset_option_comes_from_the_flag_then_config_then_its_default(
    h: Harness, sim: Simulator, invoke: Callable[..., Any]
) -> None:
    add_store(h, sim, "acme-us")
    with ConfigFile(h.ctx.paths.config_file, h.ctx.paths.config_lock).edit() as cfg:
        cfg.sync_options = {"ba_weeks": 3}
    assert "[sync]\nba_weeks = 3" in h.ctx.paths.config_file.read_text()
    result = invoke(h, "sync", "-d", "brand-analytics", "--json")
    assert result.exit_code == 0, h.stderr
    assert json.loads(h.stdout)["stores"][0]["rows_added"] == 3 * 600  # [sync] ba_weeks
    add_store(h, sim, "bolt-us", "A3SYNCBOLT0003")
    result = invoke(h, "sync", "bolt-us", "-d", "brand-analytics", "--ba-weeks", "1", "--json")
    assert result.exit_code == 0, h.stderr
    assert json.loads(h.stdout)["stores"][0]["rows_added"] == 600  # the flag wins


def test_dataset_filter_and_not_authorized_store(
    h: Harness, sim: Simulator, invoke: Callable[..., Any]
) -> None:
    add_store(h, sim, "acme-us")
    add_store(h, sim, "noba-us", "A2SYNCNOBA0002")
    result = invoke(h, "sync", "noba-us", "--dataset", "brand-analytics", "--json")
    assert result.exit_code == 0, h.stderr
    data = json.loads(h.stdout)
    assert [s["name"] for s in data["stores"]] == ["noba-us"]
    [only] = data["stores"][0]["datasets"]
    assert only["dataset"] == "brand-analytics"
    assert only["outcome"] == "not_authorized"
    assert counts(h)["inventory_summaries"] == 0


def test_piped_output_is_one_line_per_store_then_a_summary(
    h: Harness, sim: Simulator, invoke: Callable[..., Any]
) -> None:
    add_store(h, sim, "acme-us")
    result = invoke(h, "sync", "-d", "inventory")
    assert result.exit_code == 0, h.stderr
    lines = h.stdout.splitlines()
    assert lines[0].startswith("acme-us: ok (")
    assert lines[0].endswith("inventory +120")
    assert lines[-1] == "1 store: 1 ok; 120 rows added, 0 updated"
    assert "\x1b[" not in h.stdout


def test_quiet_prints_only_problems(h: Harness, sim: Simulator, invoke: Callable[..., Any]) -> None:
    add_store(h, sim, "acme-us")
    add_store(h, sim, "gone-us", "A2SYNCNOBA0002")
    sim.revoke("A2SYNCNOBA0002")
    result = invoke(h, "sync", "--quiet", "-d", "inventory")
    assert result.exit_code == 1
    assert h.stdout == ""
    assert "acme-us" not in h.stderr
    assert "gone-us: failed" in h.stderr and "invalid_grant" in h.stderr


def test_revoked_store_goes_into_error_and_later_runs_skip_it(
    h: Harness, sim: Simulator, invoke: Callable[..., Any]
) -> None:
    add_store(h, sim, "gone-us", "A2SYNCNOBA0002")
    sim.revoke("A2SYNCNOBA0002")
    assert invoke(h, "sync", "--json").exit_code == 1
    assert invoke(h, "list", "--json").exit_code == 1
    listed = json.loads(h.stdout)
    assert listed[0]["status"] == "error"
    assert listed[0]["error"]["code"] == "invalid_grant"
    assert invoke(h, "sync", "--json").exit_code == 1
    assert json.loads(h.stdout)["stores"][0]["outcome"] == "skipped"


def test_rejected_app_secret_is_said_once_and_exits_1(
    h: Harness, sim: Simulator, invoke: Callable[..., Any]
) -> None:
    add_store(h, sim, "acme-us")
    add_store(h, sim, "noba-us", "A2SYNCNOBA0002")
    h.secrets.set(CLIENT_SECRET_KEY, "amzn1.oa2-cs.v1.wrong")
    result = invoke(h, "sync", "--concurrency", "1")
    assert result.exit_code == 1
    assert h.stderr.count("the app's LWA credentials were rejected") == 1
    assert "soldscope app set" in h.stderr


def test_list_shows_the_last_sync(h: Harness, sim: Simulator, invoke: Callable[..., Any]) -> None:
    add_store(h, sim, "acme-us")
    invoke(h, "sync", "-d", "inventory")
    invoke(h, "list", "--json")
    assert json.loads(h.stdout)[0]["last_sync_at"] == "2026-11-29T12:00:00Z"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--dataset", "no-such-dataset"], "unknown dataset 'no-such-dataset'"),
        (["--since", "yesterday"], "is not a date"),
        (["--since", "2027-01-01"], "not in the past"),
        (["--concurrency", "0"], "--concurrency must be between 1 and 32"),
        (["--ba-weeks", "0"], "--ba-weeks must be between 1 and 104"),
        (["nosuch"], "no store named 'nosuch'"),
    ],
)
def test_usage_errors_exit_2_before_anything_runs(
    h: Harness, sim: Simulator, invoke: Callable[..., Any], args: list[str], needle: str
) -> None:
    add_store(h, sim, "acme-us")
    result = invoke(h, "sync", *args)
    assert result.exit_code == 2
    assert needle in h.stderr
    assert not h.ctx.paths.sync_lock.exists()


def test_second_sync_exits_75_naming_the_running_one(
    h: Harness, sim: Simulator, invoke: Callable[..., Any]
) -> None:
    add_store(h, sim, "acme-us")
    with SyncLock(h.ctx.paths.sync_lock, lambda: NOW, pid=31337):
        result = invoke(h, "sync")
    assert result.exit_code == 75
    assert "pid 31337" in h.stderr and "started 2026-11-29T12:00:00Z" in h.stderr


def test_no_stores_is_not_an_error(h: Harness, invoke: Callable[..., Any]) -> None:
    result = invoke(h, "sync")
    assert result.exit_code == 0
    assert "soldscope connect" in h.stderr


def test_log_file_records_the_run_without_secrets(
    h: Harness, sim: Simulator, invoke: Callable[..., Any]
) -> None:
    add_store(h, sim, "acme-us")
    sim.add_failure(status=503, count=None, path_prefix="/finances")
    assert invoke(h, "sync", "-d", "finances", "-d", "inventory").exit_code == 1
    text = h.ctx.paths.log_file.read_text()
    assert "sync started" in text and "sync finished" in text
    assert "acme-us finances failed" in text and "request id" in text
    token = h.secrets.get(token_key("acme-us")) or ""
    assert token and token not in text and SECRET not in text
    assert "Atza|" not in text or "Atza|[REDACTED]" in text


def test_terminal_output_shows_a_table(
    tmp_path: Path, sim: Simulator, invoke: Callable[..., Any]
) -> None:
    h = make_harness(tmp_path, env=sim.env(), tty=True)
    with ConfigFile(h.ctx.paths.config_file, h.ctx.paths.config_lock).edit() as cfg:
        cfg.app.application_id = "amzn1.sp.solution.synctests"
        cfg.app.client_id = CLIENT_ID
    h.secrets.set(CLIENT_SECRET_KEY, SECRET)
    add_store(h, sim, "acme-us")
    assert invoke(h, "sync", "-d", "inventory").exit_code == 0
    assert "Inventory" in h.stdout and "+120" in h.stdout
    assert h.stdout.splitlines()[-1].endswith("120 rows added, 0 updated")


def test_real_client_sends_the_documented_inventory_requests(
    httpx_mock: HTTPXMock, tmp_path: Path, invoke: Callable[..., Any]
) -> None:
    """Through SpapiClient and LWA with pytest-httpx: query parameters and pagination."""
    env = {
        "SOLDSCOPE_LWA_URL": "https://lwa.test/auth/o2/token",
        "SOLDSCOPE_SPAPI_URL": "https://sp.test",
    }
    h = make_harness(tmp_path, env=env, http_transport=None)
    with ConfigFile(h.ctx.paths.config_file, h.ctx.paths.config_lock).edit() as cfg:
        cfg.app.application_id = "amzn1.sp.solution.synctests"
        cfg.app.client_id = CLIENT_ID
    h.secrets.set(CLIENT_SECRET_KEY, SECRET)
    h.add_store("acme-us", authorized_at=datetime(2026, 11, 1, tzinfo=NOW.tzinfo))
    httpx_mock.add_response(
        url="https://lwa.test/auth/o2/token",
        json={"access_token": "Atza|access", "token_type": "bearer", "expires_in": 3600},
        is_reusable=True,  # each run builds its own LWA client, as a new process would
    )
    base = (
        "https://sp.test/fba/inventory/v1/summaries?granularityType=Marketplace"
        "&granularityId=ATVPDKIKX0DER&marketplaceIds=ATVPDKIKX0DER&details=true"
    )
    httpx_mock.add_response(
        url=base,
        json={
            "payload": {"inventorySummaries": [{"sellerSku": "S1", "totalQuantity": 2}]},
            "pagination": {"nextToken": "page2"},
        },
    )
    httpx_mock.add_response(
        url=base + "&nextToken=page2",
        json={"payload": {"inventorySummaries": [{"sellerSku": "S2", "totalQuantity": 3}]}},
    )
    assert invoke(h, "sync", "-d", "inventory", "--json").exit_code == 0, h.stderr
    assert json.loads(h.stdout)["stores"][0]["rows_added"] == 2
    h.clock.now = NOW.replace(hour=18)
    httpx_mock.add_response(
        url=base + "&startDateTime=2026-11-29T11%3A30%3A00.000Z",
        json={"payload": {"inventorySummaries": []}},
    )
    assert invoke(h, "sync", "-d", "inventory", "--json").exit_code == 0, h.stderr
    requests = httpx_mock.get_requests()
    assert all(
        r.headers["x-amz-access-token"] == "Atza|access"
        for r in requests
        if r.url.host == "sp.test"
    )
    assert isinstance(requests[0], httpx.Request)
