"""Prose wrapped to the terminal: between words, continuations indented, commands kept whole."""

from __future__ import annotations

import re
import textwrap

# A command a person copies must not be cut in two: a backticked span, or what follows "run: ".
_PROTECTED = re.compile(r"`[^`]*`|(?<=run: )soldscope\b[^—;]*?(?=\s+—|;|$)")
_GLUE = "\ue000"  # a private-use character standing for a space that must not break


def wrap_line(line: str, width: int, *, hang: int = 2) -> list[str]:
    """One line wrapped to `width`, each continuation indented `hang` past the line's own indent.

    A word or protected span longer than the width stays whole on a line of its own (the terminal
    then wraps it), never split: a command copied from it must still run.
    """
    body = line.lstrip(" ")
    indent = line[: len(line) - len(body)]
    if len(line) <= width or not body:
        return [line]
    glued = _PROTECTED.sub(lambda m: m.group(0).replace(" ", _GLUE), body)
    lines = textwrap.wrap(
        glued,
        width=max(width, len(indent) + hang + 10),
        initial_indent=indent,
        subsequent_indent=" " * (len(indent) + hang),
        break_long_words=False,
        break_on_hyphens=False,
    )
    return [part.replace(_GLUE, " ") for part in lines] or [line]


def wrap_text(text: str, width: int, *, hang: int = 2) -> str:
    """Every line of the text wrapped by wrap_line."""
    return "\n".join(
        part for line in text.split("\n") for part in wrap_line(line, width, hang=hang)
    )
