"""The installed command end to end: app, list, delete, errors, exit codes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.conftest import SOLDSCOPE, Cli
from tests.prerequisites import require

from soldscope_cli import __version__

pytestmark = pytest.mark.e2e

APP_ID = "amzn1.sp.solution.00000000-1111-2222-3333-444444444444"
CLIENT_ID = "amzn1.application-oa2-client.0123456789abcdef"
SECRET = "amzn1.oa2-cs.v1.e2e-secret-value"


def set_app(cli: Cli, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """`soldscope app set` with the test app's ids, plus whatever else the test passes."""
    return cli.run("app", "set", "--app-id", APP_ID, "--client-id", CLIENT_ID, *args, **kwargs)


def test_version_help_and_module_entry(cli: Cli) -> None:
    assert cli.run("--version").stdout.strip() == f"soldscope {__version__}"
    help_text = cli.run("--help").stdout
    for command in ("list", "delete", "app"):
        assert command in help_text
    module = subprocess.run(
        [sys.executable, "-m", "soldscope_cli", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert module.stdout.strip() == f"soldscope {__version__}"


def write_config(cli: Cli, body: str) -> None:
    (cli.home / "config").mkdir(parents=True, exist_ok=True)
    (cli.home / "config" / "config.toml").write_text(textwrap.dedent(body))


def test_list_delete_round_trip(cli: Cli) -> None:
    empty = cli.run("list")
    assert empty.returncode == 0 and "soldscope connect" in empty.stderr
    write_config(
        cli,
        """
        [stores.acme-us]
        region = "na"
        marketplaces = ["US"]
        selling_partner_id = "A1"
        authorized_at = 2026-11-01T00:00:00Z

        [stores.old-eu]
        region = "eu"
        marketplaces = ["DE"]
        authorized_at = 2024-01-01T00:00:00Z
    """,
    )
    listed = cli.run("list", "--json")
    assert listed.returncode == 1  # old-eu is expired
    data = json.loads(listed.stdout)
    assert [(d["name"], d["status"]) for d in data] == [
        ("old-eu", "expired"),
        ("acme-us", "active"),
    ]
    plain = cli.run("list", "acme-us")
    assert plain.returncode == 0
    assert "\x1b[" not in plain.stdout
    assert plain.stdout.splitlines()[-1] == "1 store: 1 active"
    refused = cli.run("delete", "old-eu")
    assert refused.returncode == 2
    deleted = cli.run("delete", "old-eu", "--yes")
    assert deleted.returncode == 0, deleted.stderr
    assert "Revoke" in deleted.stderr
    assert cli.run("list").returncode == 0


def test_app_set_and_show_keep_the_secret_out_of_files_and_output(cli: Cli) -> None:
    result = set_app(
        cli,
        "--redirect-uri",
        "https://agency.example/relay/",
        "--client-secret-stdin",
        input=SECRET,
    )
    assert result.returncode == 0, result.stderr
    shown = cli.run("app", "show", "--json")
    data = json.loads(shown.stdout)
    assert data["client_secret"]["stored"] is True
    assert data["client_secret"]["backend_insecure"] is True
    config_text = (cli.home / "config" / "config.toml").read_text()
    assert SECRET not in config_text + shown.stdout + shown.stderr + result.stdout + result.stderr
    secrets_file = cli.home / "data" / "secrets.json"
    assert secrets_file.stat().st_mode & 0o077 == 0
    no_tty = cli.run("app", "set", "--new-secret")
    assert no_tty.returncode == 2 and "--client-secret-stdin" in no_tty.stderr


def test_malformed_config_is_exit_2_without_traceback(cli: Cli) -> None:
    write_config(
        cli,
        "[stores.a]\nregion = 'na'\nmarketplaces = ['US', 'JP']\n"
        "authorized_at = 2026-01-01T00:00:00Z\n",
    )
    result = cli.run("list")
    assert result.returncode == 2
    assert "line 3" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    debug = cli.run("--debug", "list")
    assert debug.returncode != 0 and "Traceback" in debug.stderr


def test_keyring_fail_backend_is_exit_2_naming_the_fixes(cli: Cli) -> None:
    result = set_app(
        cli,
        "--client-secret-stdin",
        input=SECRET,
        env={"SOLDSCOPE_SECRETS": "", "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"},
    )
    assert result.returncode == 2
    assert "no usable OS keyring" in result.stderr
    assert "SOLDSCOPE_SECRETS=file" in result.stderr
    assert not (cli.home / "config" / "config.toml").exists()
    assert not (cli.home / "data" / "secrets.json").exists()  # never a silent plaintext fallback


KEYRING_SCRIPT = r"""
set -e
echo -n throwaway | gnome-keyring-daemon --unlock --components=secrets >/dev/null
"$SOLDSCOPE" app set --app-id "$APP_ID" --client-id "$CLIENT_ID" --client-secret-stdin <<< "$SECRET"
"$SOLDSCOPE" app show --json > "$OUT/show.json"
"$PYTHON" - <<'PY'
import keyring, os, tomllib
print(type(keyring.get_keyring()).__module__)
with open(os.environ["SOLDSCOPE_CONFIG_DIR"] + "/config.toml", "rb") as handle:
    ns = tomllib.load(handle)["secrets"]["namespace"]
assert keyring.get_password("soldscope", f"{ns}/lwa-client-secret") == os.environ["SECRET"]
assert keyring.get_password("soldscope", "lwa-client-secret") is None
keyring.set_password("soldscope", f"{ns}/refresh-token:acme", "Atzr|e2e")
PY
mkdir -p "$SOLDSCOPE_CONFIG_DIR"
cat >> "$SOLDSCOPE_CONFIG_DIR/config.toml" <<'TOML'

[stores.acme]
region = "na"
marketplaces = ["US"]
authorized_at = 2026-11-01T00:00:00Z
TOML
"$SOLDSCOPE" delete acme --yes
"$PYTHON" -c 'import keyring, os, tomllib; ns = tomllib.load(open(os.environ["SOLDSCOPE_CONFIG_DIR"] + "/config.toml", "rb"))["secrets"]["namespace"]; assert keyring.get_password("soldscope", f"{ns}/refresh-token:acme") is None; print("token gone")'
"""


@pytest.mark.keyring
def test_real_secret_service_round_trip(cli: Cli, tmp_path: Path) -> None:
    """gnome-keyring's Secret Service in a private D-Bus session, unlocked with a throwaway password."""
    require(
        bool(shutil.which("dbus-run-session") and shutil.which("gnome-keyring-daemon")),
        "needs dbus-run-session and gnome-keyring-daemon (apt-get install dbus gnome-keyring)",
    )
    env = {
        **cli.env,
        "SOLDSCOPE": str(SOLDSCOPE),
        "PYTHON": sys.executable,
        "APP_ID": APP_ID,
        "CLIENT_ID": CLIENT_ID,
        "SECRET": SECRET,
        "OUT": str(tmp_path),
        # A fresh home: gnome-keyring creates a new login keyring with the throwaway password.
        "HOME": str(tmp_path / "home"),
        "XDG_DATA_HOME": str(tmp_path / "home" / ".local/share"),
        "XDG_RUNTIME_DIR": str(tmp_path / "run"),
    }
    (tmp_path / "run").mkdir(mode=0o700)
    env.pop("SOLDSCOPE_SECRETS")
    env.pop("PYTHON_KEYRING_BACKEND", None)
    result = subprocess.run(
        ["dbus-run-session", "--", "bash", "-c", KEYRING_SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SecretService" in result.stdout and "token gone" in result.stdout
    show = json.loads((tmp_path / "show.json").read_text())
    assert show["client_secret"]["source"] == "keyring"
    assert show["client_secret"]["backend_insecure"] is False
    assert SECRET not in (cli.home / "config" / "config.toml").read_text()


def test_directories_soldscope_creates_are_private(cli: Cli) -> None:
    result = set_app(
        cli,
        "--client-secret-stdin",
        input=SECRET,
    )
    assert result.returncode == 0, result.stderr
    for sub in ("config", "data"):
        assert (cli.home / sub).stat().st_mode & 0o777 == 0o700


def test_a_closed_pipe_ends_quietly(cli: Cli) -> None:
    lines = "\n".join(
        f'[stores.s{i:04d}]\nregion = "na"\nmarketplaces = ["US"]\n'
        "authorized_at = 2026-11-01T00:00:00Z\n"
        for i in range(3000)
    )
    write_config(cli, lines)
    result = subprocess.run(
        ["bash", "-c", f"set -o pipefail; {SOLDSCOPE} list | head -1"],
        env=cli.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.stdout.startswith("Store ")
    assert result.returncode == 141
    assert result.stderr == ""
