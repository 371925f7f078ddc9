"""Running a secret manager's command: no shell, a timeout, and nothing of its output echoed.

The database backend's key_command and the command backend both run programs whose output can
hold secrets, so a failure is reported by what was run and how it ended, never by what it said.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence

from soldscope_cli.errors import SecretStoreError


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
    timeout's seconds (" for 'acme-us' (waiting for an unlock prompt nobody can see?)").
    """
    try:
        return subprocess.run(
            list(argv),
            input=stdin,
            capture_output=True,
            timeout=timeout,
            env=dict(env) if env is not None else None,
            check=False,
        )
    except FileNotFoundError:
        raise SecretStoreError(f"{what} was not found on PATH", fix) from None
    except PermissionError:
        raise SecretStoreError(f"{what} is not executable", fix) from None
    except subprocess.TimeoutExpired:
        raise SecretStoreError(
            f"{what} did not finish within {timeout:g} s{waiting}", timeout_fix or fix
        ) from None
