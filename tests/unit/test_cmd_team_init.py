"""`soldscope team init`: prepares the team database, idempotently, and says what it did."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import make_harness
from tests.pg import Cluster

from soldscope_cli.db.postgres.migrations import MIGRATIONS

NAMES = [m.name for m in MIGRATIONS]


def test_init_applies_the_migrations_once_and_names_the_version(
    tmp_path: Path, pg_cluster: Cluster, invoke: Callable[..., Any]
) -> None:
    url = pg_cluster.fresh_database(template=None)
    h = make_harness(tmp_path, env={"SOLDSCOPE_DATABASE_URL": url})
    first = invoke(h, "team", "init")
    assert first.exit_code == 0, h.stderr
    assert h.stdout.splitlines() == [
        f"Prepared {url}: applied {len(NAMES)} migration(s): {', '.join(NAMES)}.",
        f"Schema version: {NAMES[-1]}",
    ]
    again = invoke(h, "team", "init", "--json")
    assert again.exit_code == 0
    assert json.loads(h.stdout) == {
        "database": url,
        "applied": [],
        "schema_version": NAMES[-1],
        "current": True,
    }
    invoke(h, "team", "init")
    assert h.stdout.startswith(f"{url} is already prepared: nothing to apply.")


def test_init_from_the_config_file_url(
    tmp_path: Path, pg_cluster: Cluster, invoke: Callable[..., Any]
) -> None:
    url = pg_cluster.fresh_database(template=None)
    h = make_harness(tmp_path)
    h.ctx.paths.config_dir.mkdir(parents=True)
    h.ctx.paths.config_file.write_text(f'[database]\nurl = "{url}"\n')
    assert invoke(h, "team", "init").exit_code == 0
    assert f"Schema version: {NAMES[-1]}" in h.stdout


def test_init_without_a_url_is_a_usage_error(tmp_path: Path, invoke: Callable[..., Any]) -> None:
    h = make_harness(tmp_path)
    result = invoke(h, "team", "init")
    assert result.exit_code == 2
    assert "no PostgreSQL database is configured" in h.stderr
    assert "SOLDSCOPE_DATABASE_URL" in h.stderr


def test_init_against_an_unreachable_server_exits_74_without_the_password(
    tmp_path: Path, invoke: Callable[..., Any]
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"postgresql://ada:topsecret-pw@127.0.0.1:{port}/fleet"
    h = make_harness(tmp_path, env={"SOLDSCOPE_DATABASE_URL": url})
    result = invoke(h, "team", "init")
    assert result.exit_code == 74
    assert "topsecret-pw" not in h.stderr + h.stdout
    assert f"postgresql://ada:***@127.0.0.1:{port}/fleet" in h.stderr


def test_debug_output_never_shows_the_password(tmp_path: Path) -> None:
    """--debug prints the traceback: the URL's password appears nowhere in it."""
    import os
    import subprocess
    import sys

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOLDSCOPE_")}
    env.update(
        SOLDSCOPE_CONFIG_DIR=str(tmp_path / "c"),
        SOLDSCOPE_DATA_DIR=str(tmp_path / "d"),
        SOLDSCOPE_DATABASE_URL=f"postgresql://ada:debug-secret-pw@127.0.0.1:{port}/fleet",
    )
    done = subprocess.run(
        [sys.executable, "-m", "soldscope_cli", "--debug", "team", "init"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "DatabaseUnavailable" in done.stderr and "ada:***@" in done.stderr
    assert "debug-secret-pw" not in done.stderr + done.stdout


def test_a_role_that_may_not_create_tables_gets_one_line(
    tmp_path: Path, pg_cluster: Cluster, invoke: Callable[..., Any]
) -> None:
    url = pg_cluster.fresh_database(template=None)
    pg_cluster.admin(
        "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'reader')"
        " THEN CREATE ROLE reader LOGIN; END IF; END $$"
    )
    reader = url.replace("postgres@", "reader@")
    h = make_harness(tmp_path, env={"SOLDSCOPE_DATABASE_URL": reader})
    result = invoke(h, "team", "init")
    assert result.exit_code == 74
    [line, *_] = h.stderr.splitlines()
    assert line.startswith(f"error: cannot migrate the PostgreSQL database {reader}:"), h.stderr
    assert "permission denied" in line
