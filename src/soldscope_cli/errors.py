"""The exception tree, the kinds of failure, and the exit code of each kind.

Errors say what kind of failure they are (`Failure`); only cli.py and the command adapters turn a
kind into a process exit code, so the Amazon clients and the rest never name an exit code.
"""

from __future__ import annotations

import errno
from collections.abc import Iterable
from enum import Enum, IntEnum


class ExitCode(IntEnum):
    """The documented exit codes (docs/exit-codes.md). Scripts rely on them."""

    OK = 0
    UNHEALTHY = 1  # a store in error/expired, a failed store sync, rejected app credentials
    USAGE = 2  # usage, bad input or configuration
    INCOMPLETE = 3  # some checks could not complete, nothing known bad
    LOCAL_IO = 74  # a local file could not be read or written: read-only, full disk (EX_IOERR)
    LOCKED = 75  # another sync is already running (EX_TEMPFAIL)
    INTERRUPTED = 130
    BROKEN_PIPE = 141  # the reader of stdout went away (`| head`), as 128 + SIGPIPE


class Failure(Enum):
    """What kind of failure an error is; decides the exit code (docs/exit-codes.md)."""

    BAD_INPUT = "bad_input"  # usage, bad input or configuration
    BROKEN = "broken"  # something is known to be broken
    UNREACHABLE = "unreachable"  # could not complete; nothing known bad
    BUSY = "busy"  # another process holds what this one needs
    LOCAL_IO = "local_io"  # this machine's files: a read-only directory, a full disk


EXIT_CODES: dict[Failure, ExitCode] = {
    Failure.BAD_INPUT: ExitCode.USAGE,
    Failure.BROKEN: ExitCode.UNHEALTHY,
    Failure.UNREACHABLE: ExitCode.INCOMPLETE,
    Failure.BUSY: ExitCode.LOCKED,
    Failure.LOCAL_IO: ExitCode.LOCAL_IO,
}


def did_you_mean(word: str, choices: Iterable[str], *, n: int = 3) -> list[str]:
    """The choices nearest a mistyped word: difflib's close matches, then only the fewest edits.

    `--sotr` finds `--sort` (one swap) and not `--json`, which difflib also finds close.
    """
    import difflib

    close = difflib.get_close_matches(word, list(dict.fromkeys(choices)), n=10, cutoff=0.6)
    if not close:
        return []
    distance = {c: _edits(word, c) for c in close}
    best = min(distance.values())
    return [c for c in close if distance[c] == best][:n]


def _edits(a: str, b: str) -> int:
    """Edits (insert, delete, replace, swap two neighbours) turning a into b."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        row = [i]
        for j, cb in enumerate(b, 1):
            cost = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cost = min(cost, prev2[j - 2] + 1)
            row.append(cost)
        prev2, prev = prev, row
    return prev[-1]


class SoldscopeError(Exception):
    """An error with a one-line message, an optional hint naming the next step, and a kind."""

    failure: Failure = Failure.BAD_INPUT

    @property
    def exit_code(self) -> ExitCode:
        """The exit code of this kind of failure."""
        return EXIT_CODES[self.failure]

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

    failure = Failure.BROKEN


class IncompleteError(SoldscopeError):
    """Amazon could not be reached for some work; nothing is known to be bad."""

    failure = Failure.UNREACHABLE


class LockHeldError(SoldscopeError):
    """Another process holds the lock this command needs."""

    failure = Failure.BUSY


class StorageError(SoldscopeError):
    """A local file or the database could not be written: nothing is wrong with any store."""

    failure = Failure.LOCAL_IO
    # Whether every store would fail the same way (a full disk, a database server that cannot be
    # reached): a sync then stops them all. False: only the work at hand failed.
    shared = True
    # How a sync names it for the stores it did not start or stopped.
    subject = "the data directory cannot be written"


_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})
_DENIED = frozenset({errno.EROFS, errno.EACCES, errno.EPERM})


def storage_error(exc: OSError, *, doing: str = "write") -> StorageError:
    """One line for a filesystem error: the path, what the errno means, how to fix it."""
    path = exc.filename or "a file"
    meaning = exc.strerror or str(exc)
    if exc.errno in _FULL:
        hint = f"free some space on the filesystem that holds {path}, then run the command again"
    elif exc.errno in _DENIED:
        hint = unwritable_hint(str(path), read_only_fs=exc.errno == errno.EROFS)
    else:
        hint = f"check {path} and its directory, then run the command again"
    return StorageError(f"cannot {doing} {path}: {meaning}", hint=hint)


def unwritable_hint(path: str, *, read_only_fs: bool = False) -> str:
    """How to fix a write refused at path: the directory when the file is not what refuses it.

    A lock or temporary file that cannot be created, or any file on a read-only filesystem, is
    the directory's problem: "make sync.lock.holder.tmp writable" would be a fix nobody can apply.
    """
    import os

    target = path
    if read_only_fs or not os.path.lexists(path) or os.access(path, os.W_OK):
        target = os.path.dirname(path) or "."
    mounted = " (its filesystem is mounted read-only)" if read_only_fs else ""
    return (
        f"make {target} writable for this user{mounted}, or point SOLDSCOPE_CONFIG_DIR / "
        "SOLDSCOPE_DATA_DIR at a writable directory"
    )
