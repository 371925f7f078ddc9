"""Lock files are private whatever the umask, and a lock another user owns is named, not obeyed."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import textwrap
from pathlib import Path

import pytest
from tests.e2e.conftest import SOLDSCOPE, Cli

pytestmark = pytest.mark.e2e

APP_ID = "amzn1.sp.solution.00000000-1111-2222-3333-444444444444"
CLIENT_ID = "amzn1.application-oa2-client.0123456789abcdef"
SECRET = "amzn1.oa2-cs.v1.lock-e2e-secret-value"
STORE = """
[stores.acme-us]
region = "na"
marketplaces = ["US"]
selling_partner_id = "A1LOCKE2E"
authorized_at = 2026-11-01T00:00:00Z
"""
# Configured app, no token for the store and nothing listening: sync fails fast after locking.
APP_ENV = {
    "SOLDSCOPE_APP_ID": APP_ID,
    "SOLDSCOPE_LWA_CLIENT_ID": CLIENT_ID,
    "SOLDSCOPE_LWA_CLIENT_SECRET": SECRET,
    "SOLDSCOPE_RETRY_MAX_TOTAL": "0.5",
    "SOLDSCOPE_LWA_URL": "http://127.0.0.1:9/",
}


def run_with_umask(
    cli: Cli, umask: int, *args: str, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    """The installed command started with the given umask (as a cron job or a careless shell)."""
    return subprocess.run(
        ["sh", "-c", f'umask {umask:03o}; exec "$0" "$@"', str(SOLDSCOPE), *args],
        input=input,
        capture_output=True,
        text=True,
        env={**cli.env, **APP_ENV},
        timeout=60,
        check=False,
    )


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("umask", [0o000, 0o022], ids=["umask-000", "umask-022"])
def test_every_lock_file_is_created_0600(cli: Cli, umask: int) -> None:
    app = run_with_umask(
        cli,
        umask,
        "app",
        "set",
        "--app-id",
        APP_ID,
        "--client-id",
        CLIENT_ID,
        "--client-secret-stdin",
        input=SECRET,
    )
    assert app.returncode == 0, app.stderr
    with (cli.home / "config" / "config.toml").open("a") as handle:
        handle.write(STORE)
    sync = run_with_umask(cli, umask, "sync")  # no token for acme-us: stops, after locking
    assert sync.returncode == 2, sync.stderr  # no token at all is a setup error
    locks = [
        cli.home / "config" / ".config.toml.lock",
        cli.home / "data" / "secrets.json.lock",
        cli.home / "data" / "sync.lock",
    ]
    assert {str(p): oct(mode(p)) for p in locks} == {str(p): "0o600" for p in locks}
    for directory in (cli.home / "config", cli.home / "data"):
        assert mode(directory) == 0o700


def test_an_old_world_readable_lock_is_tightened(cli: Cli) -> None:
    (cli.home / "data").mkdir(parents=True)
    lock = cli.home / "data" / "sync.lock"
    lock.touch()
    lock.chmod(0o666)
    (cli.home / "config").mkdir(parents=True)
    (cli.home / "config" / "config.toml").write_text(textwrap.dedent(STORE))
    sync = run_with_umask(cli, 0o022, "sync")
    assert sync.returncode == 2, sync.stderr  # no token at all is a setup error
    assert mode(lock) == 0o600


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a file to another user")
def test_a_sync_lock_owned_by_another_user_is_flagged_not_obeyed(cli: Cli) -> None:
    import filelock

    data = cli.home / "data"
    data.mkdir(parents=True)
    (cli.home / "config").mkdir(parents=True)
    (cli.home / "config" / "config.toml").write_text(textwrap.dedent(STORE))
    lock = data / "sync.lock"
    lock.touch()
    os.chown(lock, 65534, 65534)
    # Another user holds it: without the check every cron sync would exit 75 ("try later").
    with filelock.FileLock(str(lock), timeout=0, thread_local=False):
        sync = cli.run("sync", env=APP_ENV)
    assert sync.returncode == 2, sync.stderr
    assert "owned by another user" in sync.stderr and f"rm {lock}" in sync.stderr
    assert "Traceback" not in sync.stderr
    doctor = cli.run("doctor", "--json", "--offline")
    checks = {c["id"]: c for c in json.loads(doctor.stdout)}
    assert checks["lock-files"]["status"] == "fail"
    assert str(lock) in checks["lock-files"]["detail"]
    assert f"rm {lock}" in checks["lock-files"]["fix"]
    assert doctor.returncode == 1
