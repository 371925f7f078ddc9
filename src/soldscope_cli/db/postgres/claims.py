"""Store claims for concurrent sync workers: PostgreSQL session advisory locks.

A worker claims a store with pg_try_advisory_lock on a session of its own; the lock lasts until
it is released or the session ends, so a worker killed with -9 or cut off with its host releases
its stores as soon as the server notices the connection is gone. No job table, no heartbeat, and
no scheduler of our own: the server's lock manager is the queue. A store that another worker
synced after this run started is not synced again, so two runs started together split the fleet
instead of syncing it twice.
"""

from __future__ import annotations

import contextlib
import threading
from datetime import datetime
from typing import Any

import psycopg

from soldscope_cli.db.postgres.connect import open_connection, unavailable

# The advisory lock key space is shared by every application on the database: soldscope's claims
# use this first key ("SOLD" in ASCII) and the store's id as the second.
LOCK_CLASS = 0x534F4C44 - 2**31  # an int4

# Said after the outcome `busy`: "acme-us: busy — another worker is syncing it".
BUSY = "another worker is syncing it"
SYNCED_MEANWHILE = "another worker synced it during this run"


class AdvisoryClaims:
    """One session holding this worker's claims; thread-safe (the sync's workers share it)."""

    def __init__(self, url: str, reads: Any) -> None:
        self._url = url
        self._reads = reads  # the engine: the synced-meanwhile read runs on its own connection
        self._conn: psycopg.Connection[Any] = open_connection(url)
        self._conn.autocommit = True  # a session lock needs no transaction around it
        self._lock = threading.Lock()

    def claim(self, store_id: int, run_started: datetime) -> str | None:
        with self._lock:
            try:
                row = self._try_lock(store_id)
            except psycopg.OperationalError as exc:
                if not (self._conn.closed or self._conn.broken):
                    raise unavailable(self._url, exc, doing="claim a store in") from exc
                # The server ended the session (a restart): its locks are gone with it. A new
                # session claims the stores still to do; a server that cannot be reached at all
                # is DatabaseUnavailable from open_connection.
                self._conn.close()
                self._conn = open_connection(self._url)
                self._conn.autocommit = True
                try:
                    row = self._try_lock(store_id)
                except psycopg.OperationalError as again:
                    raise unavailable(self._url, again, doing="claim a store in") from again
        if not (row and row[0]):
            return BUSY
        synced = self._reads.query(
            "SELECT 1 FROM sync_runs WHERE store_id = %s AND started_at >= %s LIMIT 1",
            (store_id, run_started),
        )
        if synced:
            self.release(store_id)
            return SYNCED_MEANWHILE
        return None

    def _try_lock(self, store_id: int) -> tuple[Any, ...] | None:
        return self._conn.execute(
            "SELECT pg_try_advisory_lock(%s, %s)", (LOCK_CLASS, store_id)
        ).fetchone()

    def release(self, store_id: int) -> None:
        with self._lock:
            if self._conn.closed:
                return  # the session is gone, and its locks with it
            # A lost session holds nothing any more.
            with contextlib.suppress(psycopg.OperationalError):
                self._conn.execute("SELECT pg_advisory_unlock(%s, %s)", (LOCK_CLASS, store_id))

    def close(self) -> None:
        with self._lock:
            self._conn.close()
