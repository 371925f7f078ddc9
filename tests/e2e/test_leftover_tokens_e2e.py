"""A process killed between a new store's token and its record: doctor finds the token, delete
removes it. The secret manager is the command backend, whose `set` kills soldscope right after
storing, as a power cut or kill -9 at that moment would."""

from __future__ import annotations

import json
import signal
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.conftest import Cli, simulator_env
from tests.prerequisites import require_soldscope
from tests.serve_process import free_port, start_serve, two_sellers

from soldscope_cli.simulator import Simulator, parse_scenario

pytestmark = pytest.mark.e2e

SELLER = "A1E2ELEFT0001"

# The secret manager: one file per key under its folder. With the crash marker present, storing a
# refresh token kills its parent, the soldscope process that ran it, once the value is on disk.
HELPER = """\
import os, signal, sys, urllib.parse
operation, folder, key = sys.argv[1:4]
path = os.path.join(folder, urllib.parse.quote(key, safe=""))
if operation == "get":
    if os.path.exists(path):
        sys.stdout.write(open(path).read())
        sys.exit(0)
    sys.exit(1)
if operation == "set":
    with open(path, "w") as out:
        out.write(sys.stdin.read().rstrip("\\n"))
    marker = os.path.join(folder, "crash-on-set")
    if "refresh-token:" in key and os.path.exists(marker):
        os.remove(marker)
        os.kill(os.getppid(), signal.SIGKILL)
    sys.exit(0)
if os.path.exists(path):
    os.remove(path)
    sys.exit(0)
sys.exit(1)
"""


@dataclass
class World:
    sim: Simulator
    cli: Cli
    vault: Path

    def tokens(self) -> list[str]:
        """The refresh-token entries the secret manager holds (by key)."""
        from urllib.parse import unquote

        return sorted(
            unquote(p.name) for p in self.vault.iterdir() if "refresh-token" in unquote(p.name)
        )

    def leftover_lines(self) -> list[dict[str, Any]]:
        done = self.cli.run("doctor", "--offline", "--json", timeout=30)
        results: list[dict[str, Any]] = json.loads(done.stdout)
        return [r for r in results if r["id"].startswith("leftover-token:")]


def make_world(
    tmp_path: Path, scenario: dict[str, Any], config: str = "", **env: str
) -> Iterator[World]:
    require_soldscope()
    vault = tmp_path / "vault"
    vault.mkdir()
    helper = tmp_path / "helper.py"
    helper.write_text(HELPER)
    run = f"{sys.executable} {helper}"
    config_dir = tmp_path / "config"
    config_dir.mkdir(mode=0o700)
    (config_dir / "config.toml").write_text(
        "[secrets]\n"
        'backend = "command"\n'
        f'get = "{run} get {vault} {{key}}"\n'
        f'set = "{run} set {vault} {{key}}"\n'
        f'delete = "{run} delete {vault} {{key}}"\n' + config
    )
    (config_dir / "config.toml").chmod(0o600)
    with Simulator(parse_scenario(scenario)) as sim:
        cli = Cli(tmp_path, simulator_env(sim, SOLDSCOPE_SECRETS="command", **env))
        yield World(sim, cli, vault)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    scenario = {"sellers": [{"selling_partner_id": SELLER, "region": "na", "marketplaces": ["US"]}]}
    yield from make_world(tmp_path, scenario)


def assert_found_then_deleted(world: World) -> None:
    """doctor reports the leftover token; delete removes it; doctor is clean again."""
    [key] = world.tokens()
    assert key.endswith("/refresh-token:acme-us")
    [leftover] = world.leftover_lines()
    assert leftover["status"] == "fail"
    assert leftover["title"] == "Leftover token acme-us"
    assert leftover["detail"].startswith("a refresh token stored on ")
    assert leftover["fix"] == "soldscope delete acme-us"
    text = world.cli.run("doctor", "--offline", timeout=30)
    assert text.returncode == 1
    assert any(ln.startswith("✗ Leftover token acme-us: ") for ln in text.stdout.splitlines())

    deleted = world.cli.run("delete", "acme-us", "--yes")
    assert deleted.returncode == 0, deleted.stderr
    assert deleted.stdout == "Deleted the leftover refresh token of acme-us (it had no store).\n"
    assert world.tokens() == []
    assert world.leftover_lines() == []
    again = world.cli.run("delete", "acme-us", "--yes")
    assert again.returncode == 2
    assert "no store named 'acme-us'" in again.stderr


def test_a_crash_after_the_token_leaves_a_token_doctor_finds_and_delete_removes(
    world: World,
) -> None:
    (world.vault / "crash-on-set").touch()
    crashed = world.cli.run(
        "connect", "acme-us", "--marketplace", "US", "--selling-partner-id", SELLER,
        "--refresh-token-stdin", input=world.sim.authorize(SELLER) + "\n",
    )  # fmt: skip
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    listed = world.cli.run("list", "--json")
    assert json.loads(listed.stdout or "[]") == []  # no record: nothing lists the store
    assert_found_then_deleted(world)

    # The name is free again: a connect that completes leaves nothing for doctor to report.
    done = world.cli.run(
        "connect", "acme-us", "--marketplace", "US", "--selling-partner-id", SELLER,
        "--refresh-token-stdin", input=world.sim.authorize(SELLER) + "\n",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert world.leftover_lines() == []
    assert len(world.tokens()) == 1


def _redirect(url: str, data: bytes | None = None) -> str:
    """Where a redirecting answer points (the browser's next request)."""

    class Stop(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    try:
        urllib.request.build_opener(Stop).open(urllib.request.Request(url, data=data), timeout=10)
    except urllib.error.HTTPError as answer:
        return str(answer.headers["Location"])
    raise AssertionError(f"{url} did not redirect")


def test_a_crash_in_serves_callback_leaves_a_token_doctor_finds_and_delete_removes(
    tmp_path: Path,
) -> None:
    base = f"http://127.0.0.1:{free_port()}"
    scenario = two_sellers(SELLER, "A1E2ELEFT0002", auto_confirm=False)
    config = '[serve]\nagency_name = "Northwind Agency"\n'
    for world in make_world(tmp_path, scenario, config, SOLDSCOPE_REDIRECT_URI=f"{base}/callback"):
        invited = world.cli.run("invite", "acme-us", "--marketplace", "US", "--json")
        assert invited.returncode == 0, invited.stderr
        serve = start_serve(base, world.cli.env)
        (world.vault / "crash-on-set").touch()
        consent = urllib.parse.urlsplit(_redirect(json.loads(invited.stdout)["link"]))
        fields = dict(urllib.parse.parse_qsl(consent.query))
        fields.update(action="confirm", selling_partner_id=SELLER)
        post = urllib.parse.urlunsplit((consent.scheme, consent.netloc, consent.path, "", ""))
        callback = _redirect(post, urllib.parse.urlencode(fields).encode())
        with pytest.raises(OSError):  # the server died while answering
            urllib.request.urlopen(callback, timeout=30)
        assert serve.stop() == -signal.SIGKILL, serve.log
        assert_found_then_deleted(world)
