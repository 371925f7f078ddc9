"""`soldscope team import` end to end: a SQLite home moved into a team database, used by another host."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest
from tests.e2e.conftest import SOLDSCOPE, Cli, simulator_env
from tests.pg import Cluster

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
    if not SOLDSCOPE.exists():
        pytest.skip(f"the soldscope command is not installed at {SOLDSCOPE}")
    url = pg_cluster.fresh_database(template=None)
    with Simulator(parse_scenario(scenario())) as sim:
        env = simulator_env(sim)  # a SQLite home, file secrets
        old = Cli(tmp_path / "old-home", dict(env))
        tokens = {}
        for name, seller in SELLERS.items():
            tokens[name] = sim.authorize(seller)
            done = old.run(
                "connect", name, "--marketplace", "US", "--selling-partner-id", seller,
                "--refresh-token-stdin", input=tokens[name] + "\n",
            )  # fmt: skip
            assert done.returncode == 0, done.stderr
        synced = old.run("sync", "--json", timeout=120)
        assert synced.returncode == 0, synced.stderr
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
        resynced = host.run("sync", "--json", timeout=120)
        assert resynced.returncode == 0, resynced.stderr
        assert [s["rows_added"] for s in json.loads(resynced.stdout)["stores"]] == [0, 0]
        history = json.loads(host.run("log", "north-us", "--json").stdout)
        kinds = [e["kind"] for e in history]
        assert "imported" in kinds
        assert [(e["at"], e["kind"]) for e in local_history] == [
            (e["at"], e["kind"]) for e in history if e["kind"] != "imported"
        ][-len(local_history) :]
