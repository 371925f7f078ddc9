"""`team import` against a real PostgreSQL: what is copied, how ids and types come over, refusals."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from tests.pg import Cluster

from soldscope_cli.datasets import registry
from soldscope_cli.datasets.sales_traffic import BY_ASIN
from soldscope_cli.datasets.sales_traffic import NAME as SALES_TRAFFIC
from soldscope_cli.db.database import MIGRATIONS, CheckRecord, Database
from soldscope_cli.db.model import FinanceRow, InventoryRow
from soldscope_cli.db.postgres import importer
from soldscope_cli.db.postgres.engine import Database as TeamDatabase
from soldscope_cli.errors import UsageError
from soldscope_cli.fleet.config import Config, StoreRecord
from soldscope_cli.fleet.secrets import CLIENT_SECRET_KEY, MemorySecretStore, token_key
from soldscope_cli.fleet.team import to_registry
from soldscope_cli.fleet.team_import import (
    CLIENT_COPIED,
    ImportReport,
    ImportSource,
    ImportTarget,
    import_home,
)
from soldscope_cli.output.team_import import import_json

T0 = datetime(2026, 11, 1, 12, 0, 0, 123456, tzinfo=UTC)
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
STORES = ("acme-us", "beta-us")


def record(name: str) -> StoreRecord:
    return StoreRecord(name, "na", ["US"], T0, selling_partner_id=f"A{name.upper()}")


def inventory_row(sku: str) -> InventoryRow:
    raw = json.dumps({"sellerSku": sku, "totalQuantity": 3})
    return InventoryRow(
        sku, "B0ASIN", None, "NewItem", "Thing", 3, 2, 0, 0, 0, 1, 0, 0, "2026-11-01T10:00:00Z", raw
    )


def finance_row(n: int, amount: str) -> FinanceRow:
    raw = json.dumps({"transactionId": f"T{n}", "totalAmount": {"currencyAmount": amount}})
    return FinanceRow(
        f"T{n}", "Shipment", "Released", "sale", "2026-11-02T08:00:00Z", amount, "USD",
        "ATVPDKIKX0DER", f"111-{n}", None, raw,
    )  # fmt: skip


def seed_home(db: Database) -> None:
    """Two stores with history, cursors and each dataset; an old store deleted; app events."""
    db.connect_store("gone-us", T0, event="connected", selling_partner_id="AGONE", region="na")
    db.delete_store("gone-us", T0)
    for i, name in enumerate(STORES):
        at = T0 + timedelta(hours=i)
        sid = db.connect_store(
            name, at, event="connected", selling_partner_id=f"A{name}", region="na"
        )
        db.record_check(CheckRecord(name, at, "connect", "ok"))
        db.record_check(CheckRecord(name, at + timedelta(minutes=1), "validate", "problem", "x"))
        db.log_event("status_changed", at + timedelta(minutes=1), name, {"to": "error"})
        run = db.start_sync_run(name, "inventory", at)
        db.inventory.write_page(
            sid, "ATVPDKIKX0DER", [inventory_row(f"SKU-{i}-{n}") for n in range(5)],
            at=at, cursor=at,
        )  # fmt: skip
        db.finish_sync_run(run, at, "ok", rows_added=5)
        db.finances.write_page(
            sid, [finance_row(n, "-12.345678901234567890") for n in range(3)], at=at, cursor=at
        )
        load = db.search_terms.start_load(sid, "ATVPDKIKX0DER", "2026-10-25", "R1", at)
        db.search_terms.mark_loaded(
            sid, "ATVPDKIKX0DER", "2026-10-25", "2026-10-31",
            report_id="R1", status="DONE", row_count=4, at=at, load_id=load,
            rows=[(load, sid, "Books", f"term {n}", n + 1, "B0X", "Item", 1, 0.125, 0.0625)
                  for n in range(4)],
        )  # fmt: skip
    db.log_event("notified", T0, None, {"channel": "ops"})


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Database]:
    db = Database(tmp_path / "soldscope.db", MIGRATIONS)
    seed_home(db)
    yield db
    db.close()


@pytest.fixture
def team(pg_cluster: Cluster) -> Iterator[TeamDatabase]:
    db = TeamDatabase(pg_cluster.fresh_database(template=None))
    yield db
    db.close()


def secrets_with_tokens(*names: str) -> MemorySecretStore:
    return MemorySecretStore(
        {token_key(n): f"Atzr|token-of-{n}" for n in names} | {CLIENT_SECRET_KEY: "cs-1"}
    )


def run(
    home: Database | None,
    team: TeamDatabase,
    source: MemorySecretStore,
    dest: MemorySecretStore,
    **kwargs: Any,
) -> ImportReport:
    config = Config(stores={n: record(n) for n in STORES})
    return import_home(
        ImportSource(config, home, source),
        ImportTarget(team, lambda: dest, False, "postgresql://test", importer),
        now=NOW,
        **kwargs,
    )


def pg(team: TeamDatabase, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(team.url) as conn:
        return [tuple(r) for r in conn.execute(sql.encode(), params).fetchall()]


def local(home: Database, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in home.connection().execute(sql, params).fetchall()]


def table_counts(team: TeamDatabase) -> dict[str, int]:
    tables = [
        "stores", "checks", "events", "sync_runs", "sync_state", "inventory_summaries",
        "financial_transactions", "ba_search_terms_loads", "ba_search_terms_weeks",
        "ba_search_terms_rows", "secrets",
    ]  # fmt: skip
    found = pg(team, "SELECT to_regclass('stores')")[0][0]
    if found is None:
        return {}
    return {t: pg(team, f"SELECT COUNT(*) FROM {t}")[0][0] for t in tables}  # noqa: S608


def test_import_copies_every_table_with_new_ids_and_exact_values(
    home: Database, team: TeamDatabase
) -> None:
    dest = MemorySecretStore()
    report = run(home, team, secrets_with_tokens(*STORES), dest)

    assert report.migrations  # an empty database is prepared first
    for name in STORES:
        [(local_id,)] = local(
            home, "SELECT id FROM stores WHERE name = ? AND deleted_at IS NULL", name
        )
        [(team_id,)] = pg(team, "SELECT id FROM stores WHERE name = %s", name)
        for table in (
            "checks", "sync_runs", "sync_state", "inventory_summaries",
            "financial_transactions", "ba_search_terms_loads", "ba_search_terms_weeks",
            "ba_search_terms_rows",
        ):  # fmt: skip
            mine = local(home, f"SELECT COUNT(*) FROM {table} WHERE store_id = ?", local_id)  # noqa: S608
            theirs = pg(team, f"SELECT COUNT(*) FROM {table} WHERE store_id = %s", team_id)  # noqa: S608
            assert mine == theirs, table
        # The events of the store, plus the `imported` mark.
        assert pg(team, "SELECT kind FROM events WHERE store_id = %s ORDER BY id", team_id) == [
            ("connected",),
            ("status_changed",),
            ("imported",),
        ]
        # Cursors, times and money come over exactly.
        assert local(
            home, "SELECT dataset, key, value FROM sync_state WHERE store_id = ? ORDER BY 1, 2",
            local_id,
        ) == pg(
            team, "SELECT dataset, key, value FROM sync_state WHERE store_id = %s ORDER BY 1, 2",
            team_id,
        )  # fmt: skip
        amounts = pg(
            team, "SELECT total_amount::text FROM financial_transactions WHERE store_id = %s",
            team_id,
        )  # fmt: skip
        assert {a for (a,) in amounts} == {"-12.345678901234567890"}
        checked = pg(team, "SELECT checked_at FROM checks WHERE store_id = %s ORDER BY id", team_id)
        assert checked[0][0] == T0 + timedelta(hours=STORES.index(name))
        # Brand Analytics rows and weeks point at the team database's loads.
        [(load,)] = pg(
            team, "SELECT load_id FROM ba_search_terms_loads WHERE store_id = %s", team_id
        )
        assert pg(
            team, "SELECT load_id FROM ba_search_terms_weeks WHERE store_id = %s", team_id
        ) == [(load,)]
        assert pg(team, "SELECT COUNT(*) FROM ba_search_terms WHERE store = %s", name) == [(4,)]
        shares = pg(
            team, "SELECT DISTINCT click_share FROM ba_search_terms_rows WHERE load_id = %s", load
        )
        assert shares == [(0.125,)]
    # The deleted store stays behind; the app's event comes once.
    assert pg(team, "SELECT COUNT(*) FROM stores WHERE name = 'gone-us'") == [(0,)]
    assert pg(team, "SELECT COUNT(*) FROM events WHERE store IS NULL") == [(1,)]
    # The registry lists both stores; the tokens and the client secret are in the team's store.
    assert [r.name for r in team.registry.records()] == list(STORES)
    assert dest.values == {token_key(n): f"Atzr|token-of-{n}" for n in STORES} | {
        CLIENT_SECRET_KEY: "cs-1"
    }
    shape = import_json(report)
    assert shape["totals"] == {
        "stores": 2,
        "history": 2 * (2 + 2 + 1),
        "data": 2 * 12,
        "secrets": 3,
    }
    assert shape["stores"][0]["data"] == {
        **dict.fromkeys(registry.NAMES, 0),
        "inventory": 5,
        "finances": 3,
        "brand-analytics": 4,
    }
    assert shape["client_secret"] == CLIENT_COPIED
    assert shape["app_events"] == 1


def test_a_second_sync_view_reads_the_copied_cursors(home: Database, team: TeamDatabase) -> None:
    run(home, team, secrets_with_tokens(*STORES), MemorySecretStore())
    team_id = team.store_id("acme-us")
    assert team.inventory.cursor(team_id, "ATVPDKIKX0DER") == T0
    assert team.finances.cursor(team_id) == T0
    assert team.search_terms.loaded_weeks(team_id, "ATVPDKIKX0DER") == {"2026-10-25"}
    assert [e.kind for e in team.history([team_id])][-1] == "connected"


def test_a_name_already_in_the_team_database_refuses_everything(
    home: Database, team: TeamDatabase
) -> None:
    team.connect_store("beta-us", NOW, event="connected", selling_partner_id="B", region="na")
    before = table_counts(team)
    dest = MemorySecretStore()
    with pytest.raises(UsageError) as caught:
        run(home, team, secrets_with_tokens(*STORES), dest)
    assert "already has 1 of these stores (beta-us)" in caught.value.message
    assert "--skip-existing" in (caught.value.hint or "")
    assert table_counts(team) == before and dest.values == {}

    report = run(home, team, secrets_with_tokens(*STORES), dest, skip_existing=True)
    assert [s.name for s in report.stores] == ["acme-us"] and report.skipped == ["beta-us"]
    assert token_key("beta-us") not in dest.values


def test_a_missing_refresh_token_refuses_everything(home: Database, team: TeamDatabase) -> None:
    dest = MemorySecretStore()
    with pytest.raises(UsageError) as caught:
        run(home, team, secrets_with_tokens("acme-us"), dest)
    assert "no refresh token for 1 store (beta-us)" in caught.value.message
    assert "--from-secrets" in (caught.value.hint or "")
    assert table_counts(team) == {} and dest.values == {}  # not even migrated


def test_a_dry_run_writes_nothing_and_counts_the_same(home: Database, team: TeamDatabase) -> None:
    dest = MemorySecretStore()
    planned = run(home, team, secrets_with_tokens(*STORES), dest, dry_run=True)
    assert table_counts(team) == {} and dest.values == {}
    assert planned.dry_run and planned.migrations
    done = run(home, team, secrets_with_tokens(*STORES), dest)
    assert [s.rows for s in planned.stores] == [s.rows for s in done.stores]
    assert import_json(planned)["totals"] == import_json(done)["totals"]


def test_a_failure_mid_copy_leaves_the_team_database_as_it_was(
    home: Database, team: TeamDatabase
) -> None:
    team.migrate()
    before = table_counts(team)
    home.connection().execute(
        "UPDATE financial_transactions SET total_amount = 'not a number' WHERE store = 'beta-us'"
    )
    dest = MemorySecretStore({"kept": "1"})
    with pytest.raises(Exception, match="refused a row of financial_transactions"):
        run(home, team, secrets_with_tokens(*STORES), dest)
    assert table_counts(team) == before
    assert dest.values == {"kept": "1"}


def test_a_home_without_a_database_imports_its_stores_and_tokens(team: TeamDatabase) -> None:
    dest = MemorySecretStore()
    report = run(None, team, secrets_with_tokens(*STORES), dest)
    assert [r.name for r in team.registry.records()] == list(STORES)
    assert import_json(report)["totals"]["history"] == 0
    assert len(dest.values) == 3


class FailingOn(MemorySecretStore):
    """A secret store whose n-th write fails (Ctrl-C, a keyring gone away...)."""

    def __init__(self, n: int, inner: Any, error: BaseException) -> None:
        super().__init__()
        self.n, self.inner, self.error = n, inner, error

    def get(self, key: str) -> str | None:
        return self.inner.get(key)  # type: ignore[no-any-return]

    def set(self, key: str, value: str) -> None:
        self.n -= 1
        if self.n == 0:
            raise self.error
        self.inner.set(key, value)

    def delete(self, key: str) -> None:
        self.inner.delete(key)


def test_database_secrets_commit_with_the_rows_or_not_at_all(
    home: Database, team: TeamDatabase
) -> None:
    from soldscope_cli.fleet.database_secrets import DatabaseSecretStore
    from soldscope_cli.fleet.namespaces import SharedNamespaceSecretStore
    from soldscope_cli.fleet.sealed import KEY_ENV, new_key_text, parse_key
    from soldscope_cli.fleet.secrets import token_store

    team.migrate()
    key = parse_key(new_key_text(), KEY_ENV)
    sealed = DatabaseSecretStore(lambda: team.secret_rows, lambda: key, "team", token_store)
    shared = SharedNamespaceSecretStore(sealed, team.registry.namespace())
    before = table_counts(team)
    config = Config(stores={n: record(n) for n in STORES})
    failing = FailingOn(2, shared, KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        import_home(
            ImportSource(config, home, secrets_with_tokens(*STORES)),
            ImportTarget(team, lambda: failing, True, "t", importer),
            now=NOW,
        )
    assert table_counts(team) == before  # the first token's row went with the rollback
    import_home(
        ImportSource(config, home, secrets_with_tokens(*STORES)),
        ImportTarget(team, lambda: shared, True, "t", importer),
        now=NOW,
    )
    assert shared.get(token_key("beta-us")) == "Atzr|token-of-beta-us"
    assert shared.get(token_key("acme-us")) == "Atzr|token-of-acme-us"
    sealed_for = pg(
        team, "SELECT store_id FROM secrets WHERE name LIKE %s", "%refresh-token:beta-us"
    )
    assert sealed_for == pg(team, "SELECT id FROM stores WHERE name = 'beta-us'")


def test_an_outside_backend_is_restored_when_the_import_fails(
    home: Database, team: TeamDatabase
) -> None:
    outside = MemorySecretStore({token_key("acme-us"): "an older token"})
    with pytest.raises(OSError, match="keyring went away"):
        run(
            home,
            team,
            secrets_with_tokens(*STORES),
            FailingOn(2, outside, OSError("keyring went away")),
        )
    assert outside.values == {token_key("acme-us"): "an older token"}
    assert table_counts(team)["stores"] == 0


def test_a_seller_the_team_has_under_another_name_refuses_everything(
    home: Database, team: TeamDatabase
) -> None:
    registry = team.registry
    assert registry is not None
    registry.save(to_registry(replace(record("beta-us"), name="beta-team")), NOW)
    before = table_counts(team)
    dest = MemorySecretStore()
    with pytest.raises(UsageError) as caught:
        run(home, team, secrets_with_tokens(*STORES), dest)
    assert caught.value.message == (
        "seller ABETA-US in region na of beta-us is already connected in the team database "
        "as 'beta-team'; nothing was copied"
    )
    assert "soldscope delete beta-us" in (caught.value.hint or "")
    assert table_counts(team) == before and dest.values == {}


# --- sales-traffic: two declared tables ---------------------------------------------------------


def figures(amount: str) -> tuple[object, ...]:
    return (amount, "USD", 3, 2, 90, 40, 97.5, 12.5)


def test_import_copies_both_tables_of_sales_traffic(home: Database, team: TeamDatabase) -> None:
    for name in STORES:
        store_id = home.store_id(name)
        by_date = home.dataset_table(SALES_TRAFFIC)
        by_asin = home.dataset_table(SALES_TRAFFIC, BY_ASIN.name)
        by_date.write_rows(
            store_id,
            [("ATVPDKIKX0DER", f"2026-11-0{d}", *figures("1234.56"), "{}") for d in (1, 2)],
            at=NOW,
            marks={"through": "2026-11-02", "from": "2026-11-01"},
        )
        by_asin.write_rows(
            store_id,
            [
                ("ATVPDKIKX0DER", "2026-11-01", f"B0CHILD{n}", "B0PARENT", *figures("-0.10"), "{}")
                for n in range(3)
            ],
            at=NOW,
        )
    report = run(home, team, secrets_with_tokens(*STORES), MemorySecretStore())
    assert pg(team, "SELECT COUNT(*) FROM sales_traffic_by_date") == [(2 * len(STORES),)]
    assert pg(team, "SELECT COUNT(*) FROM sales_traffic_by_asin") == [(3 * len(STORES),)]
    amounts = pg(team, "SELECT DISTINCT ordered_product_sales::text FROM sales_traffic_by_date")
    assert amounts == [("1234.56",)]
    shape = import_json(report)
    assert all(s["data"][SALES_TRAFFIC] == 2 for s in shape["stores"])
