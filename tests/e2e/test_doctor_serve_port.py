"""doctor while `soldscope serve` holds the redirect URI's port: the normal state of a server."""

from __future__ import annotations

import json
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.e2e.conftest import Cli, simulator_env
from tests.prerequisites import require_soldscope
from tests.serve_process import free_port, start_serve

from soldscope_cli.simulator import Simulator, parse_scenario

pytestmark = pytest.mark.e2e


@pytest.fixture
def home(tmp_path: Path) -> Iterator[tuple[Cli, str]]:
    require_soldscope()
    base = f"http://127.0.0.1:{free_port()}"
    scenario = {
        "sellers": [{"selling_partner_id": "A1DOCSERVE01", "region": "na", "marketplaces": ["US"]}]
    }
    with Simulator(parse_scenario(scenario)) as sim:
        env = simulator_env(sim, SOLDSCOPE_REDIRECT_URI=f"{base}/callback", NO_COLOR="1")
        yield Cli(tmp_path, env), base


def port_check(cli: Cli) -> tuple[int, dict[str, str]]:
    done = cli.run("doctor", "--json", "--offline")
    checks = {c["id"]: c for c in json.loads(done.stdout)}
    return done.returncode, checks["callback-port"]


def test_a_port_held_by_soldscope_serve_is_ok(home: tuple[Cli, str]) -> None:
    cli, base = home
    serve = start_serve(base, cli.env)
    try:
        code, check = port_check(cli)
    finally:
        serve.stop(signal.SIGKILL)
    assert check["status"] == "ok", check
    assert f"held by soldscope serve (pid {serve.process.pid})" in check["detail"]
    assert code == 0, check


def test_a_port_held_by_something_else_still_fails(home: tuple[Cli, str]) -> None:
    cli, base = home
    port = int(base.rsplit(":", 1)[1])
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
        sock.listen(1)
        code, check = port_check(cli)
    assert check["status"] == "fail" and "is in use" in check["detail"], check
    assert code == 1
