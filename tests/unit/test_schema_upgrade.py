"""A database written by the release before store ids upgrades in place and keeps every row."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from soldscope_cli.datasets import registry
from soldscope_cli.db.database import MIGRATIONS, Database, read_states_if_exists

FIXTURE = Path(__file__).parent.parent / "fixtures" / "state_v1.sql"
T = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
US, DE = "ATVPDKIKX0DER", "A1PA6795UKMFR9"
# What the old schema held per table (the fixture's rows), keyed by a column that identifies a row.
OLD_TABLES = {
    "checks": "id",
    "events": "id",
    "sync_runs": "id",
    "sync_state": "key",
    "inventory_summaries": "seller_sku",
    "financial_transactions": "transaction_id",
    "ba_search_terms_loads": "load_id",
    "ba_search_terms_rows": "search_term",
    "ba_search_terms_weeks": "week_start",
}


@pytest.fixture
def old_db(tmp_path: Path) -> Path:
    path = tmp_path / "soldscope.db"
    conn = sqlite3.connect(path)
    conn.executescript(FIXTURE.read_text())
    conn.close()
    return path


def snapshot(path: Path) -> dict[str, list[dict[str, Any]]]:
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        return {
            table: [dict(r) for r in conn.execute(f"SELECT * FROM {table} ORDER BY {key}")]  # noqa: S608
            for table, key in OLD_TABLES.items()
        }
    finally:
        conn.close()


def test_list_reads_an_old_database_before_anything_migrates_it(old_db: Path) -> None:
    states = read_states_if_exists(old_db, ["acme-us", "beta-eu", "nobody"])
    assert states["acme-us"].problem is None
    assert states["acme-us"].last_checked_at == T + timedelta(days=2)
    assert states["acme-us"].last_sync_at == T + timedelta(days=2, minutes=1)
    problem = states["beta-eu"].problem
    assert problem is not None and (problem.code, problem.request_id) == ("invalid_grant", "req-b2")
    assert states["nobody"].problem is None and states["nobody"].last_checked_at is None
    assert [
        m[0] for m in sqlite3.connect(old_db).execute("SELECT name FROM schema_migrations")
    ] == [
        "0001_state",
        "0100_inventory",
        "0110_finances",
        "0120_brand_analytics",
    ]


def test_upgrade_keeps_every_row_and_maps_it_to_its_store(old_db: Path) -> None:
    before = snapshot(old_db)
    states_before = read_states_if_exists(old_db, ["acme-us", "beta-eu"])
    db = Database(old_db, MIGRATIONS)
    assert db.pending_migrations() == [
        "0200_stores",
        "0300_read_indexes",
        "0310_invitations",
        "0320_secrets",
        "0410_rate_buckets",
        "0430_token_ledger",
        "0440_fleet_buckets",
        # Datasets added since, their tables created from their declarations.
        *(d.migration for d in registry.DATASETS if d.migration),
        "0710_newest_marks",
    ]
    conn = db.connection()
    assert db.pending_migrations() == []
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    stores = {r["name"]: dict(r) for r in conn.execute("SELECT * FROM stores")}
    assert sorted(stores) == ["acme-us", "beta-eu", "gone-jp"]
    assert stores["acme-us"]["deleted_at"] is None and stores["beta-eu"]["deleted_at"] is None
    assert stores["gone-jp"]["deleted_at"] == "2026-03-02T12:00:00.000000Z"  # its last event
    name_of = {row["id"]: name for name, row in stores.items()}

    after = snapshot(old_db)
    for table, old_rows in before.items():
        new_rows = after[table]
        assert len(new_rows) == len(old_rows), table
        for old, new in zip(old_rows, new_rows, strict=True):
            if "store" in old and old["store"] is not None:
                assert name_of[new["store_id"]] == old["store"], (table, old)
            elif table == "events":
                assert new["store_id"] is None
            for column, value in old.items():
                if column in ("store", "total_amount"):
                    continue
                assert new[column] == value, (table, column)
    # The BA rows' store comes from their load.
    for row in after["ba_search_terms_rows"]:
        assert name_of[row["store_id"]] == "beta-eu"
    assert read_states_if_exists(old_db, ["acme-us", "beta-eu"]) == states_before
    assert db.states(["acme-us", "beta-eu"]) == states_before


def test_upgrade_turns_real_amounts_into_their_exact_decimal_text(old_db: Path) -> None:
    db = Database(old_db, MIGRATIONS)
    amounts = dict(
        db.connection().execute("SELECT transaction_id, total_amount FROM financial_transactions")
    )
    assert amounts == {
        "T0": "12.34",
        "T1": "-0.1",
        "T2": "0.30000000000000004",  # what the float held: its shortest round-trip form
        "T3": "0.00001",
        "T4": "1234567.891",
        "T5": None,
        "T6": "100.0",
        "T7": "-2.675",
    }
    kinds = {
        r[0]
        for r in db.connection().execute("SELECT typeof(total_amount) FROM financial_transactions")
    }
    assert kinds == {"text", "null"}


def test_upgraded_cursors_views_and_staged_loads_work_with_the_new_code(old_db: Path) -> None:
    db = Database(old_db, MIGRATIONS)
    acme, beta = db.store_id("acme-us"), db.store_id("beta-eu")
    assert db.inventory.cursor(acme, US) == datetime(2026, 3, 3, 11, 30, tzinfo=UTC)
    assert db.finances.cursor(acme) == datetime(2026, 3, 3, 11, 55, tzinfo=UTC)
    assert db.get_sync_state(beta, "brand-analytics", "from:" + DE) == "2026-02-01"
    assert db.search_terms.loaded_weeks(beta, DE) == {"2026-02-08", "2026-02-15"}
    view = db.connection().execute(
        "SELECT store, week_start, COUNT(*) FROM ba_search_terms GROUP BY 1, 2"
    )
    assert [tuple(r) for r in view] == [
        ("beta-eu", "2026-02-15", 3)
    ]  # the staged load stays hidden
    db.search_terms.clear_staged(beta, DE, "2026-02-22")
    assert db.connection().execute("SELECT COUNT(*) FROM ba_search_terms_rows").fetchone()[0] == 3


def test_a_name_reused_after_delete_does_not_inherit_the_old_sellers_rows(old_db: Path) -> None:
    db = Database(old_db, MIGRATIONS)
    old_id = db.store_id("acme-us")
    db.delete_store("acme-us", T + timedelta(days=3))
    new_id = db.connect_store(
        "acme-us",
        T + timedelta(days=4),
        event="connected",
        selling_partner_id="A2OTHERSELLER",
        region="na",
    )
    assert new_id != old_id
    state = db.states(["acme-us"])["acme-us"]
    assert state.last_checked_at is None and state.last_sync_at is None
    assert db.checks("acme-us") == []
    assert db.inventory.cursor(new_id, US) is None and db.finances.cursor(new_id) is None
    # The old connection's rows are still there, under its own id.
    kept = db.connection().execute(
        "SELECT COUNT(*) FROM financial_transactions WHERE store_id = ?", (old_id,)
    )
    assert kept.fetchone()[0] == 4
