"""The database secret backend end to end: connect, validate, sync, rotate the key, validate again.

The refresh token and the client secret must appear in no file of the home and in no database
column in clear, and no key in any output.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import tomli_w
from tests.e2e.conftest import Cli, simulator_env
from tests.prerequisites import require_soldscope

from soldscope_cli.simulator import Simulator, parse_scenario

pytestmark = pytest.mark.e2e

SELLER = "A1E2ESEAL0001"


def new_key(cli: Cli) -> str:
    done = cli.run("team", "new-key")
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def every_file(*roots: Path) -> list[Path]:
    return [p for root in roots for p in root.rglob("*") if p.is_file()]


def cells(database: Path) -> list[object]:
    conn = sqlite3.connect(database)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        # Table names come from sqlite_master itself.
        return [
            cell
            for table in tables
            for row in conn.execute(f'SELECT * FROM "{table}"')  # noqa: S608
            for cell in row
        ]
    finally:
        conn.close()


def test_database_secrets_are_sealed_and_survive_a_key_rotation(tmp_path: Path) -> None:
    require_soldscope()
    scenario = {
        "reports": {"polls_in_queue": 0, "polls_in_progress": 0},
        "sellers": [
            {
                "selling_partner_id": SELLER,
                "region": "na",
                "marketplaces": ["US"],
                "inventory_items": 5,
                "transactions": 5,
                "search_terms_rows": 10,
            }
        ],
    }
    with Simulator(parse_scenario(scenario)) as sim:
        env = simulator_env(sim, SOLDSCOPE_SECRETS="database")
        env.pop("SOLDSCOPE_LWA_CLIENT_SECRET")  # the client secret is stored, sealed, too
        client_secret = sim.scenario.app.client_secret
        cli = Cli(tmp_path, env)
        outputs: list[str] = []

        def run(*args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
            done = cli.run(*args, **kwargs)  # type: ignore[arg-type]
            outputs.extend((done.stdout, done.stderr))
            return done

        token = sim.authorize(SELLER)
        connect = ("connect", "acme-us", "--marketplace", "US", "--selling-partner-id", SELLER)
        app = sim.scenario.app
        app_set = ("app", "set", "--app-id", app.application_id, "--client-id", app.client_id)

        # No key: a setup error, and nothing is written anywhere.
        refused = run(*app_set, "--client-secret-stdin", input=client_secret + "\n")
        assert refused.returncode == 2
        assert "needs a key" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
        assert not (tmp_path / "config").exists() and not (tmp_path / "data").exists()

        first = new_key(cli)
        with_first = {"SOLDSCOPE_SECRETS_KEY": first}
        done = run(*app_set, "--client-secret-stdin", input=client_secret + "\n", env=with_first)
        assert done.returncode == 0, done.stderr
        done = run(*connect, "--refresh-token-stdin", input=token + "\n", env=with_first)
        assert done.returncode == 0, done.stderr
        done = run("validate", "--json", env=with_first)
        assert done.returncode == 0, done.stderr
        assert [row["status"] for row in json.loads(done.stdout)] == ["active"]
        done = run("sync", "acme-us", env=with_first, timeout=120)
        assert done.returncode == 0, done.stderr

        # The wrong key: exit 2 with one line, nothing recorded.
        checks_before = len(cells(tmp_path / "data" / "soldscope.db"))
        wrong = run("validate", env={"SOLDSCOPE_SECRETS_KEY": new_key(cli)})
        assert wrong.returncode == 2
        assert "is not the key of the secrets in the database" in wrong.stderr
        assert len(cells(tmp_path / "data" / "soldscope.db")) == checks_before

        # Rotate to a second key from the environment...
        second = new_key(cli)
        done = run(
            "team",
            "rotate-key",
            "--json",
            env={**with_first, "SOLDSCOPE_NEW_SECRETS_KEY": second},
        )
        assert done.returncode == 0, done.stderr
        rotated = json.loads(done.stdout)
        assert rotated["reencrypted"] == 2  # the refresh token and the client secret
        assert set(rotated) == {"reencrypted", "old_key_id", "new_key_id"}
        assert run("validate", env=with_first).returncode == 2
        done = run("validate", "--json", env={"SOLDSCOPE_SECRETS_KEY": second})
        assert done.returncode == 0, done.stderr

        # ...then to a third one printed by a command, which [secrets] key_command then reads.
        third = new_key(cli)
        printer = tmp_path / "print_key.py"
        printer.write_text(f"print({third!r})\n")
        key_command = f"{sys.executable} {printer}"
        done = run(
            "team",
            "rotate-key",
            "--new-key-command",
            key_command,
            env={"SOLDSCOPE_SECRETS_KEY": second},
        )
        assert done.returncode == 0, done.stderr
        assert "re-encrypted 2 secrets under key" in done.stdout
        config_path = tmp_path / "config" / "config.toml"
        config = tomllib.loads(config_path.read_text())
        config["secrets"]["key_command"] = key_command
        config_path.write_text(tomli_w.dumps(config))
        done = run("validate", "--json")
        assert done.returncode == 0, done.stderr
        assert [row["status"] for row in json.loads(done.stdout)] == ["active"]
        doctor = run("doctor", "--offline")
        assert "matches the database's key check; 2 secrets stored" in doctor.stdout

        # Nowhere in clear: no file of the home, no database column, no output.
        files = every_file(tmp_path / "config", tmp_path / "data")
        assert files
        for path in files:
            raw = path.read_bytes()
            for secret in (token, client_secret, first, second, third):
                assert secret.encode() not in raw, f"{secret[:6]}… in {path}"
        for cell in cells(tmp_path / "data" / "soldscope.db"):
            text = cell.decode("latin-1") if isinstance(cell, bytes) else str(cell)
            assert token not in text and client_secret not in text
        for text in outputs:
            assert token not in text and client_secret not in text
            assert first not in text and third not in text


# A secret manager for the command backend: one file per key in a directory, every argv logged.
MANAGER = """
import json, os, sys
from pathlib import Path
root = Path(sys.argv[1])
root.mkdir(exist_ok=True)
with open(root.parent / "manager-argv.log", "a") as log:
    log.write(json.dumps(sys.argv) + "\\n")
with open(root.parent / "manager-env.log", "a") as log:
    log.write(json.dumps(dict(os.environ)) + "\\n")
op, key = sys.argv[2], sys.argv[3]
entry = root / key.replace("/", "%2F")
if op == "get":
    if not entry.exists():
        sys.exit(1)
    sys.stdout.write(entry.read_text())
elif op == "set":
    entry.write_text(sys.stdin.read())
elif op == "delete":
    if not entry.exists():
        sys.exit(1)
    entry.unlink()
"""


def test_command_backend_connects_validates_and_deletes(tmp_path: Path) -> None:
    require_soldscope()
    scenario = {"sellers": [{"selling_partner_id": SELLER, "region": "na", "marketplaces": ["US"]}]}
    script = tmp_path / "manager.py"
    script.write_text(MANAGER)
    vault = tmp_path / "vault"
    base = f"{sys.executable} {script} {vault}"
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    (config_dir / "config.toml").write_text(
        tomli_w.dumps(
            {
                "secrets": {
                    "backend": "command",
                    "get": f"{base} get soldscope/{{key}}",
                    "set": f"{base} set soldscope/{{key}}",
                    "delete": f"{base} delete soldscope/{{key}}",
                }
            }
        )
    )
    with Simulator(parse_scenario(scenario)) as sim:
        env = simulator_env(sim)
        env.pop("SOLDSCOPE_SECRETS")  # the config's backend
        cli = Cli(tmp_path, env)
        token = sim.authorize(SELLER)
        done = cli.run(
            "connect",
            "acme-us",
            "--marketplace",
            "US",
            "--selling-partner-id",
            SELLER,
            "--refresh-token-stdin",
            input=token + "\n",
        )
        assert done.returncode == 0, done.stderr
        (entry,) = vault.iterdir()  # the token alone: the client secret comes from the env
        assert entry.name.endswith("refresh-token:acme-us")
        done = cli.run("validate", "--json")
        assert done.returncode == 0, done.stderr
        assert [row["status"] for row in json.loads(done.stdout)] == ["active"]
        doctor = cli.run("doctor", "--offline")
        assert f"get: {sys.executable}" in doctor.stdout
        done = cli.run("delete", "acme-us", "--yes")
        assert done.returncode == 0, done.stderr
        assert list(vault.iterdir()) == []
        logged = (tmp_path / "manager-argv.log").read_text()
        assert token not in logged  # the value never reached a command line
        # The helper saw none of soldscope's secrets, only what a secret manager needs.
        environments = [
            json.loads(line) for line in (tmp_path / "manager-env.log").read_text().splitlines()
        ]
        assert environments
        for seen in environments:
            assert not [key for key in seen if key.startswith("SOLDSCOPE_")], sorted(seen)
            assert env["SOLDSCOPE_LWA_CLIENT_SECRET"] not in json.dumps(seen)
            assert seen["PATH"] == env.get("PATH", os.environ["PATH"])
        for path in every_file(tmp_path / "config", tmp_path / "data"):
            assert token.encode() not in path.read_bytes(), path
