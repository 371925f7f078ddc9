"""`soldscope connect` through Seller Central's consent: the installed command, the simulator, and a
scripted browser set through $BROWSER (the command runs in a pseudo-terminal, as a person's would).
"""

from __future__ import annotations

import json
import os
import pty
import re
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qs, urlsplit

import pytest
from tests.e2e.conftest import SOLDSCOPE, Cli, simulator_env, stored_secret
from tests.prerequisites import require_soldscope
from tests.serve_process import free_port

from soldscope_cli.db.database import MIGRATIONS, Database
from soldscope_cli.fleet.paths import resolve_paths
from soldscope_cli.fleet.secrets import token_key
from soldscope_cli.simulator import Simulator, parse_scenario

pytestmark = pytest.mark.e2e

ACME = "A1E2ECONSENT01"
BOLT = "A2E2ECONSENT02"
URL_LINE = re.compile(rb"^(http://127\.0\.0\.1:\d+/apps/authorize/consent\?\S+)$", re.MULTILINE)

# The seller's browser, as $BROWSER runs it: `python browser.py URL`. It does what plan.json says
# and appends what it saw to log.jsonl, so the test can assert on pages the command answered with.
BROWSER_SCRIPT = r"""
import json, pathlib, sys, urllib.error, urllib.parse, urllib.request

here = pathlib.Path(__file__).parent
plan = json.loads((here / "plan.json").read_text())
url = sys.argv[1]


class Stay(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


opener = urllib.request.build_opener(Stay, urllib.request.ProxyHandler({}))


def load(address, data=None):
    try:
        response = opener.open(address, data=data, timeout=10)
    except urllib.error.HTTPError as error:
        response = error
    body = response.read().decode()
    title = body.split("<title>", 1)[-1].split("</title>", 1)[0] if "<title>" in body else ""
    (here / "last_page.html").write_text(body)
    return response.status, response.headers.get("Location"), title


def log(**entry):
    with open(here / "log.jsonl", "a") as handle:
        handle.write(json.dumps(entry) + "\n")


log(opened=url)
mode = plan["mode"]
if mode == "ignore":
    sys.exit(0)
if mode == "cancel":
    fields = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    form = urllib.parse.urlencode({**fields, "action": "cancel"}).encode()
    status, location, _ = load(url.split("?", 1)[0], form)
else:
    status, location, _ = load(url)
log(consent=status)
if mode == "tamper":
    parts = urllib.parse.urlsplit(location)
    query = dict(urllib.parse.parse_qsl(parts.query))
    query["state"] = query["state"][:-4] + "AAAA"
    location = parts._replace(query=urllib.parse.urlencode(query)).geturl()
if mode == "wrong_path":
    parts = urllib.parse.urlsplit(location)
    status, _, title = load(parts._replace(path="/elsewhere").geturl())
    log(status=status, title=title)
status, _, title = load(location)
log(status=status, title=title)
if mode == "twice":
    status, _, title = load(location)
    log(status=status, title=title)
"""


def scenario() -> dict[str, Any]:
    return {
        "sellers": [
            {"selling_partner_id": ACME, "region": "na", "marketplaces": ["US", "CA"]},
            {"selling_partner_id": BOLT, "region": "na", "marketplaces": ["US"]},
        ],
        "consent": {"auto_confirm": True, "signed_in_seller": ACME},
    }


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str


def _drain(stream: IO[bytes] | int, sink: bytearray) -> threading.Thread:
    def read() -> None:
        while True:
            try:
                chunk = os.read(stream, 4096) if isinstance(stream, int) else stream.read1(4096)
            except OSError:  # EIO: the terminal's other side closed
                return
            if not chunk:
                return
            sink.extend(chunk)

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


@dataclass
class Started:
    """A command running without a terminal: its consent link and its stderr so far."""

    process: subprocess.Popen[bytes]
    url: str
    err: bytearray
    readers: list[threading.Thread]

    def send(self, text: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(text.encode())
        self.process.stdin.close()

    def finish(self, timeout: float = 30) -> int:
        try:
            code = self.process.wait(timeout)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            for reader in self.readers:
                reader.join(5)
            for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
                if stream is not None and not stream.closed:
                    stream.close()
        return code


@dataclass
class World:
    sim: Simulator
    cli: Cli
    browser_dir: Path
    redirect_port: int

    def plan(self, mode: str) -> None:
        (self.browser_dir / "plan.json").write_text(json.dumps({"mode": mode}))
        (self.browser_dir / "log.jsonl").unlink(missing_ok=True)

    def browser_log(self) -> list[dict[str, Any]]:
        path = self.browser_dir / "log.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines()]

    def in_terminal(self, *args: str, timeout: float = 60) -> Run:
        """The command with stdin and stdout on a pseudo-terminal (a person at it); stderr piped."""
        master, slave = pty.openpty()
        process = subprocess.Popen(
            [str(SOLDSCOPE), *args],
            stdin=slave,
            stdout=slave,
            stderr=subprocess.PIPE,
            env=self.cli.env,
            start_new_session=True,
        )
        os.close(slave)
        out, err = bytearray(), bytearray()
        assert process.stderr is not None
        readers = [_drain(master, out), _drain(process.stderr, err)]
        try:
            code = process.wait(timeout)
        finally:
            if process.poll() is None:
                process.kill()
            for reader in readers:
                reader.join(5)
            os.close(master)
            process.stderr.close()
        return Run(code, out.decode(errors="replace"), err.decode(errors="replace"))

    def started(self, *args: str) -> Started:
        """The command without a terminal, once it printed the consent link."""
        process = subprocess.Popen(
            [str(SOLDSCOPE), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=self.cli.env,
        )
        assert process.stderr is not None and process.stdout is not None
        err, out = bytearray(), bytearray()
        readers = [_drain(process.stderr, err), _drain(process.stdout, out)]
        running = Started(process, "", err, readers)
        deadline = datetime.now(UTC) + timedelta(seconds=20)
        while datetime.now(UTC) < deadline:
            found = URL_LINE.search(bytes(err))
            if found:
                running.url = found.group(1).decode()
                return running
            if process.poll() is not None:
                break
            threading.Event().wait(0.05)
        process.kill()
        running.finish()
        raise AssertionError(f"no consent link printed: {bytes(err)!r}")

    def stores(self) -> dict[str, dict[str, Any]]:
        listed = self.cli.run("list", "--json")
        assert listed.returncode in (0, 1), listed.stderr
        return {row["name"]: row for row in json.loads(listed.stdout or "[]")}

    def token(self, name: str) -> str | None:
        return stored_secret(self.cli.env, token_key(name))

    def database(self) -> Database:
        return Database(resolve_paths(self.cli.env).database, MIGRATIONS)

    def connect(self, *args: str) -> Run:
        self.plan("confirm")
        return self.in_terminal("connect", *args)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    require_soldscope()
    browser_dir = tmp_path / "browser"
    browser_dir.mkdir()
    (browser_dir / "browser.py").write_text(BROWSER_SCRIPT)
    redirect_port = free_port()
    with Simulator(parse_scenario(scenario())) as sim:
        cli = Cli(
            tmp_path,
            simulator_env(
                sim,
                SOLDSCOPE_REDIRECT_URI=f"http://127.0.0.1:{redirect_port}/callback",
                BROWSER=f"{sys.executable} {browser_dir / 'browser.py'} %s",
                NO_COLOR="1",
            ),
        )
        yield World(sim, cli, browser_dir, redirect_port)


def nothing_stored(world: World, name: str) -> bool:
    return name not in world.stores() and world.token(name) is None


# --- the happy path ---------------------------------------------------------------------------------


def test_browser_consent_connects_a_store(world: World) -> None:
    done = world.connect("acme-us", "--marketplace", "US", "--marketplace", "CA")
    assert done.code == 0, done.stderr
    log = world.browser_log()
    assert log[0]["opened"].startswith(world.sim.url + "/apps/authorize/consent?")
    assert log[1:] == [
        {"consent": 302},
        {"status": 200, "title": "soldscope: Return to the terminal"},
    ]
    store = world.stores()["acme-us"]
    assert (store["selling_partner_id"], store["marketplaces"], store["status"]) == (
        ACME,
        ["US", "CA"],
        "active",
    )
    token = world.token("acme-us")
    assert token and token.startswith("Atzr|")
    assert token not in done.stdout + done.stderr
    assert f"Connected acme-us (na: US, CA) for seller {ACME}" in done.stderr
    assert "acme-us" in done.stdout
    assert world.cli.run("validate", "acme-us").returncode == 0


def test_without_a_terminal_the_link_is_printed_and_no_browser_opens(world: World) -> None:
    world.plan("confirm")
    running = world.started("connect", "acme-us", "--marketplace", "US")
    # The client clicks the link the agency sent them; the command was waiting for it.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(running.url, timeout=10) as page:
        assert "Return to the terminal" in page.read().decode()
    assert running.finish() == 0, bytes(running.err)
    assert world.browser_log() == []
    assert world.stores()["acme-us"]["selling_partner_id"] == ACME


def test_the_page_never_claims_a_connection_the_terminal_then_refuses(world: World) -> None:
    # The seller sells in the US and Canada only: the new token is refused for Mexico.
    done = world.connect("acme-us", "--marketplace", "US", "--marketplace", "MX")
    assert done.code != 0 and "nothing was stored" in done.stderr, done.stderr
    assert nothing_stored(world, "acme-us")
    [page] = [entry for entry in world.browser_log() if "title" in entry]
    assert page == {"status": 200, "title": "soldscope: Return to the terminal"}
    body = (world.browser_dir / "last_page.html").read_text()
    assert "Store connected" not in body
    assert "Nothing is stored yet" in body and "The terminal says whether the store" in body
    assert 'class="ok"' not in body  # not the green page of a success


def test_region_wide_store_discovers_its_marketplaces(world: World) -> None:
    done = world.connect("acme-na", "--region", "na")
    assert done.code == 0, done.stderr
    assert "Connected acme-na (na, region-wide: US, CA)" in done.stderr
    assert world.stores()["acme-na"]["marketplaces"] == ["US", "CA"]


# --- what can go wrong ------------------------------------------------------------------------------


def test_tampered_state_is_refused_and_reported_at_the_timeout(world: World) -> None:
    world.plan("tamper")
    done = world.in_terminal("connect", "acme-us", "--marketplace", "US", "--timeout", "3")
    assert done.code == 1
    assert world.browser_log()[-1]["status"] == 400
    assert "ignored 1 answer(s) whose state did not match" in done.stderr
    assert nothing_stored(world, "acme-us")


def test_cancel_on_the_consent_page(world: World) -> None:
    world.sim.set_consent(auto_confirm=False)
    world.plan("cancel")
    done = world.in_terminal("connect", "acme-us", "--marketplace", "US")
    assert done.code == 1
    assert world.browser_log()[1:] == [
        {"consent": 302},
        {"status": 200, "title": "soldscope: Amazon did not authorize the app"},
    ]
    [line] = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert "access_denied" in line and "pressed Cancel" in line
    # A new store's retry needs its marketplaces again: the hint is a command that works.
    assert "run `soldscope connect acme-us --marketplace US` again" in done.stderr
    assert nothing_stored(world, "acme-us")


def test_timeout_frees_the_port(world: World) -> None:
    world.plan("ignore")
    port = free_port()
    done = world.in_terminal(
        "connect", "acme-us", "--marketplace", "US", "--port", str(port), "--timeout", "2"
    )
    assert done.code == 1 and "no answer from Amazon within 2 s" in done.stderr
    assert "`soldscope connect acme-us --marketplace US --manual`" in done.stderr
    assert "otherwise run `soldscope connect acme-us --marketplace US` again" in done.stderr
    assert len(world.browser_log()) == 1
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))  # would raise if the listener were still there
        sock.listen()
    assert nothing_stored(world, "acme-us")


def test_ctrl_c_while_waiting_exits_130_frees_the_port_and_stores_nothing(world: World) -> None:
    import signal

    port = free_port()
    running = world.started("connect", "acme-us", "--marketplace", "US", "--port", str(port))
    running.process.send_signal(signal.SIGINT)
    assert running.finish() == 130, bytes(running.err)
    assert b"Traceback" not in running.err
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen()
    assert nothing_stored(world, "acme-us")


def test_wrong_path_is_404_and_the_right_one_still_works(world: World) -> None:
    world.plan("wrong_path")
    done = world.in_terminal("connect", "acme-us", "--marketplace", "US")
    assert done.code == 0, done.stderr
    statuses = [entry["status"] for entry in world.browser_log() if "status" in entry]
    assert statuses == [404, 200]


def test_a_second_callback_after_success_is_told_the_link_was_used(world: World) -> None:
    world.plan("twice")
    done = world.in_terminal("connect", "acme-us", "--marketplace", "US")
    assert done.code == 0, done.stderr
    titles = [entry["title"] for entry in world.browser_log() if "title" in entry]
    assert titles == ["soldscope: Return to the terminal", "soldscope: This link was already used"]


def test_manual_paste_on_stdin(world: World) -> None:
    running = world.started("connect", "acme-us", "--marketplace", "US", "--manual")
    assert "." not in parse_qs(urlsplit(running.url).query)["state"][0]  # no listener to find
    opener = urllib.request.build_opener(NoRedirect, urllib.request.ProxyHandler({}))
    try:
        opener.open(running.url, timeout=10)
        raise AssertionError("the consent page should redirect")
    except urllib.error.HTTPError as redirect:
        ended_on = redirect.headers["Location"]
        redirect.close()
    running.send(f'"{ended_on}"\n')  # quoted, as people paste it
    assert running.finish() == 0, bytes(running.err)
    assert world.stores()["acme-us"]["selling_partner_id"] == ACME
    assert world.token("acme-us")


def test_an_empty_manual_paste_says_nothing_was_pasted(world: World) -> None:
    running = world.started("connect", "acme-us", "--marketplace", "US", "--manual")
    running.send("\n")
    assert running.finish() == 1, bytes(running.err)
    err = bytes(running.err).decode()
    assert "nothing was pasted" in err and "spapi_oauth_code" not in err
    assert nothing_stored(world, "acme-us")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


# --- renewal and sellers ----------------------------------------------------------------------------


def test_renewal_replaces_the_token_and_keeps_history(world: World) -> None:
    assert world.connect("acme-us", "--marketplace", "US").code == 0
    assert world.cli.run("validate").returncode == 0
    db = world.database()
    db.update_sync_state(
        db.store_id("acme-us"), "inventory", datetime.now(UTC), set_={"cursor:US": "kept"}
    )
    before_checks = [dict(row) for row in db.checks("acme-us")]
    before_token = world.token("acme-us")
    db.close()

    done = world.connect("acme-us")  # marketplaces omitted on renewal: the stored ones stay
    assert done.code == 0, done.stderr
    assert f"Renewed acme-us (na: US) for seller {ACME}" in done.stderr
    db = world.database()
    after_checks = [dict(row) for row in db.checks("acme-us")]
    assert after_checks[: len(before_checks)] == before_checks and len(after_checks) == 3
    assert db.get_sync_state(db.store_id("acme-us"), "inventory", "cursor:US") == "kept"
    assert db.events("acme-us")[0]["kind"] == "reauthorized"
    db.close()
    assert world.token("acme-us") not in (None, before_token)
    assert world.stores()["acme-us"]["marketplaces"] == ["US"]


def test_renewal_by_another_seller_needs_force(world: World) -> None:
    assert world.connect("acme-us", "--marketplace", "US").code == 0
    config = resolve_paths(world.cli.env).config_file
    before = (config.read_text(), world.token("acme-us"))
    world.sim.set_consent(signed_in_seller=BOLT)

    refused = world.connect("acme-us")
    assert refused.code == 2
    assert f"Amazon authorized seller {BOLT}, but acme-us is seller {ACME}" in refused.stderr
    assert (config.read_text(), world.token("acme-us")) == before

    forced = world.connect("acme-us", "--force")
    assert forced.code == 0, forced.stderr
    assert world.stores()["acme-us"]["selling_partner_id"] == BOLT


def test_same_seller_under_another_name_is_refused(world: World) -> None:
    assert world.connect("acme-us", "--marketplace", "US").code == 0
    done = world.connect("acme-again", "--marketplace", "US")
    assert done.code == 2
    assert "already connected as 'acme-us'" in done.stderr
    assert nothing_stored(world, "acme-again")


def test_validate_reauthorize_needs_a_terminal(world: World) -> None:
    assert world.connect("acme-us", "--marketplace", "US").code == 0
    done = world.cli.run("validate", "--reauthorize")
    assert done.returncode == 2 and "needs a terminal" in done.stderr


def test_validate_reauthorize_renews_a_revoked_store(world: World) -> None:
    assert world.connect("acme-us", "--marketplace", "US").code == 0
    world.sim.revoke(ACME)
    world.plan("confirm")
    done = world.in_terminal("validate", "--reauthorize")
    assert done.code == 0, done.stderr
    assert "Renewing acme-us (1 of 1)" in done.stderr and "Renewed 1 of 1 stores." in done.stderr
    assert world.stores()["acme-us"]["status"] == "active"
    assert world.cli.run("validate").returncode == 0


def test_query_of_the_consent_link(world: World) -> None:
    world.plan("ignore")
    world.in_terminal("connect", "acme-us", "--marketplace", "US", "--timeout", "1")
    query = parse_qs(urlsplit(world.browser_log()[0]["opened"]).query)
    assert query["redirect_uri"] == [f"http://127.0.0.1:{world.redirect_port}/callback"]
    assert query["application_id"] == [world.sim.scenario.app.application_id]
    assert "version" not in query
    [state] = query["state"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{32,}", state)  # 192 random bits, no port: loopback URI
