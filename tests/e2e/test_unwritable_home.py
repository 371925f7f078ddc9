"""A data directory this user cannot write is exit 74 naming the directory, never "another sync".

Root writes everywhere, so the permission cases run soldscope as `nobody` (setpriv, as root in CI);
the read-only filesystem case bind-mounts the data directory read-only. Exit 75 stays for a lock
another sync really holds, and `--debug` keeps every exit code.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.e2e.conftest import SOLDSCOPE, Cli
from tests.prerequisites import require, require_soldscope

pytestmark = pytest.mark.e2e

NOBODY = 65534
STORE = """
[stores.acme-us]
region = "na"
marketplaces = ["US"]
selling_partner_id = "A1UNWRITE2E"
authorized_at = 2026-11-01T00:00:00Z
"""
# A configured app and nothing listening: a sync that gets past its lock fails fast.
APP_ENV = {
    "SOLDSCOPE_SECRETS": "file",
    "SOLDSCOPE_APP_ID": "amzn1.sp.solution.00000000-1111-2222-3333-444444444444",
    "SOLDSCOPE_LWA_CLIENT_ID": "amzn1.application-oa2-client.0123456789abcdef",
    "SOLDSCOPE_LWA_CLIENT_SECRET": "amzn1.oa2-cs.v1.unwritable-e2e-secret",
    "SOLDSCOPE_RETRY_MAX_TOTAL": "0.5",
    "SOLDSCOPE_LWA_URL": "http://127.0.0.1:9/",
}


def make_home(root: Path) -> Cli:
    require_soldscope()
    cli = Cli(root / "home", dict(APP_ENV))
    (cli.home / "config").mkdir(parents=True)
    (cli.home / "config" / "config.toml").write_text(textwrap.dedent(STORE))
    (cli.home / "data").mkdir(parents=True, mode=0o700)
    return cli


def as_nobody(cli: Cli, *args: str) -> subprocess.CompletedProcess[str]:
    """The installed command run as the unprivileged user `nobody`."""
    return subprocess.run(
        [
            "setpriv",
            f"--reuid={NOBODY}",
            f"--regid={NOBODY}",
            "--clear-groups",
            str(SOLDSCOPE),
            *args,
        ],
        capture_output=True,
        text=True,
        env={**cli.env, "HOME": str(cli.home)},
        timeout=60,
        check=False,
    )


@pytest.fixture
def nobody_home() -> Iterator[Cli]:
    """A home owned by `nobody`, in a directory it can reach (needs root, as in CI).

    pytest's tmp_path lies under a 0700 directory of root's, so the home is made in /tmp.
    """
    require(
        os.geteuid() == 0 and shutil.which("setpriv") is not None,
        "running soldscope as another user needs root and setpriv",
    )
    root = Path(tempfile.mkdtemp(prefix="soldscope-unwritable-"))
    try:
        root.chmod(0o755)
        cli = make_home(root)
        for path in (cli.home, *cli.home.rglob("*")):
            os.chown(path, NOBODY, NOBODY)
        yield cli
    finally:
        shutil.rmtree(root, ignore_errors=True)


def assert_unwritable_data_dir(result: subprocess.CompletedProcess[str], data: Path) -> None:
    assert result.returncode == 74, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: cannot ")
    assert "another sync" not in lines[0]
    assert "aside" not in lines[0]  # nothing is wrong with the file
    assert f"make {data} writable" in lines[0], lines[0]


def test_sync_in_a_data_dir_it_cannot_write_is_74_not_another_sync(nobody_home: Cli) -> None:
    data = nobody_home.home / "data"
    data.chmod(0o500)  # no sync.lock yet: the lock file cannot be created
    sync = as_nobody(nobody_home, "sync")
    assert_unwritable_data_dir(sync, data)


def test_every_command_in_a_data_dir_that_became_unwritable_is_74(nobody_home: Cli) -> None:
    data = nobody_home.home / "data"
    first = as_nobody(nobody_home, "sync")  # creates the database and sync.lock, then fails
    assert first.returncode == 2, first.stderr  # no token for acme-us
    assert (data / "soldscope.db").exists() and (data / "sync.lock").exists()
    data.chmod(0o500)
    for args in (("sync",), ("validate",), ("delete", "acme-us", "--yes"), ("list",)):
        result = as_nobody(nobody_home, *args)
        assert_unwritable_data_dir(result, data)


@pytest.fixture
def read_only_home(tmp_path: Path) -> Iterator[Cli]:
    """A home whose data directory is a read-only bind mount of itself (EROFS; needs root)."""
    cli = make_home(tmp_path)
    data = cli.home / "data"
    first = cli.run("sync")  # the database and sync.lock, as a real home has them
    assert first.returncode == 2, first.stderr
    mounted = subprocess.run(["mount", "--bind", str(data), str(data)], capture_output=True)
    require(mounted.returncode == 0, f"a bind mount needs root: {mounted.stderr!r}")
    try:
        remount = subprocess.run(
            ["mount", "-o", "remount,bind,ro", str(data)], capture_output=True, check=False
        )
        assert remount.returncode == 0, remount.stderr
        yield cli
    finally:
        subprocess.run(["umount", "-l", str(data)], check=False)


def test_a_read_only_filesystem_is_74_for_every_command(read_only_home: Cli) -> None:
    data = read_only_home.home / "data"
    for args in (("sync",), ("validate",), ("delete", "acme-us", "--yes"), ("list",)):
        result = read_only_home.run(*args)
        assert_unwritable_data_dir(result, data)


def test_debug_keeps_the_exit_code_and_shows_the_traceback(read_only_home: Cli) -> None:
    sync = read_only_home.run("--debug", "sync")
    assert sync.returncode == 74, sync.stderr
    assert "Traceback" in sync.stderr
    assert sync.stderr.rstrip().splitlines()[-1].startswith("error: cannot ")
    bad = read_only_home.run("--debug", "list", "no-such-store")
    assert bad.returncode == 2, bad.stderr
    assert "no store named 'no-such-store'" in bad.stderr


def test_a_lock_really_held_is_75_with_and_without_debug(tmp_path: Path) -> None:
    import filelock

    cli = make_home(tmp_path)
    lock = cli.home / "data" / "sync.lock"
    with filelock.FileLock(str(lock), timeout=0, thread_local=False):
        plain = cli.run("sync")
        debug = cli.run("--debug", "sync")
    for result in (plain, debug):
        assert result.returncode == 75, result.stderr
        assert "another sync is already running" in result.stderr
    assert "Traceback" not in plain.stderr
