"""--debug logging reaches soldscope's own loggers and is redacted."""

from __future__ import annotations

import io
import logging

from soldscope_cli.debuglog import enable_debug_logging


def test_debug_lines_of_soldscope_modules_are_shown_and_redacted() -> None:
    stream = io.StringIO()
    enable_debug_logging(stream)
    try:
        logging.getLogger("soldscope_cli.amazon.lwa").debug(
            "refreshing with Atzr|IwEBIsecretvalue123"
        )
    finally:
        for name in ("soldscope_cli", "httpx"):
            logger = logging.getLogger(name)
            logger.handlers.clear()
            logger.setLevel(logging.NOTSET)
    text = stream.getvalue()
    assert "refreshing with" in text
    assert "IwEBIsecretvalue123" not in text
