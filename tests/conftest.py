"""Shared fixtures: a fake AppContext (fixed clock, in-memory secrets, StringIO streams)."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from soldscope_cli.cli import app
from soldscope_cli.context import AppContext
from soldscope_cli.fleet.config import ConfigFile, StoreRecord
from soldscope_cli.fleet.paths import Paths
from soldscope_cli.fleet.secrets import MemorySecretStore, token_key
from tests.pg import Cluster, pg_rows, start_cluster
from tests.prerequisites import require_soldscope

NOW = datetime(2026, 11, 29, 12, 0, 0, tzinfo=UTC)
SHARED_MODELS = Path(__file__).resolve().parents[2] / "shared" / "spapi" / "models"


class FakeClock:
    """A settable clock."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Harness:
    """A context wired to fakes plus helpers to seed config and run commands."""

    ctx: AppContext
    secrets: MemorySecretStore
    clock: FakeClock
    tmp_path: Path

    @property
    def stdout(self) -> str:
        out = self.ctx.stdout
        assert isinstance(out, io.StringIO)
        return out.getvalue()

    @property
    def stderr(self) -> str:
        err = self.ctx.stderr
        assert isinstance(err, io.StringIO)
        return err.getvalue()

    def add_store(
        self,
        name: str,
        *,
        region: str = "na",
        marketplaces: list[str] | None = None,
        authorized_at: datetime | None = None,
        seller: str | None = None,
        token: str | None = "Atzr|fake-refresh-token",
    ) -> StoreRecord:
        record = StoreRecord(
            name=name,
            region=region,  # type: ignore[arg-type]
            marketplaces=marketplaces or ["US"],
            authorized_at=authorized_at or self.clock.now,
            selling_partner_id=seller or f"A{abs(hash(name)) % 10**12:012d}",
        )
        with ConfigFile(self.ctx.paths.config_file, self.ctx.paths.config_lock).edit() as cfg:
            cfg.stores[name] = record
        if token:
            self.secrets.set(token_key(name), token)
        self.ctx._config = None
        return record


def make_harness(
    tmp_path: Path,
    *,
    env: dict[str, str] | None = None,
    stdin: str = "",
    tty: bool = False,
    now: datetime = NOW,
    **kwargs: Any,
) -> Harness:
    """An AppContext whose outside world is fake."""
    secrets = MemorySecretStore()
    clock = FakeClock(now)
    ctx = AppContext(
        env=dict(env or {}),
        paths=Paths(tmp_path / "config", tmp_path / "data"),
        clock=clock,
        sleep=lambda s: None,
        stdin=io.StringIO(stdin),
        stdout=io.StringIO(),
        stderr=io.StringIO(),
        stdin_tty=tty,
        stdout_tty=tty,
        stderr_tty=tty,
        secret_store_override=secrets,
        **kwargs,
    )
    return Harness(ctx=ctx, secrets=secrets, clock=clock, tmp_path=tmp_path)


@pytest.fixture
def harness(tmp_path: Path) -> Harness:
    return make_harness(tmp_path)


@pytest.fixture
def invoke() -> Callable[..., Any]:
    """Run the Typer app in-process with a fake context."""

    def run(h: Harness, *args: str) -> Any:
        h.ctx._config = None
        for stream in (h.ctx.stdout, h.ctx.stderr):
            stream.seek(0)
            stream.truncate(0)
        return CliRunner().invoke(app, list(args), obj=h.ctx, catch_exceptions=False)

    return run


# --- the installed command (tests/prerequisites.py) ----------------------------------------------


@pytest.fixture
def soldscope_command() -> Path:
    """The installed soldscope command; a test that uses it fails (never skips) without it."""
    return require_soldscope()


# --- team mode: one PostgreSQL cluster per session (tests/pg.py) ---------------------------------


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """A throwaway PostgreSQL cluster; fails (never skips) when PostgreSQL is not installed."""
    try:
        cluster = start_cluster()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield cluster
    cluster.stop()


@pytest.fixture
def pg_url(pg_cluster: Cluster) -> str:
    """The URL of a fresh, migrated database of its own."""
    return pg_cluster.fresh_database()


ENGINES = ["sqlite", "postgres"]


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    """Each engine in turn, for the tests of the engine contract."""
    return str(request.param)


@pytest.fixture
def make_db(
    engine: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[..., Any]]:
    """Builds the state database of `engine` (keyword arguments as the engines take them)."""
    opened: list[Any] = []

    def build(**kwargs: Any) -> Any:
        if engine == "sqlite":
            from soldscope_cli.db.database import MIGRATIONS, Database

            db: Any = Database(tmp_path / f"state{len(opened)}.db", MIGRATIONS, **kwargs)
        else:
            from soldscope_cli.db.postgres.engine import Database as PostgresDatabase

            cluster: Cluster = request.getfixturevalue("pg_cluster")
            db = PostgresDatabase(cluster.fresh_database(), **kwargs)
        opened.append(db)
        return db

    yield build
    for db in opened:
        db.close()


def query(db: Any, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """A test's SQL (`?` marks) on either engine, values as SQLite stores them."""
    if hasattr(db, "url"):
        return pg_rows(db.connection(), sql, params)
    return [tuple(r) for r in db.connection().execute(sql, params).fetchall()]


def reopen(db: Any) -> Any:
    """The same database as another process would open it (another engine object)."""
    if hasattr(db, "url"):
        from soldscope_cli.db.postgres.engine import Database as PostgresDatabase

        return PostgresDatabase(db.url)
    from soldscope_cli.db.database import MIGRATIONS, Database

    return Database(db.path, MIGRATIONS)
