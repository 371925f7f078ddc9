"""The `command` secret backend: get, set and delete through an external manager's commands.

Like git's credential helpers, each operation runs a command template from `[secrets]`: the
template is split into words (shlex, no shell), then `{key}` is replaced inside each word, so a
key can never add words or shell syntax. A value travels on stdin (set) or stdout (get), never
on the command line. Exit status: 0 is success (get: stdout is the value, one trailing newline
removed; empty stdout means not found); 1 with nothing on stdout means "not there" for get and
delete (what `pass` and `secret-tool` do); anything else, a timeout or a missing program is a
SecretStoreError whose message never quotes the command's output.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from collections.abc import Mapping

from soldscope_cli.errors import SecretStoreError
from soldscope_cli.fleet.quiet_run import run_quietly
from soldscope_cli.fleet.secret_settings import OPERATIONS, SecretsSettings
from soldscope_cli.redact import register_secret

COMMAND_TIMEOUT_S = 30.0
NOT_FOUND_STATUS = 1
COMMAND_FIX = (
    "set [secrets] get, set and delete to commands with {key} in them, e.g. "
    'get = "pass show soldscope/{key}" (docs/configuration.md#secrets)'
)


def expand(template: str, key: str) -> list[str]:
    """The argv of a template for one key: {key} replaced inside each word, never re-split."""
    return [word.replace("{key}", key) for word in shlex.split(template)]


class CommandSecretStore:
    """Secrets kept by an external manager (pass, secret-tool, a Vault CLI) through commands."""

    name = "command"
    insecure = False

    def __init__(
        self,
        templates: SecretsSettings,
        env: Mapping[str, str],
        timeout: float = COMMAND_TIMEOUT_S,
    ) -> None:
        self.templates = templates
        self.env = dict(env)
        self.timeout = timeout

    def _template(self, operation: str) -> str:
        template: str | None = getattr(self.templates, operation)
        if template is None:
            raise SecretStoreError(
                f"the command secret backend has no [secrets] {operation} command", COMMAND_FIX
            )
        return template

    def _run(
        self, operation: str, key: str, stdin: bytes | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        argv = expand(self._template(operation), key)
        return run_quietly(
            argv,
            what=f"the secrets {operation} command {argv[0]!r}",
            fix=COMMAND_FIX,
            timeout=self.timeout,
            stdin=stdin if stdin is not None else b"",
            env=self.env,
            waiting=f" for {key!r} (waiting for an unlock prompt nobody can see?)",
            timeout_fix="unlock the secret manager first, or run the command yourself to see "
            "what it waits for",
        )

    def _failed(self, operation: str, key: str, status: int) -> SecretStoreError:
        program = shlex.split(self._template(operation))[0]
        return SecretStoreError(
            f"the secrets {operation} command {program!r} exited with status {status} for "
            f"{key!r} (its output is not shown: run it yourself to see why)",
            COMMAND_FIX,
        )

    def get(self, key: str) -> str | None:
        done = self._run("get", key)
        if done.returncode == NOT_FOUND_STATUS and not done.stdout:
            return None
        if done.returncode != 0:
            raise self._failed("get", key, done.returncode)
        try:
            text = done.stdout.decode("utf-8")
        except UnicodeDecodeError:
            raise SecretStoreError(
                f"the secrets get command printed something that is not text for {key!r}",
                COMMAND_FIX,
            ) from None
        value = text.removesuffix("\n").removesuffix("\r")
        if not value:
            return None
        register_secret(value)
        return value

    def set(self, key: str, value: str) -> None:
        register_secret(value)
        done = self._run("set", key, (value + "\n").encode("utf-8"))
        if done.returncode != 0:
            raise self._failed("set", key, done.returncode)

    def delete(self, key: str) -> None:
        done = self._run("delete", key)
        if done.returncode not in (0, NOT_FOUND_STATUS):
            raise self._failed("delete", key, done.returncode)

    def describe(self) -> str:
        programs = sorted(
            {
                shlex.split(t)[0]
                for t in (self.templates.get, self.templates.set, self.templates.delete)
                if t
            }
        )
        return f"external commands ({', '.join(programs) or 'none configured'})"

    def inspect(self) -> str:
        """Each command's program, found on PATH, for doctor (nothing is run)."""
        found = []
        for operation in OPERATIONS:
            program = shlex.split(self._template(operation))[0]
            path = shutil.which(program, path=self.env.get("PATH"))
            if path is None:
                raise SecretStoreError(
                    f"the secrets {operation} command {program!r} was not found on PATH",
                    COMMAND_FIX,
                )
            found.append(f"{operation}: {path}")
        return "; ".join(found)
