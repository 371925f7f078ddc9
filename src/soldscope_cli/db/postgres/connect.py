"""Opening a PostgreSQL connection: settings every session needs, errors as one safe line."""

from __future__ import annotations

from typing import Any

import psycopg

from soldscope_cli.db.url import masked_url, url_password
from soldscope_cli.errors import StorageError
from soldscope_cli.redact import redact, register_secret

CONNECT_TIMEOUT_S = 10


class DatabaseUnavailable(StorageError):
    """The PostgreSQL server could not be reached or refused this login."""

    subject = "the PostgreSQL database cannot be reached"


class StatementFailed(DatabaseUnavailable):
    """One transaction failed on a server that answers (a statement timeout, a deadlock, the
    session ended by a restart): that work failed, not every store's."""

    shared = False


def unavailable(url: str, exc: BaseException, doing: str = "connect to") -> DatabaseUnavailable:
    """One line naming the server (password masked) and what it answered."""
    return DatabaseUnavailable(
        _line(url, exc, doing),
        hint="check the server is running and SOLDSCOPE_DATABASE_URL (or [database] url in "
        "config.toml), then run `soldscope doctor`",
    )


def statement_failed(url: str, exc: BaseException, doing: str = "write to") -> StatementFailed:
    """One line naming the database (password masked), what failed and what it answered."""
    return StatementFailed(
        _line(url, exc, doing),
        hint="the next run tries again; if it keeps failing, check the server's log and "
        "settings (statement_timeout), then run `soldscope doctor`",
    )


def _line(url: str, exc: BaseException, doing: str) -> str:
    # libpq's messages span lines ("connection to server ... failed: FATAL: ..."): keep one.
    reason = " ".join(str(exc).split()) or exc.__class__.__name__
    return f"cannot {doing} the PostgreSQL database {masked_url(url)}: {redact(reason)}"


def open_connection(url: str, *, timeout: float = CONNECT_TIMEOUT_S) -> psycopg.Connection[Any]:
    """A connection with autocommit off and times in UTC; DatabaseUnavailable if it fails."""
    password = url_password(url)
    if password:
        register_secret(password)
    try:
        conn = psycopg.connect(
            url,
            autocommit=False,
            connect_timeout=max(1, int(timeout)),
            application_name="soldscope",
        )
    except psycopg.Error as exc:
        raise unavailable(url, exc) from None
    try:
        # Stored times are timestamptz; a bare time (an export's --since) means UTC, as in SQLite.
        conn.execute("SET TIME ZONE 'UTC'")
        conn.commit()
    except psycopg.Error as exc:
        conn.close()
        raise unavailable(url, exc) from None
    return conn
