"""Run the installed `soldscope` command in throwaway SOLDSCOPE_* directories."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from tests.prerequisites import SOLDSCOPE, require_soldscope


@dataclass
class Cli:
    """The real command with its own config, data and environment."""

    home: Path
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        base = {k: v for k, v in os.environ.items() if not k.startswith("SOLDSCOPE_")}
        base.pop("NO_COLOR", None)
        base.pop("FORCE_COLOR", None)
        self.env = {
            **base,
            "SOLDSCOPE_CONFIG_DIR": str(self.home / "config"),
            "SOLDSCOPE_DATA_DIR": str(self.home / "data"),
            **self.env,
        }

    def run(
        self,
        *args: str,
        input: str | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 60,
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(SOLDSCOPE), *args],
            input=input,
            capture_output=True,
            text=True,
            env={**self.env, **(env or {})},
            timeout=timeout,
            check=False,
        )


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    require_soldscope()
    return Cli(tmp_path, {"SOLDSCOPE_SECRETS": "file"})


def query(cli: Cli, sql: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(cli.home / "data" / "soldscope.db")
    try:
        return [tuple(r) for r in conn.execute(sql).fetchall()]
    finally:
        conn.close()


def simulator_env(sim: Any, **extra: str) -> dict[str, str]:
    """Point soldscope at a running simulator, with its app's credentials and file secrets.

    Retries are short so that persistent failures end in seconds, not a minute per store.
    """
    app = sim.scenario.app
    return {
        **sim.env(),
        "SOLDSCOPE_SECRETS": "file",
        "SOLDSCOPE_APP_ID": app.application_id,
        "SOLDSCOPE_LWA_CLIENT_ID": app.client_id,
        "SOLDSCOPE_LWA_CLIENT_SECRET": app.client_secret,
        "SOLDSCOPE_RETRY_MAX_TOTAL": "1.5",
        "SOLDSCOPE_RETRY_BASE_DELAY": "0.05",
        **extra,
    }


def stored_secret(env: dict[str, str], key: str) -> str | None:
    """A secret as the file backend of the home in `env` holds it, under the home's namespace."""
    import json

    from soldscope_cli.fleet.config import ConfigFile
    from soldscope_cli.fleet.namespaces import namespaced_key
    from soldscope_cli.fleet.paths import resolve_paths

    paths = resolve_paths(env)
    if not paths.secrets_file.exists():
        return None
    data: dict[str, Any] = json.loads(paths.secrets_file.read_text())
    namespace = ConfigFile(paths.config_file, paths.config_lock).load().secrets_namespace
    value = data.get(namespaced_key(namespace, key) if namespace else key)
    return value if isinstance(value, str) else None


def run_in_keyring_session(
    tmp_path: Path, script: str, env: dict[str, str], *, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """A bash script in a D-Bus session of its own (where it starts its own gnome-keyring), with a
    home and runtime directory under tmp_path; it must succeed."""
    (tmp_path / "run").mkdir(mode=0o700)
    result = subprocess.run(
        ["dbus-run-session", "--", "bash", "-c", script],
        env={
            **env,
            "HOME": str(tmp_path / "home"),
            "XDG_DATA_HOME": str(tmp_path / "home" / ".local/share"),
            "XDG_RUNTIME_DIR": str(tmp_path / "run"),
        },
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def connect_sellers(cli: Cli, sim: Any, sellers: dict[str, str]) -> dict[str, str]:
    """Each store name connected to its seller (US) by `connect --refresh-token-stdin` with a
    token the simulator authorized; each must succeed. Returns the tokens by store name."""
    tokens: dict[str, str] = {}
    for name, seller in sellers.items():
        tokens[name] = sim.authorize(seller)
        done = cli.run(
            "connect", name, "--marketplace", "US", "--selling-partner-id", seller,
            "--refresh-token-stdin", input=tokens[name] + "\n",
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
    return tokens
