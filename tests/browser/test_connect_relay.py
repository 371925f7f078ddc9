"""`soldscope connect` with an https-style redirect URI: the relay page in headless Chromium hands
Amazon's answer to the installed command's loopback listener, or offers it for `--manual`.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import pytest
from tests.e2e.conftest import SOLDSCOPE, Cli, simulator_env, stored_secret
from tests.prerequisites import require_soldscope

from soldscope_cli.fleet.secrets import token_key
from soldscope_cli.simulator import Simulator, parse_scenario

if TYPE_CHECKING:
    from conftest import Chromium, RelayServer

SELLER = "A1RELAYCONSENT"
# Not a loopback address, so soldscope uses the relay mode (port in state) exactly as it would
# with https://agency.example/...; Chromium's resolver rules send the name to the relay server.
RELAY_HOST = "relay.agency.test"
URL_LINE = re.compile(rb"^(http://127\.0\.0\.1:\d+/apps/authorize/consent\?\S+)$", re.MULTILINE)


@dataclass
class Inputs(HTMLParser):
    """Values and visibility of the relay page's elements, by id."""

    values: dict[str, str] = field(default_factory=dict)
    hidden: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        super().__init__(convert_charrefs=True)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        ident = found.get("id")
        if ident:
            self.values[ident] = found.get("value", "")
            if "hidden" in found:
                self.hidden.add(ident)


def inputs(dom: str) -> Inputs:
    parser = Inputs()
    parser.feed(dom)
    return parser


@dataclass
class Running:
    """The installed command without a terminal, its consent link and its stderr."""

    process: subprocess.Popen[bytes]
    err: bytearray
    reader: threading.Thread
    url: str = ""

    def finish(self, stdin: str | None = None, timeout: float = 30) -> int:
        try:
            if self.process.stdin is not None:
                if stdin is not None:
                    self.process.stdin.write(stdin.encode())
                self.process.stdin.close()
            code = self.process.wait(timeout)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            self.reader.join(5)
            for stream in (self.process.stdout, self.process.stderr):
                if stream is not None:
                    stream.close()
        return code


def start(cli: Cli, *args: str) -> Running:
    process = subprocess.Popen(
        [str(SOLDSCOPE), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=cli.env,
    )
    err = bytearray()

    def read() -> None:
        assert process.stderr is not None
        while chunk := process.stderr.read1(4096):
            err.extend(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    running = Running(process, err, reader)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and process.poll() is None:
        found = URL_LINE.search(bytes(err))
        if found:
            running.url = found.group(1).decode()
            return running
        time.sleep(0.05)
    running.finish()
    raise AssertionError(f"no consent link printed: {bytes(err)!r}")


@dataclass
class Setup:
    sim: Simulator
    cli: Cli
    relay: RelayServer
    redirect_uri: str

    def stored_seller(self, name: str) -> str | None:
        listed = self.cli.run("list", "--json")
        rows = {row["name"]: row for row in json.loads(listed.stdout or "[]")}
        return rows[name]["selling_partner_id"] if name in rows else None

    def token(self, name: str) -> str | None:
        return stored_secret(self.cli.env, token_key(name))


@pytest.fixture
def setup(tmp_path: Path, relay_server: RelayServer) -> Iterator[Setup]:
    require_soldscope()
    redirect_uri = f"http://{RELAY_HOST}:{relay_server.port}/relay/"
    scenario = {
        "app": {"redirect_uris": [redirect_uri], "accept_any_loopback_redirect": False},
        "sellers": [{"selling_partner_id": SELLER, "region": "na", "marketplaces": ["US"]}],
        "consent": {"auto_confirm": True},
    }
    with Simulator(parse_scenario(scenario)) as sim:
        env = simulator_env(sim, SOLDSCOPE_REDIRECT_URI=redirect_uri, NO_COLOR="1")
        yield Setup(sim, Cli(tmp_path, env), relay_server, redirect_uri)


def test_relay_page_hands_the_consent_to_the_listener(setup: Setup, chromium: Chromium) -> None:
    running = start(setup.cli, "connect", "acme-us", "--marketplace", "US", "--no-browser")
    state = parse_qs(urlsplit(running.url).query)["state"][0]
    port = state.split(".", 1)[0]
    assert port.isdigit() and f"127.0.0.1:{port}/callback" in running.err.decode()

    dom = chromium.dom_when(running.url, "Return to the terminal", trap_port=setup.relay.port)

    assert running.finish() == 0, running.err.decode()
    assert "Return to the terminal" in dom and SELLER in dom
    assert setup.stored_seller("acme-us") == SELLER
    token = setup.token("acme-us")
    assert token and token.startswith("Atzr|") and token not in running.err.decode()
    # Amazon's redirect reached the relay page, which forwarded it; nothing else was asked of it.
    relayed = [path for host, path in setup.relay.seen if host.startswith(RELAY_HOST)]
    assert len(relayed) == 1 and relayed[0].startswith("/relay/?")


def test_manual_paste_of_the_relay_pages_address(setup: Setup, chromium: Chromium) -> None:
    # --manual: nothing listens and the state names no port, so the page offers its own address.
    running = start(setup.cli, "connect", "acme-us", "--marketplace", "US", "--manual")

    page = inputs(chromium.dump_dom(running.url, trap_port=setup.relay.port))

    assert "paste" not in page.hidden and "continue" in page.hidden
    pasted = page.values["callback-url"]
    assert pasted.startswith(setup.redirect_uri + "?") and "spapi_oauth_code=" in pasted
    assert running.finish(stdin=pasted + "\n") == 0, running.err.decode()
    assert setup.stored_seller("acme-us") == SELLER


def test_paste_fallback_appears_when_the_listener_is_gone(setup: Setup, chromium: Chromium) -> None:
    running = start(setup.cli, "connect", "acme-us", "--marketplace", "US", "--timeout", "1")
    assert running.finish() == 1  # timed out: the listener is closed

    page = inputs(chromium.dump_dom(running.url, trap_port=setup.relay.port))

    state = parse_qs(urlsplit(running.url).query)["state"][0]
    port = state.split(".", 1)[0]
    assert "paste" not in page.hidden
    pasted = page.values["callback-url"]
    assert pasted.startswith(f"http://127.0.0.1:{port}/callback?")
    assert parse_qs(urlsplit(pasted).query)["state"] == [state]
    assert setup.stored_seller("acme-us") is None and setup.token("acme-us") is None
