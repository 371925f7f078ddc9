"""`soldscope doctor`, installed: a broken keyring, a fresh machine, and a simulator setup."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.conftest import SOLDSCOPE, Cli

from soldscope_cli.simulator import Simulator

pytestmark = pytest.mark.e2e

FAIL_KEYRING = "keyring.backends.fail.Keyring"


@pytest.fixture
def bare(tmp_path: Path) -> Cli:
    """The installed command with no SOLDSCOPE_SECRETS: the OS keyring is the backend."""
    if not SOLDSCOPE.exists():
        pytest.skip(f"the soldscope command is not installed next to {SOLDSCOPE.parent}")
    return Cli(tmp_path)


def statuses(stdout: str) -> dict[str, str]:
    data: list[dict[str, Any]] = json.loads(stdout)
    return {item["id"]: item["status"] for item in data}


def test_unusable_keyring_fails_and_says_why(bare: Cli) -> None:
    env = {"PYTHON_KEYRING_BACKEND": FAIL_KEYRING}
    text = bare.run("doctor", "--offline", env=env, timeout=30)
    assert text.returncode == 1, text.stderr
    [line] = [ln for ln in text.stdout.splitlines() if "Secret store:" in ln]
    assert line.startswith("✗ Secret store: keyring (default): no usable OS keyring was found")
    assert f"PYTHON_KEYRING_BACKEND={FAIL_KEYRING}" in line
    assert "SOLDSCOPE_SECRETS=file" in text.stdout  # the fix line offers the file backend
    as_json = bare.run("doctor", "--offline", "--json", env=env, timeout=30)
    assert as_json.returncode == 1
    assert statuses(as_json.stdout)["secret-store"] == "fail"


def test_fresh_machine_reports_and_changes_nothing(cli: Cli) -> None:
    result = cli.run("doctor", "--offline", "--json", timeout=30)
    assert result.returncode == 1, result.stderr
    found = statuses(result.stdout)
    assert found["config"] == "ok"
    assert found["secret-store"] == "warn"  # SOLDSCOPE_SECRETS=file works, but is plaintext
    assert found["app"] == "fail"
    assert found["network"] == "skip"
    assert found["database"] == "ok" and found["stores"] == "ok"
    assert [k for k, v in found.items() if v == "fail"] == ["app"]
    assert not (cli.home / "config").exists()
    assert not (cli.home / "data" / "secrets.json").exists()


def test_simulator_setup_passes_online(cli: Cli) -> None:
    with Simulator() as sim:
        app = sim.scenario.app
        env = {
            **sim.env(),
            "SOLDSCOPE_APP_ID": app.application_id,
            "SOLDSCOPE_LWA_CLIENT_ID": app.client_id,
            "SOLDSCOPE_LWA_CLIENT_SECRET": app.client_secret,
            "SOLDSCOPE_REDIRECT_URI": "https://agency.example/soldscope/",
        }
        result = cli.run("doctor", env=env, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    port = sim.url.rsplit(":", 1)[1]
    assert any(
        ln.startswith(f"✓ Reach Login with Amazon (http://127.0.0.1:{port}): plain http, HTTP")
        for ln in lines
    ), result.stdout
    assert any(ln.startswith("✓ Clock: ") for ln in lines)
    assert app.client_secret not in result.stdout + result.stderr
