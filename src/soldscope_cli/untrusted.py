"""Text from outside soldscope, made safe to store and print: no terminal control sequences.

Amazon's error messages, a callback's parameters, the store names Amazon reports and a note
pasted into `invite --note` reach the terminal, the alerts and the database. An escape sequence
among them would clear the screen, retitle the window or plant a hidden OSC-8 link: every such
string passes through `printable` where it enters (amazon/, consent/, onboarding/), once.
"""

from __future__ import annotations

import re

# Whole sequences first, so their parameters ("[2J", "]8;;https://…") go with the ESC:
# OSC (ESC ] or 0x9d … BEL, ESC \ or 0x9c), DCS/SOS/PM/APC strings alike, CSI (ESC [ or 0x9b),
# then any other two-byte escape. ECMA-48 §5.
_SEQUENCES = re.compile(
    r"(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|(?:\x1b\[|\x9b)[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]?"
    r"|\x1b[\x20-\x7e]?"
)
# What is left of C0, DEL and C1, and the bidirectional overrides that reorder what is shown
# (U+202A-U+202E, U+2066-U+2069).
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_LINE_BREAKS = re.compile(r"[\t\n\r\v\f]+")


def printable(text: str, *, limit: int | None = None) -> str:
    """The text on one line without control characters or escape sequences.

    Line breaks and tabs become one space, every other control character and whole escape
    sequence disappears, and the result is cut to `limit` characters (with "…") when given.
    """
    flat = _CONTROLS.sub("", _LINE_BREAKS.sub(" ", _SEQUENCES.sub("", text)))
    flat = " ".join(flat.split())
    if limit is not None and len(flat) > limit:
        return flat[: limit - 1] + "…"
    return flat


def is_printable(text: str) -> bool:
    """Whether the text carries no control character (what `printable` would change)."""
    return _CONTROLS.search(text) is None
