"""What doctor shows: one line per check, each warning and failure with its fix, a tally."""

from __future__ import annotations

from collections import Counter
from typing import IO

from soldscope_cli.doctor.model import CheckResult
from soldscope_cli.output.policy import Terminal

SYMBOLS = {"ok": "✓", "skip": "-", "warn": "!", "fail": "✗"}


# For terminals and pipes whose encoding has no ✓ and ✗ (LANG=C on older systems, cp1252).
ASCII_SYMBOLS = {"ok": "ok  ", "skip": "skip", "warn": "warn", "fail": "FAIL"}


STYLES = {"ok": "green", "skip": "dim", "warn": "yellow", "fail": "bold red"}


def can_encode(stream: IO[str], text: str) -> bool:
    """Whether the stream's encoding can write text (no encoding attribute means Unicode)."""
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        text.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def tally(results: list[CheckResult]) -> str:
    """'2 failed, 1 warning, 14 ok, 1 skipped'."""
    counts = Counter(r.status.value for r in results)
    parts = []
    for key, one, many in (
        ("fail", "failed", "failed"),
        ("warn", "warning", "warnings"),
        ("ok", "ok", "ok"),
        ("skip", "skipped", "skipped"),
    ):
        if counts[key]:
            parts.append(f"{counts[key]} {one if counts[key] == 1 else many}")
    return ", ".join(parts)


def render_text(app: Terminal, results: list[CheckResult]) -> None:
    """One line per check, each warning and failure followed by its fix."""
    symbols = SYMBOLS if can_encode(app.stdout, "".join(SYMBOLS.values())) else ASCII_SYMBOLS
    if app.policy.rich:
        from rich.text import Text

        for result in results:
            key = result.status.value
            line = Text()
            line.append(symbols[key], style=STYLES[key])
            line.append(f" {result.title}: ", style="bold")
            line.append(result.detail)
            app.out.print(line)
            if result.fix and key in ("warn", "fail"):
                app.out.print(Text(f"    fix: {result.fix}", style="cyan"))
        app.out.print(tally(results), markup=False)
        return
    lines = []
    for result in results:
        key = result.status.value
        lines.append(f"{symbols[key]} {result.title}: {result.detail}")
        if result.fix and key in ("warn", "fail"):
            lines.append(f"    fix: {result.fix}")
    lines.append(tally(results))
    app.stdout.write("\n".join(lines) + "\n")
    app.stdout.flush()
