"""validate of a home built through `connect` on a real Secret Service reads its tokens in batches."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from pathlib import Path

import pytest
from tests.e2e.conftest import SOLDSCOPE, run_in_keyring_session
from tests.prerequisites import require, require_soldscope

from soldscope_cli.simulator import Simulator, parse_scenario

pytestmark = [pytest.mark.e2e, pytest.mark.keyring]

STORES = 7

# Inside a private D-Bus session with gnome-keyring unlocked by a throwaway password: a home built
# by `app set` and `connect`, one store's token then removed, and validate watched by dbus-monitor.
SCRIPT = r"""
set -e
echo -n throwaway | gnome-keyring-daemon --unlock --components=secrets >/dev/null
export SOLDSCOPE_CONFIG_DIR="$ROOT/config" SOLDSCOPE_DATA_DIR="$ROOT/data"
"$SOLDSCOPE" app set --app-id "$APP_ID" --client-id "$CLIENT_ID" --client-secret-stdin <<< "$SECRET"
for i in $(seq 0 $((STORES - 1))); do
  token=TOKEN_$i
  "$SOLDSCOPE" connect "store-$i" --marketplace US --selling-partner-id "A1KEYVAL00000$i" \
    --refresh-token-stdin <<< "${!token}"
done
"$PYTHON" - <<'PY'
import os, tomllib
import keyring
with open(os.environ["ROOT"] + "/config/config.toml", "rb") as handle:
    namespace = tomllib.load(handle)["secrets"]["namespace"]
keyring.delete_password("soldscope", f"{namespace}/refresh-token:store-0")
PY
dbus-monitor --session "type='method_call'" > "$ROOT/monitor.txt" 2>/dev/null &
monitor=$!
sleep 1
rc=0
"$SOLDSCOPE" validate --json > "$ROOT/validate.json" || rc=$?
echo "$rc" > "$ROOT/validate.rc"
sleep 0.5
kill "$monitor"
"""


def test_validate_reads_a_connected_homes_tokens_in_one_batch(tmp_path: Path) -> None:
    require(
        bool(
            shutil.which("dbus-run-session")
            and shutil.which("gnome-keyring-daemon")
            and shutil.which("dbus-monitor")
        ),
        "needs dbus-run-session, dbus-monitor and gnome-keyring-daemon "
        "(apt-get install dbus gnome-keyring)",
    )
    require_soldscope()
    sellers = [f"A1KEYVAL00000{i}" for i in range(STORES)]
    scenario = parse_scenario(
        {
            "sellers": [
                {"selling_partner_id": s, "region": "na", "marketplaces": ["US"]} for s in sellers
            ]
        }
    )
    with Simulator(scenario) as sim:
        app = sim.scenario.app
        base = {k: v for k, v in os.environ.items() if not k.startswith("SOLDSCOPE_")}
        base.pop("PYTHON_KEYRING_BACKEND", None)
        tokens = {f"TOKEN_{i}": sim.authorize(seller) for i, seller in enumerate(sellers)}
        env = {
            **base,
            **sim.env(),
            **tokens,
            "SOLDSCOPE": str(SOLDSCOPE),
            "PYTHON": sys.executable,
            "ROOT": str(tmp_path),
            "STORES": str(STORES),
            "APP_ID": app.application_id,
            "CLIENT_ID": app.client_id,
            "SECRET": app.client_secret,
            "SOLDSCOPE_RETRY_MAX_TOTAL": "1.5",
        }
        result = run_in_keyring_session(tmp_path, SCRIPT, env, timeout=240)

    rows = {row["name"]: row for row in json.loads((tmp_path / "validate.json").read_text())}
    assert int((tmp_path / "validate.rc").read_text()) == 1  # one store has a problem
    assert rows["store-0"]["status"] != "active"  # its token is gone: reconnect it
    assert {rows[f"store-{i}"]["status"] for i in range(1, STORES)} == {"active"}
    # Every token came from one Secret Service session: one OpenSession and one GetSecrets for
    # the stores (and one OpenSession for the client secret), not a session and a read per store.
    calls = re.findall(r"member=(\w+)", (tmp_path / "monitor.txt").read_text())
    assert calls.count("OpenSession") == 2, calls
    assert calls.count("GetSecrets") == 1 and calls.count("GetSecret") == 1, calls
    text = result.stdout + result.stderr
    for value in [*tokens.values(), app.client_secret]:
        assert value not in text
