"""Two homes on one real OS keyring keep their own secrets; an older home's entries are migrated."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.conftest import SOLDSCOPE, run_in_keyring_session
from tests.prerequisites import require, require_soldscope

from soldscope_cli.simulator import Simulator, parse_scenario

pytestmark = [pytest.mark.e2e, pytest.mark.keyring]

SELLER_A = "A1HOMEAAAAAAA1"
SELLER_B = "A1HOMEBBBBBBB2"

# Runs inside a private D-Bus session with gnome-keyring unlocked by a throwaway password.
SCRIPT = r"""
set -e
echo -n throwaway | gnome-keyring-daemon --unlock --components=secrets >/dev/null
in_home() { home=$1; shift; SOLDSCOPE_CONFIG_DIR="$ROOT/$home/config" SOLDSCOPE_DATA_DIR="$ROOT/$home/data" "$@"; }

# An older home (before namespaces): its entries are unprefixed, its config has no namespace.
mkdir -p "$ROOT/old/config"
cat > "$ROOT/old/config/config.toml" <<TOML
[app]
application_id = "$APP_ID"
client_id = "$CLIENT_ID"

[stores.acme]
region = "na"
marketplaces = ["US"]
selling_partner_id = "$SELLER_A"
authorized_at = 2026-11-01T00:00:00Z
TOML
"$PYTHON" -c 'import keyring, os; keyring.set_password("soldscope", "refresh-token:acme", os.environ["TOKEN_A"]); keyring.set_password("soldscope", "lwa-client-secret", os.environ["SECRET"])'
in_home old "$SOLDSCOPE" doctor --offline --json > "$ROOT/old-doctor-before.json" || true
in_home old "$SOLDSCOPE" validate --json > "$ROOT/old-validate-before.json"

# Two new homes connect a store of the same name, to different sellers, and each sets the app.
for home in a b; do
  in_home $home "$SOLDSCOPE" app set --app-id "$APP_ID" --client-id "$CLIENT_ID" --client-secret-stdin <<< "$SECRET"
done
in_home a "$SOLDSCOPE" connect acme --marketplace US --selling-partner-id "$SELLER_A" --refresh-token-stdin <<< "$TOKEN_A"
in_home b "$SOLDSCOPE" connect acme --marketplace US --selling-partner-id "$SELLER_B" --refresh-token-stdin <<< "$TOKEN_B"

# The older home's first write (app set) migrates its entries into its own namespace.
in_home old "$SOLDSCOPE" app set --app-id "$APP_ID" --client-id "$CLIENT_ID" --client-secret-stdin <<< "$SECRET"
for home in old a b; do
  in_home $home "$SOLDSCOPE" validate --json > "$ROOT/$home-validate.json" || true
  in_home $home "$SOLDSCOPE" doctor --offline --json > "$ROOT/$home-doctor.json" || true
done
"$PYTHON" - <<'PY' > "$ROOT/keyring.json"
import json, os, tomllib
import keyring
root = os.environ["ROOT"]
out = {}
for home in ("old", "a", "b"):
    with open(f"{root}/{home}/config/config.toml", "rb") as handle:
        ns = tomllib.load(handle)["secrets"]["namespace"]
    out[home] = {
        "namespace": ns,
        "token": keyring.get_password("soldscope", f"{ns}/refresh-token:acme"),
        "secret": keyring.get_password("soldscope", f"{ns}/lwa-client-secret"),
    }
out["legacy_token"] = keyring.get_password("soldscope", "refresh-token:acme")
print(json.dumps(out))
PY
"""


def test_two_homes_keep_their_own_secrets_and_an_old_home_migrates(tmp_path: Path) -> None:
    require(
        bool(shutil.which("dbus-run-session") and shutil.which("gnome-keyring-daemon")),
        "needs dbus-run-session and gnome-keyring-daemon (apt-get install dbus gnome-keyring)",
    )
    require_soldscope()
    scenario = parse_scenario(
        {
            "sellers": [
                {"selling_partner_id": SELLER_A, "region": "na", "marketplaces": ["US"]},
                {"selling_partner_id": SELLER_B, "region": "na", "marketplaces": ["US"]},
            ]
        }
    )
    with Simulator(scenario) as sim:
        token_a, token_b = sim.authorize(SELLER_A), sim.authorize(SELLER_B)
        app = sim.scenario.app
        base = {k: v for k, v in os.environ.items() if not k.startswith("SOLDSCOPE_")}
        base.pop("PYTHON_KEYRING_BACKEND", None)
        env = {
            **base,
            **sim.env(),
            "SOLDSCOPE": str(SOLDSCOPE),
            "PYTHON": sys.executable,
            "ROOT": str(tmp_path),
            "APP_ID": app.application_id,
            "CLIENT_ID": app.client_id,
            "SECRET": app.client_secret,
            "TOKEN_A": token_a,
            "TOKEN_B": token_b,
            "SELLER_A": SELLER_A,
            "SOLDSCOPE_RETRY_MAX_TOTAL": "1.5",
        }
        result = run_in_keyring_session(tmp_path, SCRIPT, env)

        def read(name: str) -> Any:
            return json.loads((tmp_path / name).read_text())

        found = read("keyring.json")
        namespaces = {found[h]["namespace"] for h in ("old", "a", "b")}
        assert len(namespaces) == 3
        # Same store name, same keyring: each home still has its own token and client secret.
        assert (found["a"]["token"], found["b"]["token"]) == (token_a, token_b)
        assert found["a"]["secret"] == found["b"]["secret"] == app.client_secret
        # The older home's entries were copied into its namespace; the unprefixed one stays for
        # any other older home that may still need it.
        assert found["old"]["token"] == token_a and found["old"]["secret"] == app.client_secret
        assert found["legacy_token"] == token_a
        # Before its first write the older home read its unprefixed entries; after, its own.
        before = read("old-validate-before.json")
        assert [(r["name"], r["status"]) for r in before] == [("acme", "active")]
        for home in ("old", "a", "b"):
            rows = read(f"{home}-validate.json")
            assert [(r["name"], r["status"]) for r in rows] == [("acme", "active")], home
            checks = {c["id"]: c for c in read(f"{home}-doctor.json")}
            assert f"namespace '{found[home]['namespace']}'" in checks["secret-store"]["detail"]
        old_before = {c["id"]: c for c in read("old-doctor-before.json")}
        assert "no namespace yet" in old_before["secret-store"]["detail"]
        text = result.stdout + result.stderr
        for value in (token_a, token_b, app.client_secret):
            assert value not in text
