"""Running a secret manager's command: no shell, a timeout, and nothing of its output echoed.

The database backend's key_command and the command backend both run programs whose output can
hold secrets, so a failure is reported by what was run and how it ended, never by what it said.
The program gets a minimal environment (never soldscope's own secrets: the client secret, the
database URL, the team key), at most MAX_OUTPUT_BYTES of its output are read, and a timeout ends
its whole process group, so a helper's own children cannot outlive it or hold its pipe open.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence

from soldscope_cli.errors import SecretStoreError

# A secret is a few hundred bytes; a helper printing more than this is misconfigured.
MAX_OUTPUT_BYTES = 1024 * 1024
_READ_CHUNK = 65536

# What a secret manager needs from the environment, and nothing else (docs/configuration.md#secrets):
# where programs and the user's files are, the locale, the terminal and the desktop session
# (unlock prompts, the Secret Service bus, the gpg and ssh agents), and the managers' own settings.
_KEEP = frozenset(
    {
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "SHELL",
        "LANG",
        "LANGUAGE",
        "TZ",
        "TMPDIR",
        "TERM",
        "DISPLAY",
        "WAYLAND_DISPLAY",
        "DBUS_SESSION_BUS_ADDRESS",
        "SSH_AUTH_SOCK",
        "GNUPGHOME",
        "GPG_TTY",
        "GPG_AGENT_INFO",
        "CREDENTIALS_DIRECTORY",
    }
)
_KEEP_PREFIXES = ("LC_", "XDG_", "PASSWORD_STORE_", "VAULT_")


def helper_environment(env: Mapping[str, str]) -> dict[str, str]:
    """The variables of `env` a secret helper may see (an allow list: no SOLDSCOPE_* ever)."""
    return {
        key: value
        for key, value in env.items()
        if key in _KEEP or (key.startswith(_KEEP_PREFIXES) and not key.startswith("SOLDSCOPE_"))
    }


_POSIX = os.name == "posix"


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    if _POSIX:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
    process.kill()


def _feed(process: subprocess.Popen[bytes], stdin: bytes) -> None:
    pipe = process.stdin
    if pipe is None:
        return
    try:
        if stdin:
            pipe.write(stdin)
    except (BrokenPipeError, OSError):
        pass  # the program did not read its input: its exit status tells
    finally:
        with contextlib.suppress(OSError):
            pipe.close()


class _Output:
    """A process's stdout, read on a thread of its own up to MAX_OUTPUT_BYTES (a thread, not a
    selector: pipes cannot be selected on every platform)."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        self._fd = process.stdout.fileno()
        self.chunks: list[bytes] = []
        self.size = 0
        self.over = False

    def read(self) -> None:
        while True:
            try:
                chunk = os.read(self._fd, _READ_CHUNK)
            except OSError:
                return
            if not chunk:
                return
            self.size += len(chunk)
            if self.size > MAX_OUTPUT_BYTES:
                self.over = True  # stop reading: the process is ended, nothing more is kept
                return
            self.chunks.append(chunk)


def run_quietly(
    argv: Sequence[str],
    *,
    what: str,
    fix: str,
    timeout: float,
    stdin: bytes = b"",
    env: Mapping[str, str] | None = None,
    waiting: str = "",
    timeout_fix: str | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """The finished process (any exit status); SecretStoreError when it could not run or finish.

    `what` names the command in errors ("the secrets get command 'pass'"); `waiting` follows the
    timeout's seconds (" for 'acme-us' (waiting for an unlock prompt nobody can see?)"). `env` is
    the environment to draw from (os.environ when None); only helper_environment() of it is passed.
    """
    try:
        # Its own process group (same session, so a terminal prompt still works): a timeout
        # kills everything it started.
        process = subprocess.Popen(
            list(argv),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,  # may quote what it read: never kept
            env=helper_environment(os.environ if env is None else env),
            process_group=0 if _POSIX else None,
        )
    except FileNotFoundError:
        raise SecretStoreError(f"{what} was not found on PATH", fix) from None
    except PermissionError:
        raise SecretStoreError(f"{what} is not executable", fix) from None
    feeder = threading.Thread(target=_feed, args=(process, stdin), daemon=True)
    feeder.start()
    output = _Output(process)
    reader = threading.Thread(target=output.read, daemon=True)
    reader.start()
    deadline = time.monotonic() + timeout
    timed_out = SecretStoreError(
        f"{what} did not finish within {timeout:g} s{waiting}", timeout_fix or fix
    )
    try:
        reader.join(timeout)
        if output.over:
            raise SecretStoreError(
                f"{what} printed more than {MAX_OUTPUT_BYTES // 1024 // 1024} MiB; a secret is "
                "far smaller (the output is not shown: run the command yourself to see what it "
                "prints)",
                fix,
            )
        if reader.is_alive():
            raise timed_out
        try:
            status = process.wait(max(deadline - time.monotonic(), 0.001))
        except subprocess.TimeoutExpired:
            raise timed_out from None
    finally:
        if process.returncode is None:
            _kill_group(process)  # its children too: none may outlive it or hold its pipe
            process.wait()
        reader.join(1)
        feeder.join(1)
        assert process.stdout is not None
        process.stdout.close()
    return subprocess.CompletedProcess(list(argv), status, b"".join(output.chunks), b"")
