"""Two hosts on one team database: one fleet, shared sealed secrets, workers that split the stores.

Each "host" is a home of its own (config and data directories, no files in common) running the
installed command against the same PostgreSQL database and the simulator.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from tests.e2e.conftest import SOLDSCOPE, Cli, connect_sellers, simulator_env
from tests.pg import Cluster
from tests.prerequisites import require_soldscope

from soldscope_cli.datasets import registry
from soldscope_cli.fleet.sealed import new_key_text
from soldscope_cli.simulator import Simulator, parse_scenario

pytestmark = pytest.mark.e2e

SELLERS = {f"s{i}-us": f"A{i}TEAMHOST000{i}" for i in range(1, 7)}
BIG = "s1-us"
BIG_ROWS = 200_000


@dataclass
class Team:
    sim: Simulator
    url: str
    hosts: list[Cli]
    tokens: dict[str, str]

    def connect_all(self) -> None:
        self.tokens.update(connect_sellers(self.hosts[0], self.sim, SELLERS))


def scenario(big_rows: int = 300) -> dict[str, Any]:
    return {
        "reports": {"polls_in_queue": 0, "polls_in_progress": 0},
        "consent": {"auto_confirm": True},
        "sellers": [
            {
                "selling_partner_id": seller,
                "region": "na",
                "marketplaces": ["US"],
                "inventory_items": 20,
                "transactions": 30,
                "search_terms_rows": big_rows if name == BIG else 300,
            }
            for name, seller in SELLERS.items()
        ],
    }


def make_team(tmp_path: Path, pg_cluster: Cluster, big_rows: int = 300) -> Iterator[Team]:
    require_soldscope()
    url = pg_cluster.fresh_database(template=None)
    key = new_key_text()
    with Simulator(parse_scenario(scenario(big_rows))) as sim:
        env = simulator_env(
            sim,
            SOLDSCOPE_DATABASE_URL=url,
            SOLDSCOPE_SECRETS="database",
            SOLDSCOPE_SECRETS_KEY=key,
        )
        hosts = [Cli(tmp_path / name, dict(env)) for name in ("host-a", "host-b")]
        assert hosts[0].run("team", "init").returncode == 0
        yield Team(sim, url, hosts, {})


@pytest.fixture
def team(tmp_path: Path, pg_cluster: Cluster) -> Iterator[Team]:
    yield from make_team(tmp_path, pg_cluster)


def pg(url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return [tuple(r) for r in conn.execute(sql.encode(), params).fetchall()]


def every_value(url: str) -> list[str]:
    """Every text, json and bytea value of every table, as text, for a search for secrets."""
    columns = pg(
        url,
        "SELECT table_name, column_name FROM information_schema.columns"
        " WHERE table_schema = 'public' AND data_type IN ('text', 'jsonb', 'bytea', 'ARRAY')",
    )
    values: list[str] = []
    for table, column in columns:
        for (value,) in pg(url, f'SELECT "{column}"::text FROM "{table}"'):  # noqa: S608
            if value is not None:
                values.append(str(value))
    return values


def files_under(root: Path) -> Iterator[bytes]:
    for path in root.rglob("*"):
        if path.is_file():
            yield path.read_bytes()


def test_a_store_connected_on_one_host_is_listed_and_validated_on_the_other(team: Team) -> None:
    team.connect_all()
    host_a, host_b = team.hosts
    listed = host_b.run("list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [r["name"] for r in json.loads(listed.stdout)] == sorted(SELLERS)
    checked = host_b.run("validate", "--json")
    assert checked.returncode == 0, checked.stderr
    assert {r["status"] for r in json.loads(checked.stdout)} == {"active"}
    # host B never had a store in its config.toml: the fleet is the database's.
    assert (
        not (host_b.home / "config" / "config.toml").exists()
        or "stores" not in (host_b.home / "config" / "config.toml").read_text()
    )
    # A revocation seen by host B is what host A lists.
    team.sim.revoke(SELLERS["s2-us"])
    assert host_b.run("validate", "s2-us").returncode == 1
    statuses = {r["name"]: r["status"] for r in json.loads(host_a.run("list", "--json").stdout)}
    assert statuses["s2-us"] == "error"
    # Deleting on host A removes it for host B.
    assert host_a.run("delete", "s6-us", "--yes").returncode == 0
    names = [r["name"] for r in json.loads(host_b.run("list", "--json").stdout)]
    assert "s6-us" not in names and len(names) == 5

    # Both hosts publish the same calendar: the event UIDs come from the team's namespace.
    def uids(host: Cli) -> list[str]:
        from icalendar import Calendar

        calendar = Calendar.from_ical(host.run("calendar").stdout)
        return sorted(str(event["UID"]) for event in calendar.walk("VEVENT"))

    assert uids(host_a) == uids(host_b) and len(uids(host_a)) == 5

    # doctor on host B looks at the sealed rows on the server, not at a local file.
    doctor = {r["id"]: r for r in json.loads(host_b.run("doctor", "--offline", "--json").stdout)}
    assert doctor["secret-store"]["status"] == "ok"
    assert "matches the database's key check; 5 secrets stored" in doctor["secret-store"]["detail"]
    assert doctor["team-secrets"]["status"] == "ok"
    assert doctor["team-database"]["status"] == "ok"

    # The refresh tokens are in no database column and no file in clear.
    values = every_value(team.url)
    for token in team.tokens.values():
        assert not any(token in value for value in values)
        for host in team.hosts:
            assert not any(token.encode() in data for data in files_under(host.home))
    # ...but sealed: one row per token, under the team's shared namespace.
    sealed = pg(team.url, "SELECT name FROM secrets WHERE name LIKE '%%refresh-token:%%'")
    assert len(sealed) == 5


def test_a_home_with_local_stores_says_so_instead_of_showing_nothing(team: Team) -> None:
    host = team.hosts[1]
    config = host.home / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "config.toml").write_text(
        '[stores.old-us]\nregion = "na"\nmarketplaces = ["US"]\n'
        "authorized_at = 2026-11-01T00:00:00Z\n"
    )
    listed = host.run("list")
    assert "config.toml lists 1 store the team database does not have (old-us)" in listed.stderr
    assert "soldscope team import" in listed.stderr


def test_two_workers_sync_each_store_exactly_once(team: Team) -> None:
    team.connect_all()
    team.sim.set_latency(100)
    workers = [
        subprocess.Popen(
            [str(SOLDSCOPE), "sync", "--json", "--concurrency", "2"],
            env=host.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for host in team.hosts
    ]
    reports = []
    for worker in workers:
        out, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err
        reports.append(json.loads(out))
    synced = [{s["name"] for s in report["stores"] if s["outcome"] == "ok"} for report in reports]
    busy = [{s["name"] for s in report["stores"] if s["outcome"] == "busy"} for report in reports]
    assert synced[0] | synced[1] == set(SELLERS)
    assert not synced[0] & synced[1]  # nobody synced a store twice
    assert busy[0] == synced[1] and busy[1] == synced[0]
    assert synced[0] and synced[1]  # both did a share
    runs = pg(team.url, "SELECT store, dataset, COUNT(*) FROM sync_runs GROUP BY 1, 2")
    assert {(store, dataset) for store, dataset, _ in runs} == {
        (s, d) for s in SELLERS for d in registry.NAMES
    }
    assert {count for _, _, count in runs} == {1}


@pytest.fixture
def big_team(tmp_path: Path, pg_cluster: Cluster) -> Iterator[Team]:
    yield from make_team(tmp_path, pg_cluster, big_rows=BIG_ROWS)


def test_a_worker_killed_mid_document_releases_its_stores(big_team: Team) -> None:
    team = big_team
    team.connect_all()
    host_a, host_b = team.hosts
    victim = subprocess.Popen(
        [str(SOLDSCOPE), "sync", BIG, "--dataset", "brand-analytics"],
        env=host_a.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        staged = pg(team.url, "SELECT COUNT(*) FROM ba_search_terms_rows")[0][0]
        if staged >= 20_000:
            break
        assert victim.poll() is None, "the sync finished before it could be killed"
        time.sleep(0.02)
    else:
        victim.kill()
        pytest.fail("the document never started loading")
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(timeout=10)

    # The killed worker's session ends with it: host B gets the store at once and completes it.
    started = time.monotonic()
    done = host_b.run("sync", BIG, "--dataset", "brand-analytics", "--json", timeout=300)
    assert done.returncode == 0, done.stderr
    [store] = json.loads(done.stdout)["stores"]
    assert store["outcome"] == "ok", store
    assert time.monotonic() - started < 120
    weeks = pg(
        team.url,
        "SELECT COUNT(*) FROM ba_search_terms_weeks w JOIN stores s ON s.id = w.store_id"
        " WHERE s.name = %s",
        BIG,
    )[0][0]
    rows, distinct = pg(
        team.url,
        "SELECT COUNT(*), COUNT(DISTINCT (week_start, department_name, search_term,"
        " clicked_asin)) FROM ba_search_terms WHERE store = %s",
        BIG,
    )[0]
    assert weeks == 4
    assert rows == distinct == 4 * BIG_ROWS  # every week once, no duplicates


def test_a_client_connects_through_serve_on_one_host_and_the_other_sees_it(
    tmp_path: Path, pg_cluster: Cluster
) -> None:
    import httpx
    from tests.serve_process import free_port, start_serve

    for team in make_team(tmp_path, pg_cluster):
        base = f"http://127.0.0.1:{free_port()}"
        server, laptop = team.hosts
        server.env["SOLDSCOPE_REDIRECT_URI"] = f"{base}/callback"
        laptop.env["SOLDSCOPE_REDIRECT_URI"] = f"{base}/callback"
        # The invitation is made on the laptop; the server answers it: they share the database.
        made = laptop.run("invite", "s3-us", "--marketplace", "US")
        assert made.returncode == 0, made.stderr
        link = made.stdout.strip()
        serve = start_serve(base, server.env)
        try:
            team.sim.set_consent(signed_in_seller=SELLERS["s3-us"])
            with httpx.Client(trust_env=False, timeout=30, follow_redirects=True) as http:
                page = http.get(link)
            assert page.status_code == 200, serve.log
            assert "Connected" in page.text
        finally:
            assert serve.stop() == 0
        listed = json.loads(laptop.run("list", "--json").stdout)
        assert [(r["name"], r["selling_partner_id"]) for r in listed] == [
            ("s3-us", SELLERS["s3-us"])
        ]
        assert laptop.run("validate", "s3-us").returncode == 0
        invites = json.loads(laptop.run("invites", "--all", "--json").stdout)
        assert [(i["name"], i["status"]) for i in invites] == [("s3-us", "used")]


def test_the_client_secret_rotation_date_is_the_teams(team: Team) -> None:
    host_a, host_b = team.hosts
    for host in team.hosts:  # the secret comes from the team's store, not the environment
        host.env.pop("SOLDSCOPE_LWA_CLIENT_SECRET")
    secret = team.sim.scenario.app.client_secret
    app = team.sim.scenario.app
    done = host_a.run(
        "app",
        "set",
        "--app-id",
        app.application_id,
        "--client-id",
        app.client_id,
        "--client-secret-stdin",
        input=secret,
    )
    assert done.returncode == 0, done.stderr
    shown_a = json.loads(host_a.run("app", "show", "--json").stdout)["client_secret"]
    assert shown_a["set_at"] is not None and shown_a["rotation"] == "ok"
    # Host B never ran `app set`: the date comes from the team database, as the secret does.
    shown = host_b.run("app", "show")
    assert shown.returncode == 0, shown.stderr
    assert f"Secret set      {shown_a['set_at']} (0 days ago)" in shown.stdout, shown.stdout
    assert "Rotation due" in shown.stdout
    report = json.loads(host_b.run("app", "show", "--json").stdout)["client_secret"]
    assert report["set_at"] == shown_a["set_at"] and report["rotation"] == "ok"
    config_b = host_b.home / "config" / "config.toml"
    assert not config_b.exists() or "client_secret_set_at" not in config_b.read_text()
    doctor = {r["id"]: r for r in json.loads(host_b.run("doctor", "--offline", "--json").stdout)}
    assert doctor["app"]["status"] == "ok"
    rotation = doctor["secret-rotation"]
    assert rotation["status"] == "ok", rotation
    assert "no client secret is configured" not in rotation["detail"]
    assert rotation["detail"].startswith("set 0 days ago; due for rotation on "), rotation


def test_one_link_consented_on_two_team_hosts_at_once_connects_once(
    tmp_path: Path, pg_cluster: Cluster
) -> None:
    """Two browsers, two sellers, one link; each callback reaches the serve of another host."""
    import threading

    import httpx
    from tests.serve_process import free_port, start_serve

    for team in make_team(tmp_path, pg_cluster):
        base = f"http://127.0.0.1:{free_port()}"
        for host in team.hosts:
            host.env["SOLDSCOPE_REDIRECT_URI"] = f"{base}/callback"
        made = team.hosts[1].run("invite", "s3-us", "--marketplace", "US")
        assert made.returncode == 0, made.stderr
        link = made.stdout.strip()
        serves = [
            start_serve(base, team.hosts[0].env),
            start_serve(
                f"http://127.0.0.1:{free_port()}",
                team.hosts[1].env,
                "--trusted-proxy",
                "127.0.0.1",
            ),
        ]
        try:
            callbacks = []
            with httpx.Client(trust_env=False, timeout=30) as http:
                for seller in (SELLERS["s3-us"], SELLERS["s4-us"]):
                    team.sim.set_consent(signed_in_seller=seller)
                    started = http.get(link)
                    consent = http.get(started.headers["location"])
                    callbacks.append(str(consent.headers["location"])[len(base) :])
            team.sim.set_latency(by_prefix={"/auth/o2/token": 700})
            pages: dict[int, httpx.Response] = {}

            def answer(i: int, url: str, into: dict[int, httpx.Response]) -> None:
                with httpx.Client(trust_env=False, timeout=60) as http:
                    into[i] = http.get(url)

            threads = [
                threading.Thread(target=answer, args=(i, f"{s.base}{callbacks[i]}", pages))
                for i, s in enumerate(serves)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
            logs = serves[0].log + serves[1].log
            assert sorted(p.status_code for p in pages.values()) == [200, 410], logs
        finally:
            for serve in serves:
                assert serve.stop() == 0
        [won] = [i for i, page in pages.items() if page.status_code == 200]
        winner = (SELLERS["s3-us"], SELLERS["s4-us"])[won]
        for host in team.hosts:
            listed = json.loads(host.run("list", "--json").stdout)
            assert [(r["name"], r["selling_partner_id"]) for r in listed] == [("s3-us", winner)]
        assert team.hosts[0].run("validate", "s3-us").returncode == 0
        invites = json.loads(team.hosts[0].run("invites", "--all", "--json").stdout)
        assert [(i["name"], i["status"]) for i in invites] == [("s3-us", "used")]
        assert logs.count("s3-us: connected through its invitation") == 1, logs
        assert "renewed" not in logs, logs
