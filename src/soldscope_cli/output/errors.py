"""Errors as one line on stderr: what went wrong, then how to fix it."""

from __future__ import annotations

import sys
from typing import Any

from soldscope_cli.errors import SoldscopeError


def render_error(ctx_obj: Any, error: SoldscopeError) -> None:
    """One line on stderr: what went wrong, then how to fix it."""
    text = f"error: {error}"
    if error.hint:
        text += f" — {error.hint}"
    err = getattr(ctx_obj, "err", None)
    if err is not None:
        from rich.text import Text

        err.print(Text(text, style="red" if getattr(ctx_obj.policy, "color", False) else ""))
    else:
        sys.stderr.write(text + "\n")
