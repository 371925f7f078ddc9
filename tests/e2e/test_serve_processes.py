"""Several `soldscope serve` processes on one home, and a serve killed mid-callback.

The installed command on free 127.0.0.1 ports against the in-process simulator; the seller's
browser is httpx, one redirect at a time, so a test can choose which server gets the callback
and when.
"""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from tests.e2e.conftest import Cli, simulator_env, stored_secret
from tests.prerequisites import require_soldscope
from tests.serve_process import Serve, free_port, start_serve, two_sellers

from soldscope_cli.fleet.secrets import token_key
from soldscope_cli.simulator import Simulator, parse_scenario
from soldscope_cli.web.server import GRACEFUL_SHUTDOWN_S

pytestmark = pytest.mark.e2e

ACME = "A1SERVEPROCACME"
BOLT = "A2SERVEPROCBOLT"
TOKEN_PATH = "/auth/o2/token"
SELLERS_PATH = "/sellers/v1/marketplaceParticipations"


@dataclass
class Home:
    sim: Simulator
    cli: Cli
    redirect_base: str
    serves: list[Serve] = field(default_factory=list)

    def start_serve(self, base: str | None = None) -> Serve:
        # Another port than the redirect URI's is reached through a proxy or load balancer.
        proxy = ("--trusted-proxy", "127.0.0.1") if base and base != self.redirect_base else ()
        serve = start_serve(base or self.redirect_base, self.cli.env, *proxy)
        self.serves.append(serve)
        return serve

    def invite(self, name: str, *markets: str) -> str:
        args = [a for m in markets for a in ("--marketplace", m)]
        done = self.cli.run("invite", name, *args)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def callback_for(self, link: str, seller: str) -> str:
        """Click the link and consent as `seller`: the callback's path and query Amazon sends."""
        self.sim.set_consent(signed_in_seller=seller)
        with httpx.Client(trust_env=False, timeout=30) as http:
            started = http.get(link)
            assert started.status_code == 302, started.text
            consent = http.get(started.headers["location"])
            assert consent.status_code == 302, consent.text
        location = str(consent.headers["location"])
        assert location.startswith(f"{self.redirect_base}/callback?")
        return location[len(self.redirect_base) :]

    def invites(self) -> dict[str, str]:
        done = self.cli.run("invites", "--all", "--json")
        assert done.returncode == 0, done.stderr
        return {row["name"]: row["status"] for row in json.loads(done.stdout)}

    def config_stores(self) -> dict[str, str]:
        done = self.cli.run("list", "--json")
        assert done.returncode == 0, done.stderr
        return {row["name"]: row["selling_partner_id"] for row in json.loads(done.stdout)}

    def count(self, sql: str, *params: str) -> int:
        path = Path(self.cli.env["SOLDSCOPE_DATA_DIR"]) / "soldscope.db"
        with contextlib.closing(sqlite3.connect(path)) as conn:
            return int(conn.execute(sql, params).fetchone()[0])

    def spent_states(self) -> int:
        return self.count("SELECT count(*) FROM consent_states WHERE used_at IS NOT NULL")

    def connected_rows(self, name: str) -> int:
        """The store's rows in the database: its connection and its first check (0 or 2)."""
        live = "SELECT count(*) FROM stores WHERE name = ? AND deleted_at IS NULL"
        checks = "SELECT count(*) FROM checks WHERE store = ?"
        return self.count(live, name) + self.count(checks, name)


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Home]:
    require_soldscope()
    base = f"http://127.0.0.1:{free_port()}"
    scenario = two_sellers(ACME, BOLT, auto_confirm=True)
    with Simulator(parse_scenario(scenario)) as sim:
        env = simulator_env(sim, SOLDSCOPE_REDIRECT_URI=f"{base}/callback", NO_COLOR="1")
        home = Home(sim, Cli(tmp_path, env), base)
        try:
            yield home
        finally:
            for serve in home.serves:
                serve.stop(signal.SIGKILL)


def test_two_servers_storing_at_once_lose_no_edit(home: Home) -> None:
    first = home.start_serve()
    second = home.start_serve(f"http://127.0.0.1:{free_port()}")
    callbacks = {
        "acme": home.callback_for(home.invite("acme", "US"), ACME),
        "bolt": home.callback_for(home.invite("bolt", "US"), BOLT),
    }
    # Both exchanges wait on Amazon together, so both stores are written at nearly the same time.
    home.sim.set_latency(by_prefix={TOKEN_PATH: 700})
    answers: dict[str, int] = {}

    def answer(name: str, serve: Serve) -> None:
        with httpx.Client(trust_env=False, timeout=60) as http:
            answers[name] = http.get(f"{serve.base}{callbacks[name]}").status_code

    threads = [
        threading.Thread(target=answer, args=("acme", first)),
        threading.Thread(target=answer, args=("bolt", second)),
    ]
    for thread in threads:
        thread.start()
    # A CLI command writes to the same home meanwhile.
    carol = home.invite("carol", "US")
    for thread in threads:
        thread.join(60)

    assert answers == {"acme": 200, "bolt": 200}, first.log + second.log
    assert home.config_stores() == {"acme": ACME, "bolt": BOLT}
    assert home.invites() == {"acme": "used", "bolt": "used", "carol": "pending"}
    for name in ("acme", "bolt"):
        assert (stored_secret(home.cli.env, token_key(name)) or "").startswith("Atzr|")
        assert home.connected_rows(name) == 2
    assert carol.startswith(f"{home.redirect_base}/invite/")
    assert "acme: connected through its invitation" in first.log
    assert "bolt: connected through its invitation" in second.log
    assert first.stop() == 0 and second.stop() == 0


@pytest.mark.parametrize("slow", [TOKEN_PATH, SELLERS_PATH], ids=["exchange", "live_check"])
def test_a_serve_killed_mid_callback_stores_nothing_and_the_link_still_works(
    home: Home, slow: str
) -> None:
    serve = home.start_serve()
    link = home.invite("acme", "US")
    callback = home.callback_for(link, ACME)
    home.sim.set_latency(by_prefix={slow: 5000})
    answered: list[BaseException | int] = []

    def answer() -> None:
        try:
            with httpx.Client(trust_env=False, timeout=30) as http:
                answered.append(http.get(f"{serve.base}{callback}").status_code)
        except httpx.HTTPError as exc:
            answered.append(exc)

    thread = threading.Thread(target=answer)
    thread.start()
    deadline = time.monotonic() + 10
    while home.spent_states() == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert home.spent_states() == 1  # serve is past the state, waiting on Amazon
    time.sleep(0.5)
    serve.process.send_signal(signal.SIGKILL)
    serve.process.wait(10)
    thread.join(30)
    assert len(answered) == 1 and isinstance(answered[0], httpx.HTTPError)

    # Nothing of the store was written, and the invitation is still pending.
    assert home.config_stores() == {}
    assert stored_secret(home.cli.env, token_key("acme")) is None
    assert home.connected_rows("acme") == 0
    assert home.invites() == {"acme": "pending"}

    # The spent state cannot be replayed; the link starts a fresh consent that connects.
    home.sim.set_latency(by_prefix={slow: 0})
    again = home.start_serve()
    with httpx.Client(trust_env=False, timeout=30) as http:
        assert http.get(f"{again.base}{callback}").status_code == 400
        page = http.get(f"{again.base}{home.callback_for(link, ACME)}")
    assert page.status_code == 200 and "Connected" in page.text
    assert home.config_stores() == {"acme": ACME}
    assert (stored_secret(home.cli.env, token_key("acme")) or "").startswith("Atzr|")
    assert home.connected_rows("acme") == 2
    assert home.invites() == {"acme": "used"}
    assert again.stop() == 0


def test_a_used_invitation_is_announced_and_the_calendar_is_published(home: Home) -> None:
    from icalendar import Calendar
    from tests.webhook import no_secret, running_receiver

    with running_receiver() as receiver:
        home.cli.env["SOLDSCOPE_NOTIFY_URLS"] = receiver.url
        serve = home.start_serve()
        callback = home.callback_for(home.invite("acme", "US"), ACME)
        with httpx.Client(trust_env=False, timeout=30) as http:
            page = http.get(f"{serve.base}{callback}")
            assert page.status_code == 200, serve.log
            messages = receiver.wait_for(1)
            assert [m["title"] for m in messages] == [
                "soldscope: acme (na): connected through its invitation link"
            ]
            assert f"seller {ACME} authorized the app" in messages[0]["message"]

            feed = home.cli.run("calendar", "--url")
            assert feed.returncode == 0, feed.stderr
            url = feed.stdout.strip()
            assert url.startswith(f"{home.redirect_base}/calendar/") and url.endswith(".ics")
            answer = http.get(url)
            assert answer.status_code == 200
            assert answer.headers["content-type"].startswith("text/calendar")
            [event] = Calendar.from_ical(answer.text).walk("VEVENT")
            assert "acme" in str(event["SUMMARY"])
            assert home.cli.run("calendar", "--url").stdout.strip() == url  # stable
            wrong = http.get(f"{home.redirect_base}/calendar/{'A' * 43}.ics")
            assert wrong.status_code == 404

            renewed = home.cli.run("calendar", "--new-url")
            assert renewed.returncode == 0 and "no longer works" in renewed.stderr
            new_url = renewed.stdout.strip()
            assert new_url != url
            # A running serve keeps the key it read for a second at most.
            deadline = time.monotonic() + 5
            while http.get(url).status_code != 404 and time.monotonic() < deadline:
                time.sleep(0.2)
            assert http.get(url).status_code == 404
            assert http.get(new_url).status_code == 200
        assert serve.stop() == 0
        token = url.rsplit("/", 1)[1]
        assert token not in serve.log and new_url.rsplit("/", 1)[1] not in serve.log
        assert "/calendar/…" in serve.log  # the access log shows the feed was read, not its key
        no_secret(serve.log)


SECURITY_HEADERS = ("strict-transport-security", "content-security-policy", "x-frame-options")


def open_from(address: str, port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(address, 0))
    sock.settimeout(0.5)
    return sock


def closed_by_server(sock: socket.socket) -> bool:
    try:
        return sock.recv(4096) == b""
    except TimeoutError:
        return False
    except OSError:
        return True


def test_a_bounded_slowloris_does_not_take_serve_down(home: Home) -> None:
    """120 idle connections and 40 trickling a header line a second, from two addresses of their
    own; everyone else (127.0.0.1) is served meanwhile, and serve drops them in bounded time."""
    serve = home.start_serve()
    port = int(serve.base.rsplit(":", 1)[1])
    idle = [open_from("127.0.0.2", port) for _ in range(120)]
    trickling = [open_from("127.0.0.3", port) for _ in range(40)]
    attackers = idle + trickling
    started = time.monotonic()
    try:
        for sock in trickling:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        answers = []
        with httpx.Client(trust_env=False, timeout=10) as http:
            for second in range(4):
                for sock in trickling:
                    with contextlib.suppress(OSError):
                        sock.sendall(f"X-Slow-{second}: 1\r\n".encode())
                answers.append(http.get(f"{serve.base}/healthz"))
                time.sleep(1)
        assert [a.status_code for a in answers] == [200] * 4, serve.log
        for header in SECURITY_HEADERS:
            assert header in answers[-1].headers
        # Every attacking connection is closed within the header time (10 s) and a margin.
        deadline = started + 16
        still_open = list(attackers)
        while still_open and time.monotonic() < deadline:
            still_open = [s for s in still_open if not closed_by_server(s)]
        assert not still_open, f"{len(still_open)} connections still open"
    finally:
        for sock in attackers:
            sock.close()
    for address in ("127.0.0.2", "127.0.0.3"):  # said once per address, not per connection
        assert serve.log.count(f"refusing connections from {address}: too many") == 1, serve.log
    with httpx.Client(trust_env=False, timeout=10) as http:
        assert http.get(f"{serve.base}/healthz").status_code == 200
    assert serve.stop() == 0


def serve_or_timeout(home: Home, *args: str, env: dict[str, str] | None = None) -> str | int:
    """`soldscope serve ARGS`: its exit code and stderr, or "served" when it kept running."""
    try:
        done = home.cli.run("serve", *args, env=env, timeout=8)
    except subprocess.TimeoutExpired:
        return "served"
    return done.returncode, done.stderr


@pytest.mark.parametrize("moved", ["redirect_uri", "public_url"])
def test_serve_refuses_a_listen_address_the_links_do_not_reach(home: Home, moved: str) -> None:
    """After `demo --keep`, links and callback point at the demo's old port, not serve's 8400."""
    port = int(home.redirect_base.rsplit(":", 1)[1])
    other = free_port()
    env = {}
    if moved == "public_url":
        env["SOLDSCOPE_PUBLIC_URL"] = f"http://127.0.0.1:{other}"
        listen = f"127.0.0.1:{port}"
        points_at = f"http://127.0.0.1:{other}"
    else:
        listen = f"127.0.0.1:{other}"
        points_at = f"http://127.0.0.1:{port}/callback"
    outcome = serve_or_timeout(home, "--listen", listen, env=env)
    assert outcome != "served", "serve started where no link or callback reaches it"
    code, err = outcome
    assert code == 2 and points_at in err and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1
    if moved == "public_url":
        assert f"public_url (or SOLDSCOPE_PUBLIC_URL) to http://127.0.0.1:{port}" in err
    else:
        hint = err.split("`")[1]  # the command the line suggests, which must work as printed
        assert hint == f"soldscope serve --listen 127.0.0.1:{port}"
        serve = start_serve(f"http://{hint.rsplit(' ', 1)[1]}", home.cli.env)
        home.serves.append(serve)
        assert serve.base == home.redirect_base
        assert serve.stop() == 0


def test_serve_warns_without_an_agency_name_and_picks_up_config_changes(home: Home) -> None:
    from tests.webhook import running_receiver

    serve = home.start_serve()
    assert "agency_name" in serve.log and "warning" in serve.log
    config = Path(home.cli.env["SOLDSCOPE_CONFIG_DIR"]) / "config.toml"
    forged = f"{serve.base}/callback?state=forged&spapi_oauth_code=x&selling_partner_id={ACME}"
    with httpx.Client(trust_env=False, timeout=30) as http:
        assert "Northwind Agency" not in http.get(forged).text
        with running_receiver() as receiver:
            text = config.read_text() if config.exists() else ""
            assert "[serve]" not in text and "[[notify]]" not in text
            config.parent.mkdir(parents=True, exist_ok=True)
            config.write_text(
                f'{text}\n[serve]\nagency_name = "Northwind Agency"\n\n'
                f'[[notify]]\nurl = "{receiver.url}"\n'
            )
            # No restart: the next request sees the new name, the next connection is announced.
            assert "Northwind Agency" in http.get(forged).text
            assert http.get(f"{serve.base}{home.callback_for(home.invite('acme', 'US'), ACME)}")
            messages = receiver.wait_for(1)
            assert [m["title"] for m in messages] == [
                "soldscope: acme (na): connected through its invitation link"
            ]
            # A half-edited file: serve keeps what it read last and says why.
            config.write_text(config.read_text() + "\n[serve\n")
            broken = http.get(forged)
            assert broken.status_code in (400, 503) and "Northwind Agency" in broken.text
    assert "config.toml changed" in serve.log and "Northwind Agency" in serve.log
    assert "error: config.toml" in serve.log and "Traceback" not in serve.log
    assert serve.stop() == 0


def test_sigterm_stops_serve_within_its_grace_even_with_a_request_stuck(home: Home) -> None:
    """A callback waiting on a Login with Amazon that does not answer holds a request in flight:
    SIGTERM still ends serve once the grace period has passed, as systemd's stop expects."""
    serve = home.start_serve()
    callback = home.callback_for(home.invite("acme", "US"), ACME)
    home.sim.set_latency(by_prefix={TOKEN_PATH: 30_000})

    def wait_for_the_callback() -> None:
        with contextlib.suppress(httpx.HTTPError):  # serve ends the connection when it stops
            httpx.get(f"{serve.base}{callback}", timeout=40, trust_env=False)

    stuck = threading.Thread(target=wait_for_the_callback, daemon=True)
    stuck.start()
    time.sleep(1.5)  # the request is in serve, waiting on the token exchange
    began = time.monotonic()
    code = serve.stop()
    took = time.monotonic() - began
    assert took < GRACEFUL_SHUTDOWN_S + 4, f"serve took {took:.1f} s to stop"
    assert code == 0
    assert "1 request(s) still waiting on Amazon were abandoned" in serve.log


def test_one_link_consented_twice_across_two_servers_connects_once(home: Home) -> None:
    """Two browsers open one link, consent as two sellers, their callbacks reach two processes."""
    first = home.start_serve()
    second = home.start_serve(f"http://127.0.0.1:{free_port()}")
    link = home.invite("acme", "US")
    callbacks = {ACME: home.callback_for(link, ACME), BOLT: home.callback_for(link, BOLT)}
    # Both exchanges wait on Amazon together: both callbacks are past every check at once.
    home.sim.set_latency(by_prefix={TOKEN_PATH: 700})
    pages: dict[str, httpx.Response] = {}

    def answer(seller: str, serve: Serve) -> None:
        with httpx.Client(trust_env=False, timeout=60) as http:
            pages[seller] = http.get(f"{serve.base}{callbacks[seller]}")

    threads = [
        threading.Thread(target=answer, args=(ACME, first)),
        threading.Thread(target=answer, args=(BOLT, second)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    codes = sorted(page.status_code for page in pages.values())
    assert codes == [200, 410], first.log + second.log
    [winner] = [seller for seller, page in pages.items() if page.status_code == 200]
    [loser] = [page for page in pages.values() if page.status_code == 410]
    assert "already been used" in loser.text
    assert home.config_stores() == {"acme": winner}
    assert home.invites() == {"acme": "used"}
    assert home.connected_rows("acme") == 2
    log = first.log + second.log
    assert log.count("acme: connected through its invitation") == 1, log
    assert "renewed" not in log, log
    assert "acme: not stored: its invitation is used" in log, log
    assert first.stop() == 0 and second.stop() == 0


def test_an_edited_seller_id_does_not_prove_who_consented(home: Home) -> None:
    """The callback's selling_partner_id is only a claim: Amazon's answer for the token decides."""
    serve = home.start_serve()
    with httpx.Client(trust_env=False, timeout=30) as http:
        done = http.get(f"{serve.base}{home.callback_for(home.invite('acme', 'US'), ACME)}")
        assert done.status_code == 200, serve.log
        acme_token = stored_secret(home.cli.env, token_key("acme"))

        # A renewal link of acme, consented as BOLT, the seller id edited back to acme's.
        forged = home.callback_for(home.invite("acme"), BOLT).replace(BOLT, ACME)
        assert f"selling_partner_id={ACME}" in forged
        page = http.get(f"{serve.base}{forged}")
        assert page.status_code == 409, serve.log
        assert stored_secret(home.cli.env, token_key("acme")) == acme_token
        assert home.config_stores() == {"acme": ACME}

        # A new invitation consented by acme's seller, the seller id edited to an unknown one.
        other = home.callback_for(home.invite("again", "US"), ACME)
        page = http.get(f"{serve.base}{other.replace(ACME, 'A3NOBODYATALL')}")
        assert page.status_code == 409, serve.log
        assert home.config_stores() == {"acme": ACME}
        assert stored_secret(home.cli.env, token_key("again")) is None
    assert "does not match acme" in serve.log, serve.log
    assert "already connected as 'acme'" in serve.log, serve.log
    assert serve.stop() == 0


def test_a_store_without_recorded_store_names_records_them_at_its_first_renewal(
    home: Home,
) -> None:
    serve = home.start_serve()
    config = Path(home.cli.env["SOLDSCOPE_CONFIG_DIR"]) / "config.toml"
    with httpx.Client(trust_env=False, timeout=30) as http:
        assert http.get(f"{serve.base}{home.callback_for(home.invite('acme', 'US'), ACME)}")
        text = config.read_text()
        assert f'US = "Store {ACME}"' in text
        # As a store connected before store names were recorded.
        lines = text.splitlines(keepends=True)
        at = next(i for i, line in enumerate(lines) if line.startswith("[stores.acme.store_names]"))
        config.write_text("".join(lines[:at] + lines[at + 2 :]))
        assert "store_names" not in config.read_text()

        renewed = http.get(f"{serve.base}{home.callback_for(home.invite('acme'), ACME)}")
        assert renewed.status_code == 200, serve.log
        assert f'US = "Store {ACME}"' in config.read_text()
        forged = home.callback_for(home.invite("acme"), BOLT).replace(BOLT, ACME)
        assert http.get(f"{serve.base}{forged}").status_code == 409
    assert home.config_stores() == {"acme": ACME}
    assert serve.stop() == 0
