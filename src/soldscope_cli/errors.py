"""Exit codes and the exception tree; cli.py alone turns these into process exits."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """The documented exit codes (docs/exit-codes.md). Scripts rely on them."""

    OK = 0
    UNHEALTHY = 1  # a store in error/expired, a failed store sync, rejected app credentials
    USAGE = 2  # usage, bad input or configuration
    INCOMPLETE = 3  # some checks could not complete, nothing known bad
    LOCKED = 75  # another sync is already running (EX_TEMPFAIL)
    INTERRUPTED = 130
    BROKEN_PIPE = 141  # the reader of stdout went away (`| head`), as 128 + SIGPIPE


class SoldscopeError(Exception):
    """An error with a one-line message, an optional hint naming the next step, and an exit code."""

    exit_code: ExitCode = ExitCode.USAGE

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(SoldscopeError):
    """Bad arguments or input on the command line."""


class ConfigError(SoldscopeError):
    """The configuration file is missing something, malformed or invalid."""


class SecretStoreError(SoldscopeError):
    """The secret store cannot be used (no keyring, locked, timed out)."""


class UnhealthyError(SoldscopeError):
    """Something is known to be broken: a store, a sync, the app's credentials."""

    exit_code = ExitCode.UNHEALTHY


class IncompleteError(SoldscopeError):
    """Amazon could not be reached for some work; nothing is known to be bad."""

    exit_code = ExitCode.INCOMPLETE


class LockHeldError(SoldscopeError):
    """Another process holds the lock this command needs."""

    exit_code = ExitCode.LOCKED
