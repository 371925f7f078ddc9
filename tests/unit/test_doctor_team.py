"""doctor's team database check: reachable, prepared, current; no line for a SQLite home."""

from __future__ import annotations

import socket
from pathlib import Path

from tests.pg import Cluster
from tests.unit.test_doctor import inputs

from soldscope_cli.db.postgres.engine import Database
from soldscope_cli.db.postgres.migrations import MIGRATIONS
from soldscope_cli.doctor.model import Level
from soldscope_cli.doctor.runner import run_doctor, team_database


def results(tmp_path: Path, env: dict[str, str]) -> list[tuple[str, Level, str, str | None]]:
    found = run_doctor(inputs(tmp_path, env=env), checks=[team_database])
    return [(r.id, r.status, r.detail, r.fix) for r in found]


def test_a_sqlite_home_gets_no_team_line(tmp_path: Path) -> None:
    assert results(tmp_path, {}) == []


def test_a_prepared_database_is_current(tmp_path: Path, pg_url: str) -> None:
    [(check_id, level, detail, _)] = results(tmp_path, {"SOLDSCOPE_DATABASE_URL": pg_url})
    assert (check_id, level) == ("team-database", Level.OK)
    assert detail == f"{pg_url}: reachable, schema version {MIGRATIONS[-1].name} (current)"


def test_an_unprepared_or_old_database_says_to_run_team_init(
    tmp_path: Path, pg_cluster: Cluster
) -> None:
    url = pg_cluster.fresh_database(template=None)
    [(_, level, detail, fix)] = results(tmp_path, {"SOLDSCOPE_DATABASE_URL": url})
    assert (level, fix) == (Level.FAIL, "run `soldscope team init`")
    assert "not prepared" in detail
    older = Database(url, MIGRATIONS[:2])
    older.migrate()
    older.close()
    [(_, level, detail, fix)] = results(tmp_path, {"SOLDSCOPE_DATABASE_URL": url})
    assert (level, fix) == (Level.FAIL, "run `soldscope team init`")
    assert f"{len(MIGRATIONS) - 2} migration(s) to apply" in detail


def test_an_unreachable_server_fails_without_the_password(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"postgresql://ada:doctor-secret@127.0.0.1:{port}/fleet"
    [(_, level, detail, _)] = results(tmp_path, {"SOLDSCOPE_DATABASE_URL": url})
    assert level == Level.FAIL and "doctor-secret" not in detail
    assert detail.startswith("cannot connect to the PostgreSQL database postgresql://ada:***@")


def test_in_team_mode_the_stores_line_reads_the_server_and_sqlite_is_skipped(
    tmp_path: Path, pg_url: str
) -> None:
    from tests.unit.test_doctor import NOW, by_id, record, write_config

    from soldscope_cli.db.model import CheckRecord
    from soldscope_cli.doctor.runner import database, stores
    from soldscope_cli.fleet.config import Config
    from soldscope_cli.fleet.team import to_registry

    write_config(tmp_path, Config(stores={"acme-us": record("acme-us")}))
    db = Database(pg_url)
    # In team mode the stores are the registry's (config.toml's are not read).
    db.registry.save(to_registry(record("acme-us")), NOW)
    db.record_check(
        CheckRecord("acme-us", NOW, "validate", "problem", "invalid_grant", "revoked", "r-1")
    )
    db.close()
    env = {"SOLDSCOPE_DATABASE_URL": pg_url}
    found = by_id(run_doctor(inputs(tmp_path, env=env), checks=[database, stores]))
    assert found["database"].status is Level.SKIP
    assert found["store:acme-us"].status is Level.FAIL, found
    assert "invalid_grant" in found["store:acme-us"].detail
