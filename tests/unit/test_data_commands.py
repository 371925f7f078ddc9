"""log, data and export: history reads, freshness rules, [stale] config, writers, wiring."""

from __future__ import annotations

import csv
import io
import json
import stat
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from soldscope_cli.datasets import registry
from soldscope_cli.db.database import CheckRecord, Database
from soldscope_cli.db.model import DataFigures
from soldscope_cli.errors import ConfigError, UsageError
from soldscope_cli.fleet.config import Config, StoreRecord, parse_config
from soldscope_cli.fleet.files import atomic_file
from soldscope_cli.fleet.history import LogQuery, run_log
from soldscope_cli.output.datasets import health_json, health_text
from soldscope_cli.output.export import write_csv, write_jsonl
from soldscope_cli.output.history import entry_json, history_text
from soldscope_cli.sync.freshness import health, run_data

T0 = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def db(make_db: Callable[..., Any]) -> Database:
    """The state database, of each engine in turn."""
    database: Database = make_db()
    return database


def config_with(*names: str) -> Config:
    config = Config()
    for name in names:
        config.stores[name] = StoreRecord(name, "na", ["US"], T0)
    return config


def seed(db: Database) -> None:
    db.connect_store(
        "acme-us",
        T0,
        event="connected",
        selling_partner_id="A1",
        region="na",
        detail={"region": "na", "marketplaces": ["US"], "selling_partner_id": "A1"},
    )
    at = T0 + timedelta(days=1)
    db.record_check(CheckRecord("acme-us", at, "validate", "ok"))
    db.log_event("checked", at, "acme-us", {"outcome": "ok"})
    bad = T0 + timedelta(days=2)
    db.record_check(
        CheckRecord("acme-us", bad, "validate", "problem", "invalid_grant", "revoked", "req-1")
    )
    db.log_event(
        "status_changed", bad, "acme-us", {"from": "active", "to": "error", "code": "invalid_grant"}
    )
    run = db.start_sync_run("acme-us", "finances", T0 + timedelta(days=3))
    db.finish_sync_run(
        run, T0 + timedelta(days=3, minutes=1), "failed", 0, 0, "QuotaExceeded", "slow down"
    )
    db.delete_store("acme-us", T0 + timedelta(days=4))


def test_log_is_newest_first_with_pinned_json(db: Database) -> None:
    seed(db)
    entries = run_log(config_with(), db, LogQuery(["acme-us"]))
    assert [entry_json(e) for e in entries] == [
        {
            "at": "2026-11-05T10:00:00Z",
            "store": "acme-us",
            "kind": "deleted",
            "detail": {"purged": False},
        },
        {
            "at": "2026-11-04T10:01:00Z",
            "store": "acme-us",
            "kind": "sync_failed",
            "detail": {
                "dataset": "finances",
                "outcome": "failed",
                "code": "QuotaExceeded",
                "message": "slow down",
            },
        },
        {
            "at": "2026-11-03T10:00:00Z",
            "store": "acme-us",
            "kind": "status_changed",
            "detail": {
                "from": "active",
                "to": "error",
                "code": "invalid_grant",
                "message": "revoked",
            },
        },
        {
            "at": "2026-11-01T10:00:00Z",
            "store": "acme-us",
            "kind": "connected",
            "detail": {"region": "na", "marketplaces": ["US"], "selling_partner_id": "A1"},
        },
    ]
    text = history_text(entries).splitlines()
    assert (
        text[3] == "2026-11-03 10:00Z  acme-us  status       active → error: invalid_grant: revoked"
    )


def test_log_all_adds_plain_checks_and_since_cuts(db: Database) -> None:
    seed(db)
    every = run_log(config_with(), db, LogQuery(["acme-us"], checks=True))
    assert [e.kind for e in every].count("checked") == 1
    recent = run_log(config_with(), db, LogQuery([], since=T0 + timedelta(days=3)))
    assert [e.kind for e in recent] == ["deleted", "sync_failed"]


def test_log_unknown_name_suggests(db: Database) -> None:
    seed(db)
    with pytest.raises(UsageError) as caught:
        run_log(config_with("bolt-us"), db, LogQuery(["acme-uss"]))
    assert caught.value.hint is not None and "did you mean acme-us?" in caught.value.hint


NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("last", "limit", "stale"),
    [
        (None, timedelta(hours=36), True),
        (NOW - timedelta(hours=35), timedelta(hours=36), False),
        (NOW - timedelta(hours=37), timedelta(hours=36), True),
    ],
)
def test_staleness(last: datetime | None, limit: timedelta, stale: bool) -> None:
    row = health("acme-us", DataFigures("inventory", 3, None, last, "ok"), limit, NOW)
    assert row.stale is stale


def test_problems_and_pinned_json() -> None:
    marks = {
        "fatal:ATVPDKIKX0DER:2026-11-08": json.dumps(
            {"at": "2026-11-29T06:00:00.000000Z", "count": 1, "report_id": "R9"}
        ),
        "inflight:ATVPDKIKX0DER:2026-11-15": json.dumps(
            {"report_id": "R10", "created_at": "2026-11-27T12:00:00.000000Z"}
        ),
        "inflight:ATVPDKIKX0DER:2026-11-22": json.dumps(
            {"report_id": "R11", "created_at": "2026-11-29T11:00:00.000000Z"}
        ),
    }
    figures = DataFigures(
        "brand-analytics",
        900,
        "2026-11-01",
        NOW - timedelta(days=2),
        "not_authorized",
        "Unauthorized",
        "no role",
        marks,
    )
    row = health("acme-us", figures, timedelta(days=10), NOW)
    assert health_json(row) == {
        "store": "acme-us",
        "dataset": "brand-analytics",
        "rows": 900,
        "newest": "2026-11-01",
        "last_sync_at": "2026-11-27T12:00:00Z",
        "age_hours": 48.0,
        "stale_after_hours": 240.0,
        "stale": False,
        "problems": [
            {"code": "not_authorized", "message": "no role"},
            {
                "code": "report_fatal",
                "message": "US week 2026-11-08: Amazon could not produce the report (FATAL, "
                "report R9); retried after 2026-11-30 06:00Z",
            },
            {
                "code": "report_stuck",
                "message": "US week 2026-11-15: report R10 requested 48 h ago is still not done",
            },
        ],
    }


def test_the_table_writes_whole_seconds_without_their_zero_fraction() -> None:
    def newest(value: str) -> str:
        figures = DataFigures("orders", 3, value, NOW, "ok", None, None, {})
        row = health("acme-us", figures, timedelta(days=1), NOW)
        [_, line, *_] = health_text([row]).splitlines()
        return line.split()[3]

    assert newest("2026-12-03T00:00:00.000000Z") == "2026-12-03T00:00:00Z"
    assert newest("2026-12-06T18:36:00.000Z") == "2026-12-06T18:36:00Z"
    assert newest("2026-12-06T18:36:00.250000Z") == "2026-12-06T18:36:00.250000Z"
    assert newest("2026-11-22") == "2026-11-22"
    # --json keeps the value as stored.
    figures = DataFigures("orders", 3, "2026-12-03T00:00:00.000000Z", NOW, "ok", None, None, {})
    assert health_json(health("acme-us", figures, timedelta(days=1), NOW))["newest"] == (
        "2026-12-03T00:00:00.000000Z"
    )


def test_run_data_of_a_store_never_synced(db: Database) -> None:
    rows = run_data(config_with("acme-us"), db, [], NOW)
    assert [(r.dataset, r.rows, r.stale) for r in rows] == [
        (name, 0, True) for name in registry.NAMES
    ]
    with pytest.raises(UsageError):
        run_data(config_with("acme-us"), db, ["acme-uz"], NOW)


def test_stale_config_is_strict_with_lines(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    config = parse_config(path, "[stale]\ninventory_hours = 12\nbrand_analytics_days = 3\n")
    assert config.stale_after("inventory") == timedelta(hours=12)
    assert config.stale_after("finances") == timedelta(hours=48)
    assert config.stale_after("brand-analytics") == timedelta(days=3)
    with pytest.raises(
        ConfigError, match=r"line 3, column 1: unknown key 'finance_hours'.*finances_hours"
    ):
        parse_config(path, "[stale]\ninventory_hours = 12\nfinance_hours = 3\n")
    with pytest.raises(ConfigError, match=r"line 2.*whole number of hours"):
        parse_config(path, "[stale]\ninventory_hours = 0\n")


def test_sync_options_config_is_strict_with_lines(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    assert parse_config(path, "[sync]\nba_weeks = 8\n").sync_options == {"ba_weeks": 8}
    with pytest.raises(ConfigError, match=r"line 2, column 1: unknown key 'weeks'.*ba_weeks"):
        parse_config(path, "[sync]\nweeks = 8\n")
    with pytest.raises(ConfigError, match=r"line 2.*ba_weeks must be between 1 and 104, not 0"):
        parse_config(path, "[sync]\nba_weeks = 0\n")
    with pytest.raises(ConfigError, match=r"ba_weeks must be a whole number"):
        parse_config(path, '[sync]\nba_weeks = "4"\n')


def test_writers_round_trip() -> None:
    columns = ("store", "amount", "note")
    batches = [[("acme-us", "-12.34", 'a "quoted", note')], [("acme-us", None, "é")]]
    out = io.StringIO(newline="")
    assert write_csv(out, columns, iter(batches)) == 2
    assert list(csv.reader(io.StringIO(out.getvalue(), newline=""))) == [
        list(columns),
        ["acme-us", "-12.34", 'a "quoted", note'],
        ["acme-us", "", "é"],
    ]
    lines = io.StringIO()
    assert write_jsonl(lines, columns, iter(batches)) == 2
    assert [json.loads(line) for line in lines.getvalue().splitlines()] == [
        {"store": "acme-us", "amount": "-12.34", "note": 'a "quoted", note'},
        {"store": "acme-us", "amount": None, "note": "é"},
    ]


def test_atomic_file_is_0600_and_leaves_nothing_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    with atomic_file(target) as handle:
        handle.write("x\n")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    with pytest.raises(RuntimeError), atomic_file(target) as handle:
        handle.write("partial")
        raise RuntimeError("boom")
    assert target.read_text() == "x\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_export_streams_only_live_stores_in_batches(db: Database) -> None:
    from soldscope_cli.sync.export import run_export

    store_id = db.store_id("acme-us")
    load = db.search_terms.start_load(store_id, "ATVPDKIKX0DER", "2026-11-15", "R1", T0)
    rows = [(load, store_id, "Amazon.com", f"t{i}", i, "B1", "x", 1, 0.5, 0.25) for i in range(12)]
    db.search_terms.mark_loaded(
        store_id,
        "ATVPDKIKX0DER",
        "2026-11-15",
        "2026-11-21",
        report_id="R1",
        status="DONE",
        row_count=12,
        at=T0,
        load_id=load,
        rows=rows,
    )
    result = db.export("brand-analytics", [store_id], since=None, size=5)
    assert [len(b) for b in result.batches] == [5, 5, 2]
    exported = run_export(config_with("acme-us"), db, "ba", [], datetime(2026, 11, 16, tzinfo=UTC))
    assert list(exported.batches) == []
    with pytest.raises(UsageError):
        run_export(config_with("acme-us"), db, "no-such-dataset", [], None)
