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

        from soldscope_cli.output.wrap import wrap_line

        width = app.policy.width
        for result in results:
            key = result.status.value
            symbol, title = symbols[key], f" {result.title}: "
            # Wrapped here, not by Rich: a continuation is indented under its line, and a
            # backticked command is never cut in two.
            for i, part in enumerate(wrap_line(f"{symbol}{title}{result.detail}", width)):
                line = Text(part)
                if i == 0:
                    line.stylize(STYLES[key], 0, len(symbol))
                    line.stylize("bold", len(symbol), len(symbol) + len(title))
                app.out.print(line, soft_wrap=True)
            if result.fix and key in ("warn", "fail"):
                for part in wrap_line(f"    fix: {result.fix}", width, hang=5):
                    app.out.print(Text(part, style="cyan"), soft_wrap=True)
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
