"""Rotation in team mode: the new secret is stored sealed in the team database for every host,
and two hosts rotating at once rotate once (PostgreSQL advisory lock)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from soldscope_cli.fleet.sealed import new_key_text
from soldscope_cli.simulator import Simulator, parse_scenario
from tests.e2e.conftest import SOLDSCOPE, Cli, connect_sellers
from tests.pg import Cluster
from tests.sqs import Sqs

from .conftest import REDIRECT, SELLERS, home

pytestmark = pytest.mark.e2e


@pytest.fixture
def team(
    tmp_path: Path, pg_cluster: Cluster, sqs: Sqs
) -> Iterator[tuple[Simulator, str, list[Cli]]]:
    url = pg_cluster.fresh_database(template=None)
    queue = sqs.create_queue(f"team-{tmp_path.name[-20:]}".replace("_", "-"))
    scenario = {
        "app": {"redirect_uris": [REDIRECT]},
        "sellers": [
            {"selling_partner_id": seller, "region": "na", "marketplaces": ["US"]}
            for seller in SELLERS.values()
        ],
    }
    team_env = {
        "SOLDSCOPE_DATABASE_URL": url,
        "SOLDSCOPE_SECRETS": "database",
        "SOLDSCOPE_SECRETS_KEY": new_key_text(),
    }
    with Simulator(parse_scenario(scenario)) as sim:
        sim.set_rotation_queue(queue)
        first = home(tmp_path / "solo", sim, sqs, queue)
        hosts = [
            Cli(tmp_path / name, {**first.env, **team_env,
                                  "SOLDSCOPE_CONFIG_DIR": str(tmp_path / name / "config"),
                                  "SOLDSCOPE_DATA_DIR": str(tmp_path / name / "data")})
            for name in ("host-a", "host-b")
        ]  # fmt: skip
        assert hosts[0].run("team", "init").returncode == 0
        app = sim.scenario.app
        ids = ("--app-id", app.application_id, "--client-id", app.client_id,
               "--redirect-uri", REDIRECT)  # fmt: skip
        done = hosts[0].run("app", "set", *ids, "--client-secret-stdin", input=app.client_secret)
        assert done.returncode == 0, done.stderr
        done = hosts[1].run("app", "set", *ids)  # the secret is the team's already
        assert done.returncode == 0, done.stderr
        connect_sellers(hosts[0], sim, SELLERS)
        yield sim, url, hosts


def test_host_b_refreshes_with_the_new_secret_without_app_set(
    team: tuple[Simulator, str, list[Cli]],
) -> None:
    sim, url, (a, b) = team
    old = sim.scenario.app.client_secret
    done = a.run("app", "rotate", "--wait", "30", "--json", timeout=90)
    assert done.returncode == 0, done.stderr
    new = sim.scenario.app.client_secret
    assert new != old
    from tests.e2e.test_team_hosts import every_value

    assert not [value for value in every_value(url) if new in value]  # sealed, never in clear
    for host in (a, b):
        files = [p.read_bytes() for p in host.home.rglob("*") if p.is_file()]
        assert not [f for f in files if new.encode() in f]
    sim.advance_clock(8 * 86400)  # the old secret's 7 days are over: only the new one refreshes
    validated = b.run("validate", "--json")
    assert validated.returncode == 0, validated.stderr
    assert {row["status"] for row in json.loads(validated.stdout)} == {"active"}
    state = json.loads(b.run("app", "rotation", "--json").stdout)
    assert state["last_rotation"]["requested"] is True
    assert state["client_secret"]["expiry_source"] == "amazon"


def test_two_hosts_rotating_at_once_rotate_once(team: tuple[Simulator, str, list[Cli]]) -> None:
    sim, _url, hosts = team
    argv = [str(SOLDSCOPE), "app", "rotate", "--wait", "40", "--json"]
    runs = [
        subprocess.Popen(
            argv, env=cli.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for cli in hosts
    ]
    results = []
    for run in runs:
        out, err = run.communicate(timeout=120)
        assert run.returncode == 0, err
        results.append(json.loads(out)["result"])
    assert sorted(results) == ["rotated", "rotated_elsewhere"]
    assert sim.rotation_settings().sent == 1
