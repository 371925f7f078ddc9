"""The invitation journey end to end: the installed `soldscope serve` on a free 127.0.0.1 port, the
simulator's consent page, and the seller's browser (headless Chromium) from the link to the
"Connected" page, for a new store and for a renewal; then Ctrl-C / SIGTERM stop serve with exit 0.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from tests.e2e.conftest import Cli, simulator_env, stored_secret
from tests.prerequisites import require_soldscope
from tests.serve_process import Serve, free_port, start_serve, two_sellers

from soldscope_cli.fleet.secrets import token_key
from soldscope_cli.simulator import Simulator, parse_scenario

if TYPE_CHECKING:
    from conftest import Chromium, RelayServer

pytestmark = pytest.mark.e2e

ACME = "A1SERVEBROWSER"
BOLT = "A2SERVEBROWSER"


@dataclass
class Setup:
    sim: Simulator
    cli: Cli
    base: str
    trap: RelayServer

    def start_serve(self) -> Serve:
        return start_serve(self.base, self.cli.env)

    def invite(self, *args: str) -> dict[str, object]:
        done = self.cli.run("invite", *args, "--json")
        assert done.returncode == 0, done.stderr
        data: dict[str, object] = json.loads(done.stdout)
        return data

    def listed(self) -> dict[str, dict[str, object]]:
        done = self.cli.run("list", "--json")
        return {row["name"]: row for row in json.loads(done.stdout or "[]")}

    def invites(self) -> dict[str, str]:
        done = self.cli.run("invites", "--all", "--json")
        assert done.returncode == 0, done.stderr
        return {row["name"]: row["status"] for row in json.loads(done.stdout)}


@pytest.fixture
def setup(tmp_path: Path, relay_server: RelayServer) -> Iterator[Setup]:
    require_soldscope()
    base = f"http://127.0.0.1:{free_port()}"
    scenario = two_sellers(ACME, BOLT, auto_confirm=True)
    with Simulator(parse_scenario(scenario)) as sim:
        env = simulator_env(sim, SOLDSCOPE_REDIRECT_URI=f"{base}/callback", NO_COLOR="1")
        cli = Cli(tmp_path, env)
        config = Path(cli.env["SOLDSCOPE_CONFIG_DIR"])
        config.mkdir(parents=True)
        (config / "config.toml").write_text('[serve]\nagency_name = "Northwind Agency"\n')
        yield Setup(sim, cli, base, relay_server)


def test_a_seller_connects_then_renews_through_links_in_chromium(
    setup: Setup, chromium: Chromium
) -> None:
    serve = setup.start_serve()
    try:
        invited = setup.invite("acme-us", "--marketplace", "US", "--note", "first call")
        assert invited["kind"] == "new" and str(invited["link"]).startswith(f"{setup.base}/invite/")

        dom = chromium.dump_dom(str(invited["link"]), trap_port=setup.trap.port)

        assert "Connected — you can close this tab" in dom and "Northwind Agency" in dom
        assert ACME not in dom
        assert setup.listed()["acme-us"]["selling_partner_id"] == ACME
        assert setup.invites() == {"acme-us": "used"}
        first_token = stored_secret(setup.cli.env, token_key("acme-us"))
        assert first_token and first_token.startswith("Atzr|")

        # The renewal: same name, a new token, the stored seller kept.
        renewal = setup.invite("acme-us")
        assert renewal["kind"] == "renewal"
        dom = chromium.dump_dom(str(renewal["link"]), trap_port=setup.trap.port)
        assert "Connected — you can close this tab" in dom
        second_token = stored_secret(setup.cli.env, token_key("acme-us"))
        assert second_token and second_token != first_token
        assert setup.listed()["acme-us"]["status"] == "active"

        # A used link never starts another consent.
        dom = chromium.dump_dom(str(invited["link"]), trap_port=setup.trap.port)
        assert "already been used" in dom
    finally:
        code = serve.stop(signal.SIGINT)
    assert code == 0, serve.log
    log = serve.log
    assert "acme-us: connected through its invitation" in log
    assert "acme-us: renewed through its invitation" in log
    assert "GET /invite/… 302" in log and "spapi_oauth_code" not in log and "Atzr|" not in log
    assert str(invited["link"]).rsplit("/", 1)[1] not in log


def test_a_renewal_consented_by_another_seller_is_refused(setup: Setup, chromium: Chromium) -> None:
    serve = setup.start_serve()
    try:
        link = setup.invite("acme-us", "--marketplace", "US")["link"]
        chromium.dump_dom(str(link), trap_port=setup.trap.port)
        token = stored_secret(setup.cli.env, token_key("acme-us"))
        renewal = setup.invite("acme-us")["link"]
        setup.sim.set_consent(signed_in_seller=BOLT)

        dom = chromium.dump_dom(str(renewal), trap_port=setup.trap.port)

        assert "different Amazon seller account" in dom and "Northwind Agency" in dom
        assert setup.listed()["acme-us"]["selling_partner_id"] == ACME
        assert stored_secret(setup.cli.env, token_key("acme-us")) == token
        assert setup.invites() == {"acme-us": "pending"}
    finally:
        code = serve.stop(signal.SIGTERM)
    assert code == 0, serve.log


def test_serve_refuses_to_start_without_app_credentials(setup: Setup) -> None:
    env = {"SOLDSCOPE_LWA_CLIENT_SECRET": "", "SOLDSCOPE_APP_ID": ""}
    done = setup.cli.run("serve", "--listen", setup.base.removeprefix("http://"), env=env)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "not configured" in done.stderr


def test_serve_refuses_a_redirect_path_it_cannot_serve(setup: Setup) -> None:
    env = {"SOLDSCOPE_REDIRECT_URI": f"{setup.base}/invite/callback"}
    done = setup.cli.run("serve", "--listen", setup.base.removeprefix("http://"), env=env)
    assert done.returncode == 2 and "cannot answer the redirect URI" in done.stderr
