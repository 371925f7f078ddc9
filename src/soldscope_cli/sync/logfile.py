"""The sync log in the data dir: every run, with Amazon request ids on errors, never a secret."""

from __future__ import annotations

import logging
import logging.handlers
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from soldscope_cli.redact import RedactingFilter

MAX_BYTES = 5 * 1024 * 1024
BACKUPS = 3
# The package logger: sync's own records and warnings from the SP-API and LWA clients.
LOGGER = "soldscope_cli"
FORMAT = "%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"


class _PrivateRotatingHandler(logging.handlers.RotatingFileHandler):
    """Rotating file handler whose files (and rotated ones) are created mode 0600.

    A record that cannot be written (a full disk) is dropped quietly: the logging module's
    default prints a traceback to stderr for every record, burying the sync's own summary.
    """

    dropped = 0

    def handleError(self, record: logging.LogRecord) -> None:
        self.dropped += 1

    def _open(self):  # type: ignore[no-untyped-def]
        path = Path(self.baseFilename)
        if not path.exists():
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600))
        return super()._open()


@contextmanager
def sync_log(path: Path) -> Iterator[logging.Handler]:
    """Attach the redacting, rotating, 0600 log file to soldscope's loggers for one run."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    handler = _PrivateRotatingHandler(
        path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8", delay=False
    )
    handler.setLevel(logging.INFO)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger(LOGGER)
    previous = logger.level
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
        handler.close()
