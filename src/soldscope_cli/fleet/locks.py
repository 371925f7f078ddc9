"""Lock files that only their owner can open, whatever the umask.

A lock file another local user can open is a lock that user can hold: with `sync.lock` at 0644 (or
0666 under umask 000) they could keep every cron sync exiting 75, which cron treats as success.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import filelock

LOCK_MODE = 0o600


def prepare_lock_file(path: Path) -> None:
    """Create the lock file 0600 in a 0700 directory, or tighten one this user owns to 0600.

    os.open's mode passes through the umask, so the mode is set again on the descriptor; a file
    left by an older version (0644) is tightened the same way. A file owned by someone else is left
    alone: doctor and the sync lock name it.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags, LOCK_MODE)
    except PermissionError:
        return  # not ours and not writable: acquiring will say so
    try:
        info = os.fstat(fd)
        if info.st_uid == os.geteuid() and info.st_mode & 0o777 != LOCK_MODE:
            os.fchmod(fd, LOCK_MODE)
    finally:
        os.close(fd)


def private_lock(path: Path, *, timeout: float, thread_local: bool = True) -> filelock.FileLock:
    """A FileLock on a 0600 lock file (created now if missing)."""
    import filelock

    prepare_lock_file(path)
    return filelock.FileLock(str(path), timeout=timeout, mode=LOCK_MODE, thread_local=thread_local)


def foreign_owner(path: Path) -> int | None:
    """The uid owning the lock file when it is not this user, else None (also when absent)."""
    try:
        uid = path.stat().st_uid
    except OSError:
        return None
    return None if uid == os.geteuid() else uid
