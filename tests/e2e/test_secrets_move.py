"""`soldscope secrets move`: every secret of a home moves to another backend, and the hints that
send a user there work as printed."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.conftest import (
    SOLDSCOPE,
    Cli,
    connect_sellers,
    run_in_keyring_session,
    simulator_env,
)
from tests.prerequisites import require, require_soldscope

from soldscope_cli.fleet.sealed import new_key_text
from soldscope_cli.simulator import Simulator, parse_scenario

pytestmark = pytest.mark.e2e

SELLERS = {"north-us": "A1MOVENORTH001", "south-us": "A1MOVESOUTH002"}


def scenario() -> Any:
    return parse_scenario(
        {
            "sellers": [
                {"selling_partner_id": seller, "region": "na", "marketplaces": ["US"]}
                for seller in SELLERS.values()
            ]
        }
    )


def file_home(cli: Cli, sim: Simulator) -> dict[str, str]:
    """A home whose secrets are in the plaintext file: the client secret and two tokens."""
    app = sim.scenario.app
    done = cli.run(
        "app", "set", "--app-id", app.application_id, "--client-id", app.client_id,
        "--client-secret-stdin", input=app.client_secret,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return connect_sellers(cli, sim, SELLERS)


def test_a_file_home_moves_to_the_database_backend(tmp_path: Path) -> None:
    require_soldscope()
    with Simulator(scenario()) as sim:
        env = simulator_env(sim)  # SOLDSCOPE_SECRETS=file
        env.pop("SOLDSCOPE_LWA_CLIENT_SECRET")
        cli = Cli(tmp_path, env)
        tokens = file_home(cli, sim)
        secrets_file = tmp_path / "data" / "secrets.json"
        before = secrets_file.read_text()
        key = {"SOLDSCOPE_SECRETS_KEY": new_key_text()}

        dry = cli.run("secrets", "move", "--to", "database", "--dry-run", env=key)
        assert dry.returncode == 0, dry.stderr
        assert (
            "Would move 2 refresh tokens and the client secret from the file backend to the database"
            in dry.stdout
        )
        assert secrets_file.read_text() == before
        assert "backend" not in (tmp_path / "config" / "config.toml").read_text()

        # No key for the database backend: nothing moves, the file is as it was.
        refused = cli.run("secrets", "move", "--to", "database")
        assert refused.returncode == 2, refused.stderr
        assert "SOLDSCOPE_SECRETS_KEY" in refused.stderr
        assert secrets_file.read_text() == before

        moved = cli.run("secrets", "move", "--to", "database", "--json", env=key)
        assert moved.returncode == 0, moved.stderr
        assert json.loads(moved.stdout) == {
            "from": "file",
            "to": "database",
            "dry_run": False,
            "moved": [
                "refresh token of north-us",
                "refresh token of south-us",
                "the client secret",
            ],
            "left_behind": [],
        }
        # SOLDSCOPE_SECRETS=file is still set here: the warning says to unset it.
        assert "SOLDSCOPE_SECRETS=file is set here and wins over config.toml" in moved.stderr
        for token in tokens.values():
            assert token not in secrets_file.read_text()
            assert token not in moved.stdout + moved.stderr
        assert sim.scenario.app.client_secret not in secrets_file.read_text()
        assert 'backend = "database"' in (tmp_path / "config" / "config.toml").read_text()

        # Without SOLDSCOPE_SECRETS the home now uses the database backend: everything works.
        moved_env = {k: v for k, v in cli.env.items() if k != "SOLDSCOPE_SECRETS"}
        after = Cli(tmp_path, {**moved_env, **key})
        checked = after.run("validate", "--json")
        assert checked.returncode == 0, checked.stderr
        assert [r["status"] for r in json.loads(checked.stdout)] == ["active", "active"]
        shown = json.loads(after.run("app", "show", "--json").stdout)["client_secret"]
        assert shown["stored"] and shown["source"] == "database"

        again = after.run("secrets", "move", "--to", "database")
        assert again.returncode == 2
        assert "the secrets are in the database backend already" in again.stderr


# Inside a private D-Bus session with gnome-keyring unlocked by a throwaway password: a home kept
# in a file follows doctor's advice to prefer the keyring, command for command as printed.
SCRIPT = r"""
set -e
echo -n throwaway | gnome-keyring-daemon --unlock --components=secrets >/dev/null
"$SOLDSCOPE" doctor --offline --json > "$ROOT/doctor-before.json" || true
"$PYTHON" - "$ROOT/doctor-before.json" > "$ROOT/fix.txt" <<'PY'
import json, re, sys
[check] = [c for c in json.load(open(sys.argv[1])) if c["id"] == "secret-store"]
print(check["fix"])
PY
# Every `soldscope ...` command of the fix, run as printed, then what the fix says to do next.
"$PYTHON" - "$ROOT/fix.txt" > "$ROOT/fix-commands.txt" <<'PY'
import re, sys
for command in re.findall(r"`soldscope ([^`]+)`", open(sys.argv[1]).read()):
    print(command)
PY
while read -r line; do
  eval "\"\$SOLDSCOPE\" $line" > "$ROOT/fix-output.txt"
done < "$ROOT/fix-commands.txt"
unset SOLDSCOPE_SECRETS
"$SOLDSCOPE" validate --json > "$ROOT/validate-after.json"
"$SOLDSCOPE" doctor --offline --json > "$ROOT/doctor-after.json" || true
"""


def test_doctor_advice_for_a_file_home_moves_its_secrets_to_the_keyring(tmp_path: Path) -> None:
    require(
        bool(shutil.which("dbus-run-session") and shutil.which("gnome-keyring-daemon")),
        "needs dbus-run-session and gnome-keyring-daemon (apt-get install dbus gnome-keyring)",
    )
    require_soldscope()
    with Simulator(scenario()) as sim:
        env = simulator_env(sim)
        env.pop("SOLDSCOPE_LWA_CLIENT_SECRET")
        cli = Cli(tmp_path / "agency", env)
        tokens = file_home(cli, sim)
        base = {k: v for k, v in cli.env.items() if k != "PYTHON_KEYRING_BACKEND"}
        run_env = {
            **base,
            "SOLDSCOPE": str(SOLDSCOPE),
            "PYTHON": sys.executable,
            "ROOT": str(tmp_path),
        }
        run_in_keyring_session(tmp_path, SCRIPT, run_env)
        fix = (tmp_path / "fix.txt").read_text()
        assert "`soldscope secrets move --to keyring`" in fix, fix
        checked = json.loads((tmp_path / "validate-after.json").read_text())
        assert [r["status"] for r in checked] == ["active", "active"]
        doctor = {r["id"]: r for r in json.loads((tmp_path / "doctor-after.json").read_text())}
        assert doctor["secret-store"]["status"] == "ok", doctor["secret-store"]
        assert "keyring" in doctor["secret-store"]["detail"]
        stored = (tmp_path / "agency" / "data" / "secrets.json").read_text()
        for token in tokens.values():
            assert token not in stored
        assert os.stat(tmp_path / "agency" / "config" / "config.toml").st_mode & 0o077 == 0
