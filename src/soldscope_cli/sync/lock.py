"""One sync at a time per data dir: an OS lock released by the kernel if the process dies."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from types import TracebackType

import filelock

from soldscope_cli.errors import ConfigError, LockHeldError, storage_error
from soldscope_cli.fleet.config import format_time
from soldscope_cli.fleet.locks import foreign_owner, private_lock


def holder_file(lock_path: Path) -> Path:
    """The sidecar naming the process that holds the lock (the lock file itself stays empty)."""
    return lock_path.with_name(lock_path.name + ".holder")


class SyncLock:
    """A non-blocking exclusive lock on paths.sync_lock; LockHeldError (exit 75) when taken."""

    def __init__(self, path: Path, clock: Callable[[], datetime], pid: int | None = None) -> None:
        self.path = path
        self._clock = clock
        self._pid = os.getpid() if pid is None else pid
        self._lock: filelock.FileLock | None = None

    def acquire(self) -> None:
        """Take the lock now or raise LockHeldError naming the holder."""
        # thread_local=False: the run's worker threads must not see the lock as someone else's.
        try:
            self._lock = private_lock(self.path, timeout=0, thread_local=False)
            self._lock.acquire(timeout=0)
        except filelock.Timeout:
            self._refuse_foreign_owner()
            raise LockHeldError(
                f"another sync is already running ({self.describe_holder()})",
                hint="wait for it to finish; cron jobs can simply retry later (exit code 75)",
            ) from None
        except OSError as exc:
            # A lock file this user cannot create or open is not a lock someone holds: exit 75
            # would have cron treat every refused sync as "try later", forever.
            self._refuse_foreign_owner()
            if exc.filename is None:
                exc.filename = str(self.path)
            raise storage_error(exc, doing="create the sync lock") from None
        try:
            self._write_holder()
        except BaseException:
            self._lock.release()
            raise

    def _refuse_foreign_owner(self) -> None:
        """ConfigError when another user owns the lock file: not "another sync", not exit 75."""
        owner = foreign_owner(self.path)
        if owner is not None:
            # Not "another sync": exit 75 would let cron treat a blocked sync as success.
            raise ConfigError(
                f"{self.path} is owned by another user (uid {owner}), who can keep every "
                "sync from running",
                hint=f"remove it (`rm {self.path}`) and make the directory private "
                f"(`chmod 700 {self.path.parent}`); `soldscope doctor` checks both",
            ) from None

    def _write_holder(self) -> None:
        """Name this process in the sidecar, written whole or not at all."""
        info = {"pid": self._pid, "started_at": format_time(self._clock())}
        sidecar = holder_file(self.path)
        tmp = sidecar.with_name(sidecar.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(info, handle)
        os.replace(tmp, sidecar)

    def describe_holder(self) -> str:
        """'pid 1234, started 2026-11-29T12:00:00Z' from the sidecar, as far as it is readable."""
        try:
            info = json.loads(holder_file(self.path).read_text(encoding="utf-8"))
            return f"pid {int(info['pid'])}, started {info['started_at']}"
        except (OSError, ValueError, KeyError, TypeError):
            return "its pid and start time are unknown"

    def release(self) -> None:
        """Drop the lock (and the sidecar, which would otherwise name a finished process)."""
        try:
            holder_file(self.path).unlink(missing_ok=True)
        finally:
            if self._lock is not None:
                self._lock.release()

    def __enter__(self) -> SyncLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
