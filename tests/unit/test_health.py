"""Live checks: outcome mapping from Amazon's real answers, concurrency, token reads, app failure."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import NOW, Harness, make_harness

from soldscope_cli.amazon.clients import retry_policy_from_env
from soldscope_cli.amazon.marketplaces import BY_CODE
from soldscope_cli.checks.live import StoreCheck, check_store, compare_marketplaces
from soldscope_cli.checks.validation import SKIPPED, ValidateResult, validate_stores
from soldscope_cli.commands.validate import exit_code
from soldscope_cli.db.database import (
    CHECK_APP_ERROR,
    CHECK_INCOMPLETE,
    CHECK_OK,
    CHECK_PROBLEM,
    CheckRecord,
    StoreState,
)
from soldscope_cli.errors import ConfigError, ExitCode, SecretStoreError
from soldscope_cli.fleet.config import StoreRecord
from soldscope_cli.fleet.secrets import BATCH_SIZE, MemorySecretStore, token_key
from soldscope_cli.status import Status

LWA_URL = "https://lwa.test/auth/o2/token"
SPAPI_URL = "https://spapi.test"
CLIENT_ID = "amzn1.application-oa2-client.unit"
CLIENT_SECRET = "amzn1.oa2-cs.v1.unitsecretvalue0001"
APP_ID = "amzn1.sp.solution.unit-app"
ENV = {
    "SOLDSCOPE_LWA_URL": LWA_URL,
    "SOLDSCOPE_SPAPI_URL": SPAPI_URL,
    "SOLDSCOPE_APP_ID": APP_ID,
    "SOLDSCOPE_LWA_CLIENT_ID": CLIENT_ID,
    "SOLDSCOPE_LWA_CLIENT_SECRET": CLIENT_SECRET,
}

# Amazon's own bodies (LWA token endpoint; SP-API {"errors": [...]}), FACTS §2 and §5.
INVALID_GRANT = (
    400,
    {
        "error_description": "The request has an invalid grant parameter : refresh_token. "
        "User may have revoked or didn't grant the permission.",
        "error": "invalid_grant",
    },
)
INVALID_CLIENT = (
    401,
    {"error_description": "Client authentication failed", "error": "invalid_client"},
)
LWA_UNAVAILABLE = (
    503,
    {"error_description": "Service unavailable", "error": "temporarily_unavailable"},
)
FORBIDDEN = (
    403,
    {
        "errors": [
            {
                "code": "Unauthorized",
                "message": "Access to requested resource is denied.",
                "details": "",
            }
        ]
    },
)
UNAVAILABLE = (
    503,
    {"errors": [{"code": "ServiceUnavailable", "message": "Service Unavailable", "details": ""}]},
)
THROTTLED = (
    429,
    {
        "errors": [
            {
                "code": "QuotaExceeded",
                "message": "You exceeded your quota for the requested resource.",
                "details": "",
            }
        ]
    },
)


def participation(code_or_id: str, participating: bool = True) -> dict[str, Any]:
    """One entry of getMarketplaceParticipations' payload, shaped like Amazon's."""
    market = BY_CODE.get(code_or_id)
    marketplace_id = market.marketplace_id if market else code_or_id
    country = market.api_country_code if market else "US"
    return {
        "marketplace": {
            "id": marketplace_id,
            "name": f"Amazon.{country.lower()}",
            "countryCode": country,
            "defaultCurrencyCode": "USD",
            "defaultLanguageCode": "en_US",
            "domainName": f"www.amazon.{country.lower()}",
        },
        "participation": {"isParticipating": participating, "hasSuspendedListings": False},
        "storeName": "Unit Store",
    }


@dataclass
class Seller:
    """How the fake Amazon answers for one refresh token."""

    payload: list[dict[str, Any]] = field(default_factory=lambda: [participation("US")])
    lwa_failures: list[tuple[int, Any]] = field(default_factory=list)  # served first, in order
    spapi_failures: list[tuple[int, Any]] = field(default_factory=list)
    lwa_always: tuple[int, Any] | None = None
    spapi_always: tuple[int, Any] | None = None
    timeout: bool = False
    gate: threading.Event | None = None  # participations waits for it (concurrency tests)
    retry_after: str | None = None


class FakeAmazon:
    """LWA and the Sellers API behind an httpx.MockTransport, one behaviour per refresh token."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sellers: dict[str, Seller] = {}
        self.access: dict[str, str] = {}
        self.lwa_calls: list[str] = []
        self.spapi_calls: list[str] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.barrier: threading.Barrier | None = None

    def add(self, refresh_token: str, seller: Seller | None = None) -> Seller:
        self.sellers[refresh_token] = seller or Seller()
        return self.sellers[refresh_token]

    @property
    def requests(self) -> int:
        with self.lock:
            return len(self.lwa_calls) + len(self.spapi_calls)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        if str(request.url) == LWA_URL:
            return self._lwa(request)
        if request.url.path == "/sellers/v1/marketplaceParticipations":
            with self.lock:
                self.in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                return self._participations(request)
            finally:
                with self.lock:
                    self.in_flight -= 1
        return httpx.Response(404, json={"errors": [{"code": "NotFound", "message": "no"}]})

    def _lwa(self, request: httpx.Request) -> httpx.Response:
        form = dict(httpx.QueryParams(request.content.decode()))
        token = form.get("refresh_token", "")
        with self.lock:
            self.lwa_calls.append(token)
        if form.get("client_secret") != CLIENT_SECRET:
            return httpx.Response(INVALID_CLIENT[0], json=INVALID_CLIENT[1])
        seller = self.sellers.get(token)
        if seller is None:
            return httpx.Response(INVALID_GRANT[0], json=INVALID_GRANT[1])
        with self.lock:
            failure = seller.lwa_failures.pop(0) if seller.lwa_failures else seller.lwa_always
        if failure is not None:
            return httpx.Response(failure[0], json=failure[1])
        access = f"Atza|access-{len(self.access)}"
        with self.lock:
            self.access[access] = token
        body = {"access_token": access, "token_type": "bearer", "expires_in": 3600}
        return httpx.Response(200, json=body)

    def _participations(self, request: httpx.Request) -> httpx.Response:
        access = request.headers.get("x-amz-access-token", "")
        token = self.access.get(access, "")
        with self.lock:
            self.spapi_calls.append(token)
        seller = self.sellers[token]
        if self.barrier is not None:
            self.barrier.wait()
        if seller.gate is not None:
            assert seller.gate.wait(10), "the gate was never opened"
        if seller.timeout:
            raise httpx.ReadTimeout("timed out", request=request)
        with self.lock:
            failure = seller.spapi_failures.pop(0) if seller.spapi_failures else seller.spapi_always
        headers = {"x-amzn-RequestId": f"req-{token[-6:]}-{len(self.spapi_calls)}"}
        if failure is not None:
            if seller.retry_after is not None:
                headers["Retry-After"] = seller.retry_after
            return httpx.Response(failure[0], json=failure[1], headers=headers)
        return httpx.Response(200, json={"payload": seller.payload}, headers=headers)


def amazon_harness(tmp_path: Path, **kwargs: Any) -> tuple[Harness, FakeAmazon]:
    """A harness whose HTTP goes to a FakeAmazon and whose app credentials come from env."""
    fake = FakeAmazon()
    env = {**ENV, **kwargs.pop("env", {})}
    return make_harness(tmp_path, env=env, http_transport=fake.transport(), **kwargs), fake


def token_of(name: str) -> str:
    return f"Atzr|refresh-{name}-0123456789"


def add(
    h: Harness, fake: FakeAmazon, name: str, behaviour: Seller | None = None, **kw: Any
) -> Seller:
    """A configured store whose token the fake Amazon knows (kw go to Harness.add_store)."""
    h.add_store(name, token=token_of(name), **kw)
    return fake.add(token_of(name), behaviour)


def record(name: str = "acme-us", marketplaces: list[str] | None = None, **kw: Any) -> StoreRecord:
    return StoreRecord(
        name=name,
        region=kw.pop("region", "na"),
        marketplaces=marketplaces or ["US"],
        authorized_at=NOW - timedelta(days=10),
        **kw,
    )


def run_validate(h: Harness, **kwargs: Any) -> ValidateResult:
    ctx = h.ctx
    return validate_stores(
        list(ctx.config(reload=True).stores.values()),
        secrets=kwargs.pop("secrets", ctx.secret_store()),
        make_clients=lambda: ctx.amazon_clients(),
        db=ctx.database(),
        clock=ctx.clock,
        **kwargs,
    )


# --- one store ------------------------------------------------------------------------------------

CASES: list[tuple[str, Seller, dict[str, Any], tuple[str, str | None, str | None]]] = [
    ("healthy", Seller(), {}, (CHECK_OK, None, None)),
    (
        "unknown non-Amazon id ignored",
        Seller(payload=[participation("US"), participation("A2ZV50J4W1RKNI")]),
        {},
        (CHECK_OK, None, None),
    ),
    (
        "revoked grant",
        Seller(lwa_always=INVALID_GRANT),
        {},
        (CHECK_PROBLEM, "invalid_grant", "revoked"),
    ),
    (
        "role removed",
        Seller(spapi_always=FORBIDDEN),
        {},
        (CHECK_PROBLEM, "forbidden", "Access to requested resource is denied."),
    ),
    (
        "marketplace dropped",
        Seller(payload=[participation("US")]),
        {"marketplaces": ["US", "CA"]},
        (CHECK_PROBLEM, "marketplace_mismatch", "not participating in CA (participating: US)"),
    ),
    (
        "isParticipating false",
        Seller(payload=[participation("US", participating=False), participation("CA")]),
        {"marketplaces": ["US", "CA"]},
        (CHECK_PROBLEM, "marketplace_mismatch", "not participating in US (participating: CA)"),
    ),
    (
        "marketplace of another region does not count",
        Seller(payload=[participation("DE")]),
        {},
        (CHECK_PROBLEM, "marketplace_mismatch", "not participating in US"),
    ),
    (
        "LWA down",
        Seller(lwa_always=LWA_UNAVAILABLE),
        {},
        (CHECK_INCOMPLETE, "temporarily_unavailable", "HTTP 503"),
    ),
    (
        "SP-API down",
        Seller(spapi_always=UNAVAILABLE),
        {},
        (CHECK_INCOMPLETE, "ServiceUnavailable", "HTTP 503"),
    ),
    ("throttled", Seller(spapi_always=THROTTLED), {}, (CHECK_INCOMPLETE, "QuotaExceeded", "quota")),
    ("timeout", Seller(timeout=True), {}, (CHECK_INCOMPLETE, "Timeout", None)),
    (
        "503 twice then fine",
        Seller(spapi_failures=[UNAVAILABLE, UNAVAILABLE], lwa_failures=[LWA_UNAVAILABLE]),
        {},
        (CHECK_OK, None, None),
    ),
]


@pytest.mark.parametrize(
    ("seller", "store", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_outcome_mapping(
    tmp_path: Path,
    seller: Seller,
    store: dict[str, Any],
    expected: tuple[str, str | None, str | None],
) -> None:
    h, fake = amazon_harness(tmp_path)
    fake.add(token_of("acme-us"), seller)
    check = check_store(record(**store), token_of("acme-us"), h.ctx.amazon_clients())
    outcome, code, text = expected
    assert (check.outcome, check.code if outcome != CHECK_OK else None) == (outcome, code)
    if text is not None:
        assert text.lower() in (check.message or "").lower()
    if fake.spapi_calls and not seller.timeout:
        # Amazon's request id is kept for support cases, on success and on failure alike.
        assert check.request_id is not None and check.request_id.startswith("req-")


def test_invalid_client_is_an_app_error_not_a_store_problem(tmp_path: Path) -> None:
    h, fake = amazon_harness(tmp_path, env={"SOLDSCOPE_LWA_CLIENT_SECRET": "amzn1.oa2-cs.v1.old"})
    fake.add(token_of("acme-us"))
    check = check_store(record(), token_of("acme-us"), h.ctx.amazon_clients())
    assert (check.outcome, check.code) == (CHECK_APP_ERROR, "invalid_client")
    assert fake.spapi_calls == []
    assert len(fake.lwa_calls) == 1  # never retried: it will not get better by itself


def test_region_wide_store_reports_new_marketplaces_without_failing(tmp_path: Path) -> None:
    h, fake = amazon_harness(tmp_path)
    fake.add(token_of("acme-eu"), Seller(payload=[participation("DE"), participation("FR")]))
    wide = record("acme-eu", ["DE"], region="eu", region_wide=True)
    check = check_store(wide, token_of("acme-eu"), h.ctx.amazon_clients())
    assert (check.outcome, check.added, check.participating) == (CHECK_OK, ("FR",), ("DE", "FR"))
    assert check.reason == "seller now also sells in FR"
    narrow = record("acme-eu", ["DE"], region="eu")
    plain = check_store(narrow, token_of("acme-eu"), h.ctx.amazon_clients())
    assert (plain.outcome, plain.added, plain.reason) == (CHECK_OK, (), None)


def test_compare_marketplaces_ignores_unknown_and_malformed_entries() -> None:
    payload: list[dict[str, Any]] = [
        participation("A2ZV50J4W1RKNI"),
        {"marketplace": "garbage"},
        participation("CA"),
        participation("US"),
        participation("MX", participating=False),
    ]
    assert compare_marketplaces(record(marketplaces=["US", "MX"]), payload) == (
        ["CA", "US"],
        ["MX"],
        ["CA"],
    )


def test_retry_budget_comes_from_the_environment() -> None:
    policy = retry_policy_from_env(
        {"SOLDSCOPE_RETRY_MAX_TOTAL": "2.5", "SOLDSCOPE_RETRY_BASE_DELAY": "0.1"}
    )
    assert (policy.max_total, policy.base_delay, policy.max_attempts) == (2.5, 0.1, 5)
    assert retry_policy_from_env({"SOLDSCOPE_RETRY_MAX_ATTEMPTS": "2"}).max_attempts == 2
    for bad in ({"SOLDSCOPE_RETRY_MAX_TOTAL": "soon"}, {"SOLDSCOPE_RETRY_MAX_ATTEMPTS": "0"}):
        with pytest.raises(ConfigError):
            retry_policy_from_env(bad)


# --- many stores ----------------------------------------------------------------------------------


def test_a_slow_store_does_not_hold_up_the_others(tmp_path: Path) -> None:
    h, fake = amazon_harness(tmp_path)
    gate = threading.Event()
    add(h, fake, "slow", Seller(gate=gate))
    for i in range(6):
        add(h, fake, f"fast-{i}")
    order: list[str] = []
    released_by_progress = []

    def progress(done: int, total: int, check: StoreCheck) -> None:
        order.append(check.store)
        if done == total - 1 and not gate.is_set():
            # Every other store finished while "slow" was still waiting at Amazon.
            released_by_progress.append(True)
            gate.set()

    result = run_validate(h, concurrency=2, progress=progress)
    assert released_by_progress == [True]
    assert order[-1] == "slow"
    assert {c.outcome for c in result.checks.values()} == {CHECK_OK}


def test_concurrency_is_bounded(tmp_path: Path) -> None:
    h, fake = amazon_harness(tmp_path)
    for i in range(6):
        add(h, fake, f"s-{i}")
    fake.barrier = threading.Barrier(3, timeout=10)  # passes only with 3 checks in flight at once
    run_validate(h, concurrency=3)
    assert fake.max_in_flight == 3


class SequentialSecrets(MemorySecretStore):
    """Fails when read from a worker thread or concurrently; each read is slow, like a keyring."""

    def __init__(self, fake: FakeAmazon, values: dict[str, str]) -> None:
        super().__init__(values)
        self.fake = fake
        self.busy = threading.Lock()
        self.reads: list[str] = []
        self.batches: list[int] = []  # the size of each get_many
        self.requests_seen: list[int] = []  # Amazon requests already made at each read

    def _read(self, keys: list[str]) -> dict[str, str | None]:
        assert threading.current_thread() is threading.main_thread(), "read from a worker"
        assert self.busy.acquire(blocking=False), "concurrent secret-store reads"
        try:
            time.sleep(0.02)
            self.requests_seen.append(self.fake.requests)
            self.reads.extend(keys)
            return {key: self.values.get(key) for key in keys}
        finally:
            self.busy.release()

    def get(self, key: str) -> str | None:
        return self._read([key])[key]

    def get_many(self, keys: Sequence[str]) -> dict[str, str | None]:
        self.batches.append(len(keys))
        return self._read(list(keys))


def test_tokens_are_read_in_batches_never_concurrently_while_the_checks_run(
    tmp_path: Path,
) -> None:
    h, fake = amazon_harness(tmp_path)
    names = [f"store-{i:03d}" for i in range(120)]
    for name in names:
        add(h, fake, name)
    secrets = SequentialSecrets(fake, dict(h.secrets.values))
    result = run_validate(h, secrets=secrets, concurrency=8)
    assert sorted(secrets.reads) == sorted(token_key(n) for n in names)
    assert {c.outcome for c in result.checks.values()} == {CHECK_OK}
    # A few batch reads, not a read per store: a small first batch so the checks start at once,
    # then batches of BATCH_SIZE.
    assert secrets.batches == [8, BATCH_SIZE, BATCH_SIZE, 120 - 8 - 2 * BATCH_SIZE]
    # The first checks ran while later tokens were still being read: reads do not delay them.
    assert secrets.requests_seen[0] == 0 and secrets.requests_seen[-1] > 0


def test_no_token_at_all_is_a_setup_error_that_records_nothing(tmp_path: Path) -> None:
    h, fake = amazon_harness(tmp_path)
    for name in ("a", "b", "c"):
        h.add_store(name, token=None)
    with pytest.raises(SecretStoreError) as caught:
        run_validate(h)
    assert "no refresh token for any of the 3 stores in the secret store (in-memory" in (
        caught.value.message
    )
    assert "SOLDSCOPE_SECRETS=keyring|file" in (caught.value.hint or "")
    assert h.ctx.database().states(["a", "b", "c"]) == {n: StoreState() for n in ("a", "b", "c")}
    assert fake.requests == 0


def test_missing_token_is_a_problem_with_a_reconnect_hint(tmp_path: Path) -> None:
    h, fake = amazon_harness(tmp_path)
    h.add_store("lost", token=None)
    add(h, fake, "fine")
    result = run_validate(h)
    lost = result.checks["lost"]
    assert (lost.outcome, lost.code) == (CHECK_PROBLEM, "missing_token")
    assert "soldscope connect lost" in (lost.reason or "")
    assert {r.name: r.status for r in result.rows} == {"lost": Status.ERROR, "fine": Status.ACTIVE}
    assert token_of("lost") not in fake.lwa_calls


def seed_history(h: Harness, fake: FakeAmazon, count: int) -> None:
    """`count` stores checked yesterday: store-0 had a problem, the others were fine."""
    for i in range(count):
        add(h, fake, f"store-{i}", authorized_at=NOW - timedelta(days=30))
        h.ctx.database().record_check(
            CheckRecord(
                f"store-{i}",
                NOW - timedelta(days=1),
                "validate",
                CHECK_PROBLEM if i == 0 else CHECK_OK,
                "forbidden" if i == 0 else None,
                "Access to requested resource is denied." if i == 0 else None,
            )
        )


def test_app_failure_stops_scheduling_and_changes_no_status(tmp_path: Path) -> None:
    h, fake = amazon_harness(tmp_path, env={"SOLDSCOPE_LWA_CLIENT_SECRET": "amzn1.oa2-cs.v1.stale"})
    seed_history(h, fake, 5)
    before = h.ctx.database().states()
    result = run_validate(h, concurrency=1)
    assert result.app_error == "Client authentication failed"
    assert exit_code(result) == ExitCode.UNHEALTHY
    assert len(fake.lwa_calls) == 1  # the other four were never scheduled
    outcomes = sorted(c.outcome for c in result.checks.values())
    assert outcomes == [CHECK_APP_ERROR, SKIPPED, SKIPPED, SKIPPED, SKIPPED]
    db = h.ctx.database()
    assert {n: s.problem for n, s in db.states().items()} == {
        n: s.problem for n, s in before.items()
    }
    assert [r.status for r in result.rows].count(Status.ERROR) == 1  # store-0, as before
    new_checks = (
        db.connection()
        .execute("SELECT outcome FROM checks WHERE checked_at >= ?", ("2026-11-29",))
        .fetchall()
    )
    assert [row[0] for row in new_checks] == [CHECK_APP_ERROR]
    assert not [e for e in db.events() if e["kind"] == "status_changed"]


def test_outcomes_are_recorded_with_events_and_no_secrets(tmp_path: Path) -> None:
    h, fake = amazon_harness(tmp_path)
    seed_history(h, fake, 3)
    fake.sellers[token_of("store-0")].spapi_failures = []  # store-0 recovers: error -> active
    fake.sellers[token_of("store-1")].lwa_always = INVALID_GRANT  # active -> error
    fake.sellers[token_of("store-2")].spapi_always = UNAVAILABLE  # unknown: stays active
    result = run_validate(h)
    assert {r.name: r.status for r in result.rows} == {
        "store-0": Status.ACTIVE,
        "store-1": Status.ERROR,
        "store-2": Status.ACTIVE,
    }
    assert result.incomplete == ["store-2"]
    assert exit_code(result) == ExitCode.UNHEALTHY
    note = next(r.note for r in result.rows if r.name == "store-2")
    assert note is not None and "ServiceUnavailable" in note
    db = h.ctx.database()
    kinds = {e["store"]: (e["kind"], e["detail"]) for e in db.events()}
    assert kinds["store-0"] == ("status_changed", '{"from": "error", "to": "active"}')
    assert kinds["store-1"] == (
        "status_changed",
        '{"code": "invalid_grant", "from": "active", "to": "error"}',
    )
    assert kinds["store-2"] == ("checked", '{"outcome": "incomplete"}')
    dump = "\n".join(db.connection().iterdump())
    for secret in [CLIENT_SECRET, *fake.access, *(token_of(f"store-{i}") for i in range(3))]:
        assert secret not in dump


@pytest.mark.parametrize(
    ("statuses", "outcomes", "app_error", "expected"),
    [
        ([Status.ACTIVE, Status.EXPIRING_SOON], [CHECK_OK, CHECK_OK], None, ExitCode.OK),
        ([Status.ACTIVE, Status.ACTIVE], [CHECK_OK, CHECK_INCOMPLETE], None, ExitCode.INCOMPLETE),
        ([Status.EXPIRED, Status.ACTIVE], [CHECK_OK, CHECK_INCOMPLETE], None, ExitCode.UNHEALTHY),
        ([Status.ERROR, Status.ACTIVE], [CHECK_PROBLEM, CHECK_OK], None, ExitCode.UNHEALTHY),
        ([Status.ACTIVE], [SKIPPED], "Client authentication failed", ExitCode.UNHEALTHY),
    ],
)
def test_exit_code(
    statuses: list[Status], outcomes: list[str], app_error: str | None, expected: ExitCode
) -> None:
    from soldscope_cli.fleet.listing import StoreRow

    rows = [StoreRow(record(f"s{i}"), s, NOW, 1, None, None, None) for i, s in enumerate(statuses)]
    checks = {f"s{i}": StoreCheck(f"s{i}", o) for i, o in enumerate(outcomes)}

    assert exit_code(ValidateResult(rows, checks, app_error)) == expected


def test_an_unexpected_error_in_one_check_does_not_stop_the_others(tmp_path: Path) -> None:
    h, fake = amazon_harness(tmp_path)
    add(h, fake, "broken", Seller(payload="not a list"))  # type: ignore[arg-type]
    add(h, fake, "fine")
    result = run_validate(h)
    assert result.checks["broken"].outcome == CHECK_INCOMPLETE
    assert result.checks["fine"].outcome == CHECK_OK


def test_the_reconnect_hint_fits_how_the_store_was_connected() -> None:
    from datetime import UTC, datetime

    from soldscope_cli.checks.result import reconnect_hint
    from soldscope_cli.fleet.config import StoreRecord

    consented = StoreRecord("acme", "na", ["US"], datetime(2026, 1, 1, tzinfo=UTC))
    imported = StoreRecord(
        "own", "na", ["US"], datetime(2026, 1, 1, tzinfo=UTC), self_authorized=True
    )
    assert reconnect_hint(consented) == (
        "renew it: soldscope connect acme (or soldscope validate --reauthorize)"
    )
    assert "soldscope connect own --refresh-token-stdin" in reconnect_hint(imported)


def test_a_revoked_grant_records_lwas_request_id() -> None:
    from soldscope_cli.checks.live import check_store

    record = StoreRecord("acme", "na", ["US"], NOW - timedelta(days=10))

    class Lwa:
        def access_token(self, refresh_token: str) -> str:
            from soldscope_cli.amazon.lwa import GrantRejected

            raise GrantRejected(
                "invalid_grant", "revoked", 400, grant_type="refresh_token", request_id="lwa-77"
            )

    class Clients:
        lwa = Lwa()

        def spapi_for(self, record: StoreRecord, refresh_token: str) -> Any:
            raise AssertionError("not reached")

    check = check_store(record, "Atzr|x", Clients())
    assert (check.code, check.request_id) == ("invalid_grant", "lwa-77")


def test_garbled_participations_make_the_check_incomplete_not_a_mismatch(tmp_path: Path) -> None:
    h, fake = amazon_harness(tmp_path)
    add(h, fake, "acme-us")
    fake.sellers[token_of("acme-us")].payload = [
        {"marketplace": "ATVPDKIKX0DER", "participation": 1}
    ]
    check = check_store(record(), token_of("acme-us"), h.ctx.amazon_clients())
    assert (check.outcome, check.code) == (CHECK_INCOMPLETE, "InvalidResponse")


def test_one_403_is_retried_with_a_fresh_access_token_and_the_store_stays_active(
    tmp_path: Path,
) -> None:
    h, fake = amazon_harness(tmp_path)
    add(h, fake, "acme-us")
    expired = {
        "errors": [
            {"code": "Unauthorized", "message": "The access token you provided has expired."}
        ]
    }
    fake.sellers[token_of("acme-us")].spapi_failures = [(403, expired)]
    check = check_store(record(), token_of("acme-us"), h.ctx.amazon_clients())
    assert check.outcome == CHECK_OK
    assert len(fake.lwa_calls) == 2  # the first access token was dropped, a new one minted
