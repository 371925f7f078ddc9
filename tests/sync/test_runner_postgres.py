"""Team mode: a PostgreSQL error in one store's work fails that store only; a server that cannot
be reached stops the run and is named as the server, never as the data directory."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from soldscope_cli.db.postgres.engine import Database
from soldscope_cli.sync.base import FINANCES, INVENTORY
from soldscope_cli.sync.runner import FAILED, OK, SyncOptions, run_sync
from tests.pg import Cluster

from .conftest import Clock, FakeClient, make_store
from .test_runner import by_name, dataset, inventory_ok, setup

ONE_AT_A_TIME = SyncOptions(datasets=(INVENTORY, FINANCES), concurrency=1)


def admin(url: str, sql: str, *params: Any) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.encode(), params)


@pytest.fixture
def pg_db(pg_url: str) -> Iterator[Database]:
    db = Database(pg_url + "?options=-c%20statement_timeout%3D1500")
    yield db
    db.close()


def item(quantity: int) -> dict[str, Any]:
    return {"payload": {"inventorySummaries": [{"sellerSku": "SKU-1", "totalQuantity": quantity}]}}


def test_a_statement_timeout_in_one_store_fails_that_store_and_the_others_go_on(
    pg_db: Database, pg_url: str, clock: Clock
) -> None:
    stores = [make_store("a-us"), make_store("b-us")]
    clients = {s.name: inventory_ok(FakeClient()) for s in stores}
    first = run_sync(stores, ONE_AT_A_TIME, setup(pg_db, clock, clients, stores))
    assert first.ok
    # Another session holds a-us's row: a-us's next write waits past the statement timeout.
    for client in clients.values():
        client.inventory = lambda mkt, start, token: item(9)
    with psycopg.connect(pg_url) as holder:
        holder.execute(b"SELECT 1 FROM inventory_summaries WHERE store = 'a-us' FOR UPDATE")
        report = run_sync(stores, ONE_AT_A_TIME, setup(pg_db, clock, clients, stores))
    assert report.local_error is None
    results = by_name(report.stores)
    a = results["a-us"]
    assert a.outcome == FAILED
    failed = dataset(a, INVENTORY)
    assert failed.outcome == FAILED and failed.error_code == "database"
    assert failed.error is not None and "statement timeout" in failed.error
    assert "data directory" not in (failed.error + str(a.reason))
    assert dataset(a, FINANCES).outcome == OK  # the store's other datasets go on
    assert results["b-us"].outcome == OK


def test_a_session_ended_by_the_server_fails_that_dataset_and_the_rest_reconnect(
    pg_db: Database, pg_url: str, clock: Clock
) -> None:
    stores = [make_store("a-us"), make_store("b-us")]
    clients = {s.name: inventory_ok(FakeClient()) for s in stores}

    def restart(mkt: str, start: Any, token: str | None) -> dict[str, Any]:
        # What a restart does to every session: this worker's connection is ended by the server.
        admin(pg_url, "SELECT pg_terminate_backend(%s)", pg_db.connection().info.backend_pid)
        return item(3)

    clients["a-us"].inventory = restart
    report = run_sync(stores, ONE_AT_A_TIME, setup(pg_db, clock, clients, stores))
    assert report.local_error is None
    results = by_name(report.stores)
    failed = dataset(results["a-us"], INVENTORY)
    assert failed.error_code == "database"
    assert failed.error is not None and "terminating connection" in failed.error
    assert "PostgreSQL database" in failed.error and "data directory" not in failed.error
    # A new session for what follows: the store's next dataset and the next store.
    assert dataset(results["a-us"], FINANCES).outcome == OK
    assert results["b-us"].outcome == OK


def test_a_server_that_cannot_be_reached_stops_the_run_and_is_named(
    pg_db: Database, pg_url: str, pg_cluster: Cluster, clock: Clock
) -> None:
    stores = [make_store("a-us"), make_store("b-us")]
    clients = {s.name: inventory_ok(FakeClient()) for s in stores}
    dbname = pg_url.rsplit("/", 1)[1]

    def gone(mkt: str, start: Any, token: str | None) -> dict[str, Any]:
        pid = pg_db.connection().info.backend_pid
        admin(pg_cluster.url("postgres"), f"ALTER DATABASE {dbname} ALLOW_CONNECTIONS false")
        admin(pg_cluster.url("postgres"), "SELECT pg_terminate_backend(%s)", pid)
        return item(3)

    clients["a-us"].inventory = gone
    try:
        report = run_sync(stores, ONE_AT_A_TIME, setup(pg_db, clock, clients, stores))
    finally:
        admin(pg_cluster.url("postgres"), f"ALTER DATABASE {dbname} ALLOW_CONNECTIONS true")
    assert report.local_error is not None
    assert "PostgreSQL database" in report.local_error.message
    results = by_name(report.stores)
    assert results["a-us"].outcome == FAILED
    assert results["b-us"].reason == "not started: the PostgreSQL database cannot be reached"


def test_in_team_mode_a_restart_also_ending_the_claims_session_does_not_end_the_run(
    pg_db: Database, pg_url: str, clock: Clock
) -> None:
    stores = [make_store("a-us"), make_store("b-us")]
    clients = {s.name: inventory_ok(FakeClient()) for s in stores}

    def restart(mkt: str, start: Any, token: str | None) -> dict[str, Any]:
        # Every session of this worker ends, the claims' one included, as in a server restart.
        admin(
            pg_url,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name = 'soldscope' AND pid <> pg_backend_pid()",
        )
        return item(3)

    clients["a-us"].inventory = restart
    env = setup(pg_db, clock, clients, stores)
    claims = pg_db.claims()
    env.claims = claims
    try:
        report = run_sync(stores, ONE_AT_A_TIME, env)
    finally:
        claims.close()
    assert report.local_error is None, report.local_error
    results = by_name(report.stores)
    assert dataset(results["a-us"], INVENTORY).error_code == "database"
    assert results["b-us"].outcome == OK
