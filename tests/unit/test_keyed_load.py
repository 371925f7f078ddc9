"""A dataset table's document load on both engines: batches staged and upserted together keep
the last row of a key, a stage left by a stopped load is discarded, marks publish the rows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from tests.pg import Cluster

from soldscope_cli.db.database import MIGRATIONS, Database
from soldscope_cli.db.postgres.engine import Database as TeamDatabase
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
