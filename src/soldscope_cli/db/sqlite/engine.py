"""The SQLite state database: connections, migrations, stores, check history, sync bookkeeping."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from soldscope_cli.db.model import (
    CHECK_PROBLEM,
    DEFAULT_RETENTION_DAYS,
    IntegrityReport,
    StoreState,
    from_db_time,
    to_db_time,
)
from soldscope_cli.db.sql import Dialect, Tx
from soldscope_cli.db.sqlite.dialect import DIALECT
from soldscope_cli.db.sqlite.migrations import Migration
from soldscope_cli.db.tables.core import StateDatabase, read_states, read_token_writes
from soldscope_cli.errors import ConfigError, StorageError
from soldscope_cli.status import Problem

_T = TypeVar("_T")


# The page cache of each connection, in KiB (PRAGMA cache_size takes a negative size in KiB): up to
# this much memory per store whose document loads at the same moment (sync runs 4 at once).
CACHE_KIB = 48 * 1024


class Database(StateDatabase):
    """The state database at one path, at the schema its migrations describe; one connection per
    thread."""

    dialect: Dialect = DIALECT

    def __init__(
        self,
        path: Path,
        migrations: Sequence[Migration],
        *,
        retention_days: int = DEFAULT_RETENTION_DAYS,
    ) -> None:
        self.path = path
        self.migrations = tuple(migrations)
        self.retention_days = retention_days
        self._local = threading.local()
        self._migrated = False
        self._migrate_lock = threading.Lock()
        # name -> id of its live connection; filled only from committed rows.
        self._ids: dict[str, int] = {}
        self._names: dict[int, str] = {}

    # --- connections and transactions -----------------------------------------------------------

    def connection(self) -> sqlite3.Connection:
        """This thread's connection, migrated to the current schema."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._open()
            self._local.conn = conn
        if not self._migrated:
            with self._migrate_lock:
                if not self._migrated:
                    self._migrate(conn)
                    self._migrated = True
        return conn

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not self.path.exists():
            # Create it 0600 ourselves: sqlite would use the umask, and synced data is private.
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        try:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            # A document load upserts into indexes far larger than SQLite's default 2 MB cache:
            # each row's pages were read back from the OS and spilled to the WAL mid-transaction
            # (a 1,000,000-line orders load took a sixth longer). Pages are cached only as they
            # are read, so a small command never grows to this.
            conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        except sqlite3.DatabaseError as exc:
            refused = refused_write(self.path, exc)
            if refused is not None:
                raise refused from None
            raise ConfigError(
                f"{self.path}: cannot open the state database: {exc}",
                hint="run `soldscope doctor`; move the file aside to start afresh",
            ) from None
        conn.row_factory = sqlite3.Row
        return conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT)"
        )
        done = {row[0] for row in conn.execute("SELECT name FROM schema_migrations")}
        for name, apply in self.migrations:
            if name in done:
                continue
            with self.transaction(conn) as tx:
                # Re-check inside the write lock: another process may have just applied it.
                if tx.execute("SELECT 1 FROM schema_migrations WHERE name = ?", (name,)).fetchone():
                    continue
                apply(tx)
                tx.execute(
                    "INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)",
                    (name, to_db_time(datetime.now(UTC))),
                )

    def pending_migrations(self) -> list[str]:
        """Migrations not yet applied (without applying them)."""
        conn = self._open()
        try:
            try:
                done = {r[0] for r in conn.execute("SELECT name FROM schema_migrations")}
            except sqlite3.OperationalError:
                done = set()
            return [name for name, _ in self.migrations if name not in done]
        finally:
            conn.close()

    @contextmanager
    def transaction(self, conn: sqlite3.Connection | None = None) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception."""
        conn = conn or self.connection()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            storage = self._storage_error(exc)
            if storage is None:
                raise
            raise storage from exc

    def _storage_error(self, exc: sqlite3.OperationalError) -> StorageError | None:
        """The StorageError of a write the filesystem refused (full, read-only), else None."""
        return refused_write(self.path, exc)

    # --- what the shared table code needs -------------------------------------------------------

    @contextmanager
    def reading(self) -> Iterator[Tx]:
        """This thread's connection: a read sees the latest commit (WAL), inside a caller's
        transaction its writes too."""
        yield Tx(self.connection(), DIALECT)

    @contextmanager
    def writing(self) -> Iterator[Tx]:
        """BEGIN IMMEDIATE ... COMMIT; inside a transaction this thread already holds (a
        `delete`'s, which removes a token inside it) it joins that one: a nested BEGIN would
        fail, and the write must roll back with it."""
        conn = self.connection()
        if conn.in_transaction:
            yield Tx(conn, DIALECT)
            return
        with self.transaction(conn) as tx:
            yield Tx(tx, DIALECT)

    def in_transaction(self) -> bool:
        return self.connection().in_transaction

    def close(self) -> None:
        """Close this thread's connection."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # One sync lock per home (sync/lock.py) serialises runs, and config.toml lists the stores.
    registry: None = None

    def claims(self) -> None:
        """None: a SQLite home's syncs never run side by side."""
        return None

    def peek_states(self, stores: Sequence[str]) -> dict[str, StoreState]:
        """states() without creating or migrating the file (for `list`)."""
        return read_states_if_exists(self.path, stores)


def _read_states_by_name(conn: sqlite3.Connection, stores: Sequence[str]) -> dict[str, StoreState]:
    """The same read on a database no newer command has migrated yet (schema before stores)."""
    found: dict[str, StoreState] = {}
    for name in stores:
        conclusive = conn.execute(
            "SELECT outcome, error_code, error_message, checked_at, request_id FROM checks"
            " WHERE store = ? AND outcome IN ('ok', 'problem') ORDER BY id DESC LIMIT 1",
            (name,),
        ).fetchone()
        checked = conn.execute("SELECT MAX(checked_at) FROM checks WHERE store = ?", (name,))
        synced = conn.execute(
            "SELECT MAX(finished_at) FROM sync_runs WHERE store = ? AND outcome = 'ok'", (name,)
        )
        last_checked, last_synced = checked.fetchone()[0], synced.fetchone()[0]
        problem = None
        if conclusive is not None and conclusive[0] == CHECK_PROBLEM:
            problem = Problem(
                conclusive[1] or "unknown",
                conclusive[2] or "",
                from_db_time(conclusive[3]),
                conclusive[4],
            )
        found[name] = StoreState(
            problem,
            from_db_time(last_checked) if last_checked else None,
            from_db_time(last_synced) if last_synced else None,
        )
    return found


def refused_write(path: Path, exc: sqlite3.DatabaseError) -> StorageError | None:
    """The StorageError of a database the filesystem refused (full, read-only, not this user's),
    else None: the file is fine, so "move it aside" would be the wrong advice (exit 74, not 2)."""
    text = str(exc).lower()
    if "disk is full" in text or "database or disk is full" in text:
        return StorageError(
            f"cannot write the state database {path}: the disk is full",
            hint=f"free some space on the filesystem that holds {path.parent}, then "
            "run the command again (what was stored before is intact)",
        )
    unwritable = not os.access(path.parent, os.W_OK) or (
        path.exists() and not os.access(path, os.W_OK)
    )
    if (
        "readonly" in text
        or "read-only" in text
        or "disk i/o error" in text
        or ("unable to open database file" in text and unwritable)
    ):
        read_only_fs = _on_read_only_filesystem(path.parent)
        target = path if path.exists() and os.access(path.parent, os.W_OK) else path.parent
        mounted = " (its filesystem is mounted read-only)" if read_only_fs else ""
        return StorageError(
            f"cannot write the state database {path}: {exc}",
            hint=f"make {target} writable for this user{mounted}, or point SOLDSCOPE_DATA_DIR "
            "at a writable directory",
        )
    return None


def _on_read_only_filesystem(directory: Path) -> bool:
    """Whether the directory lies on a filesystem mounted read-only."""
    try:
        return bool(os.statvfs(directory).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def read_states_if_exists(path: Path, stores: Sequence[str]) -> dict[str, StoreState]:
    """Read-only StoreState lookup that never creates or migrates the database (for `list`)."""

    def read(conn: sqlite3.Connection, tables: set[str]) -> dict[str, StoreState]:
        if "checks" not in tables:
            return {}
        if "stores" not in tables:
            return _read_states_by_name(conn, stores)
        return read_states(Tx(conn, DIALECT), stores)

    return _read_if_exists(path, read, {})


def read_token_writes_if_exists(path: Path) -> dict[str, datetime]:
    """The ledger's token_written names and times, read-only (doctor); none without a file."""

    def read(conn: sqlite3.Connection, tables: set[str]) -> dict[str, datetime]:
        return read_token_writes(Tx(conn, DIALECT)) if "events" in tables else {}

    return _read_if_exists(path, read, {})


def _read_if_exists(
    path: Path, read: Callable[[sqlite3.Connection, set[str]], _T], empty: _T
) -> _T:
    """One read on the file opened read-only: `empty` when there is no file or no table yet."""
    if not path.exists():
        return empty
    try:
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=10)
    except sqlite3.Error as exc:
        raise ConfigError(
            f"{path}: cannot open the state database: {exc}", hint="run `soldscope doctor`"
        ) from None
    try:
        tables = {
            str(r[0]) for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        return read(conn, tables)
    except sqlite3.DatabaseError as exc:  # OperationalError, or "file is not a database"
        if "no such table" in str(exc):
            return empty
        refused = refused_write(path, exc)
        if refused is not None:
            raise refused from None
        raise ConfigError(
            f"{path}: cannot read the state database: {exc}",
            hint="run `soldscope doctor`; move the file aside to start afresh",
        ) from None
    finally:
        conn.close()


# --- integrity (for doctor) ------------------------------------------------------------------------


def check_integrity(path: Path, monotonic: Callable[[], float], budget: float) -> IntegrityReport:
    """Open the database read-only, run integrity_check for at most `budget` s, list migrations."""
    try:
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=2)
    except sqlite3.Error as exc:
        return IntegrityReport(error=f"cannot open: {exc}")
    try:
        deadline = monotonic() + budget
        # integrity_check reads every page; on a multi-gigabyte database it would blow the
        # doctor's time budget, so it is interrupted and reported as not finished.
        conn.set_progress_handler(lambda: 1 if monotonic() > deadline else 0, 10_000)
        finished = True
        findings: tuple[str, ...] = ()
        try:
            rows = [str(row[0]) for row in conn.execute("PRAGMA integrity_check").fetchall()]
            findings = () if rows == ["ok"] else tuple(rows)
        except sqlite3.OperationalError as exc:
            if "interrupt" not in str(exc):
                return IntegrityReport(error=str(exc))
            finished = False
        except sqlite3.DatabaseError as exc:
            return IntegrityReport(error=str(exc))
        conn.set_progress_handler(None, 0)
        try:
            applied = frozenset(
                str(row[0]) for row in conn.execute("SELECT name FROM schema_migrations")
            )
        except sqlite3.OperationalError:
            applied = frozenset()
        return IntegrityReport(None, findings, finished, applied)
    finally:
        conn.close()


class LocalStates:
    """A SQLite home's stores' states, read without creating or migrating the file (`list`)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def peek_states(self, stores: Sequence[str]) -> dict[str, StoreState]:
        return read_states_if_exists(self.path, stores)

    def peek_token_writes(self) -> dict[str, datetime]:
        return read_token_writes_if_exists(self.path)


class LocalFile:
    """What doctor asks of a SQLite home's file, without changing it (db.interface.LocalFile)."""

    def __init__(self, migrations: Sequence[Migration]) -> None:
        self.migrations = tuple(migrations)

    def integrity(
        self, path: Path, monotonic: Callable[[], float], budget: float
    ) -> IntegrityReport:
        return check_integrity(path, monotonic, budget)

    def known_migrations(self) -> list[str]:
        return [name for name, _ in self.migrations]

    def pending_migrations(self, path: Path) -> list[str]:
        return Database(path, self.migrations).pending_migrations()

    def states(self, path: Path) -> LocalStates:
        return LocalStates(path)

    def ledger(self, path: Path) -> LocalStates:
        return LocalStates(path)
