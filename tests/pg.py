"""A throwaway PostgreSQL cluster for the team-mode tests, started as a person would.

initdb (as the postgres user when running as root: initdb refuses root) into a temporary
directory, pg_ctl start on a free port of 127.0.0.1 with the socket in that directory, one
template database migrated once, then a fresh copy of it per test. Missing binaries fail the
tests: team mode is part of the product, and CI installs PostgreSQL (.ci/run).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from itertools import count
from pathlib import Path
from typing import Any

from tests.serve_process import free_port

TEMPLATE = "soldscope_template"
_numbers = count(1)


def find_bindir() -> Path | None:
    """Where initdb and pg_ctl live: PATH, then `pg_config --bindir`, then Debian's layout."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        candidate = Path(out.stdout.strip())
        if (candidate / "initdb").exists():
            return candidate
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(candidate) / "initdb").exists():
            return Path(candidate)
    return None


class Cluster:
    """A running cluster: URLs of its databases, fresh copies of the template."""

    def __init__(self, bindir: Path, root: Path, port: int) -> None:
        self.bindir = bindir
        self.root = root
        self.port = port

    def url(self, dbname: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def admin(self, statement: str) -> None:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(statement.encode())

    def fresh_database(self, *, template: str | None = TEMPLATE) -> str:
        """A new database (a copy of the migrated template, or empty); returns its URL."""
        name = f"t{os.getpid()}_{next(_numbers)}"
        source = f" TEMPLATE {template}" if template else ""
        self.admin(f"CREATE DATABASE {name}{source}")
        return self.url(name)

    def stop(self) -> None:
        _as_postgres(
            [str(self.bindir / "pg_ctl"), "-D", str(self.root / "data"), "-m", "immediate", "stop"],
            check=False,
        )
        shutil.rmtree(self.root, ignore_errors=True)


def _as_postgres(args: Sequence[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
    command = list(args)
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    return subprocess.run(command, capture_output=True, text=True, check=check, timeout=120)


def start_cluster() -> Cluster:
    """initdb + pg_ctl start; raises RuntimeError with the reason when it cannot."""
    bindir = find_bindir()
    if bindir is None:
        raise RuntimeError(
            "PostgreSQL's initdb and pg_ctl were not found (PATH, pg_config --bindir, "
            "/usr/lib/postgresql/*/bin): install PostgreSQL (apt-get install postgresql) to run "
            "the team-mode tests"
        )
    # Not under pytest's tmp dir: the postgres user must be able to reach it.
    root = Path(tempfile.mkdtemp(prefix="soldscope-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    port = free_port()
    try:
        _as_postgres(
            [
                str(bindir / "initdb"),
                "-D",
                str(root / "data"),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ]
        )
        options = (
            f"-p {port} -c listen_addresses=127.0.0.1 -k {root} -c fsync=off"
            " -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        _as_postgres(
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(root / "data"),
                "-l",
                str(root / "server.log"),
                "-w",
                "-o",
                options,
                "start",
            ]
        )
    except subprocess.CalledProcessError as exc:
        log = (root / "server.log").read_text() if (root / "server.log").exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"could not start PostgreSQL: {exc.stderr or exc.stdout}{log}") from None
    cluster = Cluster(bindir, root, port)
    cluster.admin(f"CREATE DATABASE {TEMPLATE}")
    from soldscope_cli.db.postgres.engine import Database

    template = Database(cluster.url(TEMPLATE))
    template.migrate()
    template.close()
    return cluster


# Columns that hold Amazon's times (timestamptz here, Amazon's text in SQLite), and whether
# Amazon writes them with milliseconds (Finances does, FBA Inventory does not).
AMAZON_TIMES = {"last_updated_time": False, "posted_date": True}


def plain(value: Any, column: str = "") -> Any:
    """A PostgreSQL value as the SQLite engine stores it, so one assertion serves both."""
    if isinstance(value, datetime):
        from soldscope_cli.db.model import to_db_time

        if column in AMAZON_TIMES:
            text = value.strftime("%Y-%m-%dT%H:%M:%S")
            millis = value.microsecond // 1000
            with_millis = AMAZON_TIMES[column] or millis
            return text + (f".{millis:03d}" if with_millis else "") + "Z"
        return to_db_time(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return value


def pg_rows(conn: Any, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """A test's SQLite-style query (`?` marks) on a PostgreSQL connection, values made plain."""
    from psycopg.types.string import TextLoader

    with conn.transaction():
        cur = conn.cursor()
        # JSON as its text, as SQLite returns it (psycopg would parse it, numbers as floats).
        cur.adapters.register_loader("jsonb", TextLoader)
        cur.adapters.register_loader("json", TextLoader)
        cur.execute(sql.replace("?", "%s").encode(), tuple(params))
        names = [c.name for c in cur.description or ()]
        found = cur.fetchall()
    return [tuple(plain(v, n) for v, n in zip(row, names, strict=True)) for row in found]
