"""Noticing that the reader of stdout went away (`| head`, `| true`), whoever saw it first.

Exit 141 means "output was lost because the reader left"; the signs differ by who noticed:
- our own code: a BrokenPipeError (our Rich consoles raise it instead of exiting 1);
- Click, e.g. `--version | true`: it swaps sys.stdout for a wrapper and exits 1;
- Rich in Typer's help, `--help | true`: it points fd 1 at /dev/null and exits 1;
- nobody: CPython 3.11 reports a large write that the kernel cut short (the reader closed while it
  was blocked) as complete, so `list --json | head -c 100` would exit 0. The pipe then has no reader
  and still holds bytes nobody will read.
"""

from __future__ import annotations

import os
import stat
import sys
from typing import Any

StdoutIdentity = tuple[int, int] | None


def identity(fd: int = 1) -> StdoutIdentity:
    """(device, inode) of what fd 1 points at, to tell later whether someone replaced it."""
    try:
        info = os.fstat(fd)
    except (OSError, ValueError):
        return None
    return (info.st_dev, info.st_ino)


def _devnull() -> StdoutIdentity:
    try:
        info = os.stat(os.devnull)
    except OSError:
        return None
    return (info.st_dev, info.st_ino)


def unread_output_lost(fd: int = 1) -> bool:
    """True when fd is a pipe whose reader has gone while bytes we wrote are still unread."""
    try:
        import fcntl
        import select
        import struct
        import termios
    except ImportError:  # Windows: no poll, no FIONREAD on pipes
        return False
    try:
        if not stat.S_ISFIFO(os.fstat(fd).st_mode):
            return False
        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        # POLLERR on a pipe's write end: no reader is left.
        if not any(events & select.POLLERR for _, events in poller.poll(0)):
            return False
        raw = fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0")
        return bool(struct.unpack("i", raw)[0] > 0)
    except (OSError, ValueError):
        return False


def reader_went_away(original_stdout: Any, at_start: StdoutIdentity) -> bool:
    """Whether stdout's reader left while output was still coming (see the module docstring)."""
    if sys.stdout is not original_stdout:
        return True  # Click's wrapper
    devnull = _devnull()
    if devnull is not None and at_start != devnull and identity() == devnull:
        return True  # Rich's /dev/null
    return unread_output_lost()


def silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
