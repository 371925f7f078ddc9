"""One sync at a time per data dir, and the log file's mode and contents."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest

from soldscope_cli.errors import ExitCode, LockHeldError
from soldscope_cli.redact import register_secret
from soldscope_cli.sync.lock import SyncLock, holder_file
from soldscope_cli.sync.logfile import sync_log

from .conftest import NOW


def test_second_lock_fails_at_once_naming_the_holder(tmp_path: Path) -> None:
    path = tmp_path / "data" / "sync.lock"
    with SyncLock(path, lambda: NOW, pid=4242):
        with pytest.raises(LockHeldError) as caught:
            SyncLock(path, lambda: NOW).acquire()
        assert caught.value.exit_code == ExitCode.LOCKED == 75
        assert "pid 4242" in caught.value.message
        assert "2026-11-25T12:00:00Z" in caught.value.message
    assert not holder_file(path).exists()
    # Released: the next sync may start.
    with SyncLock(path, lambda: NOW):
        pass


def test_unreadable_holder_file_still_refuses(tmp_path: Path) -> None:
    path = tmp_path / "sync.lock"
    with SyncLock(path, lambda: NOW):
        holder_file(path).write_text("{not json")
        with pytest.raises(LockHeldError, match="unknown"):
            SyncLock(path, lambda: NOW).acquire()


def test_stale_holder_file_of_a_dead_process_does_not_block(tmp_path: Path) -> None:
    path = tmp_path / "sync.lock"
    holder_file(path).write_text('{"pid": 999999, "started_at": "2026-01-01T00:00:00Z"}')
    with SyncLock(path, lambda: NOW, pid=7):
        assert '"pid": 7' in holder_file(path).read_text()


def test_log_file_is_private_rotating_and_redacted(tmp_path: Path) -> None:
    path = tmp_path / "data" / "soldscope.log"
    secret = "Atzr|IwEBIsupersecretrefreshtoken"
    register_secret("client-secret-value-123")
    log = logging.getLogger("soldscope_cli.sync")
    with sync_log(path):
        log.error("failed with %s and client-secret-value-123 [request id abc-123]", secret)
    log.error("after the run: not in the file")
    text = path.read_text()
    assert "request id abc-123" in text
    assert "supersecret" not in text and "client-secret-value-123" not in text
    assert "not in the file" not in text
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert not logging.getLogger("soldscope_cli").handlers
