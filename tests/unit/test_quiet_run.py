"""Secret helpers (the command backend, key_command): a minimal environment, bounded output,
and a timeout that ends every process the helper started."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

from soldscope_cli.errors import SecretStoreError
from soldscope_cli.fleet.command_secrets import CommandSecretStore
from soldscope_cli.fleet.quiet_run import MAX_OUTPUT_BYTES, helper_environment, run_quietly
from soldscope_cli.fleet.sealed import load_key, new_key_text
from soldscope_cli.fleet.secret_settings import SecretsSettings

CLIENT_SECRET = "amzn1.oa2-cs.v1.quiet-run-client-secret-0001"
DATABASE_URL = "postgresql://soldscope:hunter2-db-password@db.internal/soldscope"

PARENT_ENV = {
    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    "HOME": "/home/agency",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "GNUPGHOME": "/home/agency/.gnupg",
    "PASSWORD_STORE_DIR": "/home/agency/.password-store",
    "VAULT_ADDR": "https://vault.internal:8200",
    "DBUS_SESSION_BUS_ADDRESS": "unix:path=/run/user/1000/bus",
    "SOLDSCOPE_LWA_CLIENT_SECRET": CLIENT_SECRET,
    "SOLDSCOPE_DATABASE_URL": DATABASE_URL,
    "SOLDSCOPE_SECRETS_KEY": new_key_text(),
    "SOLDSCOPE_NEW_SECRETS_KEY": new_key_text(),
    "AWS_SECRET_ACCESS_KEY": "not-for-the-helper",
}


def script(tmp_path: Path, name: str, body: str) -> list[str]:
    path = tmp_path / name
    path.write_text(f"import json, os, subprocess, sys, time\n{body}\n")
    return [sys.executable, str(path)]


def test_the_helper_sees_only_what_a_secret_manager_needs(tmp_path: Path) -> None:
    argv = script(tmp_path, "env.py", "print(json.dumps(dict(os.environ)))")
    done = run_quietly(argv, what="the helper", fix="fix it", timeout=10, env=PARENT_ENV)
    seen = json.loads(done.stdout)
    assert not [key for key in seen if key.startswith("SOLDSCOPE_")]
    assert CLIENT_SECRET not in done.stdout.decode()
    assert "hunter2" not in done.stdout.decode()
    assert "AWS_SECRET_ACCESS_KEY" not in seen
    for kept in ("PATH", "HOME", "LANG", "LC_ALL", "GNUPGHOME", "PASSWORD_STORE_DIR", "VAULT_ADDR"):
        assert seen[kept] == PARENT_ENV[kept]
    assert seen["DBUS_SESSION_BUS_ADDRESS"] == PARENT_ENV["DBUS_SESSION_BUS_ADDRESS"]


def test_helper_environment_is_an_allow_list() -> None:
    kept = helper_environment(PARENT_ENV)
    assert set(kept) == {
        "PATH",
        "HOME",
        "LANG",
        "LC_ALL",
        "GNUPGHOME",
        "PASSWORD_STORE_DIR",
        "VAULT_ADDR",
        "DBUS_SESSION_BUS_ADDRESS",
    }


def test_command_backend_passes_no_soldscope_secret(tmp_path: Path) -> None:
    dump = tmp_path / "env.json"
    argv = script(
        tmp_path, "get.py", f"open({str(dump)!r}, 'w').write(json.dumps(dict(os.environ)))"
    )
    store = CommandSecretStore(SecretsSettings(get=" ".join(argv) + " {key}"), PARENT_ENV)
    assert store.get("ns/refresh-token:acme-us") is None
    seen = json.loads(dump.read_text())
    assert CLIENT_SECRET not in dump.read_text() and "hunter2" not in dump.read_text()
    assert seen["HOME"] == "/home/agency"


def test_key_command_passes_no_soldscope_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The process's own environment holds the secrets too: the helper must inherit none of it.
    monkeypatch.setenv("SOLDSCOPE_LWA_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("SOLDSCOPE_DATABASE_URL", DATABASE_URL)
    dump = tmp_path / "env.json"
    key = new_key_text()
    argv = script(
        tmp_path,
        "key.py",
        f"open({str(dump)!r}, 'w').write(json.dumps(dict(os.environ)))\nprint({key!r})",
    )
    env = {k: v for k, v in PARENT_ENV.items() if k != "SOLDSCOPE_SECRETS_KEY"}
    assert load_key(env, " ".join(argv)).source == "[secrets] key_command"
    text = dump.read_text()
    assert CLIENT_SECRET not in text and "hunter2" not in text
    assert env["SOLDSCOPE_NEW_SECRETS_KEY"] not in text


def test_output_past_the_cap_is_a_clear_error(tmp_path: Path) -> None:
    # A helper that prints without end must not fill soldscope's memory.
    argv = script(
        tmp_path,
        "flood.py",
        "chunk = b'x' * 65536\nwhile True:\n    sys.stdout.buffer.write(chunk)",
    )
    started = time.monotonic()
    with pytest.raises(SecretStoreError) as info:
        run_quietly(argv, what="the helper 'flood'", fix="print only the secret", timeout=30)
    assert time.monotonic() - started < 10
    assert "the helper 'flood' printed more than" in info.value.message
    assert f"{MAX_OUTPUT_BYTES // 1024 // 1024} MiB" in info.value.message
    assert info.value.hint == "print only the secret"


def test_output_under_the_cap_is_returned_whole(tmp_path: Path) -> None:
    size = MAX_OUTPUT_BYTES - 10
    argv = script(tmp_path, "big.py", f"sys.stdout.buffer.write(b'y' * {size})")
    done = run_quietly(argv, what="the helper", fix="fix", timeout=30)
    assert done.returncode == 0 and len(done.stdout) == size


def test_stdin_reaches_the_helper_and_the_status_is_kept(tmp_path: Path) -> None:
    argv = script(tmp_path, "echo.py", "sys.stdout.write(sys.stdin.read().upper()); sys.exit(3)")
    done = run_quietly(argv, what="the helper", fix="fix", timeout=10, stdin=b"value\n")
    assert done.returncode == 3 and done.stdout == b"VALUE\n"


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it is dead for this purpose.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.parametrize("holds_stdout", [False, True])
def test_a_timeout_kills_every_process_the_helper_started(
    tmp_path: Path, holds_stdout: bool
) -> None:
    pid_file = tmp_path / "grandchild.pid"
    out = "None" if holds_stdout else "subprocess.DEVNULL"
    argv = script(
        tmp_path,
        "spawner.py",
        f"child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(20)'], "
        f"stdout={out})\n"
        f"open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
        "time.sleep(20)",
    )
    started = time.monotonic()
    with pytest.raises(SecretStoreError, match=r"did not finish within 0\.5 s"):
        run_quietly(argv, what="the helper", fix="fix", timeout=0.5)
    assert time.monotonic() - started < 5  # a grandchild holding the pipe does not hold us
    grandchild = int(pid_file.read_text())
    deadline = time.monotonic() + 3
    while alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(grandchild)
