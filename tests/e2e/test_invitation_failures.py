"""Failed invitation attempts are recorded and shown: the installed `soldscope serve` on a free
127.0.0.1 port, the simulator's consent page answered by hand (Cancel, another seller, a seller
already connected), then `soldscope log` and `soldscope invites`."""

from __future__ import annotations

import json
import signal
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.e2e.conftest import Cli, simulator_env
from tests.prerequisites import require_soldscope
from tests.serve_process import Serve, free_port, start_serve, two_sellers

from soldscope_cli.simulator import Simulator, parse_scenario

pytestmark = pytest.mark.e2e

ACME = "A1INVITEFAILS"
BOLT = "A2INVITEFAILS"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def _location(url: str, data: bytes | None = None) -> str:
    """Where a 302/303 answer points (the browser's next request)."""
    try:
        _OPENER.open(urllib.request.Request(url, data=data), timeout=10)
    except urllib.error.HTTPError as answer:
        assert answer.code in (302, 303, 307), answer.code
        return str(answer.headers["Location"])
    raise AssertionError(f"{url} did not redirect")


def _page(url: str) -> tuple[int, str]:
    try:
        with _OPENER.open(url, timeout=30) as answer:
            return int(answer.status), answer.read().decode()
    except urllib.error.HTTPError as answer:
        return answer.code, answer.read().decode()


@dataclass
class Setup:
    sim: Simulator
    cli: Cli
    base: str

    def consent(self, link: str, action: str, seller: str = ACME) -> tuple[int, str]:
        """Click the link, answer Amazon's consent page with `action` as `seller`, follow back."""
        consent_url = _location(link)
        parts = urllib.parse.urlsplit(consent_url)
        fields = dict(urllib.parse.parse_qsl(parts.query))
        fields.update(action=action, selling_partner_id=seller)
        post = urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
        callback = _location(post, urllib.parse.urlencode(fields).encode())
        assert callback.startswith(f"{self.base}/callback")
        return _page(callback)

    def invite(self, *args: str) -> str:
        done = self.cli.run("invite", *args, "--json")
        assert done.returncode == 0, done.stderr
        return str(json.loads(done.stdout)["link"])

    def invites(self) -> list[dict[str, object]]:
        done = self.cli.run("invites", "--json")
        assert done.returncode == 0, done.stderr
        found: list[dict[str, object]] = json.loads(done.stdout)
        return found

    def log(self, name: str) -> list[dict[str, object]]:
        done = self.cli.run("log", name, "--json")
        assert done.returncode == 0, done.stderr
        found: list[dict[str, object]] = json.loads(done.stdout)
        return found


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    require_soldscope()
    base = f"http://127.0.0.1:{free_port()}"
    scenario = two_sellers(ACME, BOLT, auto_confirm=False)
    with Simulator(parse_scenario(scenario)) as sim:
        env = simulator_env(sim, SOLDSCOPE_REDIRECT_URI=f"{base}/callback", NO_COLOR="1")
        cli = Cli(tmp_path, env)
        config = Path(cli.env["SOLDSCOPE_CONFIG_DIR"])
        config.mkdir(parents=True)
        (config / "config.toml").write_text('[serve]\nagency_name = "Northwind Agency"\n')
        yield Setup(sim, cli, base)


@pytest.fixture
def serve(setup: Setup) -> Iterator[Serve]:
    running = start_serve(setup.base, setup.cli.env)
    try:
        yield running
    finally:
        assert running.stop(signal.SIGTERM) == 0, running.log


def _failures(setup: Setup, name: str) -> list[object]:
    return [e["detail"] for e in setup.log(name) if e["kind"] == "invitation_failed"]


def test_a_cancelled_consent_is_logged_and_shown_by_invites(setup: Setup, serve: Serve) -> None:
    link = setup.invite("acme-us", "--marketplace", "US")
    status, _ = setup.consent(link, "cancel")
    assert status == 200
    [failed] = [e for e in setup.log("acme-us") if e["kind"] == "invitation_failed"]
    assert isinstance(failed["detail"], dict)
    assert failed["detail"]["reason"] == "cancelled"
    assert "declined" in str(failed["detail"]["message"])
    [pending] = setup.invites()
    assert pending["status"] == "pending"
    last = pending["last_failure"]
    assert isinstance(last, dict)
    assert last["reason"] == "cancelled" and "declined" in str(last["message"])
    assert set(last) == {"at", "reason", "message"}
    # The table says it too, in plain columns when piped.
    table = setup.cli.run("invites")
    assert table.returncode == 0, table.stderr
    header, row = table.stdout.splitlines()
    assert "LAST FAILURE" in header
    assert "cancelled" in row
    # And the human log names it, also when it shows every store.
    text = setup.cli.run("log", "acme-us")
    assert "invite failed" in text.stdout and "cancelled" in text.stdout
    everything = json.loads(setup.cli.run("log", "--json").stdout)
    assert [e["kind"] for e in everything] == ["invitation_failed", "invited"]


def test_a_seller_already_connected_is_the_last_failure(setup: Setup, serve: Serve) -> None:
    first = setup.invite("acme-us", "--marketplace", "US")
    status, _ = setup.consent(first, "confirm")
    assert status == 200
    second = setup.invite("acme-two", "--marketplace", "US")
    status, page = setup.consent(second, "confirm")
    assert status != 200 or "already" in page
    [pending] = setup.invites()
    assert pending["name"] == "acme-two"
    last = pending["last_failure"]
    assert isinstance(last, dict) and last["reason"] == "duplicate"
    assert "acme-us" in str(last["message"])
    assert [d["reason"] for d in _failures(setup, "acme-two")] == ["duplicate"]  # type: ignore[index]


def test_a_renewal_consented_by_another_seller_is_the_last_failure(
    setup: Setup, serve: Serve
) -> None:
    setup.consent(setup.invite("acme-us", "--marketplace", "US"), "confirm")
    renewal = setup.invite("acme-us")
    setup.consent(renewal, "confirm", seller=BOLT)
    [pending] = setup.invites()
    last = pending["last_failure"]
    assert isinstance(last, dict) and last["reason"] == "other_seller"
    # A later success clears nothing of the history, and the used invitation is no longer listed.
    setup.consent(renewal, "confirm")
    assert setup.invites() == []
    reasons = [d["reason"] for d in _failures(setup, "acme-us")]  # type: ignore[index]
    assert reasons == ["other_seller"]
