"""Two `soldscope connect` runs at once: the seller checks hold for the one that writes second.

Both runs are past their checks before either writes (Amazon's answer to the live check is slow),
so only the checks repeated where the store is written (config lock, registry transaction) see the
other's store.
"""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path

import pytest
from tests.e2e.conftest import Cli, simulator_env
from tests.pg import Cluster
from tests.prerequisites import require_soldscope

from soldscope_cli.simulator import Simulator, parse_scenario

pytestmark = pytest.mark.e2e

ACME = "A1RACEACME"
BOLT = "A2RACEBOLT"
SELLERS_PATH = "/sellers/v1/marketplaceParticipations"


def connect_at_once(
    cli: Cli, sim: Simulator, runs: list[tuple[str, str]], hosts: list[Cli] | None = None
) -> list[subprocess.CompletedProcess[str]]:
    """Each (name, seller) connected by `connect --refresh-token-stdin`, all at once (the i-th
    on hosts[i] when given)."""
    sim.set_latency(by_prefix={SELLERS_PATH: 1500})
    done: dict[int, subprocess.CompletedProcess[str]] = {}

    def one(i: int, name: str, seller: str) -> None:
        done[i] = (hosts[i] if hosts else cli).run(
            "connect",
            name,
            "--marketplace",
            "US",
            "--selling-partner-id",
            seller,
            "--refresh-token-stdin",
            input=sim.authorize(seller) + "\n",
        )

    threads = [threading.Thread(target=one, args=(i, *run)) for i, run in enumerate(runs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for result in done.values():
        assert "Traceback" not in result.stderr, result.stderr
    return [done[i] for i in range(len(runs))]


@pytest.mark.parametrize(
    ("runs", "refusal"),
    [
        ([("acme", ACME), ("acme-2", ACME)], "already connected as"),
        ([("acme", ACME), ("acme", BOLT)], "nothing was changed"),
    ],
    ids=["two_names_one_seller", "one_name_two_sellers"],
)
def test_two_connects_at_once_keep_the_seller_checks(
    tmp_path: Path, runs: list[tuple[str, str]], refusal: str
) -> None:
    require_soldscope()
    scenario = {
        "sellers": [
            {"selling_partner_id": seller, "region": "na", "marketplaces": ["US"]}
            for seller in (ACME, BOLT)
        ]
    }
    with Simulator(parse_scenario(scenario)) as sim:
        cli = Cli(tmp_path, simulator_env(sim, NO_COLOR="1"))
        results = connect_at_once(cli, sim, runs)
        assert sorted(r.returncode for r in results) == [0, 2], [r.stderr for r in results]
        [(winner, won)] = [
            (run, r) for run, r in zip(runs, results, strict=True) if r.returncode == 0
        ]
        [lost] = [r for r in results if r.returncode == 2]
        assert refusal in lost.stderr and len(lost.stderr.strip().splitlines()) == 1, lost.stderr
        listed = cli.run("list", "--json")
        assert listed.returncode == 0, listed.stderr
        assert {r["name"]: r["selling_partner_id"] for r in json.loads(listed.stdout)} == {
            winner[0]: winner[1]
        }
        # The winner's token is the one stored, and it works.
        checked = cli.run("validate", winner[0])
        assert checked.returncode == 0, checked.stderr + won.stderr


@pytest.mark.parametrize(
    ("runs", "refusal"),
    [
        ([("one", "A1TEAMHOST0001"), ("two", "A1TEAMHOST0001")], "already connected as"),
        ([("one", "A1TEAMHOST0001"), ("one", "A2TEAMHOST0002")], "nothing was changed"),
    ],
    ids=["two_names_one_seller", "one_name_two_sellers"],
)
def test_two_team_hosts_connecting_at_once_keep_the_seller_checks(
    tmp_path: Path, pg_cluster: Cluster, runs: list[tuple[str, str]], refusal: str
) -> None:
    from tests.e2e.test_team_hosts import make_team

    for team in make_team(tmp_path, pg_cluster):
        results = connect_at_once(team.hosts[0], team.sim, runs, hosts=team.hosts)
        assert sorted(r.returncode for r in results) == [0, 2], [r.stderr for r in results]
        [winner] = [run for run, r in zip(runs, results, strict=True) if r.returncode == 0]
        [lost] = [r for r in results if r.returncode == 2]
        assert refusal in lost.stderr, lost.stderr
        for host in team.hosts:
            listed = host.run("list", "--json")
            assert listed.returncode == 0, listed.stderr
            stores = {r["name"]: r["selling_partner_id"] for r in json.loads(listed.stdout)}
            assert stores == {winner[0]: winner[1]}
        checked = team.hosts[1].run("validate", winner[0])
        assert checked.returncode == 0, checked.stderr
