"""Terminal policy, decided once per process: TTY, colour (NO_COLOR, FORCE_COLOR), consoles."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from rich.console import Console


class Terminal(Protocol):
    """The streams and consoles a renderer writes to (AppContext provides them)."""

    stdin: IO[str]
    stdout: IO[str]
    stderr: IO[str]
    stdin_tty: bool | None
    stdout_tty: bool | None
    stderr_tty: bool | None

    @property
    def policy(self) -> OutputPolicy: ...

    @property
    def out(self) -> Console: ...

    @property
    def err(self) -> Console: ...

    @property
    def can_prompt(self) -> bool: ...


@dataclass(frozen=True)
class OutputPolicy:
    """Decided once per process: is stdout a terminal, and may we use colour."""

    stdout_tty: bool
    stderr_tty: bool
    color: bool
    width: int = 80  # the terminal's columns (COLUMNS wins, as for Rich); 80 when unknown

    @property
    def rich(self) -> bool:
        """Rich tables and progress when a person is watching."""
        return self.stdout_tty

    @classmethod
    def decide(
        cls,
        env: Mapping[str, str],
        *,
        stdout_tty: bool,
        stderr_tty: bool,
        no_color_flag: bool = False,
        terminal_width: int | None = None,
    ) -> OutputPolicy:
        """--no-color > NO_COLOR > FORCE_COLOR > TTY (TERM=dumb: no colour); COLUMNS > size."""
        if no_color_flag or env.get("NO_COLOR"):
            color = False
        elif env.get("FORCE_COLOR"):
            color = True
        else:
            color = stdout_tty and env.get("TERM") != "dumb"
        columns = env.get("COLUMNS", "")
        width = int(columns) if columns.isdigit() and int(columns) > 0 else terminal_width or 80
        return cls(stdout_tty=stdout_tty, stderr_tty=stderr_tty, color=color, width=width)


def terminal_width(stream: IO[str]) -> int | None:
    """The columns of the terminal `stream` writes to, or None when it is not one."""
    import os

    try:
        return os.get_terminal_size(stream.fileno()).columns or None
    except (AttributeError, OSError, ValueError):
        return None


def make_console(stream: IO[str], policy: OutputPolicy, *, is_tty: bool) -> Console:
    """A Rich console with the colour decision passed explicitly (never frozen at import)."""
    from rich.console import Console

    class PipeConsole(Console):
        """Leaves a closed pipe to cli.py (exit 141): Rich's default exits 1 ("unhealthy")."""

        def on_broken_pipe(self) -> None:
            self.quiet = True  # nothing more is written to a reader that went away
            raise BrokenPipeError

    return PipeConsole(
        file=stream,
        force_terminal=is_tty or policy.color,
        no_color=not policy.color,
        color_system="auto" if policy.color else None,
        highlight=False,
        soft_wrap=not is_tty,
        emoji=False,
    )


def stderr_write(text: str) -> None:
    """Fallback error writer used before a context exists."""
    sys.stderr.write(text + "\n")
