"""The consent orchestration: a real loopback listener, a scripted seller's browser, a fake Amazon."""

from __future__ import annotations

import base64
import dataclasses
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from tests.conftest import NOW, Harness, make_harness
from tests.serve_process import free_port
from tests.unit.test_health import (
    CLIENT_SECRET,
    ENV,
    FORBIDDEN,
    INVALID_GRANT,
    LWA_URL,
    UNAVAILABLE,
    FakeAmazon,
    Seller,
    participation,
)

from soldscope_cli.amazon.endpoints import is_loopback_http
from soldscope_cli.consent.listener import (
    ConsentDenied,
    ConsentTimeout,
    MissingCode,
    StateMismatch,
)
from soldscope_cli.db.database import CheckRecord
from soldscope_cli.errors import (
    ConfigError,
    IncompleteError,
    SecretStoreError,
    SoldscopeError,
    UnhealthyError,
    UsageError,
)
from soldscope_cli.fleet.config import ConfigFile
from soldscope_cli.fleet.secrets import MemorySecretStore, token_key
from soldscope_cli.onboarding.consent_flow import (
    ConnectResult,
    ConsentLink,
    ConsentRequest,
    SellerConflict,
    plan_listener,
    run_consent,
)
from soldscope_cli.status import Status

SELLER = "A1CONSENTSELLER"
OTHER_SELLER = "A2OTHERSELLER"
RELAY = "https://relay.agency.example/soldscope/relay/"


def port_is_free(port: int) -> bool:
    # SO_REUSEADDR as the listener uses it: connections in TIME_WAIT do not count, a socket
    # still listening does.
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
            sock.listen()
        except OSError:
            return False
        return True


class ConsentAmazon(FakeAmazon):
    """FakeAmazon plus the authorization-code grant: single-use codes bound to a redirect URI."""

    def __init__(self) -> None:
        super().__init__()
        self.codes: dict[str, tuple[str, str]] = {}  # code -> (redirect_uri, refresh token)
        self.exchanges: list[tuple[str, str]] = []  # (code, redirect_uri) as received
        self.exchange_failure: tuple[int, Any] | None = None
        self.issued: list[str] = []  # refresh tokens handed out, in order

    def issue(self, redirect_uri: str, behaviour: Seller | None, seller: str = SELLER) -> str:
        """A code for one consent; its refresh token answers as `behaviour` does, naming the
        consenting seller's store (storeName), as Amazon does."""
        n = len(self.codes)
        code = f"ANcodeUnit{n:04d}xyzzy"
        token = f"Atzr|consent-token-{n:04d}-0123456789"
        self.codes[code] = (redirect_uri, token)
        answers = behaviour or Seller(payload=[participation("US"), participation("CA")])
        named = [{**item, "storeName": f"Store {seller}"} for item in answers.payload]
        self.add(token, dataclasses.replace(answers, payload=named))
        return code

    def handle(self, request: httpx.Request) -> httpx.Response:
        form = dict(httpx.QueryParams(request.content.decode()))
        if str(request.url) != LWA_URL or form.get("grant_type") != "authorization_code":
            return super().handle(request)
        with self.lock:
            self.exchanges.append((form.get("code", ""), form.get("redirect_uri", "")))
            issued = self.codes.pop(form.get("code", ""), None)  # single use, as Amazon's
        if form.get("client_secret") != CLIENT_SECRET:
            return httpx.Response(401, json={"error": "invalid_client"})
        if self.exchange_failure is not None:
            return httpx.Response(self.exchange_failure[0], json=self.exchange_failure[1])
        if issued is None or issued[0] != form.get("redirect_uri"):
            return httpx.Response(INVALID_GRANT[0], json=INVALID_GRANT[1])
        token = issued[1]
        access = f"Atza|consent-access-{len(self.access)}"
        with self.lock:
            self.access[access] = token
            self.issued.append(token)
        body = {
            "access_token": access,
            "refresh_token": token,
            "token_type": "bearer",
            "expires_in": 3600,
        }
        return httpx.Response(200, json=body)


@dataclass
class SellerBrowser:
    """The seller's browser: consents on 'Seller Central', then follows the redirect home.

    A relay redirect URI is followed as the relay page would: to 127.0.0.1:<port from state>.
    """

    amazon: ConsentAmazon
    seller: str = SELLER
    behaviour: Seller | None = None
    action: str = "confirm"  # confirm | cancel | tamper | no_code | ignore
    opened: list[str] = field(default_factory=list)
    pages: list[tuple[int, str]] = field(default_factory=list)

    def answer(self, consent_url: str) -> str:
        """The address the browser ends on after the seller acts on the consent page."""
        query = parse_qs(urlsplit(consent_url).query)
        state, redirect = query["state"][0], query["redirect_uri"][0]
        if self.action == "cancel":
            params = {"error": "access_denied", "error_description": "declined", "state": state}
        else:
            params = {"state": state, "selling_partner_id": self.seller}
            if self.action != "no_code":
                params["spapi_oauth_code"] = self.amazon.issue(
                    redirect, self.behaviour, self.seller
                )
            if self.action == "tamper":
                params["state"] = state[:-4] + "AAAA"
        return f"{redirect}{'&' if '?' in redirect else '?'}{urlencode(params)}"

    def follow(self, address: str) -> None:
        """Load an address the way the browser (and the relay page) would."""
        parts = urlsplit(address)
        if not is_loopback_http(address):
            port = parse_qs(parts.query)["state"][0].split(".", 1)[0]
            address = f"http://127.0.0.1:{port}/callback?{parts.query}"
        with httpx.Client(trust_env=False, timeout=5) as client:
            response = client.get(address)
        self.pages.append((response.status_code, response.text))

    def __call__(self, url: str) -> bool:
        self.opened.append(url)
        if self.action != "ignore":
            self.follow(self.answer(url))
        return True


@dataclass
class FakeUi:
    """Records what the person would have seen; `pasted` answers --manual."""

    pasted: Callable[[ConsentLink], str] | None = None
    on_link: Callable[[ConsentLink], None] | None = None
    on_tick: Callable[[float], None] | None = None
    events: list[tuple[str, Any]] = field(default_factory=list)

    def link(self, link: ConsentLink) -> None:
        self.events.append(("link", link))
        if self.on_link is not None:
            self.on_link(link)

    def browser(self, opened: bool) -> None:
        self.events.append(("browser", opened))

    def tick(self, remaining: float) -> None:
        self.events.append(("tick", remaining))
        if self.on_tick is not None:
            self.on_tick(remaining)

    def paste(self, link: ConsentLink) -> str:
        self.events.append(("paste", link))
        assert self.pasted is not None
        return self.pasted(link)

    def step(self, text: str) -> None:
        self.events.append(("step", text))

    @property
    def links(self) -> list[ConsentLink]:
        return [value for kind, value in self.events if kind == "link"]

    def text(self) -> str:
        return repr(self.events)


@dataclass
class World:
    h: Harness
    amazon: ConsentAmazon
    browser: SellerBrowser
    ui: FakeUi

    def run(self, name: str = "acme-us", **kw: Any) -> ConnectResult:
        kw.setdefault("open_browser", True)
        kw.setdefault("timeout", 5.0)
        return run_consent(self.h.ctx, ConsentRequest(name=name, **kw), self.ui)

    def nothing_stored(self, name: str = "acme-us") -> bool:
        config = self.h.ctx.config(reload=True)
        db = self.h.ctx.database()
        return (
            name not in config.stores
            and self.h.secrets.get(token_key(name)) is None
            and db.checks(name) == []
            and db.events(name) == []
        )


def make_world(
    tmp_path: Path,
    redirect_uri: str | None = None,
    *,
    secrets: MemorySecretStore | None = None,
    **kw: Any,
) -> World:
    amazon = ConsentAmazon()
    browser = SellerBrowser(amazon)
    env = dict(ENV)
    env["SOLDSCOPE_REDIRECT_URI"] = redirect_uri or f"http://127.0.0.1:{free_port()}/callback"
    extra: dict[str, Any] = {"http_transport": amazon.transport(), "browser": browser}
    h = make_harness(tmp_path, env=env, **extra, **kw)
    if secrets is not None:
        h.ctx.secret_store_override = secrets
        h.secrets = secrets
    return World(h, amazon, browser, FakeUi())


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path)


def consent_params(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


# --- success --------------------------------------------------------------------------------------


def test_loopback_redirect_uri_connects_and_stores_everything(world: World) -> None:
    redirect = world.h.ctx.env["SOLDSCOPE_REDIRECT_URI"]
    result = world.run(marketplaces=["US", "ca"])

    [url] = world.browser.opened
    assert url.startswith("https://sellercentral.amazon.com/apps/authorize/consent?")
    params = consent_params(url)
    assert params["application_id"] == [ENV["SOLDSCOPE_APP_ID"]]
    assert params["redirect_uri"] == [redirect]
    assert "version" not in params
    state = params["state"][0]
    assert "." not in state and len(base64.urlsafe_b64decode(state + "==")) * 8 >= 128
    assert [kind for kind, _ in world.ui.events][:2] == ["link", "browser"]
    assert world.ui.links[0].listen_url == redirect and not world.ui.links[0].relay
    # The code was exchanged with the redirect URI of the consent link.
    assert [r for _, r in world.amazon.exchanges] == [redirect]

    record = world.h.ctx.config(reload=True).stores["acme-us"]
    assert (record.region, record.marketplaces, record.selling_partner_id) == (
        "na",
        ["US", "CA"],
        SELLER,
    )
    assert record.authorized_at == NOW and not record.self_authorized and not record.region_wide
    assert world.h.secrets.get(token_key("acme-us")) == world.amazon.issued[0]
    db = world.h.ctx.database()
    assert [(c["source"], c["outcome"]) for c in db.checks("acme-us")] == [("connect", "ok")]
    # Newest first: the ledger named the new store's token before it was stored.
    assert [e["kind"] for e in db.events("acme-us")] == ["connected", "token_written"]
    assert (result.renewed, result.row.status) == (False, Status.ACTIVE)
    assert (
        world.browser.pages[0][0] == 200 and "Return to the terminal" in world.browser.pages[0][1]
    )
    port = urlsplit(redirect).port
    assert port is not None and port_is_free(port)


def test_relay_redirect_uri_puts_the_listener_port_in_the_state(tmp_path: Path) -> None:
    world = make_world(tmp_path, RELAY)
    world.browser.behaviour = Seller(payload=[participation("UK")])
    world.run(marketplaces=["UK"])

    [url] = world.browser.opened
    assert url.startswith("https://sellercentral-europe.amazon.com/apps/authorize/consent?")
    params = consent_params(url)
    assert params["redirect_uri"] == [RELAY]
    port, random = params["state"][0].split(".", 1)
    link = world.ui.links[0]
    assert link.relay and link.listen_url == f"http://127.0.0.1:{port}/callback"
    assert len(random) >= 22
    assert [r for _, r in world.amazon.exchanges] == [RELAY]
    assert world.h.ctx.config(reload=True).stores["acme-us"].marketplaces == ["UK"]


def test_port_option_is_where_the_listener_binds(tmp_path: Path) -> None:
    world = make_world(tmp_path, RELAY)
    port = free_port()
    world.run(marketplaces=["US"], port=port)
    assert consent_params(world.browser.opened[0])["state"][0].startswith(f"{port}.")


def test_port_option_overrides_a_loopback_redirect_uris_port(tmp_path: Path) -> None:
    world = make_world(tmp_path, "http://localhost:1/cb")
    port = free_port()
    world.run(marketplaces=["US"], port=port)
    sent = consent_params(world.browser.opened[0])["redirect_uri"][0]
    assert sent == f"http://localhost:{port}/cb"
    assert [r for _, r in world.amazon.exchanges] == [sent]


def test_draft_app_sends_version_beta(world: World) -> None:
    with ConfigFile(world.h.ctx.paths.config_file, world.h.ctx.paths.config_lock).edit() as cfg:
        cfg.app.draft = True
    world.run(marketplaces=["US"])
    assert consent_params(world.browser.opened[0])["version"] == ["beta"]


def test_region_wide_discovers_the_marketplaces_and_uses_the_regions_host(world: World) -> None:
    world.browser.behaviour = Seller(
        payload=[participation("JP"), participation("A2ZV50J4W1RKNI"), participation("AU")]
    )
    result = world.run(region="fe")
    assert world.browser.opened[0].startswith("https://sellercentral.amazon.co.jp/")
    record = world.h.ctx.config(reload=True).stores["acme-us"]
    assert (record.region, record.marketplaces, record.region_wide) == ("fe", ["JP", "AU"], True)
    assert result.row.record.region_wide and result.check.added == ()


def test_without_a_browser_the_link_is_shown_and_the_listener_still_waits(world: World) -> None:
    # Non-interactive runs never open a browser; the client clicks the printed link instead.
    world.ui.on_link = lambda link: world.browser.follow(world.browser.answer(link.url))
    world.run(marketplaces=["US"], open_browser=False)
    assert world.browser.opened == []
    assert "browser" not in [kind for kind, _ in world.ui.events]
    assert "acme-us" in world.h.ctx.config(reload=True).stores


def test_manual_paste_needs_no_listener(world: World) -> None:
    world.ui.pasted = lambda link: f'  "{world.browser.answer(link.url)}"\n'
    world.run(marketplaces=["US"], manual=True, open_browser=False)
    link = world.ui.links[0]
    assert link.listen_url is None
    assert "." not in consent_params(link.url)["state"][0]
    redirect = world.h.ctx.env["SOLDSCOPE_REDIRECT_URI"]
    port = urlsplit(redirect).port
    assert port is not None and port_is_free(port)  # nothing ever listened
    assert world.h.secrets.get(token_key("acme-us")) == world.amazon.issued[0]


# --- failures store nothing -----------------------------------------------------------------------


def test_tampered_state_is_ignored_and_the_timeout_reports_it(world: World) -> None:
    world.browser.action = "tamper"
    with pytest.raises(ConsentTimeout) as caught:
        world.run(marketplaces=["US"], timeout=0.5)
    assert caught.value.mismatched == 1 and "state did not match" in caught.value.message
    assert world.browser.pages[0][0] == 400
    assert world.amazon.exchanges == [] and world.nothing_stored()


@pytest.mark.parametrize(
    ("action", "error", "text"),
    [
        ("cancel", ConsentDenied, "access_denied"),
        ("no_code", MissingCode, "spapi_oauth_code"),
    ],
)
def test_an_answer_without_a_code_ends_the_wait(
    world: World, action: str, error: type[Exception], text: str
) -> None:
    world.browser.action = action
    with pytest.raises(error, match=text) as caught:
        world.run(marketplaces=["US"])
    assert isinstance(caught.value, SoldscopeError) and caught.value.exit_code == 1
    assert world.amazon.exchanges == [] and world.nothing_stored()


def test_timeout_frees_the_port(world: World) -> None:
    world.browser.action = "ignore"
    port = free_port()
    with pytest.raises(ConsentTimeout):
        world.run(marketplaces=["US"], port=port, timeout=0.3)
    assert port_is_free(port) and world.nothing_stored()


def test_ctrl_c_while_waiting_frees_the_port(world: World) -> None:
    world.browser.action = "ignore"

    def interrupt(_: float) -> None:
        raise KeyboardInterrupt

    world.ui.on_tick = interrupt
    redirect_port = urlsplit(world.h.ctx.env["SOLDSCOPE_REDIRECT_URI"]).port
    with pytest.raises(KeyboardInterrupt):
        world.run(marketplaces=["US"])
    assert redirect_port is not None and port_is_free(redirect_port) and world.nothing_stored()


@pytest.mark.parametrize(
    ("failure", "error", "code", "text"),
    [
        (INVALID_GRANT, UnhealthyError, 1, "invalid_grant"),
        ((400, {"error": "invalid_request"}), UnhealthyError, 1, "invalid_request"),
        ((503, {"error": "temporarily_unavailable"}), IncompleteError, 3, "unavailable"),
    ],
    ids=["rejected", "bad-request", "unavailable"],
)
def test_code_exchange_failure_stores_nothing(
    world: World, failure: tuple[int, Any], error: type[Exception], code: int, text: str
) -> None:
    world.amazon.exchange_failure = failure
    world.h.ctx.env = {**world.h.ctx.env, "SOLDSCOPE_RETRY_MAX_ATTEMPTS": "1"}
    with pytest.raises(error, match=text) as caught:
        world.run(marketplaces=["US"])
    assert isinstance(caught.value, SoldscopeError) and caught.value.exit_code == code
    assert "nothing was stored" in caught.value.message
    assert world.nothing_stored()


@pytest.mark.parametrize(
    ("behaviour", "markets", "error", "text"),
    [
        (Seller(), ["US", "MX"], UnhealthyError, "not participating in MX"),
        (Seller(spapi_always=FORBIDDEN), ["US"], UnhealthyError, "Access to requested resource"),
        (Seller(spapi_always=UNAVAILABLE), ["US"], IncompleteError, "could not verify"),
    ],
    ids=["marketplace-mismatch", "forbidden", "unavailable"],
)
def test_a_failed_first_check_stores_nothing(
    world: World, behaviour: Seller, markets: list[str], error: type[Exception], text: str
) -> None:
    world.browser.behaviour = behaviour
    world.h.ctx.env = {**world.h.ctx.env, "SOLDSCOPE_RETRY_MAX_TOTAL": "0"}
    with pytest.raises(error, match=text):
        world.run(marketplaces=markets)
    assert world.amazon.issued and world.nothing_stored()


def test_a_wrong_redirect_uri_in_the_exchange_is_amazons_invalid_grant(world: World) -> None:
    # Amazon binds the code to the consent's redirect_uri; the fake does too, so a mix-up shows.
    real_answer = world.browser.answer

    def answer(url: str) -> str:
        address = real_answer(url)
        code = parse_qs(urlsplit(address).query)["spapi_oauth_code"][0]
        redirect, token = world.amazon.codes[code]
        world.amazon.codes[code] = (redirect + "x", token)
        return address

    world.browser.answer = answer  # type: ignore[method-assign]
    with pytest.raises(UnhealthyError, match="invalid_grant"):
        world.run(marketplaces=["US"])
    assert world.nothing_stored()


# --- checked before the consent link exists -------------------------------------------------------


class BrokenSecrets(MemorySecretStore):
    """A secret store that cannot be read (a locked keyring)."""

    def get(self, key: str) -> str | None:
        raise SecretStoreError("the OS keyring refused to read a secret: KeyringLocked")


def test_unusable_secret_store_fails_before_the_consent(tmp_path: Path) -> None:
    world = make_world(tmp_path, secrets=BrokenSecrets())
    with pytest.raises(SecretStoreError):
        world.run(marketplaces=["US"])
    assert world.ui.events == [] and world.browser.opened == []


@pytest.mark.parametrize("missing", ["SOLDSCOPE_REDIRECT_URI", "SOLDSCOPE_LWA_CLIENT_SECRET"])
def test_missing_app_settings_fail_before_the_consent(world: World, missing: str) -> None:
    world.h.ctx.env = {k: v for k, v in world.h.ctx.env.items() if k != missing}
    with pytest.raises(ConfigError, match="not configured"):
        world.run(marketplaces=["US"])
    assert world.ui.events == [] and world.browser.opened == []


def test_busy_port_fails_before_the_consent(world: World) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(UsageError, match="already in use"):
            world.run(marketplaces=["US"], port=busy.getsockname()[1])
    assert world.ui.events == []


def test_usage_errors_come_before_anything(world: World) -> None:
    with pytest.raises(UsageError, match="no marketplace given"):
        world.run()
    with pytest.raises(UsageError, match="exclude each other"):
        world.run(marketplaces=["US"], region="na")
    assert world.ui.events == [] and not world.h.ctx.paths.database.exists()


def test_plan_listener() -> None:
    assert plan_listener(RELAY, None).port == 0 and plan_listener(RELAY, None).port_in_state
    loop = plan_listener("http://127.0.0.1:8400/cb", None)
    assert (loop.port, loop.callback_path, loop.loopback_redirect) == (
        8400,
        "/cb",
        "http://127.0.0.1:8400/cb",
    )
    assert plan_listener("http://127.0.0.1:8400", None).callback_path == "/"
    with pytest.raises(UsageError, match=r"\[::1\]"):
        plan_listener("http://[::1]:8400/cb", None)


# --- sellers: duplicates, renewal, mismatch -------------------------------------------------------


def test_seller_already_connected_under_another_name_is_refused(world: World) -> None:
    world.h.add_store("acme", seller=SELLER)
    with pytest.raises(SellerConflict, match="already connected as 'acme'") as caught:
        world.run(marketplaces=["US"])
    assert caught.value.exit_code == 2 and "soldscope connect acme" in str(caught.value.hint)
    # Refused on the callback's seller id, before the code became a token.
    assert world.amazon.exchanges == [] and world.nothing_stored()


def test_same_seller_in_another_region_is_a_different_store(world: World) -> None:
    world.h.add_store("acme-eu", region="eu", marketplaces=["DE"], seller=SELLER)
    world.run(marketplaces=["US"])
    assert world.h.ctx.config(reload=True).stores["acme-us"].selling_partner_id == SELLER


def seed_history(h: Harness) -> None:
    db = h.ctx.database()
    db.record_check(
        CheckRecord("acme-us", NOW - timedelta(days=2), "validate", "problem", "invalid_grant", "x")
    )
    db.update_sync_state(db.store_id("acme-us"), "inventory", NOW, set_={"cursor:US": "2026-11-01"})


def test_renewal_replaces_the_token_and_keeps_history(world: World) -> None:
    world.h.add_store(
        "acme-us",
        marketplaces=["US", "CA"],
        authorized_at=NOW - timedelta(days=370),
        seller=SELLER,
        token="Atzr|old-token-of-acme",
    )
    seed_history(world.h)
    result = world.run()  # marketplaces omitted: the stored ones are kept

    assert result.renewed and result.row.status == Status.ACTIVE and result.row.problem is None
    assert world.ui.links[0].renewal
    record = world.h.ctx.config(reload=True).stores["acme-us"]
    assert (record.marketplaces, record.authorized_at) == (["US", "CA"], NOW)
    assert world.h.secrets.get(token_key("acme-us")) == world.amazon.issued[0]
    db = world.h.ctx.database()
    assert [c["outcome"] for c in db.checks("acme-us")] == ["problem", "ok"]
    assert db.get_sync_state(db.store_id("acme-us"), "inventory", "cursor:US") == "2026-11-01"
    assert db.events("acme-us")[0]["kind"] == "reauthorized"


def test_renewal_by_another_seller_is_refused_unless_forced(world: World) -> None:
    world.h.add_store("acme-us", seller=OTHER_SELLER, token="Atzr|old-token-of-acme")
    before = world.h.ctx.config_file.path.read_text()
    with pytest.raises(SellerConflict, match=f"but acme-us is seller {OTHER_SELLER}") as caught:
        world.run()
    assert caught.value.exit_code == 2 and "--force" in str(caught.value.hint)
    assert world.h.ctx.config_file.path.read_text() == before
    assert world.h.secrets.get(token_key("acme-us")) == "Atzr|old-token-of-acme"
    assert world.amazon.exchanges == []

    world.run(force=True)
    record = world.h.ctx.config(reload=True).stores["acme-us"]
    assert record.selling_partner_id == SELLER
    assert world.h.secrets.get(token_key("acme-us")) == world.amazon.issued[0]


def test_failed_renewal_leaves_the_old_connection_untouched(world: World) -> None:
    world.h.add_store("acme-us", seller=SELLER, token="Atzr|old-token-of-acme")
    before = world.h.ctx.config_file.path.read_text()
    world.browser.behaviour = Seller(spapi_always=FORBIDDEN)
    with pytest.raises(UnhealthyError, match="Access to requested resource is denied"):
        world.run()
    assert world.h.ctx.config_file.path.read_text() == before
    assert world.h.secrets.get(token_key("acme-us")) == "Atzr|old-token-of-acme"


def test_no_secret_reaches_the_ui_or_the_errors(world: World) -> None:
    world.run(marketplaces=["US"])
    token = world.amazon.issued[0]
    code = world.amazon.exchanges[0][0]
    seen = world.ui.text() + world.h.stdout + world.h.stderr
    assert token not in seen and code not in seen and CLIENT_SECRET not in seen
    config_text = world.h.ctx.config_file.path.read_text()
    assert token not in config_text and code not in config_text
    db_bytes = world.h.ctx.paths.database.read_bytes()
    assert token.encode() not in db_bytes and code.encode() not in db_bytes


def test_only_one_consent_completes_when_two_callbacks_race(world: World) -> None:
    # The listener takes exactly one answer: the second sees "already used", one token stored.
    real_follow = world.browser.follow

    def follow_twice(address: str) -> None:
        threads = [threading.Thread(target=real_follow, args=(address,)) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    world.browser.follow = follow_twice  # type: ignore[method-assign]
    world.run(marketplaces=["US"])
    texts = sorted(page for _, page in world.browser.pages)
    assert any("Return to the terminal" in t for t in texts)
    assert any("already used" in t for t in texts)
    assert len(world.amazon.exchanges) == 1


def test_manual_paste_of_another_attempts_answer_is_refused(world: World) -> None:
    def paste(link: ConsentLink) -> str:
        state = consent_params(link.url)["state"][0]
        return world.browser.answer(link.url.replace(state, "older" + state[5:]))

    world.ui.pasted = paste
    with pytest.raises(StateMismatch) as caught:
        world.run(marketplaces=["US"], manual=True, open_browser=False)
    assert caught.value.exit_code == 1
    assert world.amazon.exchanges == [] and world.nothing_stored()


def test_a_busy_port_pinned_by_the_redirect_uri_says_how_to_free_it(tmp_path: Path) -> None:
    from soldscope_cli.onboarding.consent_flow import _open_listener, plan_listener

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        plan = plan_listener(f"http://127.0.0.1:{port}/callback", None)
        with pytest.raises(UsageError) as caught:
            _open_listener(plan, "acme", make_harness(tmp_path).ctx)
    assert f"port {port}" in caught.value.message
    assert caught.value.hint and "soldscope doctor" in caught.value.hint
