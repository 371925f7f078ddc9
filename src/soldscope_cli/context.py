"""The composition root: the one place that builds real paths, clocks, stores and consoles.

Tests build an AppContext with fakes (a fixed clock, a MemorySecretStore, an httpx MockTransport,
StringIO streams) and pass it as `obj=` to Typer's CliRunner; nothing patches module globals.
"""

from __future__ import annotations

import dataclasses
import io
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import IO, TYPE_CHECKING, Any

from soldscope_cli.amazon.endpoints import Endpoints, resolve_endpoints
from soldscope_cli.errors import ConfigError, SoldscopeError
from soldscope_cli.fleet.config import Config, ConfigFile
from soldscope_cli.fleet.paths import Paths, resolve_paths
from soldscope_cli.output.policy import OutputPolicy, make_console, terminal_width

if TYPE_CHECKING:
    import httpx
    from rich.console import Console

    from soldscope_cli.amazon.clients import AmazonClients
    from soldscope_cli.amazon.ratelimit import WaitObserver
    from soldscope_cli.db.interface import Database, StateLookup, TeamCopier, TeamDatabase
    from soldscope_cli.db.sqlite.engine import Database as LocalDatabase
    from soldscope_cli.doctor.model import AlertTarget, DoctorInputs, RotationFacts
    from soldscope_cli.fleet.secrets import SecretStore
    from soldscope_cli.notify.sender import Notifier


def utc_now() -> datetime:
    """The real clock."""
    return datetime.now(UTC)


def open_team_database(url: str, timeout: float) -> TeamDatabase:
    """The team database at `url`, connecting within `timeout` (psycopg is imported here only)."""
    from soldscope_cli.db.postgres.engine import Database as PostgresDatabase

    return PostgresDatabase(url, connect_timeout=timeout)


def team_copier() -> TeamCopier:
    """How `team import` copies a home's SQLite file into the team database."""
    from soldscope_cli.db.postgres import importer

    return importer


def _file_stamp(path: os.PathLike[str]) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def open_in_browser(url: str) -> bool:
    """Open a URL with the user's browser ($BROWSER honoured by webbrowser)."""
    import webbrowser

    try:
        return webbrowser.open(url)
    except webbrowser.Error:
        return False


@dataclass
class AppContext:
    """Everything a command needs from the outside world."""

    env: Mapping[str, str]
    paths: Paths
    clock: Callable[[], datetime] = utc_now
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic
    stdin: IO[str] = field(default_factory=lambda: sys.stdin)
    stdout: IO[str] = field(default_factory=lambda: sys.stdout)
    stderr: IO[str] = field(default_factory=lambda: sys.stderr)
    stdin_tty: bool | None = None
    stdout_tty: bool | None = None
    stderr_tty: bool | None = None
    secret_store_override: SecretStore | None = None
    http_transport: httpx.BaseTransport | None = None
    browser: Callable[[str], bool] = open_in_browser
    debug: bool = False
    no_color: bool = False
    sandbox: bool = False
    _config: Config | None = None
    _config_stamp: tuple[int, int, int] | None = None
    _file_config: Config | None = None  # config.toml as written (team mode overlays its stores)
    _told_local_only: bool = False
    _secret_store: SecretStore | None = None
    _http: httpx.Client | None = None
    _db: Database | None = None
    _local_db: LocalDatabase | None = None  # team mode: the home's own SQLite file (team import)

    def __post_init__(self) -> None:
        if self.stdin_tty is None:
            self.stdin_tty = _isatty(self.stdin)
        if self.stdout_tty is None:
            self.stdout_tty = _isatty(self.stdout)
        if self.stderr_tty is None:
            self.stderr_tty = _isatty(self.stderr)

    @classmethod
    def from_environment(cls) -> AppContext:
        """The real context of this process."""
        env = dict(os.environ)
        return cls(env=env, paths=resolve_paths(env))

    def for_home(self, env: Mapping[str, str], paths: Paths) -> AppContext:
        """A context for another home (the demo's throwaway one): same terminal and clock.

        It never reads this process's stdin: nothing in another home may prompt.
        """
        return AppContext(
            env=env,
            paths=paths,
            clock=self.clock,
            sleep=self.sleep,
            monotonic=self.monotonic,
            stdin=io.StringIO(""),
            stdout=self.stdout,
            stderr=self.stderr,
            stdin_tty=False,
            stdout_tty=self.stdout_tty,
            stderr_tty=self.stderr_tty,
            no_color=self.no_color,
        )

    # --- terminal ----------------------------------------------------------------------------

    @cached_property
    def policy(self) -> OutputPolicy:
        return OutputPolicy.decide(
            self.env,
            stdout_tty=bool(self.stdout_tty),
            stderr_tty=bool(self.stderr_tty),
            no_color_flag=self.no_color,
            terminal_width=terminal_width(self.stdout) if self.stdout_tty else None,
        )

    @cached_property
    def out(self) -> Console:
        """Results: stdout."""
        return make_console(self.stdout, self.policy, is_tty=bool(self.stdout_tty))

    @cached_property
    def err(self) -> Console:
        """Progress, warnings and hints: stderr."""
        err_policy = OutputPolicy(
            stdout_tty=bool(self.stderr_tty),
            stderr_tty=bool(self.stderr_tty),
            color=self.policy.color and bool(self.stderr_tty),
        )
        return make_console(self.stderr, err_policy, is_tty=bool(self.stderr_tty))

    @property
    def can_prompt(self) -> bool:
        """Only prompt or open a browser when a person is at the terminal."""
        return bool(self.stdin_tty and self.stdout_tty)

    # --- files -------------------------------------------------------------------------------

    @cached_property
    def config_file(self) -> ConfigFile:
        return ConfigFile(self.paths.config_file, self.paths.config_lock)

    def config(self, *, reload: bool = False) -> Config:
        """The config as last read; read again when the file changed (this process may edit it).

        In team mode the stores come from the team database's registry, read again each time
        the config is (every host sees the same fleet); config.toml keeps the rest.
        """
        stamp = _file_stamp(self.paths.config_file)
        if self._config is None or reload or stamp != self._config_stamp:
            loaded = self.config_file.load()
            self._file_config = loaded
            self._config_stamp = stamp
            if self._url_of(loaded) is not None:
                loaded = self._team_view(loaded)
            self._config = loaded
        return self._config

    def _team_view(self, loaded: Config) -> Config:
        from soldscope_cli.fleet.team import local_only_note, team_config

        registry = self.database().registry
        assert registry is not None  # a PostgreSQL database has one
        view = team_config(
            loaded,
            registry.records(),
            registry.namespace(),
            secret_set_at=registry.client_secret_set_at(),
        )
        note = local_only_note(loaded, view)
        if note is not None and not self._told_local_only:
            self._told_local_only = True
            self.err.print(note, markup=False, soft_wrap=True)
        return view

    def database_url(self) -> str | None:
        """The team database's URL: SOLDSCOPE_DATABASE_URL, else [database] url; None for SQLite."""
        if self._file_config is None:
            self._file_config = self.config_file.load()
        return self._url_of(self._file_config)

    def _url_of(self, config: Config) -> str | None:
        url = self.env.get("SOLDSCOPE_DATABASE_URL")
        if url:
            from soldscope_cli.fleet.config import database_url_problem

            problem = database_url_problem(url)
            if problem is not None:
                raise ConfigError(
                    f"SOLDSCOPE_DATABASE_URL: {problem}",
                    hint="set it to postgresql://user@host/dbname, or unset it to use this "
                    "machine's SQLite database",
                )
            return url
        return config.database_url

    def database(self) -> Database:
        """The state database (created and migrated on first use): PostgreSQL when a database
        URL is set (team mode), else the home's SQLite file."""
        if self._db is None:
            url = self.database_url()
            if url is not None:
                # psycopg is imported here only: a SQLite home never loads it.
                from soldscope_cli.db.postgres.engine import Database as PostgresDatabase

                assert self._file_config is not None  # read by database_url()
                self._db = PostgresDatabase(url, retention_days=self._file_config.retention_days)
            else:
                from soldscope_cli.db.database import MIGRATIONS, Database

                self._db = Database(
                    self.paths.database, MIGRATIONS, retention_days=self.config().retention_days
                )
        return self._db

    def team_database(self) -> TeamDatabase:
        """The team database (team mode only: UsageError without a database URL)."""
        from soldscope_cli.db.postgres.engine import Database as PostgresDatabase
        from soldscope_cli.fleet.team import require_url

        require_url(self.database_url())
        db = self.database()
        assert isinstance(db, PostgresDatabase)  # a database URL is set
        return db

    def state_lookup(self) -> StateLookup:
        """Where `list` reads the stores' states: the SQLite file (never created or migrated
        here), or the team database."""
        if self.database_url() is None:
            from soldscope_cli.db.sqlite.engine import LocalStates

            return LocalStates(self.paths.database)
        return self.database()

    def secret_store(self) -> SecretStore:
        """The configured secret store; built lazily because keyring is slow to import."""
        if self.secret_store_override is not None:
            return self.secret_store_override
        if self._secret_store is None:
            from soldscope_cli.fleet.namespaces import open_secret_store

            config = self.config()
            self._secret_store = open_secret_store(
                self.env,
                config.secrets_backend,
                self.paths.secrets_file,
                home=self.config_file,
                settings=config.secrets_settings,
                rows=lambda: self.database().secret_rows,
                database_path=self.paths.database,
                team_namespace=self._team_namespace(),
            )
        return self._secret_store

    def local_database(self) -> LocalDatabase:
        """The home's own SQLite state database, even in team mode (what `team import` copies)."""
        if self._local_db is None:
            from soldscope_cli.db.database import MIGRATIONS, Database

            self._local_db = Database(
                self.paths.database,
                MIGRATIONS,
                retention_days=self.config_file.load().retention_days,
            )
        return self._local_db

    def home_secret_store(self, backend: str | None = None) -> SecretStore:
        """The home's own secret store as it is with team mode off (what `team import` reads).

        backend names it; else config.toml's [secrets] backend, else the keyring. In team mode
        SOLDSCOPE_SECRETS names the team's backend, so it is not read here.
        """
        from soldscope_cli.fleet.namespaces import open_secret_store
        from soldscope_cli.fleet.secrets import SECRETS_ENV

        config = self.config_file.load()
        return open_secret_store(
            {k: v for k, v in self.env.items() if k != SECRETS_ENV},
            backend or config.secrets_backend,
            self.paths.secrets_file,
            home=self.config_file,
            settings=config.secrets_settings,
            rows=lambda: self.local_database().secret_rows,
            database_path=self.paths.database,
        )

    def team_secret_store(self) -> SecretStore:
        """Team mode's shared secret store, built from config.toml as written: unlike
        secret_store() it reads no store list, so it says nothing of stores not imported yet."""
        from soldscope_cli.fleet.namespaces import open_secret_store

        config = self.config_file.load()
        return open_secret_store(
            self.env,
            config.secrets_backend,
            self.paths.secrets_file,
            settings=config.secrets_settings,
            rows=lambda: self.database().secret_rows,
            database_path=self.paths.database,
            team_namespace=self._team_namespace(),
        )

    def _team_namespace(self) -> str | None:
        """Team mode: the secret-store namespace every host of the team database shares."""
        registry = self.database().registry if self.database_url() is not None else None
        return None if registry is None else registry.namespace()

    # --- network -----------------------------------------------------------------------------

    @cached_property
    def endpoints(self) -> Endpoints:
        return resolve_endpoints(self.env, sandbox=self.sandbox)

    def http(self) -> httpx.Client:
        """One shared HTTP client per process (thread-safe, pooled)."""
        if self._http is None:
            from soldscope_cli.amazon.http import make_http_client

            self._http = make_http_client(transport=self.http_transport, env=self.env)
        return self._http

    def amazon_clients(
        self,
        *,
        sleep: Callable[[float], None] | None = None,
        rate_waits: WaitObserver | None = None,
    ) -> AmazonClients:
        """New Amazon clients of the configured app (ConfigError when its credentials are missing).

        One set per operation (a validate run, a sync run, a consent): the stores it touches share
        the LWA token cache and the rate limiter, but a live check never reuses an access token
        minted before it started, which could hide a grant revoked since. `sleep` replaces the
        context's for their waits (sync's, which Ctrl-C cuts short); `rate_waits` is told of each
        wait for Amazon's quota.
        """
        from soldscope_cli.amazon.clients import AmazonClients
        from soldscope_cli.fleet.app_credentials import resolve_app

        creds = resolve_app(self.config().app, self.env, self.secret_store)
        creds.require()
        assert creds.client_id is not None and creds.client_secret is not None  # by require()
        return AmazonClients.build(
            http=self.http(),
            endpoints=self.endpoints,
            client_id=creds.client_id,
            client_secret=creds.client_secret,
            env=self.env,
            clock=self.clock,
            sleep=sleep or self.sleep,
            monotonic=self.monotonic,
            rate_waits=rate_waits,
        )

    def notifier(self) -> Notifier:
        """The alert targets (SOLDSCOPE_NOTIFY_URLS, then [[notify]]), URLs registered as secrets.

        Apprise itself is imported only when a message is sent.
        """
        from soldscope_cli.notify.sender import Notifier
        from soldscope_cli.notify.targets import load_targets

        return Notifier(load_targets(self.env, self.config()))

    def doctor_inputs(self, *, offline: bool) -> DoctorInputs:
        """The real machine as doctor's checks see it, with doctor's short timeouts."""
        from soldscope_cli.db.database import MIGRATIONS
        from soldscope_cli.db.sqlite.engine import LocalFile
        from soldscope_cli.doctor.model import (
            NETWORK_TIMEOUT_S,
            SECRET_PROBE_TIMEOUT_S,
            DoctorInputs,
        )

        try:
            team_namespace = self._team_namespace()
        except SoldscopeError:
            team_namespace = None  # doctor's team-database check says why

        def open_store(configured: str | None) -> SecretStore:
            # doctor reports a silent keyring itself; it must not wait the full command timeout.
            if self.secret_store_override is not None:
                return self.secret_store_override
            from soldscope_cli.fleet.namespaces import open_secret_store

            # This home's view: describe() names the namespace; reading never creates one.
            return open_secret_store(
                self.env,
                configured,
                self.paths.secrets_file,
                self.config_file,
                timeout=SECRET_PROBE_TIMEOUT_S,
                settings=self.config().secrets_settings,
                rows=lambda: self.database().secret_rows,
                database_path=self.paths.database,
                team_namespace=team_namespace,
            )

        def make_http() -> httpx.Client:
            import httpx

            from soldscope_cli.amazon.http import make_http_client

            return make_http_client(
                transport=self.http_transport,
                timeout=httpx.Timeout(NETWORK_TIMEOUT_S),
                env=self.env,
            )

        return DoctorInputs(
            env=self.env,
            paths=self.paths,
            clock=self.clock,
            monotonic=self.monotonic,
            open_secret_store=open_store,
            make_http=make_http,
            uid=os.geteuid(),
            local_file=LocalFile(MIGRATIONS),
            open_team=open_team_database,
            offline=offline,
            sandbox=self.sandbox,
            alert_targets=self._alert_targets,
            rotation=self._rotation_facts,
        )

    def _rotation_facts(self, ask_queue: bool) -> RotationFacts | None:
        """doctor's view of the secret's rotation; the queue is asked unless offline. None,
        and nothing opened, where no rotation queue is configured."""
        from soldscope_cli.doctor.model import RotationFacts
        from soldscope_cli.rotation.queue import queue_url
        from soldscope_cli.rotation.setup import confirmed_at, current_state

        if queue_url(self.config().rotation.queue_url, self.env) is None:
            return None
        state = current_state(self)
        facts = RotationFacts(state, confirmed_at=confirmed_at(self))
        if state.queue_url is None or not ask_queue:
            return facts
        from soldscope_cli.rotation.queue import SqsQueue

        try:
            waiting = SqsQueue(state.queue_url, self.env).check()
        except SoldscopeError as exc:
            return dataclasses.replace(facts, queue_error=exc.message, queue_fix=exc.hint)
        return dataclasses.replace(facts, queue_messages=waiting)

    def _alert_targets(self, config: Config) -> list[AlertTarget]:
        """doctor's view of the alert targets; a SQLite database is read only if it exists."""
        from soldscope_cli.doctor.model import AlertTarget
        from soldscope_cli.notify.announce import last_deliveries
        from soldscope_cli.notify.health import target_health
        from soldscope_cli.notify.targets import load_targets

        targets = load_targets(self.env, config)
        if not targets:
            return []
        # A SQLite home that never sent anything has no database yet: doctor must not create one.
        stored = self.database_url() is not None or self.paths.database.exists()
        try:
            deliveries = last_deliveries(self.database()) if stored else {}
        except SoldscopeError:
            deliveries = {}  # an unreachable team database is doctor's team line to report
        return [
            AlertTarget(
                h.label,
                h.understood,
                None if h.last is None else str(h.last.get("kind")),
                None if h.last is None else h.last.get("at"),
                None if h.last is None else h.last.get("error"),
            )
            for h in target_health(targets, deliveries)
        ]

    def close(self) -> None:
        """Release what the command opened."""
        if self._http is not None:
            self._http.close()
            self._http = None
        if self._db is not None:
            self._db.close()
        if self._local_db is not None:
            self._local_db.close()

    def extra(self) -> dict[str, Any]:
        """Non-secret facts for debug output."""
        return {
            "config_dir": str(self.paths.config_dir),
            "data_dir": str(self.paths.data_dir),
            "stdout_tty": self.stdout_tty,
            "color": self.policy.color,
        }
