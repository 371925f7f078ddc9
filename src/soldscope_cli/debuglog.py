"""--debug logging: everything passes through the redacting filter before it is written."""

from __future__ import annotations

import logging
from typing import IO


def enable_debug_logging(stream: IO[str]) -> None:
    """Send soldscope's and httpx's debug logs to stream, with secrets redacted."""
    from soldscope_cli.redact import RedactingFilter

    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("debug: %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    for name in ("soldscope_cli", "httpx"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.DEBUG)
        logger.addHandler(handler)
