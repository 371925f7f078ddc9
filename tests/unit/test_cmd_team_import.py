"""`soldscope team import`: wiring, the text report, refusals with their exit codes."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.conftest import make_harness
from tests.pg import Cluster
from tests.serve_process import free_port

from soldscope_cli.db.postgres.engine import Database as TeamDatabase

TOKEN = "Atzr|IwEBIimport-command-token-01"
NOW = datetime(2026, 11, 2, tzinfo=UTC)
CONFIG = """\
[secrets]
namespace = "homeaaa1"

[stores.acme-us]
region = "na"
marketplaces = ["US"]
authorized_at = 2026-11-01T00:00:00Z
"""


def file_home(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.toml").write_text(CONFIG)
    (tmp_path / "data").mkdir(mode=0o700)
    secrets = tmp_path / "data" / "secrets.json"
    secrets.write_text(json.dumps({"homeaaa1/refresh-token:acme-us": TOKEN}))
    secrets.chmod(0o600)


def test_import_reports_each_store_and_leaves_config_toml_alone(
    tmp_path: Path, pg_cluster: Cluster, invoke: Callable[..., Any]
) -> None:
    file_home(tmp_path)
    url = pg_cluster.fresh_database()
    h = make_harness(tmp_path, env={"SOLDSCOPE_DATABASE_URL": url, "SOLDSCOPE_SECRETS": "file"})
    result = invoke(h, "team", "import", "--from-secrets", "file")
    assert result.exit_code == 0, h.stderr
    assert h.stdout.splitlines() == [
        f"Imported 1 store into {url}:",
        "  acme-us  history 0, cursors 0, inventory 0, finances 0, brand analytics 0 (0 weeks),"
        " refresh token copied",
        "Total: 1 store, 0 history rows, 0 data rows, 1 secret.",
    ]
    assert "config.toml was left as it was" in h.stderr
    assert (tmp_path / "config" / "config.toml").read_text() == CONFIG
    team = TeamDatabase(url)
    try:
        namespace = team.registry.namespace()
        assert [r.name for r in team.registry.records()] == ["acme-us"]
    finally:
        team.close()
    stored = json.loads((tmp_path / "data" / "secrets.json").read_text())
    assert stored[f"{namespace}/refresh-token:acme-us"] == TOKEN
    assert TOKEN not in h.stdout + h.stderr


def test_import_without_a_database_url_is_a_usage_error(
    tmp_path: Path, invoke: Callable[..., Any]
) -> None:
    file_home(tmp_path)
    h = make_harness(tmp_path)
    assert invoke(h, "team", "import").exit_code == 2
    assert "no PostgreSQL database is configured" in h.stderr


def test_an_unknown_source_backend_is_a_usage_error(
    tmp_path: Path, invoke: Callable[..., Any]
) -> None:
    h = make_harness(tmp_path, env={"SOLDSCOPE_DATABASE_URL": "postgresql://x@127.0.0.1/db"})
    assert invoke(h, "team", "import", "--from-secrets", "vault").exit_code == 2
    assert "--from-secrets: 'vault' is not a secrets backend" in h.stderr


def test_an_unreachable_database_exits_74_with_nothing_written(
    tmp_path: Path, invoke: Callable[..., Any]
) -> None:
    file_home(tmp_path)
    url = f"postgresql://soldscope@127.0.0.1:{free_port()}/fleet"
    h = make_harness(tmp_path, env={"SOLDSCOPE_DATABASE_URL": url, "SOLDSCOPE_SECRETS": "file"})
    result = invoke(h, "team", "import", "--from-secrets", "file")
    assert result.exit_code == 74
    assert "cannot connect to the PostgreSQL database" in h.stderr
    assert len(h.stderr.strip().splitlines()) == 1
    assert json.loads((tmp_path / "data" / "secrets.json").read_text()) == {
        "homeaaa1/refresh-token:acme-us": TOKEN
    }


def test_a_home_on_the_database_backend_moves_its_sealed_tokens_into_the_team_database(
    tmp_path: Path, pg_cluster: Cluster, invoke: Callable[..., Any]
) -> None:
    from soldscope_cli.db.database import MIGRATIONS, Database
    from soldscope_cli.fleet.database_secrets import DatabaseSecretStore
    from soldscope_cli.fleet.namespaces import namespaced_key
    from soldscope_cli.fleet.sealed import KEY_ENV, new_key_text, parse_key
    from soldscope_cli.fleet.secrets import token_store

    file_home(tmp_path)
    (tmp_path / "data" / "secrets.json").unlink()
    key = new_key_text()
    local = Database(tmp_path / "data" / "soldscope.db", MIGRATIONS)
    local.connect_store("acme-us", NOW, event="connected", selling_partner_id="A1", region="na")
    sealed = DatabaseSecretStore(
        lambda: local.secret_rows, lambda: parse_key(key, KEY_ENV), "local", token_store
    )
    sealed.set(namespaced_key("homeaaa1", "refresh-token:acme-us"), TOKEN)
    local.close()

    url = pg_cluster.fresh_database()
    env = {"SOLDSCOPE_DATABASE_URL": url, "SOLDSCOPE_SECRETS": "database", KEY_ENV: key}
    h = make_harness(tmp_path, env=env)
    result = invoke(h, "team", "import", "--from-secrets", "database", "--json")
    assert result.exit_code == 0, h.stderr
    assert json.loads(h.stdout)["stores"][0]["rows"]["events"] == 1
    team = TeamDatabase(url)
    try:
        shared = DatabaseSecretStore(
            lambda: team.secret_rows, lambda: parse_key(key, KEY_ENV), "team", token_store
        )
        name = namespaced_key(team.registry.namespace(), "refresh-token:acme-us")
        assert shared.get(name) == TOKEN  # sealed for the team's connection id
    finally:
        team.close()


def test_on_a_terminal_the_report_is_a_table_that_fits_80_columns(
    tmp_path: Path, pg_cluster: Cluster
) -> None:
    import os

    from tests.prerequisites import require_soldscope
    from tests.terminal import run_on_pty

    require_soldscope()
    file_home(tmp_path)
    url = pg_cluster.fresh_database()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOLDSCOPE_")}
    env.update(
        SOLDSCOPE_CONFIG_DIR=str(tmp_path / "config"),
        SOLDSCOPE_DATA_DIR=str(tmp_path / "data"),
        SOLDSCOPE_DATABASE_URL=url,
        SOLDSCOPE_SECRETS="file",
        NO_COLOR="1",
    )
    run = run_on_pty(["team", "import", "--from-secrets", "file", "--dry-run"], env, columns=80)
    assert run.returncode == 0, run.text
    lines = run.lines
    assert all(len(line) <= 80 for line in lines), run.text
    header = next(line for line in lines if "Store" in line)
    assert "History" in header and "Brand analytics" in header
    row = next(line for line in lines if "acme-us" in line)
    assert "to copy" in row  # one row per store, its values whole
    assert any(line.startswith("Total: 1 store") for line in lines)
