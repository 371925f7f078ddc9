"""Team-mode claims in the runner, and `sync --watch`'s planning and rounds."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime, timedelta

from soldscope_cli.db.database import CHECK_PROBLEM, CheckRecord, Database
from soldscope_cli.fleet.config import Config, parse_config
from soldscope_cli.fleet.secrets import MemorySecretStore
from soldscope_cli.sync.base import FINANCES, INVENTORY
from soldscope_cli.sync.runner import BUSY, SyncOptions, run_sync
from soldscope_cli.sync.watch import COOLDOWN, MAX_NAP, Due, Watcher, due_work, nap_seconds

from .conftest import NOW, Clock, FakeClient, make_store
from .test_runner import inventory_ok, setup

ONLY_INVENTORY = SyncOptions(datasets=(INVENTORY,))


class FakeClaims:
    """Another worker holds `taken`; everything claimed here is released again."""

    def __init__(self, taken: set[int] = frozenset(), synced_meanwhile: set[int] = frozenset()):
        self.taken = set(taken)
        self.synced_meanwhile = set(synced_meanwhile)
        self.held: set[int] = set()
        self.released: list[int] = []
        self.lock = threading.Lock()

    def claim(self, store_id: int, run_started: datetime) -> str | None:
        assert run_started == NOW
        with self.lock:
            if store_id in self.taken:
                return "another worker is syncing it"
            if store_id in self.synced_meanwhile:
                return "another worker synced it during this run"
            self.held.add(store_id)
            return None

    def release(self, store_id: int) -> None:
        with self.lock:
            self.held.discard(store_id)
            self.released.append(store_id)


def test_a_store_claimed_elsewhere_is_busy_not_failed(db: Database, clock: Clock) -> None:
    stores = [make_store("a-us"), make_store("b-us"), make_store("c-us")]
    clients = {s.name: inventory_ok(FakeClient()) for s in stores}
    env = setup(db, clock, clients, stores)
    ids = {s.name: db.store_id(s.name) for s in stores}
    claims = FakeClaims(taken={ids["b-us"]}, synced_meanwhile={ids["c-us"]})
    env.claims = claims
    report = run_sync(stores, ONLY_INVENTORY, env)
    outcomes = {s.name: (s.outcome, s.reason) for s in report.stores}
    assert outcomes == {
        "a-us": ("ok", None),
        "b-us": (BUSY, "another worker is syncing it"),
        "c-us": (BUSY, "another worker synced it during this run"),
    }
    assert report.ok  # busy elsewhere is exit 0
    assert report.to_json()["outcome"] == "ok"
    assert claims.held == set() and claims.released == [ids["a-us"]]
    rows = db.connection().execute("SELECT store FROM sync_runs").fetchall()
    assert [r[0] for r in rows] == ["a-us"]  # nothing of a busy store was touched


def test_a_claim_is_released_when_the_store_fails(db: Database, clock: Clock) -> None:
    stores = [make_store("a-us")]

    def boom(mkt: str, start: object, token: object) -> object:
        raise RuntimeError("bug")

    client = FakeClient()
    client.inventory = boom
    env = setup(db, clock, {"a-us": client}, stores)
    env.claims = FakeClaims()
    report = run_sync(stores, ONLY_INVENTORY, env)
    assert report.stores[0].outcome == "failed"
    assert env.claims.held == set()  # type: ignore[attr-defined]


# --- planning --------------------------------------------------------------------------------


def config_of(text: str = "") -> Config:
    return parse_config(__import__("pathlib").Path("/x/config.toml"), text)


def test_watch_intervals_parse_with_file_and_line_errors() -> None:
    config = config_of("[watch]\ninventory_hours = 2\n")
    assert config.watch_every(INVENTORY) == timedelta(hours=2)
    assert config.watch_every(FINANCES) == timedelta(hours=12)
    assert config.watch_every("brand-analytics") == timedelta(hours=24)
    import pytest

    from soldscope_cli.errors import ConfigError

    with pytest.raises(ConfigError) as caught:
        config_of("[watch]\ninventory_minutes = 5\n")
    assert "line 2" in str(caught.value) and "inventory_hours" in str(caught.value)
    from soldscope_cli.fleet.config import dump_config

    assert config_of(dump_config(config)).watch_every(INVENTORY) == timedelta(hours=2)


def test_due_work_groups_stores_by_the_datasets_they_need(db: Database) -> None:
    config = config_of()
    fresh, stale, never, broken = (make_store(n) for n in ("a-us", "b-us", "c-us", "d-us"))
    for store, inventory_age in ((fresh, 1), (stale, 7)):
        run = db.start_sync_run(store.name, INVENTORY, NOW - timedelta(hours=inventory_age))
        db.finish_sync_run(run, NOW, "failed")  # whatever the outcome: retried at the same pace
        run = db.start_sync_run(store.name, FINANCES, NOW - timedelta(hours=1))
        db.finish_sync_run(run, NOW, "ok")
    db.record_check(
        CheckRecord(broken.name, NOW, "validate", CHECK_PROBLEM, "invalid_grant", "revoked")
    )
    records = [fresh, stale, never, broken]
    work, next_due = due_work(config, db, (INVENTORY, FINANCES), NOW, records)
    assert work == [Due((INVENTORY,), ["b-us"]), Due((INVENTORY, FINANCES), ["c-us"])]
    assert next_due == NOW + MAX_NAP  # the next one is further than the longest nap
    work, _ = due_work(config, db, (INVENTORY, FINANCES), NOW, records, exclude={"c-us"})
    assert [d.stores for d in work] == [["b-us"]]
    almost = NOW + timedelta(hours=4, minutes=59, seconds=30)
    soon, next_due = due_work(config, db, (INVENTORY,), almost, [fresh])
    assert soon == [] and next_due == NOW + timedelta(hours=5)  # 6 h after its last start


def test_naps_are_bounded() -> None:
    assert nap_seconds(NOW + timedelta(hours=3), NOW) == MAX_NAP.total_seconds()
    assert nap_seconds(NOW + timedelta(seconds=10), NOW) == 10
    assert nap_seconds(NOW - timedelta(seconds=10), NOW) == 1.0


def test_the_watcher_never_retries_a_store_in_a_tight_loop() -> None:
    clock = Clock()
    stop = threading.Event()
    rounds: list[Due] = []
    plans: list[set[str]] = []

    def plan(exclude: set[str]) -> tuple[list[Due], datetime]:
        plans.append(set(exclude))
        if len(plans) > 6:
            stop.set()
        names = [n for n in ("a-us", "b-us") if n not in exclude]
        return ([Due((INVENTORY,), names)] if names else []), clock() + MAX_NAP

    def run_round(due: Due) -> bool:
        rounds.append(due)
        return True  # as if both were busy on another worker: nothing changed

    naps: list[float] = []
    real_wait = stop.wait

    def wait(seconds: float | None = None) -> bool:
        naps.append(seconds or 0)
        clock.now += timedelta(seconds=seconds or 0)
        return real_wait(0)

    stop.wait = wait  # type: ignore[method-assign]
    Watcher(plan, run_round, clock, stop).run()
    assert [r.stores for r in rounds][:2] == [["a-us", "b-us"], ["a-us", "b-us"]]
    assert plans[1] == {"a-us", "b-us"}  # tried: left alone for the cooldown
    assert naps[0] == COOLDOWN.total_seconds()
    assert len(rounds) <= 4


def test_the_watcher_stops_when_a_round_says_so() -> None:
    stop = threading.Event()
    calls: list[Due] = []
    watcher = Watcher(
        lambda exclude: ([Due((INVENTORY,), ["a-us"]), Due((FINANCES,), ["b-us"])], NOW),
        lambda due: calls.append(due) is not None,  # False: stop
        Clock(),
        stop,
    )
    watcher.run()
    assert len(calls) == 1 and stop.is_set()


def test_replace_keeps_the_request_shape() -> None:
    from soldscope_cli.sync.session import SyncRequest

    request = SyncRequest([], (INVENTORY, FINANCES), None, 4)
    assert replace(request, names=["a"], datasets=(INVENTORY,)).concurrency == 4


class CountingSecrets(MemorySecretStore):
    """A secret store that counts which tokens were read (workers read from several threads)."""

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__(values)
        self.reads: list[str] = []
        self.lock = threading.Lock()

    def get(self, key: str) -> str | None:
        with self.lock:
            self.reads.append(key)
        return super().get(key)


def test_with_claims_a_worker_reads_only_the_tokens_of_stores_it_claimed(
    db: Database, clock: Clock
) -> None:
    from soldscope_cli.fleet.secrets import token_key

    stores = [make_store(n) for n in ("a-us", "b-us", "c-us", "d-us")]
    clients = {s.name: inventory_ok(FakeClient()) for s in stores}
    secrets = CountingSecrets(
        {token_key(s.name): f"Atzr|token-{s.name}" for s in stores if s.name != "d-us"}
    )
    env = setup(db, clock, clients, stores, secrets=secrets)
    ids = {s.name: db.store_id(s.name) for s in stores}
    env.claims = FakeClaims(taken={ids["b-us"], ids["c-us"]})
    report = run_sync(stores, ONLY_INVENTORY, env)
    outcomes = {s.name: s.outcome for s in report.stores}
    assert outcomes == {"a-us": "ok", "b-us": BUSY, "c-us": BUSY, "d-us": "failed"}
    assert "no refresh token" in (report.stores[3].reason or "")
    # a-us up front (a token exists: the backend is right), d-us once claimed; never b or c.
    assert sorted(secrets.reads) == [token_key("a-us"), token_key("d-us")]


def test_with_claims_no_token_at_all_is_still_the_setup_error(db: Database, clock: Clock) -> None:
    import pytest

    from soldscope_cli.errors import SecretStoreError

    stores = [make_store("a-us"), make_store("b-us")]
    env = setup(db, clock, {}, stores, secrets=CountingSecrets({}))
    env.claims = FakeClaims()
    with pytest.raises(SecretStoreError):
        run_sync(stores, ONLY_INVENTORY, env)
