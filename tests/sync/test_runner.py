"""The runner: store selection, token reads, isolation, and how failures are classified."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from soldscope_cli.amazon.lwa import AppCredentialsRejected, GrantRejected, LwaTransient
from soldscope_cli.datasets import registry
from soldscope_cli.db.database import CHECK_PROBLEM, MIGRATIONS, CheckRecord, Database, read_states
from soldscope_cli.fleet.config import StoreRecord
from soldscope_cli.fleet.secrets import MemorySecretStore, token_key
from soldscope_cli.sync.base import FINANCES, INVENTORY, SyncClient
from soldscope_cli.sync.runner import (
    DatasetResult,
    StoreResult,
    SyncEnvironment,
    SyncOptions,
    run_sync,
)
from tests.conftest import query

from .conftest import NOW, Clock, FakeClient, forbidden, make_store, transient

ONLY_INVENTORY = SyncOptions(datasets=(INVENTORY,))


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    """Most of these tests read SQLite's tables directly; those of the engine contract (purge,
    a delete during a sync) take `any_db`, each engine in turn."""
    database = Database(tmp_path / "state.db", MIGRATIONS)
    yield database
    database.close()


@pytest.fixture
def any_db(make_db: Callable[..., Any]) -> Database:
    database: Database = make_db()
    return database


def reopen(db: Any) -> Any:
    """The same database as another process opens it."""
    if hasattr(db, "url"):
        from soldscope_cli.db.postgres.engine import Database as PostgresDatabase

        return PostgresDatabase(db.url)
    return Database(db.path, MIGRATIONS)


def inventory_ok(client: FakeClient, sku: str = "SKU-1") -> FakeClient:
    client.inventory = lambda mkt, start, token: {
        "payload": {"inventorySummaries": [{"sellerSku": sku, "totalQuantity": 1}]}
    }
    client.transactions = lambda after, before, token: {"payload": {"transactions": []}}
    return client


def revoked_client() -> FakeClient:
    """A store whose seller revoked the app: Login with Amazon refuses its token."""
    client = FakeClient()

    def refuse(*args: Any) -> Any:
        raise GrantRejected(
            "invalid_grant", "User may have revoked", 400, grant_type="refresh_token"
        )

    client.inventory = refuse
    return client


class Recorder:
    """An observer that keeps every callback."""

    def __init__(self) -> None:
        self.finished: list[StoreResult] = []
        self.updates: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def store_started(self, store: str) -> None:
        pass

    def progress(self, store: str, text: str) -> None:
        with self._lock:
            self.updates.append((store, text))

    def store_finished(self, result: StoreResult) -> None:
        with self._lock:
            self.finished.append(result)


def setup(
    db: Database,
    clock: Clock,
    clients: dict[str, FakeClient],
    stores: list[StoreRecord],
    secrets: Any = None,
) -> SyncEnvironment:
    store_secrets = secrets or MemorySecretStore(
        {token_key(s.name): f"Atzr|token-{s.name}" for s in stores}
    )

    def client_for(record: StoreRecord, token: str) -> SyncClient:
        assert token == f"Atzr|token-{record.name}"
        return clients[record.name]

    return SyncEnvironment(
        db=db,
        secrets=store_secrets,
        client_for=client_for,
        clock=clock,
        sleep=clock.sleep,
        monotonic=clock.monotonic,
        observer=Recorder(),
    )


def by_name(results: list[StoreResult]) -> dict[str, StoreResult]:
    return {r.name: r for r in results}


def dataset(result: StoreResult, name: str) -> DatasetResult:
    return next(d for d in result.datasets if d.dataset == name)


def test_all_datasets_of_all_stores_and_sync_runs_recorded(db: Database, clock: Clock) -> None:
    stores = [make_store("a-us"), make_store("b-us")]
    clients = {s.name: inventory_ok(FakeClient()) for s in stores}
    env = setup(db, clock, clients, stores)
    report = run_sync(stores, SyncOptions(datasets=(INVENTORY, FINANCES)), env)
    assert report.ok
    assert [s.outcome for s in report.stores] == ["ok", "ok"]
    assert [d.dataset for d in report.stores[0].datasets] == [INVENTORY, FINANCES]
    runs = (
        db.connection()
        .execute("SELECT store, dataset, outcome, rows_added FROM sync_runs ORDER BY id")
        .fetchall()
    )
    assert sorted(tuple(r) for r in runs) == [
        ("a-us", "finances", "ok", 0),
        ("a-us", "inventory", "ok", 1),
        ("b-us", "finances", "ok", 0),
        ("b-us", "inventory", "ok", 1),
    ]
    # `list` reads the last successful sync from sync_runs.
    states = read_states(db.session(), ["a-us"])
    assert states["a-us"].last_sync_at == NOW


def test_stores_in_error_or_expired_are_skipped_and_reported(db: Database, clock: Clock) -> None:
    broken = make_store("broken")
    expired = StoreRecord("old", "na", ["US"], NOW - timedelta(days=400), "A1OLD")
    fine = make_store("fine")
    db.record_check(
        CheckRecord(
            "broken",
            NOW - timedelta(hours=1),
            "validate",
            CHECK_PROBLEM,
            "invalid_grant",
            "revoked",
        )
    )
    clients = {"fine": inventory_ok(FakeClient())}
    env = setup(db, clock, clients, [broken, expired, fine])
    report = run_sync([broken, expired, fine], ONLY_INVENTORY, env)
    results = by_name(report.stores)
    assert results["broken"].outcome == "skipped"
    assert "soldscope connect broken" in (results["broken"].reason or "")
    assert results["old"].outcome == "skipped"
    assert "expired" in (results["old"].reason or "")
    assert results["fine"].outcome == "ok"
    assert not report.ok
    recorder = env.observer
    assert isinstance(recorder, Recorder)
    assert {r.name for r in recorder.finished} == {"broken", "old", "fine"}


def test_tokens_are_read_one_at_a_time_before_any_worker_starts(db: Database, clock: Clock) -> None:
    stores = [make_store(f"s{i}") for i in range(6)]
    events: list[str] = []
    active = {"n": 0, "max": 0}
    lock = threading.Lock()

    class CarefulStore(MemorySecretStore):
        def get(self, key: str) -> str | None:
            with lock:
                active["n"] += 1
                active["max"] = max(active["max"], active["n"])
                events.append("get")
            value = super().get(key)
            with lock:
                active["n"] -= 1
            return value

    secrets = CarefulStore({token_key(s.name): f"Atzr|token-{s.name}" for s in stores})
    clients = {s.name: inventory_ok(FakeClient()) for s in stores}
    env = setup(db, clock, clients, stores, secrets)
    original = env.client_for

    def tracking(record: StoreRecord, token: str) -> SyncClient:
        with lock:
            events.append("client")
        return original(record, token)

    env.client_for = tracking
    report = run_sync(stores, SyncOptions(datasets=(INVENTORY,), concurrency=4), env)
    assert report.ok
    assert active["max"] == 1
    assert events == ["get"] * 6 + ["client"] * 6


def test_missing_token_fails_that_store_only(db: Database, clock: Clock) -> None:
    stores = [make_store("has"), make_store("lacks")]
    secrets = MemorySecretStore({token_key("has"): "Atzr|token-has"})
    env = setup(db, clock, {"has": inventory_ok(FakeClient())}, stores, secrets)
    report = run_sync(stores, ONLY_INVENTORY, env)
    results = by_name(report.stores)
    assert results["has"].outcome == "ok"
    assert results["lacks"].outcome == "failed"
    assert "no refresh token" in (results["lacks"].reason or "")


def test_invalid_grant_records_a_problem_check_and_other_stores_carry_on(
    db: Database, clock: Clock
) -> None:
    stores = [make_store("revoked"), make_store("fine")]
    env = setup(
        db, clock, {"revoked": revoked_client(), "fine": inventory_ok(FakeClient())}, stores
    )
    report = run_sync(stores, SyncOptions(datasets=(INVENTORY, FINANCES)), env)
    results = by_name(report.stores)
    assert results["fine"].outcome == "ok"
    revoked = results["revoked"]
    assert revoked.outcome == "failed"
    assert [d.dataset for d in revoked.datasets] == [INVENTORY]  # finances not attempted
    checks = [
        tuple(r)
        for r in db.connection().execute("SELECT store, source, outcome, error_code FROM checks")
    ]
    assert checks == [("revoked", "sync", "problem", "invalid_grant")]
    events = [(e["kind"], e["detail"]) for e in db.events("revoked")]
    assert events == [
        ("status_changed", '{"code": "invalid_grant", "from": "active", "to": "error"}')
    ]
    # The next run sees the store in error and skips it, as `list` would show it.
    again = run_sync(stores, ONLY_INVENTORY, env)
    assert by_name(again.stores)["revoked"].outcome == "skipped"


def test_403_with_sellers_api_working_means_dataset_not_authorized(
    db: Database, clock: Clock
) -> None:
    store = make_store()
    client = inventory_ok(FakeClient())

    def deny(*args: Any) -> Any:
        raise forbidden("listTransactions")

    client.transactions = deny
    env = setup(db, clock, {store.name: client}, [store])
    report = run_sync([store], SyncOptions(datasets=(INVENTORY, FINANCES)), env)
    result = report.stores[0]
    assert result.outcome == "ok"
    assert dataset(result, FINANCES).outcome == "not_authorized"
    assert "not authorized" in (dataset(result, FINANCES).error or "")
    assert db.checks(store.name) == []
    assert report.ok


def test_403_confirmed_by_sellers_api_puts_the_store_in_error(db: Database, clock: Clock) -> None:
    store = make_store()
    client = FakeClient()

    def deny(*args: Any) -> Any:
        raise forbidden("getInventorySummaries")

    def deny_sellers() -> Any:
        raise forbidden("getMarketplaceParticipations")

    client.inventory = deny
    client.participations = deny_sellers
    env = setup(db, clock, {store.name: client}, [store])
    report = run_sync([store], SyncOptions(datasets=(INVENTORY, FINANCES)), env)
    result = report.stores[0]
    assert result.outcome == "failed"
    assert [d.dataset for d in result.datasets] == [INVENTORY]
    checks = [
        tuple(r)
        for r in db.connection().execute(
            "SELECT source, outcome, error_code, request_id FROM checks"
        )
    ]
    assert checks == [("sync", "problem", "forbidden", "req-Unauthorized")]


def test_app_credentials_rejected_stops_everything_once(db: Database, clock: Clock) -> None:
    stores = [make_store(f"s{i}") for i in range(5)]

    def refuse(*args: Any) -> Any:
        raise AppCredentialsRejected(
            "invalid_client", "Client authentication failed", 401, grant_type="refresh_token"
        )

    clients = {}
    for s in stores:
        c = FakeClient()
        c.inventory = refuse
        clients[s.name] = c
    env = setup(db, clock, clients, stores)
    report = run_sync(stores, SyncOptions(datasets=(INVENTORY, FINANCES), concurrency=1), env)
    assert report.app_error is not None and "Client authentication failed" in report.app_error
    assert not report.ok
    outcomes = [s.outcome for s in report.stores]
    assert outcomes[0] == "failed"
    assert set(outcomes[1:]) == {"skipped"}  # never started
    assert all(c.calls == [] for name, c in clients.items() if name != "s0")
    # Not the stores' fault: no store goes into error.
    assert all(r.problem is None for r in read_states(db.session()).values())


def test_transient_failures_are_reported_without_touching_status(
    db: Database, clock: Clock
) -> None:
    store = make_store()
    client = inventory_ok(FakeClient())

    def down(*args: Any) -> Any:
        raise transient("listTransactions")

    client.transactions = down
    env = setup(db, clock, {store.name: client}, [store])
    report = run_sync([store], SyncOptions(datasets=(INVENTORY, FINANCES)), env)
    result = report.stores[0]
    assert result.outcome == "failed"
    assert dataset(result, INVENTORY).outcome == "ok"
    fin = dataset(result, FINANCES)
    assert (fin.outcome, fin.error_code, fin.request_id) == (
        "failed",
        "ServiceUnavailable",
        "req-ServiceUnavailable",
    )
    assert db.checks(store.name) == []
    row = (
        db.connection()
        .execute("SELECT outcome, error_code, request_id FROM sync_runs WHERE dataset = 'finances'")
        .fetchone()
    )
    assert tuple(row) == ("failed", "ServiceUnavailable", "req-ServiceUnavailable")


def test_lwa_outage_fails_the_dataset_not_the_status(db: Database, clock: Clock) -> None:
    store = make_store()
    client = FakeClient()

    def outage(*args: Any) -> Any:
        raise LwaTransient("server_error", "down", 503, grant_type="refresh_token")

    client.inventory = outage
    env = setup(db, clock, {store.name: client}, [store])
    report = run_sync([store], ONLY_INVENTORY, env)
    assert report.stores[0].outcome == "failed"
    assert db.checks(store.name) == []


def test_a_bug_in_one_store_does_not_stop_the_others(db: Database, clock: Clock) -> None:
    stores = [make_store("buggy"), make_store("fine")]
    bad = FakeClient()

    def boom(*args: Any) -> Any:
        raise KeyError("surprise")

    bad.inventory = boom
    env = setup(db, clock, {"buggy": bad, "fine": inventory_ok(FakeClient())}, stores)
    report = run_sync(stores, ONLY_INVENTORY, env)
    results = by_name(report.stores)
    assert results["buggy"].outcome == "failed"
    assert "unexpected" in (results["buggy"].datasets[0].error or "")
    assert results["fine"].outcome == "ok"


def test_stores_run_concurrently_on_their_own_connections(db: Database, clock: Clock) -> None:
    stores = [make_store(f"s{i}") for i in range(4)]
    barrier = threading.Barrier(4, timeout=10)
    connections: set[int] = set()
    lock = threading.Lock()
    clients = {}
    for s in stores:
        c = FakeClient()

        def answer(mkt: str, start: Any, token: Any, name: str = s.name) -> dict[str, Any]:
            with lock:
                connections.add(id(db.connection()))
            barrier.wait()  # all four must be in flight at once
            return {"payload": {"inventorySummaries": [{"sellerSku": name}]}}

        c.inventory = answer
        clients[s.name] = c
    env = setup(db, clock, clients, stores)
    report = run_sync(stores, SyncOptions(datasets=(INVENTORY,), concurrency=4), env)
    assert report.ok
    assert len(connections) == 4


@pytest.mark.parametrize("concurrency", [1, 2])
def test_json_shape_is_pinned(db: Database, clock: Clock, concurrency: int) -> None:
    store = make_store()
    env = setup(db, clock, {store.name: inventory_ok(FakeClient())}, [store])
    report = run_sync([store], SyncOptions(datasets=(INVENTORY,), concurrency=concurrency), env)
    assert report.to_json() == {
        "started_at": "2026-11-25T12:00:00Z",
        "finished_at": "2026-11-25T12:00:00Z",
        "outcome": "ok",
        "app_error": None,
        "stores": [
            {
                "name": "acme-us",
                "outcome": "ok",
                "reason": None,
                "duration_s": 0.0,
                "quota_wait_s": 0.0,
                "rows_added": 1,
                "rows_updated": 0,
                "datasets": [
                    {
                        "dataset": "inventory",
                        "outcome": "ok",
                        "rows_added": 1,
                        "rows_updated": 0,
                        "duration_s": 0.0,
                        "error": None,
                        "notes": [],
                    }
                ],
            }
        ],
    }


def test_purge_removes_every_synced_table(any_db: Database, clock: Clock) -> None:
    db = any_db
    store = make_store()
    client = inventory_ok(FakeClient())
    client.transactions = lambda after, before, token: {
        "payload": {"transactions": [{"transactionId": "T1"}]}
    }
    env = setup(db, clock, {store.name: client}, [store])
    run_sync([store], SyncOptions(datasets=(INVENTORY, FINANCES)), env)
    db.delete_store(store.name, clock(), purge_tables=registry.data_tables())
    for table in ("inventory_summaries", "financial_transactions", "sync_state", "sync_runs"):
        assert query(db, f"SELECT COUNT(*) FROM {table}") == [(0,)]  # noqa: S608


@pytest.mark.parametrize(
    ("code", "fix"),
    [
        ("invalid_grant", "renew it: soldscope connect acme"),
        ("missing_token", "renew it: soldscope connect acme"),
        ("forbidden", "fix the cause, then re-check: soldscope validate acme"),
    ],
)
def test_skipped_stores_in_error_name_the_fix_for_their_problem(code: str, fix: str) -> None:
    from datetime import UTC, datetime

    from soldscope_cli.fleet.config import StoreRecord
    from soldscope_cli.status import Status
    from soldscope_cli.sync.runner import skip_reason

    record = StoreRecord("acme", "na", ["US"], datetime(2026, 6, 1, tzinfo=UTC))
    reason = skip_reason(record, Status.ERROR, code)
    assert reason is not None and reason.startswith(f"store in error ({code}): {fix}")


def test_a_refused_download_link_fails_the_dataset_without_blaming_roles_or_the_store(
    db: Database, clock: Clock
) -> None:
    """An expired presigned URL (S3's 403) is not 'the app lacks the role', nor a revoked grant."""
    from soldscope_cli.amazon.spapi import SpapiLinkRefused

    store = make_store()
    client = inventory_ok(FakeClient())
    probes: list[bool] = []
    client.participations = lambda: probes.append(True) or []

    def refused(*args: Any) -> Any:
        raise SpapiLinkRefused(
            status=403,
            code="AccessDenied",
            message="Request has expired",
            details=None,
            request_id="S3REQ",
            operation="downloadReportDocument",
            store=store.name,
        )

    client.transactions = refused
    env = setup(db, clock, {store.name: client}, [store])
    report = run_sync([store], SyncOptions(datasets=(INVENTORY, FINANCES)), env)
    result = dataset(report.stores[0], FINANCES)
    assert (result.outcome, result.error_code) == ("failed", "AccessDenied")
    assert probes == []  # no Sellers API probe: nothing about the store is in question
    assert db.checks(store.name) == []


def test_a_store_deleted_and_purged_mid_sync_keeps_nothing(any_db: Database, clock: Clock) -> None:
    """`delete --purge-data` from another process while the sync pages through the store."""
    from soldscope_cli.datasets import registry
    from soldscope_cli.db.database import STORE_TABLES

    db = any_db
    store = make_store()
    other = reopen(db)  # the `soldscope delete` process
    client = FakeClient()
    pages = {"n": 0}

    def inventory(mkt: str, start: Any, token: str | None) -> dict[str, Any]:
        pages["n"] += 1
        if pages["n"] == 2:
            other.delete_store(store.name, NOW, purge_tables=registry.data_tables())
        return {
            "payload": {"inventorySummaries": [{"sellerSku": f"SKU-{pages['n']}"}]},
            "pagination": {"nextToken": f"page-{pages['n'] + 1}"} if pages["n"] < 4 else {},
        }

    client.inventory = inventory
    client.transactions = lambda after, before, token: {"payload": {"transactions": []}}
    env = setup(db, clock, {store.name: client}, [store])
    report = run_sync([store], SyncOptions(datasets=(INVENTORY, FINANCES)), env)
    result = report.stores[0]
    assert (result.outcome, result.datasets) == ("skipped", [])
    assert "deleted while it was syncing" in (result.reason or "")
    for table in STORE_TABLES:
        [(left,)] = query(other, f"SELECT COUNT(*) FROM {table}")  # noqa: S608
        assert left == 0, f"{table} keeps {left} row(s) of the purged store"
    other.close()


def test_quota_waits_show_in_the_progress_line_and_add_up_per_store(
    db: Database, clock: Clock
) -> None:
    from soldscope_cli.amazon.ratelimit import RateLimiter, UsagePlan
    from soldscope_cli.output.sync import store_line
    from soldscope_cli.sync.runner import QuotaWaits

    store = make_store("acme-us")
    client = inventory_ok(FakeClient())
    env = setup(db, clock, {store.name: client}, [store])
    env.quota_waits = QuotaWaits(env.observer)
    # The real limiter, as the composition root wires it: one token, then 45 s per token.
    limiter = RateLimiter(
        plans={"getInventorySummaries": UsagePlan(1 / 45, 1)},
        clock=clock.monotonic,
        sleep=clock.sleep,
        observer=env.quota_waits,
    )
    answer = client.inventory
    assert answer is not None

    def throttled(mkt: str, start: Any, token: Any) -> dict[str, Any]:
        limiter.acquire(store.name, "getInventorySummaries")
        return answer(mkt, start, token)

    client.inventory = throttled
    limiter.acquire(store.name, "getInventorySummaries")  # the burst is spent before the sync
    report = run_sync([store], ONLY_INVENTORY, env)
    recorder = env.observer
    assert isinstance(recorder, Recorder)
    texts = [text for _, text in recorder.updates]
    waiting = texts.index("waiting 45 s for Amazon's getInventorySummaries quota")
    # After the wait the line shows again what the store is doing.
    assert texts[waiting - 1] == texts[waiting + 1]
    [result] = report.stores
    assert result.quota_wait_s == pytest.approx(45.0)
    assert result.to_json()["quota_wait_s"] == pytest.approx(45.0)
    assert "s, 45 s of it on Amazon's quota)" in store_line(result)


def test_the_report_carries_the_stores_and_the_states_the_run_left(
    db: Database, clock: Clock
) -> None:
    """sync's alerts compare these: nothing is read again from config.toml or the database."""
    stores = [make_store("revoked"), make_store("fine")]
    env = setup(
        db, clock, {"revoked": revoked_client(), "fine": inventory_ok(FakeClient())}, stores
    )
    report = run_sync(stores, ONLY_INVENTORY, env)
    assert [r.name for r in report.records] == ["revoked", "fine"]
    problem = report.states["revoked"].problem
    assert problem is not None and problem.code == "invalid_grant"
    assert report.states["fine"].problem is None
    assert report.states["revoked"] == db.states(["revoked"])["revoked"]


def test_a_store_id_is_resolved_once_per_run_and_carried(
    db: Database, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    stores = [make_store("a-us"), make_store("b-us")]
    clients = {s.name: inventory_ok(FakeClient()) for s in stores}
    env = setup(db, clock, clients, stores)
    asked: list[str] = []
    resolve = db.store_id

    def counting(name: str, tx: Any = None) -> int:
        asked.append(name)
        return resolve(name, tx)

    monkeypatch.setattr(db, "store_id", counting)
    report = run_sync(stores, SyncOptions(datasets=(INVENTORY, FINANCES)), env)
    assert report.ok
    # Once each, when the run starts: the jobs and their sync runs carry the id from there.
    assert sorted(asked) == ["a-us", "b-us"]


def test_rate_buckets_are_kept_per_store_and_operation_on_both_engines(any_db: Database) -> None:
    from soldscope_cli.amazon.ratelimit import BucketState, RateLimiter
    from soldscope_cli.sync.quota import DatabaseBuckets

    clock = Clock()
    wall = lambda: clock().timestamp()  # noqa: E731
    first = RateLimiter(clock=clock.monotonic, sleep=clock.sleep)
    first.keep_in(DatabaseBuckets(any_db), wall=wall)
    for _ in range(12):
        first.acquire("a-us", "listTransactions")
    first.acquire("b-us", "createReport")
    first.flush()
    # Another process (a later run, another host of the team) reads them back.
    again = reopen(any_db)
    kept = DatabaseBuckets(again)
    a = {b.operation: b for b in kept.load("a-us")}
    assert set(a) == {"listTransactions"}
    assert a["listTransactions"].rate == 0.5
    assert a["listTransactions"].tokens == pytest.approx(0.0)  # 10 + 2 s x 0.5 - 12
    assert a["listTransactions"].at == wall()
    assert [(b.operation, b.tokens) for b in kept.load("b-us")] == [("createReport", 14.0)]
    kept.save("a-us", [BucketState("listTransactions", 3.0, 0.5, wall())])
    assert [b.tokens for b in DatabaseBuckets(again).load("a-us")] == [3.0]
    # A store this run never read is not written (no connection is made up for its name).
    kept.save("gone-us", [BucketState("createReport", 1.0, 0.0167, wall())])
    assert "gone-us" not in {r[0] for r in query(again, "SELECT name FROM stores")}
    again.close()
