"""Every dataset is one declaration: both engines hold its tables as declared, and a dataset
declared anew gets its tables, page writes, figures and export on both engines from it alone."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from soldscope_cli.datasets import registry
from soldscope_cli.datasets.schema import Column, Kind, Table, raw, store_columns, synced_at
from soldscope_cli.datasets.spec import Dataset, Limit
from soldscope_cli.db import sql
from soldscope_cli.db.interface import Database
from soldscope_cli.db.tables.core import STORE_TABLES
from soldscope_cli.db.tables.keyed import KeyedTable
from soldscope_cli.fleet.config import STALE_DEFAULTS, WATCH_DEFAULTS, Config

T0 = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)

# SQLite reports the declared type; PostgreSQL its own name for it.
_PG_NAMES = {
    "bigint": "bigint",
    "text": "text",
    "integer": "integer",
    "double precision": "double precision",
    "numeric": "numeric",
    "timestamptz": "timestamp with time zone",
    "date": "date",
    "jsonb": "jsonb",
}


def schema_of(db: Any, table: str) -> list[tuple[str, str, bool]]:
    """(column, type, NOT NULL) of a table as the engine holds it, in order."""
    if hasattr(db, "url"):
        rows = (
            db.connection()
            .execute(
                "SELECT column_name, data_type, is_nullable = 'NO' FROM information_schema.columns"
                " WHERE table_name = %s ORDER BY ordinal_position",
                (table,),
            )
            .fetchall()
        )
        db.connection().rollback()
        return [(str(n), str(t), bool(r)) for n, t, r in rows]
    rows = db.connection().execute(f"PRAGMA table_info({table})").fetchall()
    return [(str(r[1]), str(r[2]), bool(r[3])) for r in rows]


def primary_key(db: Any, table: str) -> tuple[str, ...]:
    if hasattr(db, "url"):
        rows = (
            db.connection()
            .execute(
                "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid"
                " AND a.attnum = ANY(i.indkey) WHERE i.indrelid = %s::regclass AND i.indisprimary"
                " ORDER BY array_position(i.indkey, a.attnum)",
                (table,),
            )
            .fetchall()
        )
        db.connection().rollback()
        return tuple(str(r[0]) for r in rows)
    rows = db.connection().execute(f"PRAGMA table_info({table})").fetchall()
    return tuple(str(r[1]) for r in sorted((r for r in rows if r[5]), key=lambda r: r[5]))


def expected_type(db: Any, kind: Kind) -> str:
    name = db.dialect.types[kind]
    return _PG_NAMES[name] if hasattr(db, "url") else name


@pytest.fixture
def db(make_db: Callable[..., Any]) -> Database:
    database: Database = make_db()
    database.store_id("acme-us")  # migrated, with a store
    return database


def test_every_declared_table_is_what_both_engines_migrate_to(db: Any) -> None:
    for dataset in registry.DATASETS:
        for table in dataset.tables:
            found = schema_of(db, table.name)
            if table.keeps_order and db.dialect.order_column:
                assert found.pop(0)[0] == db.dialect.row_order
            # SQLite's NOT NULL is only declared on some released columns: names and types are
            # the contract, and NOT NULL where the declaration asks for it on PostgreSQL.
            assert [(n, t) for n, t, _ in found] == [
                (c.name, expected_type(db, c.kind)) for c in table.columns
            ], table.name
            if hasattr(db, "url"):
                assert [r for _, _, r in found] == [c.required for c in table.columns], table.name
            assert primary_key(db, table.name) == table.key, table.name


def test_every_dataset_is_complete_and_consistent() -> None:
    names = [t for d in registry.DATASETS for t in d.table_names]
    assert len(names) == len(set(names))
    assert set(names) <= set(STORE_TABLES)
    assert len(registry.OPTIONS) == sum(len(d.options) for d in registry.DATASETS)
    for dataset in registry.DATASETS:
        assert dataset.label and dataset.cursor and dataset.tables
        assert callable(importlib.import_module(dataset.module).sync)
        assert f"{dataset.key}_{dataset.stale.unit}" in STALE_DEFAULTS
        assert f"{dataset.key}_{dataset.watch.unit}" in WATCH_DEFAULTS
        assert Config().stale_after(dataset.name) == dataset.stale.span
        assert Config().watch_every(dataset.name) == dataset.watch.span
        assert dataset.reads is None or dataset.reads in dataset.tables
        for option in dataset.options:
            assert option.flag.startswith("--") and option.minimum <= option.default
            assert option.default <= option.maximum


def test_data_and_export_read_every_dataset_on_both_engines(db: Database) -> None:
    store_id = db.store_id("acme-us")
    figures = db.data_figures(store_id, registry.NAMES)
    assert [(f.dataset, f.rows, f.newest) for f in figures] == [
        (name, 0, None) for name in registry.NAMES
    ]
    for dataset in registry.DATASETS:
        export = db.export(dataset.name, [store_id], since=None)
        assert list(export.batches) == []
        if dataset.reads is not None:
            assert export.columns == tuple(c.name for c in dataset.reads.export_columns)
            assert db.dataset_table(dataset.name).table is dataset.reads
        else:
            with pytest.raises(KeyError):
                db.dataset_table(dataset.name)


# --- a dataset declared anew ---------------------------------------------------------------------

REFUNDS = Table(
    "test_refunds",
    (
        *store_columns(),
        Column("refund_id", required=True),
        Column("posted_at", Kind.TIME),
        Column("amount", Kind.DECIMAL),
        Column("currency"),
        Column("day", Kind.DATE),
        Column("units", Kind.INT),
        raw(),
        synced_at(),
    ),
    key=("store_id", "refund_id"),
    indexes=(("store_id", "posted_at"),),
    newest="posted_at",
    since="posted_at",
    order=("posted_at", "refund_id"),
)
DECLARED = Dataset(
    "test-refunds",
    "Refunds",
    (),
    "soldscope_cli.sync.inventory",
    (REFUNDS,),
    cursor="the newest posted time",
    stale=Limit(1, "days"),
    watch=Limit(6, "hours"),
    reads=REFUNDS,
    migration="9000_test_refunds",
)


def test_a_declared_dataset_gets_its_table_writes_figures_and_export(db: Any) -> None:
    with db.writing() as tx:
        for statement in sql.ddl(REFUNDS, db.dialect).split(";\n"):
            tx.execute(statement)
    assert [(n, t) for n, t, _ in schema_of(db, "test_refunds")] == [
        (c.name, expected_type(db, c.kind)) for c in REFUNDS.columns
    ]
    table = KeyedTable(db, REFUNDS, DECLARED.name)
    assert table.row_columns == (
        "refund_id",
        "posted_at",
        "amount",
        "currency",
        "day",
        "units",
        "raw",
    )
    store_id = db.store_id("acme-us")
    rows = [
        ("r1", T0, "1234.56", "EUR", "2026-11-01", 2, '{"id": "r1"}'),
        ("r2", T0 + timedelta(hours=1), "-0.99", "EUR", "2026-11-01", 1, '{"id": "r2"}'),
    ]
    assert table.write_rows(store_id, rows, at=T0, marks={"cursor": "x"}) == (2, 0, 0)
    changed = [("r2", T0 + timedelta(hours=1), "-1.99", "EUR", "2026-11-01", 1, '{"id": "r2b"}')]
    assert table.write_rows(store_id, changed, at=T0) == (0, 1, 0)
    assert table.write_rows(store_id, changed, at=T0) == (0, 0, 0)  # unchanged: not rewritten
    assert table.mark(store_id, "cursor") == "x"
    assert table.figures(store_id) == (2, "2026-11-01T10:30:00.000000Z")
    exported = [row for batch in table.export(store_id, None, 1) for row in batch]
    assert exported == [
        ("acme-us", "r1", "2026-11-01T09:30:00.000000Z", "1234.56", "EUR", "2026-11-01", 2,
         "2026-11-01T09:30:00.000000Z"),
        ("acme-us", "r2", "2026-11-01T10:30:00.000000Z", "-1.99", "EUR", "2026-11-01", 1,
         "2026-11-01T09:30:00.000000Z"),
    ]  # fmt: skip
    since = [r for b in table.export(store_id, "2026-11-01T10:00:00", 100) for r in b]
    assert [r[1] for r in since] == ["r2"]


def test_a_declared_dataset_migrates_on_both_engines() -> None:
    from soldscope_cli.db.postgres import migrations as pg
    from soldscope_cli.db.sqlite import migrations as lite

    assert "CREATE TABLE test_refunds" in pg._declared(DECLARED).sql
    assert "timestamptz" in pg._declared(DECLARED).sql
    assert lite._declared(DECLARED).name == "9000_test_refunds"
