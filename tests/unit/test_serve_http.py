"""`soldscope serve`'s pages over HTTP: its app on a real uvicorn thread, the in-process simulator.

Every failure the seller can meet, and every forged or replayed callback, with what is stored.
"""

from __future__ import annotations

import contextlib
import io
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from tests.e2e.conftest import simulator_env

from soldscope_cli.context import AppContext
from soldscope_cli.fleet.config import StoreRecord
from soldscope_cli.fleet.paths import resolve_paths
from soldscope_cli.fleet.secrets import CALENDAR_KEY, SecretStore, token_key
from soldscope_cli.onboarding.invitations import (
    InviteRequest,
    create_invitation,
    list_invitations,
    revoke_invitation,
    token_hash,
)
from soldscope_cli.simulator import Simulator, parse_scenario
from soldscope_cli.web.app import build_app
from soldscope_cli.web.server import bind, make_server, plan_serve

ACME = "A1SERVEACME01"
BOLT = "A2SERVEBOLT02"


@dataclass
class World:
    sim: Simulator
    ctx: AppContext
    client: httpx.Client
    said: list[str]
    access: list[str]
    base: str

    @property
    def redirect(self) -> str:
        return f"{self.base}/callback"

    def invite(self, name: str, *markets: str, **kw: object) -> str:
        outcome = create_invitation(self.ctx, InviteRequest(name, tuple(markets), **kw))  # type: ignore[arg-type]
        return urlsplit(outcome.link).path

    def click(self, path: str) -> httpx.Response:
        return self.client.get(path, follow_redirects=False)

    def consent(self, consent_url: str, **form: str) -> str:
        """The seller at Amazon's page: the callback address Amazon redirects to."""
        with httpx.Client(trust_env=False) as http:
            if form:
                fields = dict(parse_qs(urlsplit(consent_url).query, keep_blank_values=True))
                data = {k: v[0] for k, v in fields.items()} | form
                answer = http.post(consent_url.split("?", 1)[0], data=data)
            else:
                answer = http.get(consent_url)
        assert answer.status_code == 302, answer.text
        location = answer.headers["location"]
        assert location.startswith(self.redirect)
        return location[len(self.base) :]

    def journey(self, path: str) -> httpx.Response:
        started = self.click(path)
        assert started.status_code == 302, started.text
        return self.client.get(self.consent(started.headers["location"]))

    def token(self, name: str) -> str | None:
        return self.ctx.secret_store().get(token_key(name))

    def stores(self) -> dict[str, StoreRecord]:
        return self.ctx.config(reload=True).stores

    def statuses(self) -> dict[str, str]:
        now = self.ctx.clock()
        return {i.name: i.status(now) for i in list_invitations(self.ctx, include_done=True)}


@contextlib.contextmanager
def running_world(
    tmp_path: Path,
    trusted_proxies: list[str],
    public_url: str | None = None,
    wrap_store: Callable[[SecretStore], SecretStore] | None = None,
) -> Iterator[World]:
    """The simulator, a home, and serve's app on a uvicorn thread (port 0)."""
    scenario = {
        "sellers": [
            {"selling_partner_id": ACME, "region": "na", "marketplaces": ["US", "CA"]},
            {"selling_partner_id": BOLT, "region": "na", "marketplaces": ["US"]},
        ],
        "consent": {"auto_confirm": True, "signed_in_seller": ACME},
    }
    sock = bind("127.0.0.1", 0)
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with Simulator(parse_scenario(scenario)) as sim:
        env = {
            **simulator_env(sim, SOLDSCOPE_REDIRECT_URI=f"{base}/callback"),
            "SOLDSCOPE_CONFIG_DIR": str(tmp_path / "config"),
            "SOLDSCOPE_DATA_DIR": str(tmp_path / "data"),
        }
        ctx = AppContext(env=env, paths=resolve_paths(env), stderr=io.StringIO())
        with ctx.config_file.edit() as config:
            config.serve.agency_name = "Northwind Agency"
            config.serve.public_url = public_url
        if wrap_store is not None:
            ctx.secret_store_override = wrap_store(ctx.secret_store())
        plan = plan_serve(ctx, base.removeprefix("http://"), trusted_proxies)
        said: list[str] = []
        access: list[str] = []
        app = build_app(
            ctx, plan.settings, say=said.append, access_log=access.append, monotonic=ctx.monotonic
        )
        server = make_server(app, lambda sig: None)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        try:
            with httpx.Client(base_url=base, trust_env=False, timeout=30) as client:
                yield World(sim, ctx, client, said, access, base)
        finally:
            server.should_exit = True
            thread.join(10)
            sock.close()
            ctx.close()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with running_world(tmp_path, []) as world:
        yield world


def assert_clean(world: World, *pages: httpx.Response) -> None:
    """No page, log line or access line carries a code, a token or a state."""
    secrets = [world.token(n) for n in world.stores()]
    for text in [*(p.text for p in pages), *world.said, *world.access]:
        assert "spapi_oauth_code" not in text and "Atzr|" not in text and "state=" not in text
        assert "/invite/" not in text or "/invite/…" in text
        for secret in secrets:
            assert not secret or secret not in text


def test_the_journey_connects_a_new_store(world: World) -> None:
    path = world.invite("acme", "US", "CA")
    started = world.click(path)
    assert started.status_code == 302
    location = urlsplit(started.headers["location"])
    query = parse_qs(location.query)
    assert location.path == "/apps/authorize/consent"
    assert query["redirect_uri"] == [world.redirect]
    assert query["application_id"] == [world.sim.scenario.app.application_id]
    assert len(query["state"][0]) >= 32  # 192 random bits, URL-safe
    assert started.headers["cache-control"] == "no-store"

    page = world.client.get(world.consent(started.headers["location"]))

    assert page.status_code == 200
    assert "Connected — you can close this tab" in page.text and "Northwind Agency" in page.text
    assert ACME not in page.text  # nothing that matters is shown to the seller
    assert page.headers["strict-transport-security"].startswith("max-age=")
    assert page.headers["cache-control"] == "no-store"
    record = world.stores()["acme"]
    assert record.selling_partner_id == ACME and record.marketplaces == ["US", "CA"]
    assert (world.token("acme") or "").startswith("Atzr|")
    assert world.statuses() == {"acme": "used"}
    kinds = [row["kind"] for row in world.ctx.database().events("acme")]
    assert "invitation_used" in kinds and "connected" in kinds
    assert any("acme: connected through its invitation" in line for line in world.said)
    assert_clean(world, started, page)


def test_each_click_gets_a_fresh_state_and_only_a_hash_is_stored(world: World) -> None:
    path = world.invite("acme", "US")
    first = parse_qs(urlsplit(world.click(path).headers["location"]).query)["state"][0]
    second = parse_qs(urlsplit(world.click(path).headers["location"]).query)["state"][0]
    assert first != second
    conn = world.ctx.database().connection()
    hashes = {row[0] for row in conn.execute("SELECT state_hash FROM consent_states")}
    assert hashes == {token_hash(first), token_hash(second)}
    token = path.rsplit("/", 1)[1]
    dump = "\n".join(conn.iterdump())
    assert first not in dump and second not in dump and token not in dump


def test_a_renewal_replaces_the_token_in_place(world: World) -> None:
    world.journey(world.invite("acme", "US"))
    old_token = world.token("acme")
    authorized = world.stores()["acme"].authorized_at
    with world.ctx.config_file.edit() as config:
        config.stores["acme"].authorized_at = authorized - timedelta(days=360)

    page = world.journey(world.invite("acme"))

    assert "Connected" in page.text
    record = world.stores()["acme"]
    assert record.authorized_at > authorized - timedelta(days=1)
    assert world.token("acme") not in (None, old_token)
    kinds = [row["kind"] for row in world.ctx.database().events("acme")]
    assert "reauthorized" in kinds


def test_a_renewal_by_another_seller_is_refused_and_stays_usable(world: World) -> None:
    world.journey(world.invite("acme", "US"))
    token = world.token("acme")
    path = world.invite("acme")
    world.sim.set_consent(signed_in_seller=BOLT)

    page = world.journey(path)

    assert page.status_code == 409 and "different Amazon seller account" in page.text
    assert "Northwind Agency" in page.text
    assert world.stores()["acme"].selling_partner_id == ACME and world.token("acme") == token
    assert world.statuses()["acme"] == "pending"
    world.sim.set_consent(signed_in_seller=ACME)
    assert "Connected" in world.journey(path).text


def test_cancelled_consent_stores_nothing_and_the_link_stays_usable(world: World) -> None:
    path = world.invite("acme", "US")
    started = world.click(path)
    page = world.client.get(world.consent(started.headers["location"], action="cancel"))
    assert page.status_code == 200 and "cancelled" in page.text
    assert "acme" not in world.stores() and world.statuses()["acme"] == "pending"
    assert "Connected" in world.journey(path).text


@pytest.mark.parametrize("status", ["used", "revoked", "expired"])
def test_spent_links_never_start_a_consent(world: World, status: str) -> None:
    path = world.invite("acme", "US", expires_in_days=1)
    if status == "used":
        world.journey(path)
    elif status == "revoked":
        revoke_invitation(world.ctx, "acme")
    else:
        world.ctx.clock = lambda: datetime.now(UTC) + timedelta(days=2)
    page = world.click(path)
    assert page.status_code == 410
    assert "location" not in page.headers and "Northwind Agency" in page.text


def test_unknown_tokens_are_404(world: World) -> None:
    assert world.click("/invite/not-a-real-token").status_code == 404
    assert world.click("/elsewhere").status_code == 404


@pytest.mark.parametrize(
    "query",
    [
        "",
        "spapi_oauth_code=X&selling_partner_id=Y",
        "state=forged&spapi_oauth_code=X&selling_partner_id=Y",
    ],
)
def test_forged_callbacks_are_refused(world: World, query: str) -> None:
    world.invite("acme", "US")
    page = world.client.get(f"/callback?{query}")
    assert page.status_code == 400
    assert world.stores() == {} and world.token("acme") is None


def test_a_replayed_callback_is_refused(world: World) -> None:
    path = world.invite("acme", "US")
    callback = world.consent(world.click(path).headers["location"])
    assert world.client.get(callback).status_code == 200
    before = world.token("acme")
    replay = world.client.get(callback)
    assert replay.status_code == 400 and world.token("acme") == before


def test_a_state_minted_for_another_invitation_cannot_answer_a_replayed_one(world: World) -> None:
    acme = world.invite("acme", "US")
    world.invite("bolt", "US")
    callback = world.consent(world.click(acme).headers["location"])
    world.client.get(callback)
    # Same state again, now claiming to be bolt's seller: spent, refused, nothing stored.
    forged = callback.replace(ACME, BOLT)
    assert world.client.get(forged).status_code == 400
    assert "bolt" not in world.stores()


def test_amazon_unreachable_keeps_the_link_usable(world: World) -> None:
    path = world.invite("acme", "US")
    world.sim.add_failure(503, count=None, path_prefix="/auth/o2/token")
    page = world.journey(path)
    assert page.status_code == 503 and "could not be reached" in page.text
    assert world.stores() == {} and world.statuses()["acme"] == "pending"
    world.sim.clear_failures()
    assert "Connected" in world.journey(path).text


def test_a_slow_consent_is_refused_but_the_link_still_works(world: World) -> None:
    path = world.invite("acme", "US")
    location = world.click(path).headers["location"]
    callback = world.consent(location)
    real = world.ctx.clock
    world.ctx.clock = lambda: real() + timedelta(minutes=11)
    page = world.client.get(callback)
    assert page.status_code == 400 and "took longer" in page.text
    assert world.stores() == {}
    assert "Connected" in world.journey(path).text


def test_guard_refuses_hosts_methods_sizes_and_floods(world: World) -> None:
    assert world.client.get("/healthz", headers={"host": "evil.example"}).status_code == 421
    assert world.client.post("/callback", content=b"x").status_code == 405
    assert world.client.get("/callback?" + "a=b&" * 2000).status_code == 414
    assert world.client.post("/callback", content=b"x" * 5000).status_code == 413
    codes = [world.client.get("/healthz").status_code for _ in range(70)]
    assert 429 in codes


def test_a_callback_path_with_a_slash_added_is_not_redirected(world: World) -> None:
    """A redirect would send Amazon's code on to a plain-http URL built from the Host header."""
    page = world.client.get("/callback/?spapi_oauth_code=abc&state=xyz&selling_partner_id=A1")
    assert page.status_code == 404 and "location" not in page.headers
    assert "spapi_oauth_code" not in page.text


def test_metrics_are_served_behind_the_guard(world: World) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    world.invite("acme-us", "US")
    page = world.client.get("/metrics")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/plain; version=0.0.4")
    names = {f.name for f in text_string_to_metric_families(page.text)}
    assert "soldscope_store_status" in names
    assert "soldscope_dataset_rows" in names
    assert world.client.get("/metrics", headers={"host": "evil.example"}).status_code == 421
    assert world.client.post("/metrics").status_code == 405


def test_forwarded_headers_are_ignored_from_untrusted_clients(world: World) -> None:
    page = world.client.get(
        "/healthz", headers={"x-forwarded-host": "evil.example", "x-forwarded-for": "1.2.3.4"}
    )
    assert page.status_code == 200
    assert logged(world, "127.0.0.1 GET /healthz 200")
    assert not any(line.startswith("1.2.3.4") for line in world.access)


def test_access_log_shows_paths_without_tokens_or_queries(world: World) -> None:
    path = world.invite("acme", "US")
    world.journey(path)
    assert any(line.endswith("GET /invite/… 302") for line in world.access)
    assert any(line.endswith("GET /callback 200") for line in world.access)
    assert_clean(world)


def test_access_log_lines_carry_no_control_characters(world: World) -> None:
    """The path arrives percent-decoded: a newline would forge a log line, ESC drive a terminal."""
    world.client.get("/x%0a2026-01-01T00:00:00Z%20acme:%20connected%1b%5b2J")
    [line] = [line for line in world.access if "/x" in line]
    assert line.endswith("GET /x 2026-01-01T00:00:00Z acme: connected 404")
    assert not any(c in line for c in "\n\x1b")


def test_invitation_json_shape(world: World) -> None:
    outcome = create_invitation(world.ctx, InviteRequest("acme", ("US",), note="call Tuesday"))
    data = outcome.to_json(world.ctx.clock())
    assert set(data) == {
        "name",
        "kind",
        "link",
        "status",
        "region",
        "marketplaces",
        "note",
        "created_at",
        "expires_at",
        "reused",
    }
    assert data["kind"] == "new" and data["link"].startswith(f"{world.base}/invite/")
    again = create_invitation(world.ctx, InviteRequest("acme"))
    assert again.reused and again.link == outcome.link
    json.dumps(data)


# --- behind a reverse proxy -----------------------------------------------------------------------

PROXY = "127.0.0.2"  # a loopback address of its own: the proxy; 127.0.0.1 is anyone else
PUBLIC = "https://connect.agency.example"


@pytest.fixture
def proxied(tmp_path: Path) -> Iterator[World]:
    with running_world(tmp_path, [PROXY], public_url=PUBLIC) as world:
        yield world


def from_address(world: World, address: str) -> httpx.Client:
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=world.base, transport=transport, trust_env=False, timeout=30)


def logged(world: World, line: str) -> bool:
    """Whether the access log gets `line` (written just after the response went out)."""
    deadline = time.monotonic() + 5
    while line not in world.access and time.monotonic() < deadline:
        time.sleep(0.01)
    return line in world.access


def test_forwarded_headers_count_from_a_trusted_proxy(proxied: World) -> None:
    forwarded = {
        "x-forwarded-host": "connect.agency.example",
        "x-forwarded-proto": "https",
        "x-forwarded-for": "203.0.113.9",
    }
    link = proxied.invite("acme", "US")
    assert create_invitation(proxied.ctx, InviteRequest("acme")).link.startswith(
        f"{PUBLIC}/invite/"
    )
    with from_address(proxied, PROXY) as proxy:
        started = proxy.get(link, headers=forwarded, follow_redirects=False)
        assert started.status_code == 302
        # The consent goes back to the registered redirect URI, never to a forwarded address.
        query = parse_qs(urlsplit(started.headers["location"]).query)
        assert query["redirect_uri"] == [proxied.redirect]
        assert logged(proxied, "203.0.113.9 GET /invite/… 302")
        page = proxy.get(proxied.consent(started.headers["location"]), headers=forwarded)
        assert page.status_code == 200 and "Connected" in page.text
        assert logged(proxied, "203.0.113.9 GET /callback 200")
        # The forwarded Host is the one checked: a name serve does not answer is refused.
        evil = proxy.get("/healthz", headers={**forwarded, "x-forwarded-host": "evil.example"})
        assert evil.status_code == 421
    assert proxied.stores()["acme"].selling_partner_id == ACME


def test_forwarded_headers_are_ignored_from_other_addresses(proxied: World) -> None:
    spoofed = {"x-forwarded-host": "evil.example", "x-forwarded-for": "203.0.113.9"}
    with from_address(proxied, "127.0.0.1") as client:
        page = client.get("/healthz", headers=spoofed)
        assert page.status_code == 200
        assert logged(proxied, "127.0.0.1 GET /healthz 200")
        assert not any(line.startswith("203.0.113.9") for line in proxied.access)
        # A client cannot dodge the rate limit by claiming a new address each time.
        codes = [
            client.get("/healthz", headers={"x-forwarded-for": f"198.51.100.{i}"}).status_code
            for i in range(70)
        ]
    assert 429 in codes


def test_the_rate_limit_counts_each_client_behind_the_proxy(proxied: World) -> None:
    with from_address(proxied, PROXY) as proxy:
        one = [
            proxy.get("/healthz", headers={"x-forwarded-for": "203.0.113.1"}).status_code
            for _ in range(61)
        ]
        other = proxy.get("/healthz", headers={"x-forwarded-for": "203.0.113.2"})
    assert one[-1] == 429 and other.status_code == 200


def test_metrics_are_not_served_to_clients_behind_the_proxy(proxied: World) -> None:
    """Invitation links face the public: the fleet's store names must not."""
    with from_address(proxied, PROXY) as proxy:
        outside = proxy.get("/metrics", headers={"x-forwarded-for": "203.0.113.9"})
        assert outside.status_code == 403 and "soldscope_" not in outside.text
        assert proxy.get("/metrics").status_code == 200  # the proxy's own host may scrape


@pytest.mark.parametrize(
    ("forwarded", "status", "logged_as"),
    [
        ("unknown", 403, "unknown"),
        ("203.0.113.9:4711", 403, "203.0.113.9"),
        ("[2001:db8::1]:443", 403, "2001:db8::1"),
        ("[::1]", 200, "::1"),
        ("bad\tname, 203.0.113.7", 403, "203.0.113.7"),
    ],
)
def test_forwarded_for_in_any_form_is_never_an_error(
    proxied: World, forwarded: str, status: int, logged_as: str
) -> None:
    with from_address(proxied, PROXY) as proxy:
        page = proxy.get("/metrics", headers={"x-forwarded-for": forwarded})
    assert page.status_code == status, page.text
    assert logged(proxied, f"{logged_as} GET /metrics {status}")


# --- the calendar feed ----------------------------------------------------------------------------


class CountingStore:
    """The home's store, counting (and optionally slowing) reads of the calendar key."""

    def __init__(self, inner: SecretStore, delay: float = 0.0) -> None:
        self.inner = inner
        self.name = inner.name
        self.insecure = inner.insecure
        self.delay = delay
        self.reads = 0

    def get(self, key: str) -> str | None:
        if key == CALENDAR_KEY:
            self.reads += 1
            time.sleep(self.delay)
        return self.inner.get(key)

    def set(self, key: str, value: str) -> None:
        self.inner.set(key, value)

    def delete(self, key: str) -> None:
        self.inner.delete(key)

    def describe(self) -> str:
        return self.inner.describe()


def test_malformed_calendar_tokens_are_404_without_reading_the_secret_store(
    tmp_path: Path,
) -> None:
    from soldscope_cli.monitoring.feed import feed_url

    stores: list[CountingStore] = []

    def wrap(inner: SecretStore) -> SecretStore:
        stores.append(CountingStore(inner))
        return stores[-1]

    with running_world(tmp_path, [], wrap_store=wrap) as world:
        url = feed_url(world.ctx)
        token = urlsplit(url).path.rsplit("/", 1)[1]
        reads = stores[0].reads
        for path in (
            "/calendar/%C3%A9.ics",
            "/calendar/anything",
            f"/calendar/{token.removesuffix('.ics')}",
            "/calendar/short.ics",
            f"/calendar/{'A' * 42}%00.ics",
        ):
            page = world.client.get(path)
            assert page.status_code == 404, (path, page.text)
        assert stores[0].reads == reads
        assert world.client.get(f"/calendar/{'A' * 43}.ics").status_code == 404
        assert world.client.get(urlsplit(url).path).status_code == 200
        assert not any("error" in line for line in world.said), world.said


def test_a_slow_secret_store_never_starves_healthz(tmp_path: Path) -> None:
    from soldscope_cli.monitoring.feed import feed_url

    stores: list[CountingStore] = []

    def wrap(inner: SecretStore) -> SecretStore:
        stores.append(CountingStore(inner))
        return stores[-1]

    with running_world(tmp_path, [], wrap_store=wrap) as world:
        assert world.client.get(urlsplit(feed_url(world.ctx)).path).status_code == 200
        stores[0].delay = 1.5
        time.sleep(1.1)  # the key read is older than serve keeps it
        answers: list[int] = []

        def read(i: int) -> None:
            # Each from an address of its own: the rate limit is not what saves serve here.
            with from_address(world, f"127.0.1.{i + 1}") as client:
                answers.append(client.get(f"/calendar/{'B' * 43}.ics").status_code)

        threads = [threading.Thread(target=read, args=(i,)) for i in range(45)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 1.0  # until the requests are in (or a store read each)
        while stores[0].reads < 41 and time.monotonic() < deadline:
            time.sleep(0.01)
        started = time.monotonic()
        assert world.client.get("/healthz").status_code == 200
        took = time.monotonic() - started
        for thread in threads:
            thread.join(30)
        assert took < 0.5, f"/healthz took {took:.1f} s"
        assert answers == [404] * 45
        assert stores[0].reads <= 3  # the key is cached, not read once per request
