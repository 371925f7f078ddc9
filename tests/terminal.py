"""Run the installed `soldscope` on a real pseudo-terminal of a given size, as a person's shell."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import termios
import time
from dataclasses import dataclass

from tests.prerequisites import SOLDSCOPE

_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")


@dataclass
class PtyRun:
    """What a person would see: stdout and stderr share the terminal, as in a shell."""

    returncode: int
    raw: str

    @property
    def text(self) -> str:
        """The screen's text without colour codes or carriage returns."""
        return _ESCAPES.sub("", self.raw)

    @property
    def lines(self) -> list[str]:
        return self.text.splitlines()


def run_on_pty(
    args: list[str], env: dict[str, str], *, columns: int, rows: int = 50, timeout: float = 60
) -> PtyRun:
    """Run soldscope with stdin, stdout and stderr on a pty `columns` wide (COLUMNS set too)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    full_env = {**env, "COLUMNS": str(columns), "LINES": str(rows)}
    full_env.setdefault("TERM", "xterm-256color")
    proc = subprocess.Popen(
        [str(SOLDSCOPE), *args], stdin=slave, stdout=slave, stderr=slave, env=full_env
    )
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        else:
            proc.kill()
            raise TimeoutError(f"soldscope {' '.join(args)} ran over {timeout} s")
    finally:
        os.close(master)
    return PtyRun(proc.wait(timeout=10), b"".join(chunks).decode("utf-8", "replace"))
