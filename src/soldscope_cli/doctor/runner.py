"""The doctor's checks, in one list, and the run that starts them all and collects their results.

Each check is a function of the run that returns a `Pending`: fast checks return their results at
once, slow ones (secret store, network, port, database) start on a thread and are waited for with
the run's overall deadline. Adding a check is one function and one line in CHECKS.
"""

from __future__ import annotations

import functools
import importlib.metadata
import platform
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from soldscope_cli.amazon.endpoints import resolve_endpoints
from soldscope_cli.amazon.http import describe_network_env
from soldscope_cli.doctor.alerts import check_alert_targets
from soldscope_cli.doctor.credentials import (
    check_app_credentials,
    check_authorization_limits,
    check_draft,
    check_redirect,
    check_secret_rotation,
)
from soldscope_cli.doctor.leftovers import CHECK_ID as LEFTOVERS_ID
from soldscope_cli.doctor.leftovers import TITLE as LEFTOVERS_TITLE
from soldscope_cli.doctor.leftovers import check_leftover_tokens
from soldscope_cli.doctor.local import (
    check_database,
    check_directory,
    check_file_modes,
    check_lock_files,
    check_sync_lock,
    check_versions,
    load_config,
)
from soldscope_cli.doctor.model import (
    CheckResult,
    DoctorInputs,
    Level,
    Outcome,
    TimedOut,
    start_bounded,
)
from soldscope_cli.doctor.network import (
    Reached,
    Target,
    check_clock_skew,
    check_network_env,
    probe_target,
    targets,
)
from soldscope_cli.doctor.ports import check_callback_port
from soldscope_cli.doctor.rotation import CHECK_ID as ROTATION_ID
from soldscope_cli.doctor.rotation import TITLE as ROTATION_TITLE
from soldscope_cli.doctor.rotation import check_rotation
from soldscope_cli.doctor.secret_probe import ProbeResult, check_secret_store
from soldscope_cli.doctor.stores import check_stores
from soldscope_cli.doctor.team import CHECK_ID as TEAM_CHECK_ID
from soldscope_cli.doctor.team import TITLE as TEAM_TITLE
from soldscope_cli.doctor.team import check_team_database, check_team_secrets, team_url
from soldscope_cli.errors import SoldscopeError
from soldscope_cli.fleet.app_credentials import AppCredentials, resolve_app
from soldscope_cli.fleet.config import Config
from soldscope_cli.fleet.paths import CONFIG_DIR_ENV, DATA_DIR_ENV
from soldscope_cli.fleet.secrets import backend_choice
from soldscope_cli.fleet.team import TeamStates

T = TypeVar("T")
CONFIG_BROKEN = "not checked: the config file is invalid (see above)"


def _unfinished(
    check_id: str, title: str, outcome: Outcome[T], fallback_fix: str, overall: float
) -> CheckResult:
    if isinstance(outcome.error, TimedOut):
        reason = f"did not finish within {overall:g} s"
    else:
        reason = f"failed: {outcome.error.__class__.__name__}"
    return CheckResult(check_id, title, Level.FAIL, f"the check {reason}", fallback_fix)


Pending = Callable[[], list[CheckResult]]


@dataclass
class DoctorRun:
    """What the checks of one run share: the inputs, the config as read, the overall deadline."""

    inputs: DoctorInputs
    now: datetime
    config: Config | None
    config_result: CheckResult
    creds: AppCredentials | None
    deadline: float
    probe: ProbeResult | None = None  # what the secret-store check learnt, for the app check

    def remaining(self) -> float:
        """Seconds left before the overall deadline."""
        return self.deadline - self.inputs.monotonic()

    def in_background(
        self, call: Callable[[], list[CheckResult]], check_id: str, title: str, fix: str
    ) -> Pending:
        """Start a slow check now; its results, or one failure line if it did not finish."""
        wait = start_bounded(call, check_id)

        def results() -> list[CheckResult]:
            outcome = wait(self.remaining())
            if outcome.value is not None:
                return outcome.value
            return [_unfinished(check_id, title, outcome, fix, self.inputs.overall_timeout)]

        return results


Check = Callable[[DoctorRun], Pending]


def _ready(*results: CheckResult) -> Pending:
    return lambda: list(results)


def versions(run: DoctorRun) -> Pending:
    """soldscope's, Python's and the libraries' versions."""
    version_of = run.inputs.versions or importlib.metadata.version
    return _ready(check_versions(version_of, platform.python_version()))


def config_dir(run: DoctorRun) -> Pending:
    """The config directory exists, is ours and is private."""
    i = run.inputs
    return _ready(
        check_directory(
            "config-dir", "Config directory", i.paths.config_dir, i.env, CONFIG_DIR_ENV, i.uid
        )
    )


def data_dir(run: DoctorRun) -> Pending:
    """The data directory exists, is ours and is private."""
    i = run.inputs
    return _ready(
        check_directory("data-dir", "Data directory", i.paths.data_dir, i.env, DATA_DIR_ENV, i.uid)
    )


def file_modes(run: DoctorRun) -> Pending:
    """Files holding anything sensitive are 0600."""
    return _ready(check_file_modes(run.inputs.paths, run.inputs.uid))


def lock_files(run: DoctorRun) -> Pending:
    """Lock files are 0600 and ours: another user's lock would stop every sync."""
    return _ready(check_lock_files(run.inputs.paths, run.inputs.uid))


def config_file(run: DoctorRun) -> Pending:
    """The config file parses and validates."""
    return _ready(run.config_result)


def secret_store(run: DoctorRun) -> Pending:
    """A round trip of a throwaway secret through the configured backend."""
    i = run.inputs
    backend = run.config.secrets_backend if run.config is not None else None
    # In team mode the sealed rows are on the server (which the team line checks), not in a file.
    local_db = i.paths.database if team_url(i.env, run.config) is None else None
    wait = start_bounded(
        lambda: check_secret_store(
            i.env,
            backend,
            i.open_secret_store,
            i.secret_timeout,
            secrets_file=i.paths.secrets_file,
            database_file=local_db,
        ),
        "secrets",
    )

    def results() -> list[CheckResult]:
        outcome = wait(run.remaining())
        if outcome.value is None:
            fix = "see docs/cron.md"
            return [_unfinished("secret-store", "Secret store", outcome, fix, i.overall_timeout)]
        result, run.probe = outcome.value
        return [result]

    return results


def app_credentials(run: DoctorRun) -> Pending:
    """The app's ids, secret, rotation date, redirect URI, draft flag and authorization limits."""

    # Team mode: the secret's date is the team's, read from its database meanwhile (a database
    # that cannot be reached is the team-database check's to report; the file's date stands in).
    url = team_url(run.inputs.env, run.config) if run.config is not None else None
    team_date = (
        start_bounded(
            TeamStates(url, run.inputs.network_timeout, run.inputs.open_team).client_secret_set_at,
            "secret-date",
        )
        if url is not None
        else None
    )

    def results() -> list[CheckResult]:
        # Runs after the secret-store check's results were collected: it reads what the probe saw.
        config, creds = run.config, run.creds
        if config is None or creds is None:
            return [CheckResult("app", "App credentials", Level.SKIP, CONFIG_BROKEN)]
        stored = run.probe.client_secret_stored if run.probe is not None else None
        set_at = config.app.client_secret_set_at
        if team_date is not None:
            outcome = team_date(run.remaining())
            if outcome.value is not None:
                set_at = outcome.value
        return [
            check_app_credentials(creds, stored),
            check_secret_rotation(creds, set_at, run.now, stored=stored),
            check_redirect(creds),
            check_draft(creds),
            check_authorization_limits(config),
        ]

    return results


def network(run: DoctorRun) -> Pending:
    """Proxy settings, DNS and TLS to every Amazon host the stores use, and the clock's skew."""
    i = run.inputs
    if i.offline:
        return _ready(CheckResult("network", "Network", Level.SKIP, "not checked (--offline)"))
    network_env = describe_network_env(i.env)
    first = [check_network_env(network_env)]
    endpoints = resolve_endpoints(i.env, sandbox=i.sandbox)
    regions = sorted({r.region for r in run.config.stores.values()}) if run.config else []
    wanted = targets(endpoints.lwa_url, {r: endpoints.spapi_base(r) for r in regions})
    try:
        client = i.make_http()
    except SoldscopeError as exc:
        return _ready(
            *first,
            *(
                CheckResult(
                    f"network:{t.host}:{t.port}",
                    f"Reach {t.origin}",
                    Level.FAIL,
                    f"no HTTP client: {exc.message}",
                    exc.hint,
                )
                for t in wanted
            ),
        )
    proxies = network_env["proxies"]
    assert isinstance(proxies, dict)
    probes: list[tuple[Target, Callable[[float], Outcome[Reached]]]] = []
    for index, target in enumerate(wanted):
        call = functools.partial(
            probe_target,
            target,
            client,
            i.resolver,
            i.clock,
            i.monotonic,
            proxies,
            i.network_timeout,
            index,
        )
        probes.append((target, start_bounded(call, f"net-{index}")))

    def results() -> list[CheckResult]:
        out = list(first)
        reached: list[Reached] = []
        for target, wait in probes:
            outcome = wait(run.remaining())
            if outcome.value is not None:
                reached.append(outcome.value)
                out.append(outcome.value.result)
            else:
                out.append(
                    _unfinished(
                        f"network:{target.host}:{target.port}",
                        f"Reach {target.origin}",
                        outcome,
                        "check the network, firewall and proxy settings (https_proxy, no_proxy)",
                        i.overall_timeout,
                    )
                )
        out.append(check_clock_skew(reached))
        client.close()
        return out

    return results


def callback_port(run: DoctorRun) -> Pending:
    """The port a loopback redirect URI pins is free (or who holds it)."""
    uri = run.creds.redirect_uri if run.creds else None
    return run.in_background(
        lambda: [check_callback_port(uri, run.inputs.proc_root)],
        "callback-port",
        "Consent callback port",
        "run it again",
    )


def database(run: DoctorRun) -> Pending:
    """The state database opens, passes its integrity check and has every migration."""
    i = run.inputs
    if team_url(i.env, run.config) is not None:
        return _ready(
            CheckResult(
                "database",
                "State database",
                Level.SKIP,
                "team mode: the state is in PostgreSQL (the Team database line)",
            )
        )
    return run.in_background(
        lambda: check_database(i.paths.database, i.monotonic, i.integrity_budget, i.local_file),
        "database",
        "State database",
        "run it again",
    )


def team_database(run: DoctorRun) -> Pending:
    """In team mode: the PostgreSQL server answers and the schema version is current.

    A SQLite home (no database URL) gets no line: its report stays as it was.
    """
    url = team_url(run.inputs.env, run.config)
    if url is None:
        return _ready()
    timeout = run.inputs.network_timeout
    server = run.in_background(
        lambda: check_team_database(url, timeout, run.inputs.open_team),
        TEAM_CHECK_ID,
        TEAM_TITLE,
        "check the server, then run it again",
    )
    configured = run.config.secrets_backend if run.config is not None else None
    backend, source = backend_choice(run.inputs.env, configured)
    shared = check_team_secrets(backend, source)
    return lambda: [*server(), shared]


def sync_lock(run: DoctorRun) -> Pending:
    """The sync lock is free, or held by a live sync."""
    return _ready(check_sync_lock(run.inputs.paths.sync_lock, run.now, run.inputs.proc_root))


def stores(run: DoctorRun) -> Pending:
    """Every store's expiry and recorded problem, with the command that fixes it."""
    config = run.config
    if config is None:
        return _ready(CheckResult("stores", "Stores", Level.SKIP, CONFIG_BROKEN))
    url = team_url(run.inputs.env, config)
    if url is None:
        return _ready(
            *check_stores(config, run.inputs.local_file.states(run.inputs.paths.database), run.now)
        )
    # Team mode: the stores and their states are on the server, read within the network timeout.
    states = TeamStates(url, run.inputs.network_timeout, run.inputs.open_team)
    return run.in_background(
        lambda: check_stores(states.fleet(config), states, run.now),
        "stores",
        "Stores",
        "run it again",
    )


def rotation(run: DoctorRun) -> Pending:
    """The rotation queue answers with the AWS credentials found; enrollment; days left."""
    read = run.inputs.rotation
    if read is None:
        return _ready()
    if run.config is None:
        return _ready()  # whether rotation is set up is in the file that could not be read
    offline = run.inputs.offline
    return run.in_background(
        lambda: check_rotation(read(not offline), run.now, offline=offline),
        ROTATION_ID,
        ROTATION_TITLE,
        "run it again",
    )


def leftover_tokens(run: DoctorRun) -> Pending:
    """Refresh tokens of new stores whose record was never written (a connect killed midway)."""
    config = run.config
    if config is None:
        return _ready()  # the config line says why; its stores are unknown
    i = run.inputs
    url = team_url(i.env, config)

    def call() -> list[CheckResult]:
        try:
            if url is None:
                written = i.local_file.ledger(i.paths.database).peek_token_writes()
                stores = config.stores
            else:
                team = TeamStates(url, i.network_timeout, i.open_team)
                written = team.peek_token_writes()
                stores = team.fleet(config).stores if written else {}
            if not written:
                return []
            return check_leftover_tokens(
                written, stores, i.open_secret_store(config.secrets_backend)
            )
        except SoldscopeError as exc:  # the database or secret-store line says more
            detail = f"not checked: {exc.message}"
            return [CheckResult(LEFTOVERS_ID, LEFTOVERS_TITLE, Level.SKIP, detail)]

    return run.in_background(call, LEFTOVERS_ID, LEFTOVERS_TITLE, "run it again")


def alert_targets(run: DoctorRun) -> Pending:
    """Every alert target's URL parses in Apprise; the last delivery to each went through."""
    read = run.inputs.alert_targets
    config = run.config
    if read is None:
        return _ready()
    if config is None:
        return _ready(CheckResult("notify", "Alert targets", Level.SKIP, CONFIG_BROKEN))
    return run.in_background(
        lambda: check_alert_targets(read(config)), "notify", "Alert targets", "run it again"
    )


# The order of the report. Every check starts before any is waited for, so the slow ones overlap.
CHECKS: tuple[Check, ...] = (
    versions,
    config_dir,
    data_dir,
    file_modes,
    lock_files,
    config_file,
    secret_store,
    app_credentials,
    network,
    callback_port,
    database,
    team_database,
    sync_lock,
    stores,
    leftover_tokens,
    rotation,
    alert_targets,
)


def run_doctor(inputs: DoctorInputs, checks: Sequence[Check] = CHECKS) -> list[CheckResult]:
    """Every check's result; nothing is printed and nothing in the setup is changed."""
    config, config_result = load_config(inputs.paths)
    run = DoctorRun(
        inputs=inputs,
        now=inputs.clock(),
        config=config,
        config_result=config_result,
        creds=resolve_app(config.app, inputs.env, None) if config is not None else None,
        deadline=inputs.monotonic() + inputs.overall_timeout,
    )
    pending = [check(run) for check in checks]
    return [result for results in pending for result in results()]


def exit_code(results: list[CheckResult]) -> int:
    """1 when any check failed, else 0 (warnings and skips do not fail the run)."""
    return 1 if any(r.status is Level.FAIL for r in results) else 0
