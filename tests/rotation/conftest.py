"""Fixtures for the rotation tests: moto's SQS server, the simulator with a queue registered, and
the installed command with an app, a file secret store and connected stores."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from soldscope_cli.simulator import Simulator, parse_scenario
from tests.e2e.conftest import Cli, connect_sellers, stored_secret
from tests.prerequisites import require_soldscope
from tests.sqs import Sqs, moto_sqs

SELLERS = {"acme-us": "A1ROTACME0001", "bolt-us": "A1ROTBOLT0002"}
REDIRECT = "https://agency.example/soldscope/callback"


@pytest.fixture(scope="session")
def sqs() -> Iterator[Sqs]:
    with moto_sqs() as emulator:
        yield emulator


@dataclass
class World:
    """A simulator delivering to a real SQS queue, and a home that uses both."""

    sim: Simulator
    sqs: Sqs
    queue: str
    cli: Cli

    def secret(self, cli: Cli | None = None) -> str | None:
        return stored_secret((cli or self.cli).env, "lwa-client-secret")

    def rotate(self, *args: str, cli: Cli | None = None, timeout: float = 90) -> Any:
        return (cli or self.cli).run("app", "rotate", "--json", *args, timeout=timeout)

    def rotation(self, cli: Cli | None = None) -> dict[str, Any]:
        done = (cli or self.cli).run("app", "rotation", "--json")
        assert done.returncode == 0, done.stderr
        return dict(json.loads(done.stdout))


def home(tmp_path: Path, sim: Simulator, sqs: Sqs, queue: str, **extra: str) -> Cli:
    """A home pointed at the simulator and the queue, its app set with a stored secret."""
    require_soldscope()
    cli = Cli(
        tmp_path,
        {
            **sim.env(),
            **sqs.env(),
            "SOLDSCOPE_SECRETS": "file",
            "SOLDSCOPE_ROTATION_QUEUE_URL": queue,
            "SOLDSCOPE_RETRY_MAX_TOTAL": "1.5",
            "SOLDSCOPE_RETRY_BASE_DELAY": "0.05",
            **extra,
        },
    )
    app = sim.scenario.app
    done = cli.run(
        "app", "set", "--app-id", app.application_id, "--client-id", app.client_id,
        "--redirect-uri", REDIRECT, "--client-secret-stdin", input=app.client_secret,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return cli


@pytest.fixture
def world(tmp_path: Path, sqs: Sqs, request: pytest.FixtureRequest) -> Iterator[World]:
    scenario = {
        # Rotation's own limit (one a minute) would make every second rotation of a test wait.
        "rate_limits": {"enabled": False},
        # Reports done at the first poll: a watch's round before its rotation check is quick.
        "reports": {"polls_in_queue": 0, "polls_in_progress": 0},
        "app": {"redirect_uris": [REDIRECT]},
        "sellers": [
            {"selling_partner_id": seller, "region": "na", "marketplaces": ["US"]}
            for seller in SELLERS.values()
        ],
    }
    queue = sqs.create_queue(f"rotation-{abs(hash(request.node.nodeid)) % 10**8}")
    with Simulator(parse_scenario(scenario)) as sim:
        sim.set_rotation_queue(queue)
        cli = home(tmp_path / "a", sim, sqs, queue)
        connect_sellers(cli, sim, SELLERS)
        yield World(sim, sqs, queue, cli)
