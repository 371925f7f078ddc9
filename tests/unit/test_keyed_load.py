"""A dataset table's document load on both engines: batches staged and upserted together keep
the last row of a key, a stage left by a stopped load is discarded, marks publish the rows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from tests.pg import Cluster

from soldscope_cli.db.database import MIGRATIONS, Database
from soldscope_cli.db.postgres.engine import Database as TeamDatabase
from soldscope_cli.db.sql import Tx
from soldscope_cli.db.tables.keyed import KeyedTable

AT = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def line(order: str, status: str, price: str) -> tuple[Any, ...]:
    return (order, "S1", AT, AT, status, "Amazon", "Amazon.de", "A1PA6795UKMFR9", "S1", "B0X",
            "Shipped", 1, price, None, None, "EUR")  # fmt: skip


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database | TeamDatabase]:
    db: Database | TeamDatabase
    if request.param == "sqlite":
        db = Database(tmp_path / "soldscope.db", MIGRATIONS)
    else:
        cluster: Cluster = request.getfixturevalue("pg_cluster")
        db = TeamDatabase(cluster.fresh_database())
    try:
        yield db
    finally:
        db.close()


def held(table: KeyedTable, store_id: int) -> list[tuple[Any, ...]]:
    at = [table.columns.index(c) for c in ("amazon_order_id", "order_status", "item_price")]
    return [tuple(r[i] for i in at) for b in table.export(store_id, None, 100) for r in b]


def test_staged_batches_keep_the_last_row_of_a_key(engine: Database | TeamDatabase) -> None:
    sid = engine.connect_store(
        "acme-de", AT, event="connected", selling_partner_id="A1", region="eu"
    )
    table = engine.dataset_table("orders")
    table.discard_staged()
    table.stage_rows(
        sid,
        [
            line("111-1", "Pending", "1.00"),
            line("111-2", "Pending", "9.00"),
            line("111-2", "Pending", "2.00"),  # the same key again in one batch
        ],
        at=AT,
    )
    table.stage_rows(sid, [line("111-1", "Shipped", "1.50")], at=AT)
    table.load_rows(sid, [line("111-3", "Shipped", "3.00")], at=AT, marks={"covered": "[]"})
    assert sorted(held(table, sid)) == [
        ("111-1", "Shipped", "1.50"),
        ("111-2", "Pending", "2.00"),
        ("111-3", "Shipped", "3.00"),
    ]
    assert table.mark(sid, "covered") == "[]"
    # A later load's line replaces the stored one.
    table.load_rows(sid, [line("111-2", "Shipped", "2.50")], at=AT)
    assert ("111-2", "Shipped", "2.50") in held(table, sid)


def test_a_stopped_loads_stage_is_discarded(engine: Database | TeamDatabase) -> None:
    sid = engine.connect_store(
        "acme-de", AT, event="connected", selling_partner_id="A1", region="eu"
    )
    table = engine.dataset_table("orders")
    table.discard_staged()
    table.stage_rows(sid, [line("111-1", "Pending", "1.00")], at=AT)
    if isinstance(engine, Database):
        assert held(table, sid) == []  # staged, not visible
    table.discard_staged()
    table.load_rows(sid, [line("111-2", "Shipped", "2.00")], at=AT)
    expected = [("111-2", "Shipped", "2.00")]
    if isinstance(engine, TeamDatabase):
        expected.insert(0, ("111-1", "Pending", "1.00"))  # PostgreSQL upserts each batch at once
    assert sorted(held(table, sid)) == expected


def updated(order: str, when: datetime) -> tuple[Any, ...]:
    return (order, "S1", AT, when, "Shipped", "Amazon", "Amazon.de", "A1PA6795UKMFR9", "S1",
            "B0X", "Shipped", 1, "1.00", None, None, "EUR")  # fmt: skip


def test_the_newest_update_is_kept_with_the_rows_that_bring_it(
    engine: Database | TeamDatabase,
) -> None:
    sid = engine.connect_store(
        "acme-de", AT, event="connected", selling_partner_id="A1", region="eu"
    )
    table = engine.dataset_table("orders")
    assert table.table.newest_mark
    assert table.figures(sid) == (0, None)
    later, latest = AT.replace(day=21), AT.replace(day=22, microsecond=5)
    table.discard_staged()
    table.stage_rows(sid, [updated("111-1", later), updated("111-2", AT)], at=AT)
    if isinstance(engine, Database):
        assert table.figures(sid) == (0, None)  # staged rows are not there yet
    # The staged batch's newest counts when it is published, though the last batch is older.
    table.load_rows(sid, [updated("111-3", AT)], at=AT)
    assert table.figures(sid) == (3, "2026-11-21T08:00:00.000000Z")
    # An older document never moves it back; a row-by-row write moves it on.
    table.load_rows(sid, [updated("111-4", AT.replace(day=1))], at=AT)
    assert table.figures(sid) == (4, "2026-11-21T08:00:00.000000Z")
    table.write_rows(sid, [updated("111-5", latest)], at=AT)
    assert table.figures(sid) == (5, "2026-11-22T08:00:00.000005Z")
    # A load that fails publishes neither its rows nor its newest value.
    with pytest.raises(Exception):  # noqa: B017 (the engine's own error type)
        table.load_rows(sid, [updated("111-6", AT.replace(day=30)), ("bad",)], at=AT)
    table.discard_staged()
    assert table.figures(sid) == (5, "2026-11-22T08:00:00.000005Z")
    # Another store's rows are its own.
    other = engine.connect_store(
        "acme-fr", AT, event="connected", selling_partner_id="A2", region="eu"
    )
    assert table.figures(other) == (0, None)


def test_upgrade_moves_the_newest_update_from_its_index_to_a_mark(tmp_path: Path) -> None:
    path = tmp_path / "soldscope.db"
    assert MIGRATIONS[-1].name == "0710_newest_marks"
    old = Database(path, MIGRATIONS[:-1])
    sid = old.connect_store("acme-de", AT, event="connected", selling_partner_id="A1", region="eu")
    empty = old.connect_store(
        "acme-fr", AT, event="connected", selling_partner_id="A2", region="eu"
    )
    conn = old.connection()
    conn.execute(
        "CREATE INDEX order_items_last_updated_date ON order_items (store_id, last_updated_date)"
    )
    for order, updated_at in (("111-1", "2026-11-21T08:00:00.000000Z"), ("111-2", None)):
        conn.execute(
            "INSERT INTO order_items (store_id, store, amazon_order_id, order_item_key,"
            " last_updated_date, synced_at) VALUES (?, 'acme-de', ?, 'S1', ?, ?)",
            (sid, order, updated_at, "2026-11-22T00:00:00.000000Z"),
        )
    conn.commit()
    old.close()
    db = Database(path, MIGRATIONS)
    try:
        indexes = [r[0] for r in db.connection().execute("PRAGMA index_list(order_items)")]
        assert "order_items_last_updated_date" not in indexes
        orders = db.dataset_table("orders")
        assert orders.figures(sid) == (2, "2026-11-21T08:00:00.000000Z")
        assert orders.figures(empty) == (0, None)
    finally:
        db.close()


def test_the_team_databases_upgrade_moves_the_newest_update_to_a_mark(
    pg_cluster: Cluster,
) -> None:
    from soldscope_cli.db.postgres.migrations import MIGRATIONS as TEAM_MIGRATIONS

    [step] = [m for m in TEAM_MIGRATIONS if m.name == "0710_newest_marks"]
    team = TeamDatabase(pg_cluster.fresh_database())
    try:
        sid = team.connect_store(
            "acme-de", AT, event="connected", selling_partner_id="A1", region="eu"
        )
        team.dataset_table("orders").write_rows(sid, [updated("111-1", AT)], at=AT)
        with psycopg.connect(team.url, autocommit=True) as conn:
            # The database as it was before the step: the index, and no mark.
            conn.execute("DELETE FROM sync_state")
            conn.execute(
                "CREATE INDEX order_items_last_updated_date"
                " ON order_items (store_id, last_updated_date)"
            )
            conn.execute(step.sql.encode())
            assert conn.execute(
                "SELECT count(*) FROM pg_indexes WHERE indexname = 'order_items_last_updated_date'"
            ).fetchone() == (0,)
        assert team.dataset_table("orders").figures(sid) == (1, "2026-11-20T08:00:00.000000Z")
    finally:
        team.close()


def test_a_fresh_load_inserts_new_keys_and_upserts_a_batch_that_meets_one_again(
    engine: Database | TeamDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    sid = engine.connect_store(
        "acme-de", AT, event="connected", selling_partner_id="A1", region="eu"
    )
    table = engine.dataset_table("orders")
    dialect = type(engine.dialect)
    insert_new = dialect.insert_new
    answers: list[bool] = []

    def spied(self: Any, *args: Any) -> bool:
        answers.append(insert_new(self, *args))
        return answers[-1]

    monkeypatch.setattr(dialect, "insert_new", spied)
    table.discard_staged()
    table.load_rows(
        sid,
        [line("111-1", "Pending", "1.00"), line("111-2", "Pending", "9.00"),
         line("111-2", "Pending", "2.00")],  # the same key twice in one batch: the last wins
        at=AT,
        fresh=True,
    )  # fmt: skip
    # A later batch meets 111-2 again (a document that lists an order twice): it is upserted,
    # the batch whole, nothing of it lost or doubled.
    table.load_rows(
        sid,
        [line("111-3", "Shipped", "3.00"), line("111-2", "Shipped", "2.50")],
        at=AT,
        marks={"covered": "[]"},
        fresh=True,
    )
    assert sorted(held(table, sid)) == [
        ("111-1", "Pending", "1.00"),
        ("111-2", "Shipped", "2.50"),
        ("111-3", "Shipped", "3.00"),
    ]
    assert table.mark(sid, "covered") == "[]"
    assert table.figures(sid) == (3, "2026-11-20T08:00:00.000000Z")
    if isinstance(engine, TeamDatabase):
        assert answers == [True, False]  # COPY into the table, then the upsert
    else:
        assert answers == []  # SQLite publishes what it stages with one upsert
    # A batch that fails leaves nothing of itself.
    with pytest.raises(Exception):  # noqa: B017 (the engine's own error type)
        table.load_rows(sid, [line("111-4", "Shipped", "4.00"), ("bad",)], at=AT, fresh=True)
    table.discard_staged()
    assert table.figures(sid)[0] == 3


def test_lines_to_replace_are_sought_order_by_order_whatever_the_statistics(
    pg_cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    team = TeamDatabase(pg_cluster.fresh_database())
    try:
        sid = team.connect_store(
            "acme-de", AT, event="connected", selling_partner_id="A1", region="eu"
        )
        table = team.dataset_table("orders")
        # A big first load, the table never analysed since: the planner's figures predate it.
        table.load_rows(
            sid, [line(f"111-{n:07d}", "Shipped", "1.00") for n in range(60_000)], at=AT
        )
        asked: list[tuple[str, Any]] = []
        run = Tx.all

        def spied(self: Tx, statement: str, params: Any = ()) -> Any:
            asked.append((statement, params))
            return run(self, statement, params)

        monkeypatch.setattr(Tx, "all", spied)
        batch = [line(f"111-{n:07d}", "Shipped", "1.00") for n in range(0, 60_000, 30)]
        assert table.stale_rows(sid, batch) == []
        [(statement, params)] = asked
        with team.reading() as tx:
            plan = "\n".join(row[0] for row in run(tx, f"EXPLAIN {statement}", params))
        # The list of orders drives the loop: each order a seek into the primary key; the
        # table is never read whole and sorted or hashed.
        assert plan.lstrip().startswith("Nested Loop"), plan
        assert "order_items_pkey" in plan and "amazon_order_id = " in plan, plan
        assert "Sort" not in plan and "Hash" not in plan, plan
    finally:
        team.close()
