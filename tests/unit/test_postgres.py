"""The PostgreSQL engine's own parts: migrations, types, URLs, connection errors, engine choice."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from tests.conftest import make_harness, query
from tests.pg import Cluster

from soldscope_cli.db.postgres.connect import DatabaseUnavailable
from soldscope_cli.db.postgres.engine import Database
from soldscope_cli.db.postgres.migrations import MIGRATIONS
from soldscope_cli.db.url import is_postgres_url, masked_url, url_password
from soldscope_cli.errors import ConfigError, ExitCode
from soldscope_cli.fleet.config import Config, dump_config, parse_config


def test_migrations_apply_once_and_are_recorded(pg_cluster: Cluster) -> None:
    url = pg_cluster.fresh_database(template=None)
    first = Database(url)
    assert first.pending_migrations() == [m.name for m in MIGRATIONS]
    assert first.migrate() == [m.name for m in MIGRATIONS]
    assert first.migrate() == []
    first.close()
    again = Database(url)
    assert again.migrate() == [] and again.pending_migrations() == []
    assert again.applied_migrations() == sorted(m.name for m in MIGRATIONS)
    assert again.schema_version == MIGRATIONS[-1].name
    again.close()


def test_a_migration_added_to_the_list_is_applied_to_an_existing_database(pg_url: str) -> None:
    from soldscope_cli.db.postgres.migrations import Migration

    newer = Database(pg_url, [*MIGRATIONS, Migration("9999_late", "CREATE TABLE late (x int)")])
    assert newer.pending_migrations() == ["9999_late"]
    assert newer.migrate() == ["9999_late"]
    assert query(newer, "SELECT COUNT(*) FROM late") == [(0,)]
    newer.close()


def column_types(db: Database, table: str) -> dict[str, str]:
    rows = db.query(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s",
        (table,),
    )
    return {str(name): str(kind) for name, kind in rows}


def test_the_tables_have_the_sqlite_names_and_proper_types(pg_url: str) -> None:
    db = Database(pg_url)
    db.connection()
    tables = {
        str(r[0])
        for r in db.query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        )
    }
    assert {
        "stores",
        "checks",
        "events",
        "sync_runs",
        "sync_state",
        "inventory_summaries",
        "financial_transactions",
        "ba_search_terms",  # the view
        "ba_search_terms_rows",
        "ba_search_terms_weeks",
        "ba_search_terms_loads",
        "invitations",
        "consent_states",
        "schema_migrations",
    } <= tables
    money = column_types(db, "financial_transactions")
    assert money["total_amount"] == "numeric" and money["total_currency"] == "text"
    assert money["raw"] == "jsonb" and money["posted_date"] == "timestamp with time zone"
    assert column_types(db, "checks")["checked_at"] == "timestamp with time zone"
    assert column_types(db, "events")["detail"] == "jsonb"
    assert column_types(db, "inventory_summaries")["store_id"] == "bigint"
    assert column_types(db, "ba_search_terms_weeks")["week_start"] == "date"
    keys = db.query(
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid"
        " AND a.attnum = ANY(i.indkey) WHERE i.indrelid = 'inventory_summaries'::regclass"
        " AND i.indisprimary ORDER BY array_position(i.indkey, a.attnum)"
    )
    assert [k[0] for k in keys] == ["store_id", "marketplace_id", "seller_sku"]
    db.close()


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://ada:s3cr%40t@db:5432/fleet", "postgresql://ada:***@db:5432/fleet"),
        ("postgres://db/fleet?password=hunter22&sslmode=require",
         "postgres://db/fleet?password=***&sslmode=require"),
        ("postgresql://ada@db/fleet", "postgresql://ada@db/fleet"),
    ],
)  # fmt: skip
def test_urls_are_shown_without_their_password(url: str, shown: str) -> None:
    assert masked_url(url) == shown
    assert is_postgres_url(url)


def test_an_unreachable_server_is_one_line_without_the_password() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"postgresql://ada:pa55word-xyz@127.0.0.1:{port}/fleet"
    assert url_password(url) == "pa55word-xyz"
    with pytest.raises(DatabaseUnavailable) as info:
        Database(url, connect_timeout=2).connection()
    message = info.value.message
    assert "pa55word-xyz" not in message and "\n" not in message
    assert message.startswith(
        f"cannot connect to the PostgreSQL database postgresql://ada:***@127.0.0.1:{port}/fleet:"
    )
    assert info.value.exit_code == ExitCode.LOCAL_IO


def test_database_url_in_config_is_parsed_written_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    config = parse_config(path, '[database]\nurl = "postgresql://ada@db/fleet"\n')
    assert config.database_url == "postgresql://ada@db/fleet"
    assert parse_config(path, dump_config(config)).database_url == config.database_url
    with pytest.raises(ConfigError) as info:
        parse_config(path, '[state]\nretention_days = 400\n\n[database]\nurl = "mysql://db/x"\n')
    assert info.value.message.startswith(f"{path}, line 5, column 1: database url must start")
    with pytest.raises(ConfigError, match="unknown key 'host' in"):
        parse_config(path, '[database]\nhost = "db"\n')


def test_the_url_picks_the_engine_and_the_environment_wins(tmp_path: Path, pg_url: str) -> None:
    from soldscope_cli.db.sqlite.engine import Database as SqliteDatabase

    assert isinstance(make_harness(tmp_path / "a").ctx.database(), SqliteDatabase)
    team = make_harness(tmp_path / "b", env={"SOLDSCOPE_DATABASE_URL": pg_url}).ctx
    db = team.database()
    assert isinstance(db, Database) and db.url == pg_url
    assert team.state_lookup() is db
    team.close()
    with pytest.raises(ConfigError, match="SOLDSCOPE_DATABASE_URL: database url must start"):
        make_harness(tmp_path / "c", env={"SOLDSCOPE_DATABASE_URL": "sqlite:///x"}).ctx.database()
    assert Config().database_url is None


def test_two_hosts_migrating_at_once_apply_each_step_once(pg_cluster: Cluster) -> None:
    import threading

    url = pg_cluster.fresh_database(template=None)
    applied: list[list[str]] = []
    hosts = [Database(url), Database(url)]
    threads = [threading.Thread(target=lambda db=db: applied.append(db.migrate())) for db in hosts]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    finally:
        for db in hosts:
            db.close()  # from here: also closes the connections of the finished threads
    # They take turns step by step: between them every step is applied, none twice.
    assert sorted(name for names in applied for name in names) == [m.name for m in MIGRATIONS]
    assert Database(url).pending_migrations() == []


def test_secrets_are_not_in_the_schema(pg_url: str) -> None:
    db = Database(pg_url)
    columns = " ".join(
        str(r[0])
        for r in db.query(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public'"
        )
    )
    assert "token" not in columns.replace("token_hash", "") and "secret" not in columns
    db.close()
