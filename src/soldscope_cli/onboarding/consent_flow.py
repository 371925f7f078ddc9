"""Connecting a store through Amazon's website consent: plan, listen, exchange, prove, store.

Nothing here prints: what the person sees goes through a ConsentUi the command provides. The order
matters and is the point of this module. Everything that can fail locally (app credentials, secret
store, database, listener port) is checked before the consent link exists, because a consent is
the client's time and a 5-minute code; the new token is proved live before anything is written;
and nothing is written unless all of it worked.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit, urlunsplit

from soldscope_cli.amazon.marketplaces import Region, resolve
from soldscope_cli.db.model import CHECK_APP_ERROR, CHECK_INCOMPLETE, CHECK_OK
from soldscope_cli.errors import IncompleteError, UnhealthyError, UsageError
from soldscope_cli.fleet.config import Config, StoreRecord, validate_store_name
from soldscope_cli.fleet.listing import StoreRow, build_rows
from soldscope_cli.status import Status

if TYPE_CHECKING:
    # Imported where used at run time: these pull in httpx and http.server, which commands that
    # never go online (`list`) must not pay for.
    from soldscope_cli.amazon.lwa import TokenGrant
    from soldscope_cli.checks.live import HealthClients, SellerApi
    from soldscope_cli.checks.result import StoreCheck
    from soldscope_cli.consent.listener import CallbackListener, ConsentResult
    from soldscope_cli.fleet.app_credentials import AppCredentials
    from soldscope_cli.services import Services

DEFAULT_TIMEOUT_SECONDS = 300.0
# The statuses `validate --reauthorize` renews: broken, run out, or about to run out.
RENEWABLE = (Status.ERROR, Status.EXPIRED, Status.EXPIRING_SOON)


# --- what to connect ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """The store a connect aims at: its name, region and marketplaces, and what it renews."""

    name: str
    region: Region
    marketplaces: list[str]  # empty for a region-wide store: discovered by the first check
    region_wide: bool
    existing: StoreRecord | None

    @property
    def renewal(self) -> bool:
        """Whether an existing store is re-authorized in place."""
        return self.existing is not None

    @property
    def connect_args(self) -> str:
        """The `soldscope connect` arguments that retry this connect, exactly as it was aimed.

        A new store needs its --marketplace or --region again (without them connect refuses);
        a renewal that keeps the store's marketplaces needs only the name.
        """
        old = self.existing
        kept = old is not None and (
            old.region_wide
            if self.region_wide
            else not old.region_wide and list(old.marketplaces) == self.marketplaces
        )
        if kept:
            return self.name
        if self.region_wide:
            return f"{self.name} --region {self.region}"
        return " ".join([self.name, *(f"--marketplace {code}" for code in self.marketplaces)])

    def record(self, seller: str, authorized_at: datetime) -> StoreRecord:
        """The record a consent by `seller` at `authorized_at` stores (before its live check)."""
        return StoreRecord(
            name=self.name,
            region=self.region,
            marketplaces=list(self.marketplaces),
            authorized_at=authorized_at,
            selling_partner_id=seller,
            region_wide=self.region_wide,
        )


def plan_target(
    config: Config, name: str, marketplaces: list[str], region: Region | None
) -> Target:
    """The store to connect or renew, or a UsageError; nothing is written."""
    name = validate_store_name(name)
    existing = config.stores.get(name)
    if marketplaces and region is not None:
        raise UsageError(
            "--marketplace and --region exclude each other",
            hint=f"run `soldscope connect {name} --marketplace CC` for chosen marketplaces or "
            f"`soldscope connect {name} --region REGION` (na, eu or fe) for all of a region",
        )
    if marketplaces:
        chosen, codes = resolve(marketplaces)
        return Target(name, chosen, codes, False, existing)
    if region is not None:
        # Filled from the seller's participations by the check that proves the token.
        return Target(name, region, [], True, existing)
    if existing is not None:
        # Renewal keeps the store's marketplaces; a region-wide store rediscovers them.
        codes = [] if existing.region_wide else list(existing.marketplaces)
        return Target(name, existing.region, codes, existing.region_wide, existing)
    raise UsageError(
        "no marketplace given",
        hint=f"run `soldscope connect {name} --marketplace CC` (repeatable) or "
        f"`soldscope connect {name} --region REGION` (na, eu or fe)",
    )


class SellerConflict(UsageError):
    """The seller Amazon named cannot be stored under this name (nothing was changed)."""


def find_duplicate(config: Config, name: str, seller: str, region: Region) -> StoreRecord | None:
    """Another store already connected to the same seller in the same region, if any."""
    for other in config.stores.values():
        if other.name != name and other.selling_partner_id == seller and other.region == region:
            return other
    return None


def duplicate_error(other: StoreRecord, seller: str, renew_hint: str) -> SellerConflict:
    """The refusal to connect one seller and region twice, naming the store that has it."""
    return SellerConflict(
        f"seller {seller} in region {other.region} is already connected as {other.name!r}; "
        "nothing was stored",
        hint=f"renew that store instead: {renew_hint}",
    )


def check_seller(config: Config, target: Target, seller: str, *, force: bool) -> None:
    """Refuse a seller already connected under another name, or a renewal by another seller."""
    other = find_duplicate(config, target.name, seller, target.region)
    if other is not None:
        raise duplicate_error(other, seller, f"soldscope connect {other.name}")
    stored = target.existing.selling_partner_id if target.existing else None
    if stored and stored != seller and not force:
        raise NotTheSeller(
            f"Amazon authorized seller {seller}, but {target.name} is seller {stored}; "
            "nothing was changed",
            hint="ask the client to sign in to the Seller Central account of "
            f"{target.name} and run `soldscope connect {target.connect_args}` again, or pass "
            "--force "
            f"to make {target.name} seller {seller}",
        )


class NotTheSeller(SellerConflict):
    """A renewal's token belongs, by Amazon's answer, to another seller than the store's."""


def same_seller(recorded: Mapping[str, str], proved: Mapping[str, str]) -> bool | None:
    """Whether two answers of Amazon name one seller: the same storeName in every marketplace
    both list (and at least one they share); None when either was never recorded."""
    if not recorded or not proved:
        return None
    common = recorded.keys() & proved.keys()
    return bool(common) and all(recorded[code] == proved[code] for code in common)


def _names(names: Mapping[str, str]) -> str:
    return ", ".join(f"{code} {name!r}" for code, name in sorted(names.items()))


def check_identity(
    config: Config, record: StoreRecord, *, force: bool, forceable: bool = True
) -> None:
    """Refuse a proved token whose seller, as Amazon answered for it, is another store's, or is
    not the seller of the store it renews. The seller id of the redirect is only a claim.

    A store connected before its store names were recorded has nothing to compare: its first
    renewal records them.
    """
    name, seller = record.name, record.selling_partner_id or "?"
    for other in config.stores.values():
        if other.name == name or other.region != record.region:
            continue
        if same_seller(other.store_names, record.store_names):
            raise SellerConflict(
                f"Amazon's answer for the new token (seller {seller} by the redirect) names "
                f"{_names(record.store_names)}: that seller is already connected as "
                f"{other.name!r}; nothing was stored",
                hint=f"renew that store instead: `soldscope connect {other.name}`",
            )
    existing = config.stores.get(name)
    if existing is None or force:
        return
    if same_seller(existing.store_names, record.store_names) is False:
        raise NotTheSeller(
            f"Amazon's answer for the new token does not match {name}: it names "
            f"{_names(record.store_names)}, {name} is {_names(existing.store_names)}; "
            "nothing was changed",
            hint=f"the new token must come from the Seller Central account of {name}"
            + (f"; pass --force to make {name} that seller" if forceable else ""),
        )


# --- proving a token ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConnectResult:
    """The stored connection, whether it replaced an existing one, and its first check."""

    row: StoreRow
    renewed: bool
    check: StoreCheck


def prove(
    record: StoreRecord,
    refresh_token: str,
    clients: HealthClients,
    *,
    again: str,
    extra: str = "",
) -> tuple[StoreRecord, StoreCheck]:
    """Check the token live: the record to store (region-wide: with its marketplaces), or raise.

    `again` is the advice for a token Amazon refuses (how to get another one); `extra` ends the
    connect commands that retry with other marketplaces (" --refresh-token-stdin" for an import).
    """
    from soldscope_cli.checks.live import check_store
    from soldscope_cli.checks.result import APP_REJECTED_MESSAGE
    from soldscope_cli.status import MARKETPLACE_MISMATCH

    check = check_store(record, refresh_token, clients)
    if check.outcome == CHECK_APP_ERROR:
        raise UnhealthyError(APP_REJECTED_MESSAGE + "; nothing was stored")
    if check.outcome == CHECK_INCOMPLETE:
        raise IncompleteError(
            f"could not verify the token: {check.reason}; nothing was stored",
            hint="try again in a few minutes",
        )
    if check.code == MARKETPLACE_MISMATCH:
        raise UnhealthyError(
            f"the seller is {check.message}; nothing was stored",
            hint="connect with the marketplaces the seller sells in: "
            f"`soldscope connect {record.name} --marketplace CC{extra}`, or all of them: "
            f"`soldscope connect {record.name} --region {record.region}{extra}`",
        )
    if check.outcome != CHECK_OK:
        raise UnhealthyError(
            f"Amazon did not accept the connection ({check.code}: {check.message}); "
            "nothing was stored",
            hint=again,
        )
    record = dataclasses.replace(record, store_names=dict(check.store_names))
    if not record.region_wide:
        return record, check
    if not check.participating:
        raise UnhealthyError(
            f"the seller participates in no marketplace of region {record.region}; "
            "nothing was stored",
            hint="was the authorization made in another region? connect that region instead: "
            f"`soldscope connect {record.name} --region REGION{extra}` (na, eu or fe)",
        )
    discovered = dataclasses.replace(record, marketplaces=list(check.participating))
    # Nothing was "added": the marketplaces were discovered now, and that is what gets stored.
    return discovered, dataclasses.replace(check, added=(), message=None)


def seller_checks(
    record: StoreRecord, *, force: bool, self_authorized: bool = False
) -> Callable[[Mapping[str, StoreRecord]], None]:
    """The seller checks of a connect, for the stores as they are where the record is written.

    Repeated there because the first run of them came before Amazon's round trip: another
    connect, serve callback or host may have stored the same seller (or this name) meanwhile.
    """

    def verify(stores: Mapping[str, StoreRecord]) -> None:
        config = Config(stores=dict(stores))
        seller = record.selling_partner_id
        if self_authorized:
            other = find_duplicate(config, record.name, seller, record.region) if seller else None
            if other is not None:
                raise duplicate_error(
                    other, seller or "?", f"soldscope connect {other.name} --refresh-token-stdin"
                )
        elif seller:
            target = Target(
                record.name,
                record.region,
                list(record.marketplaces),
                record.region_wide,
                stores.get(record.name),
            )
            check_seller(config, target, seller, force=force)
        check_identity(config, record, force=force, forceable=not self_authorized)

    return verify


def store_connection(
    ctx: Services,
    record: StoreRecord,
    refresh_token: str,
    check: StoreCheck,
    now: datetime,
    *,
    verify: Callable[[Mapping[str, StoreRecord]], None] | None = None,
) -> ConnectResult:
    """Write token, record and first check together; history and sync cursors are kept.

    `verify` (seller_checks) runs again where the record is written; it raises to store nothing.
    """
    from soldscope_cli.fleet.connections import save_connection

    db = ctx.database()
    renewed = save_connection(
        ctx.config_file, ctx.secret_store(), db, record, refresh_token, now, verify=verify
    )
    ctx.config(reload=True)
    db.record_check(check.to_record(ctx.clock(), "connect"))
    rows = build_rows([record], db.states([record.name]), ctx.clock())
    return ConnectResult(row=rows[0], renewed=renewed, check=check)


# --- the consent round trip -----------------------------------------------------------------------


class CodeExchanger(Protocol):
    """Login with Amazon as the consent needs it (soldscope_cli.amazon.lwa.LwaClient)."""

    def access_token(self, refresh_token: str) -> str: ...

    def exchange_code(self, code: str, redirect_uri: str) -> TokenGrant: ...


class ConsentClients(Protocol):
    """What a consent needs from Amazon (soldscope_cli.amazon.clients.AmazonClients provides it)."""

    @property
    def lwa(self) -> CodeExchanger: ...

    def spapi_for(self, record: StoreRecord, refresh_token: str) -> SellerApi: ...


@dataclass(frozen=True)
class ConsentRequest:
    """What the user asked `connect` (without --refresh-token-stdin) to do."""

    name: str
    marketplaces: list[str] = dataclasses.field(default_factory=list)
    region: Region | None = None
    manual: bool = False
    port: int | None = None
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    force: bool = False
    open_browser: bool = False  # the command decides: only for a person at a terminal


@dataclass(frozen=True)
class ConsentLink:
    """The consent link of one attempt and where its answer is expected."""

    name: str
    url: str
    redirect_uri: str  # sent in the link and again in the code exchange
    listen_url: str | None  # the loopback callback address; None with --manual
    relay: bool  # the redirect URI is a relay page that forwards to the listener
    timeout: float
    renewal: bool


class ConsentUi(Protocol):
    """How the orchestration reaches the person; the command renders, this module never prints."""

    def link(self, link: ConsentLink) -> None:
        """The consent link is ready (before any browser opens)."""

    def browser(self, opened: bool) -> None:
        """The result of trying to open the link in a browser."""

    def tick(self, remaining: float) -> None:
        """About once a second while waiting: seconds left."""

    def paste(self, link: ConsentLink) -> str:
        """With --manual: the address the browser ended on (or the relay page's copied one)."""

    def step(self, text: str) -> None:
        """Progress after the answer arrived."""


@dataclass(frozen=True)
class ListenPlan:
    """Where the listener binds and what redirect URI the consent link sends."""

    port: int  # 0: any free port
    callback_path: str
    port_in_state: bool  # the relay page finds the listener from the state
    loopback_redirect: str | None  # the loopback URI to send; None: send the configured one


def plan_listener(redirect_uri: str, port: int | None) -> ListenPlan:
    """--port, else the port of a loopback redirect URI, else any free port (relay mode)."""
    from soldscope_cli.amazon.endpoints import is_loopback_http
    from soldscope_cli.consent.listener import CALLBACK_PATH

    if not is_loopback_http(redirect_uri):
        return ListenPlan(port or 0, CALLBACK_PATH, True, None)
    parts = urlsplit(redirect_uri.strip())
    if parts.hostname == "::1":
        raise UsageError(
            f"redirect URI {redirect_uri!r} is on [::1], but soldscope listens on 127.0.0.1",
            hint="use http://127.0.0.1:PORT/... as the redirect URI",
        )
    configured = parts.port or 80
    path = parts.path or "/"
    chosen = configured if port is None else port
    if chosen == configured:
        sent = redirect_uri.strip()
    else:
        # Only a simulator that accepts any loopback port takes this; Amazon matches exactly.
        sent = urlunsplit((parts.scheme, f"{parts.hostname}:{chosen}", path, parts.query, ""))
    return ListenPlan(chosen, path, False, sent)


def preflight(ctx: Services, name: str) -> AppCredentials:
    """Fail before the consent when this machine could not keep its result."""
    from soldscope_cli.fleet.app_credentials import resolve_app
    from soldscope_cli.fleet.secrets import token_key

    creds = resolve_app(ctx.config().app, ctx.env, ctx.secret_store)
    creds.require(redirect=True)
    # A harmless read proves the secret store answers (a locked keyring fails here, not after
    # the client consented); the database is opened and migrated for the same reason.
    ctx.secret_store().get(token_key(name))
    ctx.database().states([name])
    return creds


def _open_listener(
    plan: ListenPlan, name: str, ctx: Services, *, connect_args: str | None = None
) -> CallbackListener:
    from soldscope_cli.consent.listener import CallbackListener

    try:
        return CallbackListener(
            label=name,
            port=plan.port,
            port_in_state=plan.port_in_state,
            connect_args=connect_args or name,
            callback_path=plan.callback_path,
            clock=ctx.monotonic,
        )
    except ValueError:
        raise UsageError(
            f"soldscope cannot listen on the redirect URI's path {plan.callback_path!r}",
            hint="use a redirect URI such as http://127.0.0.1:8400/callback",
        ) from None
    except UsageError as exc:
        if plan.port_in_state or not plan.port:
            raise
        # A loopback redirect URI pins the port: the answer can only arrive there.
        raise UsageError(
            exc.message,
            hint="stop what holds it (`soldscope doctor` names the process), or register "
            "another loopback redirect URI with `soldscope app set --redirect-uri`",
        ) from None


def exchange_code(clients: ConsentClients, code: str, redirect_uri: str, connect_args: str) -> str:
    """Trade a consent's code for its refresh token at once (it dies 5 minutes after consent).

    connect_args are what `soldscope connect` needs to try again (the name, and a new store's
    marketplaces), for the hint of a failed exchange.
    """
    from soldscope_cli.amazon.lwa import LwaError, LwaTransient

    try:
        grant = clients.lwa.exchange_code(code, redirect_uri)
    except LwaTransient as exc:
        raise IncompleteError(
            f"{exc.message}; nothing was stored",
            hint="the seller must consent again: run "
            f"`soldscope connect {connect_args}` in a few minutes",
        ) from None
    except LwaError as exc:
        # Whatever Amazon's reason, this code is spent: the way out is a fresh consent.
        raise UnhealthyError(f"{exc.message}; nothing was stored", hint=exc.hint) from None
    return grant.refresh_token


def _receive(
    ctx: Services,
    request: ConsentRequest,
    target: Target,
    creds: AppCredentials,
    ui: ConsentUi,
) -> tuple[ConsentResult, str]:
    """Show the link, then wait for Amazon's answer: (answer, redirect URI it was sent with)."""
    from soldscope_cli.consent.listener import consent_url, new_state, parse_callback

    assert creds.application_id is not None and creds.redirect_uri is not None  # by require()
    base = ctx.endpoints.seller_central_base(
        region=target.region,
        marketplace=target.marketplaces[0] if target.marketplaces else None,
    )

    def show(url: str, redirect_uri: str, listen_url: str | None, relay: bool) -> ConsentLink:
        link = ConsentLink(
            target.name, url, redirect_uri, listen_url, relay, request.timeout, target.renewal
        )
        ui.link(link)
        if request.open_browser:
            ui.browser(ctx.browser(url))
        return link

    if request.manual:
        state = new_state(None)
        redirect_uri = creds.redirect_uri
        url = consent_url(base, creds.application_id, state, redirect_uri, creds.draft)
        link = show(url, redirect_uri, None, False)
        return parse_callback(ui.paste(link), state, connect_args=target.connect_args), redirect_uri

    plan = plan_listener(creds.redirect_uri, request.port)
    with _open_listener(plan, target.name, ctx, connect_args=target.connect_args) as listener:
        listen_url = listener.redirect_uri()
        redirect_uri = plan.loopback_redirect or creds.redirect_uri
        url = consent_url(base, creds.application_id, listener.state, redirect_uri, creds.draft)
        show(url, redirect_uri, listen_url, plan.loopback_redirect is None)
        return listener.wait(request.timeout, on_tick=ui.tick), redirect_uri


def run_consent(
    ctx: Services,
    request: ConsentRequest,
    ui: ConsentUi,
    *,
    make_clients: Callable[[], ConsentClients] | None = None,
) -> ConnectResult:
    """Connect or renew a store through Seller Central's consent; all of it is stored, or nothing."""
    target = plan_target(ctx.config(), request.name, request.marketplaces, request.region)
    creds = preflight(ctx, target.name)
    if make_clients is None:
        clients: ConsentClients = ctx.amazon_clients()
    else:
        clients = make_clients()

    answer, redirect_uri = _receive(ctx, request, target, creds, ui)
    seller = answer.selling_partner_id
    # Read again: the wait can be minutes long, and another connect may have finished meanwhile.
    config = ctx.config(reload=True)
    target = dataclasses.replace(target, existing=config.stores.get(target.name))
    check_seller(config, target, seller, force=request.force)

    ui.step(f"Amazon authorized seller {seller}; exchanging the code")
    refresh_token = exchange_code(clients, answer.code, redirect_uri, target.connect_args)
    now = ctx.clock()
    planned = target.record(seller, now)
    ui.step("checking the connection at Amazon")
    record, check = prove(
        planned,
        refresh_token,
        clients,
        again="make sure the seller consents in this store's region and account, then run "
        f"`soldscope connect {target.connect_args}` again",
    )
    verify = seller_checks(record, force=request.force)
    return store_connection(ctx, record, refresh_token, check, now, verify=verify)


def renewable(rows: list[StoreRow]) -> list[str]:
    """Names of the stores a renewal would help: in error, expired or expiring soon."""
    return [row.name for row in rows if row.status in RENEWABLE]
