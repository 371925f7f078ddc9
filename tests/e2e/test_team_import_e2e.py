"""`soldscope team import` end to end: a SQLite home moved into a team database, used by another host."""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import psycopg
import pytest
from tests.e2e.conftest import SOLDSCOPE, Cli, connect_sellers, simulator_env
from tests.pg import Cluster
from tests.prerequisites import require_soldscope

from soldscope_cli.fleet.sealed import new_key_text
from soldscope_cli.simulator import Simulator, parse_scenario

pytestmark = pytest.mark.e2e

SELLERS = {"north-us": "A1IMPORTNORTH01", "south-us": "A2IMPORTSOUTH02"}


def scenario() -> dict[str, Any]:
    return {
        "reports": {"polls_in_queue": 0, "polls_in_progress": 0},
        "sellers": [
            {
                "selling_partner_id": seller,
                "region": "na",
                "marketplaces": ["US"],
                "inventory_items": 25,
                "transactions": 40,
                "search_terms_rows": 200,
            }
            for seller in SELLERS.values()
        ],
    }


def pg(url: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return [tuple(r) for r in conn.execute(sql.encode()).fetchall()]


def test_a_home_moved_into_team_mode_is_the_fleet_of_another_host(
    tmp_path: Path, pg_cluster: Cluster
) -> None:
    require_soldscope()
    url = pg_cluster.fresh_database(template=None)
    with Simulator(parse_scenario(scenario())) as sim:
        env = simulator_env(sim)  # a SQLite home, file secrets
        old = Cli(tmp_path / "old-home", dict(env))
        tokens = connect_sellers(old, sim, SELLERS)
        synced = old.run("sync", "--json", timeout=120)
        assert synced.returncode == 0, synced.stderr
        # The home keeps the client secret and the date it was set; both move to the team.
        app = sim.scenario.app
        done = old.run(
            "app", "set", "--app-id", app.application_id, "--client-id", app.client_id,
            "--client-secret-stdin", input=app.client_secret,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        config = tomllib.loads((old.home / "config" / "config.toml").read_text())
        set_at = config["app"]["client_secret_set_at"]
        local_history = json.loads(old.run("log", "north-us", "--json").stdout)

        team_env = {
            "SOLDSCOPE_DATABASE_URL": url,
            "SOLDSCOPE_SECRETS": "database",
            "SOLDSCOPE_SECRETS_KEY": new_key_text(),
        }
        # Without --from-secrets the home's backend is config.toml's (none: the keyring).
        wrong = old.run(
            "team",
            "import",
            env={**team_env, "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"},
        )
        assert wrong.returncode == 2, wrong.stderr
        assert "no refresh token for 2 stores (north-us, south-us)" in wrong.stderr
        assert "--from-secrets" in wrong.stderr
        assert pg(url, "SELECT to_regclass('stores')") == [(None,)]
        # A home kept in a file (SOLDSCOPE_SECRETS=file) on a machine without a keyring: the
        # hint names the option that reads it, and works as printed.
        file_env = {
            **team_env,
            "SOLDSCOPE_SECRETS": "file",
            "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        }
        looped = old.run("team", "import", "--dry-run", env=file_env)
        assert looped.returncode == 2, looped.stderr
        assert "SOLDSCOPE_SECRETS=file" not in looped.stderr, looped.stderr
        [hinted] = re.findall(r"`soldscope ([^`]+)`", looped.stderr)
        assert hinted == "team import --from-secrets file --dry-run", looped.stderr
        followed = old.run(*shlex.split(hinted), env=file_env)
        assert followed.returncode == 0, followed.stderr
        assert pg(url, "SELECT to_regclass('stores')") == [(None,)]

        dry = old.run(
            "team", "import", "--from-secrets", "file", "--dry-run", "--json", env=team_env
        )
        assert dry.returncode == 0, dry.stderr
        assert pg(url, "SELECT to_regclass('stores')") == [(None,)]

        moved = old.run("team", "import", "--from-secrets", "file", "--json", env=team_env)
        assert moved.returncode == 0, moved.stderr
        report = json.loads(moved.stdout)
        assert [s["name"] for s in report["stores"]] == sorted(SELLERS)
        assert report["totals"] == {**json.loads(dry.stdout)["totals"]}
        for store in report["stores"]:
            assert store["data"]["inventory"] == 25 and store["data"]["finances"] > 0
            assert store["secret"] == "copied"
        # The tokens are sealed in the database, never in clear.
        for token in tokens.values():
            assert not any(token in str(v) for (v,) in pg(url, "SELECT ciphertext FROM secrets"))
        assert "team import" not in old.run("list", env=team_env).stderr  # no "local only" note

        again = old.run("team", "import", "--from-secrets", "file", env=team_env)
        assert again.returncode == 2
        assert "already has 2 of these stores" in again.stderr

        # Another host: nothing local, only the database URL and the key.
        host = Cli(tmp_path / "host-b", {**env, **team_env})
        listed = host.run("list", "--json")
        assert listed.returncode == 0, listed.stderr
        assert [r["name"] for r in json.loads(listed.stdout)] == sorted(SELLERS)
        checked = host.run("validate", "--json")
        assert checked.returncode == 0, checked.stderr
        assert {r["status"] for r in json.loads(checked.stdout)} == {"active"}
        # The secret's rotation date came with it: another host's reminder knows it.
        secretless = {k: v for k, v in host.env.items() if k != "SOLDSCOPE_LWA_CLIENT_SECRET"}
        shown = Cli(tmp_path / "host-b", secretless).run("app", "show", "--json")
        assert json.loads(shown.stdout)["client_secret"]["set_at"] == set_at, shown.stdout
        resynced = host.run("sync", "--json", timeout=120)
        assert resynced.returncode == 0, resynced.stderr
        assert [s["rows_added"] for s in json.loads(resynced.stdout)["stores"]] == [0, 0]
        history = json.loads(host.run("log", "north-us", "--json").stdout)
        kinds = [e["kind"] for e in history]
        assert "imported" in kinds
        assert [(e["at"], e["kind"]) for e in local_history] == [
            (e["at"], e["kind"]) for e in history if e["kind"] != "imported"
        ][-len(local_history) :]


def big_home(cli: Cli, rows: int) -> None:
    """A SQLite home with one store and a long Brand Analytics week, written directly."""
    from datetime import UTC, datetime

    from soldscope_cli.db.database import MIGRATIONS, Database

    at = datetime(2026, 11, 1, tzinfo=UTC)
    (cli.home / "config").mkdir(parents=True)
    (cli.home / "config" / "config.toml").write_text(
        '[secrets]\nnamespace = "bighome01"\n\n[stores.big-us]\nregion = "na"\n'
        'marketplaces = ["US"]\nauthorized_at = 2026-11-01T00:00:00Z\n'
    )
    secrets = cli.home / "data" / "secrets.json"
    secrets.parent.mkdir(mode=0o700)
    secrets.write_text(json.dumps({"bighome01/refresh-token:big-us": "Atzr|big-home-token"}))
    secrets.chmod(0o600)
    db = Database(cli.home / "data" / "soldscope.db", MIGRATIONS)
    sid = db.connect_store("big-us", at, event="connected", selling_partner_id="A9", region="na")
    load = db.search_terms.start_load(sid, "ATVPDKIKX0DER", "2026-10-25", "R", at)
    for start in range(0, rows, 50_000):
        db.search_terms.add_rows(
            [
                (load, sid, "Books", f"term {i}", i, "B0ASIN", "An item", 1, 0.5, 0.25)
                for i in range(start, min(rows, start + 50_000))
            ]
        )
    db.search_terms.mark_loaded(
        sid, "ATVPDKIKX0DER", "2026-10-25", "2026-10-31", report_id="R", status="DONE",
        row_count=rows, at=at, load_id=load,
    )  # fmt: skip
    db.close()


def test_ctrl_c_mid_copy_leaves_the_team_database_as_it_was(
    tmp_path: Path, pg_cluster: Cluster
) -> None:
    import signal
    import subprocess
    import time

    require_soldscope()
    url = pg_cluster.fresh_database()
    cli = Cli(
        tmp_path / "big",
        {"SOLDSCOPE_DATABASE_URL": url, "SOLDSCOPE_SECRETS": "file"},
    )
    big_home(cli, 800_000)
    importing = subprocess.Popen(
        [str(SOLDSCOPE), "team", "import", "--from-secrets", "file"],
        env=cli.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        copying = pg(
            url,
            "SELECT COUNT(*) FROM pg_stat_activity WHERE query LIKE 'COPY ba_search_terms_rows%'"
            " AND state = 'active'",
        )
        if copying[0][0]:
            break
        assert importing.poll() is None, "the import finished before it could be interrupted"
        time.sleep(0.01)
    else:
        importing.kill()
        pytest.fail("the import never started copying the search terms")
    importing.send_signal(signal.SIGINT)
    _, err = importing.communicate(timeout=30)
    assert importing.returncode == 130, err
    assert "interrupted" in err
    assert pg(url, "SELECT COUNT(*) FROM stores") == [(0,)]
    assert pg(url, "SELECT COUNT(*) FROM ba_search_terms_rows") == [(0,)]
    assert pg(url, "SELECT COUNT(*) FROM secrets") == [(0,)]
    stored = json.loads((cli.home / "data" / "secrets.json").read_text())
    assert list(stored) == ["bighome01/refresh-token:big-us"]  # the team's key was not written
