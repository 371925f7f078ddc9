"""`soldscope demo`: the whole product against the local simulator, in a throwaway home.

Stores are connected through the real consent flow: consent link, loopback listener, code
exchange, live check; the simulator's consent page confirms by itself, playing the seller.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import socket
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from soldscope_cli.context import AppContext
from soldscope_cli.fleet.paths import CONFIG_DIR_ENV, DATA_DIR_ENV, Paths

if TYPE_CHECKING:
    from soldscope_cli.checks.validation import ValidateResult
    from soldscope_cli.fleet.listing import StoreRow
    from soldscope_cli.onboarding.consent_flow import ConsentLink
    from soldscope_cli.simulator import Simulator
    from soldscope_cli.sync.runner import SyncReport


@dataclass(frozen=True)
class DemoStore:
    """One demo connection and the state the demo puts it in."""

    name: str
    seller: str
    marketplaces: tuple[str, ...] = ()
    region: str | None = None  # region-wide (unified account) instead of marketplaces
    age_days: int = 0  # how long ago it was authorized
    revoke: bool = False  # the seller revokes the app after connecting


DEMO_STORES: tuple[DemoStore, ...] = (
    DemoStore("acme-na", "A1DEMONA0ACME1", ("US", "CA")),
    DemoStore("bolt-us", "A2DEMONA0BOLT2", ("US",), age_days=120),
    DemoStore("crab-eu", "A3DEMOEU0CRAB3", region="eu", age_days=40),
    DemoStore("dune-eu", "A4DEMOEU0DUNE4", ("DE", "NL"), age_days=350),  # expiring soon
    DemoStore("ember-jp", "A5DEMOFE0EMBR5", ("JP",), age_days=372),  # expired
    DemoStore("fern-au", "A6DEMOFE0FERN6", ("AU",), age_days=200, revoke=True),  # error
)
# The client who connects through an invitation link that `soldscope serve` answers.
INVITED_STORE = DemoStore("gale-us", "A7DEMONA0GALE7", ("US",))


@dataclass
class DemoResult:
    """What the demo did: the home it used, the checks and the sync."""

    home: Path
    validate: ValidateResult
    sync: SyncReport | None
    kept: bool
    rows: list[StoreRow] = field(default_factory=list)  # the status table after the sync
    scenario_file: Path | None = None
    # Refresh tokens of the connections that still work, by seller: for a kept scenario file.
    tokens: dict[str, str] = field(default_factory=dict, repr=False)
    # The renewal campaign (`invite --renew`): (store, link) per store that needs a new consent.
    renewals: list[tuple[str, str]] = field(default_factory=list)


def demo_environment(
    home: Path, simulator_env: dict[str, str], base: dict[str, str]
) -> dict[str, str]:
    """The demo's environment: the user's SOLDSCOPE_* and keyring settings never leak in."""
    env = {
        k: v
        for k, v in base.items()
        if not k.startswith("SOLDSCOPE_") and k != "PYTHON_KEYRING_BACKEND"
    }
    env.update(simulator_env)
    env.update(
        {
            CONFIG_DIR_ENV: str(home / "config"),
            DATA_DIR_ENV: str(home / "data"),
            # The demo's secrets live in the throwaway home, never in the user's keyring.
            "SOLDSCOPE_SECRETS": "file",
            "SOLDSCOPE_RETRY_MAX_TOTAL": "10",
        }
    )
    return env


@contextmanager
def demo_home(keep: bool) -> Iterator[Path]:
    """A fresh directory, removed afterwards unless kept."""
    home = Path(tempfile.mkdtemp(prefix="soldscope-demo-"))
    try:
        yield home
    finally:
        if not keep:
            shutil.rmtree(home, ignore_errors=True)


def run_demo(
    ctx: AppContext,
    *,
    keep: bool,
    say: Callable[[str], None],
    simulator: Simulator | None = None,
) -> DemoResult:
    """Start the simulator, register the app, connect the stores, validate, sync."""
    from soldscope_cli.simulator import Simulator
    from soldscope_cli.simulator.demo import (
        DEMO_APPLICATION_ID,
        DEMO_CLIENT_ID,
        DEMO_CLIENT_SECRET,
    )

    sim = simulator or Simulator.demo()
    # Amazon takes minutes to build a report and soldscope polls patiently; the demo's reports are
    # ready at the first poll so the whole tour takes seconds.
    sim.set_reports(polls_in_queue=0, polls_in_progress=0)
    say("Starting the local Amazon simulator on 127.0.0.1…")
    base_url = sim.start()
    try:
        with demo_home(keep) as home:
            env = demo_environment(home, sim.env(), dict(ctx.env))
            demo = ctx.for_home(env, Paths(home / "config", home / "data"))
            try:
                result = _run_in_home(
                    demo, sim, say, DEMO_APPLICATION_ID, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
                )
                scenario = _save_scenario(sim, home, result.tokens) if keep else None
                return dataclasses.replace(result, home=home, kept=keep, scenario_file=scenario)
            finally:
                demo.close()
    finally:
        sim.stop()
        say(f"Stopped the simulator at {base_url}.")


def _run_in_home(
    demo: AppContext,
    sim: Simulator,
    say: Callable[[str], None],
    app_id: str,
    client_id: str,
    client_secret: str,
) -> DemoResult:
    from soldscope_cli.checks.validation import run_validate
    from soldscope_cli.datasets.registry import NAMES as DATASET_NAMES
    from soldscope_cli.fleet.app_settings import AppSetRequest, run_app_set
    from soldscope_cli.fleet.listing import ListQuery, run_list
    from soldscope_cli.onboarding.invitations import renew_invitations
    from soldscope_cli.sync.session import SyncRequest, run_sync_command

    say(f"Registering the demo app {app_id}…")
    run_app_set(
        demo.config_file,
        demo.secret_store,
        demo.clock(),
        AppSetRequest(
            application_id=app_id,
            client_id=client_id,
            # A free loopback port: the demo must not collide with a simulator already on 8765.
            redirect_uri=f"http://127.0.0.1:{free_port()}/callback",
            draft=False,
            client_secret=client_secret,
        ),
    )
    tokens: dict[str, str] = {}
    for store in DEMO_STORES:
        where = (
            f"{store.region}: every marketplace" if store.region else ", ".join(store.marketplaces)
        )
        say(f"Connecting {store.name} ({where}) through Seller Central consent…")
        tokens[store.seller] = connect_demo_store(demo, sim, store)
    redirect_port = urlsplit(demo.config().app.redirect_uri or "").port or free_port()
    with demo_serve(demo, redirect_port, say) as public_url:
        tokens[INVITED_STORE.seller] = invite_demo_store(demo, sim, INVITED_STORE, public_url, say)
    for store in DEMO_STORES:
        if store.revoke:
            say(f"The seller behind {store.name} revokes the app in Seller Central…")
            sim.revoke(store.seller)
            tokens.pop(store.seller, None)
    say("Validating every connection live…")
    checked = run_validate(demo, [])

    say("Syncing every dataset for the healthy stores…")
    # One Brand Analytics week: crab-eu's five marketplaces then ask for about ten report
    # documents in all, within Amazon's burst of 15, so the demo never waits a minute for one.
    request = SyncRequest(
        names=[], datasets=DATASET_NAMES, since=None, concurrency=4, options={"ba_weeks": 1}
    )
    report = run_sync_command(demo, request)

    rotate_demo_secret(demo, sim, say)

    say("Inviting the stores that need a new consent (soldscope invite --renew)…")
    renewals = [(o.invitation.name, o.link) for o in renew_invitations(demo, [], None)]
    return DemoResult(
        home=demo.paths.config_dir.parent,
        validate=checked,
        sync=report,
        kept=False,
        rows=run_list(
            demo.config(), demo.state_lookup(), ListQuery(), demo.clock()
        ).rows,  # as `soldscope list` shows them after the sync
        tokens=tokens,
        renewals=renewals,
    )


def rotate_demo_secret(demo: AppContext, sim: Simulator, say: Callable[[str], None]) -> None:
    """`soldscope app rotate` against the simulator and a local SQS (moto), when installed.

    Neither boto3 nor moto is a dependency of soldscope: without them the demo says how to see
    this step and goes on.
    """
    from soldscope_cli.simulator.sqs import available, local_sqs

    if not available():
        say(
            "Skipping the client secret's rotation: it needs boto3 and moto's SQS server "
            "(pip install 'soldscope-cli[rotation]' 'moto[server]')"
        )
        return
    from soldscope_cli.fleet.config import format_time
    from soldscope_cli.rotation.queue import QUEUE_URL_ENV
    from soldscope_cli.rotation.setup import run_rotate

    with local_sqs() as sqs:
        sim.set_rotation_queue(sqs.queue_url)
        env = {**demo.env, **sqs.env(), QUEUE_URL_ENV: sqs.queue_url}
        rotating = demo.for_home(env, demo.paths)
        try:
            say(
                "Rotating the app's client secret (soldscope app rotate): Amazon sends the new one "
                "to an SQS queue, here moto's on 127.0.0.1…"
            )
            outcome = run_rotate(rotating, 30)
        finally:
            rotating.close()
        sim.set_rotation_queue(None)
    old = format_time(outcome.old_expires_at) if outcome.old_expires_at else "?"
    say(
        f"  proven with {outcome.proven_with}'s refresh and stored; Amazon takes the old one "
        f"until {old}"
    )


@contextmanager
def demo_serve(demo: AppContext, port: int, say: Callable[[str], None]) -> Iterator[str]:
    """`soldscope serve`'s app on the redirect URI's loopback port, in a thread; its public URL."""
    from soldscope_cli.web.app import build_app
    from soldscope_cli.web.server import bind, plan_serve, serving_in_thread

    plan = plan_serve(demo, f"127.0.0.1:{port}", [])
    sock = bind(plan.host, plan.port)
    app = build_app(
        demo,
        plan.settings,
        say=lambda text: say(f"  serve: {text}"),
        access_log=lambda text: None,
        monotonic=demo.monotonic,
    )
    say(f"Starting soldscope serve on {plan.public_url} for invitation links…")
    with serving_in_thread(app, sock):
        yield plan.public_url


def invite_demo_store(
    demo: AppContext,
    sim: Simulator,
    store: DemoStore,
    public_url: str,
    say: Callable[[str], None],
) -> str:
    """Invite a new store, and open the link as its seller would; returns the token stored."""
    from soldscope_cli.fleet.secrets import token_key
    from soldscope_cli.onboarding.invitations import InviteRequest, create_invitation

    outcome = create_invitation(demo, InviteRequest(store.name, store.marketplaces))
    say(f"Inviting {store.name} ({', '.join(store.marketplaces)}): soldscope invite prints a link")
    say(f"The seller opens {public_url}/invite/… and consents in Seller Central…")
    sim.set_consent(signed_in_seller=store.seller, auto_confirm=True)
    browser = DemoBrowser()
    status = browser.visit(outcome.link)
    token = demo.secret_store().get(token_key(store.name))
    if status != 200 or token is None:  # pragma: no cover - the simulator always confirms
        raise RuntimeError(
            f"the demo invitation for {store.name} did not connect: {browser.errors}"
        )
    demo.config(reload=True)
    return token


class DemoBrowser:
    """Plays the seller's browser: opens the consent link, which the simulator confirms at once."""

    def __init__(self) -> None:
        self._threads: list[threading.Thread] = []
        self.errors: list[str] = []

    def link(self, link: ConsentLink) -> None:
        # Like a real browser, in its own thread: the listener is already waiting for the callback.
        thread = threading.Thread(target=self._visit, args=(link.url,), daemon=True)
        thread.start()
        self._threads.append(thread)

    def _visit(self, url: str) -> None:
        self.visit(url)

    def visit(self, url: str) -> int | None:
        """Open a link and follow its redirects; the final page's status (None: unreachable)."""
        import httpx

        try:
            # Loopback only: never through a proxy the user's environment may name.
            with httpx.Client(trust_env=False, timeout=10, follow_redirects=True) as client:
                return client.get(url).status_code
        except httpx.HTTPError as exc:
            self.errors.append(f"{exc.__class__.__name__}: {exc}")
            return None

    def browser(self, opened: bool) -> None:
        """Nothing to open: the visit above is the browser."""

    def tick(self, remaining: float) -> None:
        """No countdown in the demo."""

    def paste(self, link: ConsentLink) -> str:
        raise AssertionError("the demo never pastes")  # pragma: no cover - manual is never used

    def step(self, text: str) -> None:
        """The demo prints its own progress."""

    def join(self) -> None:
        for thread in self._threads:
            thread.join(timeout=10)


def connect_demo_store(demo: AppContext, sim: Simulator, store: DemoStore) -> str:
    """Connect one store through the real consent flow; returns the refresh token stored."""
    from soldscope_cli.fleet.secrets import token_key
    from soldscope_cli.onboarding.consent_flow import ConsentRequest, run_consent

    sim.set_consent(signed_in_seller=store.seller, auto_confirm=True)
    real_clock = demo.clock
    if store.age_days:
        # As if the seller had consented that many days ago: the 365-day clock starts then.
        shifted = timedelta(days=store.age_days)
        demo.clock = lambda: real_clock() - shifted
    browser = DemoBrowser()
    try:
        run_consent(
            demo,
            ConsentRequest(
                name=store.name,
                marketplaces=list(store.marketplaces),
                region=store.region,  # type: ignore[arg-type]
                timeout=30,
            ),
            browser,
        )
    finally:
        demo.clock = real_clock
        browser.join()
    token = demo.secret_store().get(token_key(store.name))
    if token is None:  # pragma: no cover - run_consent stores it or raises
        raise RuntimeError(f"the demo store {store.name} has no token")
    return token


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _save_scenario(sim: Simulator, home: Path, tokens: dict[str, str]) -> Path:
    """The simulator's state as a scenario file, so `simulator serve` can bring it back."""
    data: dict[str, Any] = sim.scenario_dict()
    for seller in data.get("sellers", []):
        token = tokens.get(seller.get("selling_partner_id", ""))
        if token:
            seller["refresh_tokens"] = [token]
    path = home / "scenario.json"
    path.write_text(json.dumps(data, indent=2))
    path.chmod(0o600)  # it holds the demo's refresh tokens
    return path
