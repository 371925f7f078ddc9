"""Runs every check (the slow ones side by side) and returns the results in a fixed order."""

from __future__ import annotations

import functools
import importlib.metadata
import platform
from collections.abc import Callable
from typing import TypeVar

from soldscope_cli.amazon.endpoints import resolve_endpoints
from soldscope_cli.amazon.http import describe_network_env
from soldscope_cli.doctor.credentials import (
    check_app_credentials,
    check_authorization_limits,
    check_draft,
    check_redirect,
    check_secret_rotation,
)
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
from soldscope_cli.doctor.secret_probe import ProbeResult, check_secret_store
from soldscope_cli.doctor.stores import check_stores
from soldscope_cli.errors import SoldscopeError
from soldscope_cli.fleet.app_credentials import resolve_app
from soldscope_cli.fleet.paths import CONFIG_DIR_ENV, DATA_DIR_ENV

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


def run_doctor(inputs: DoctorInputs) -> list[CheckResult]:
    """Every check's result; nothing is printed and nothing in the setup is changed."""
    env = inputs.env
    paths = inputs.paths
    now = inputs.clock()
    version_of = inputs.versions or importlib.metadata.version
    results: list[CheckResult] = [
        check_versions(version_of, platform.python_version()),
        check_directory(
            "config-dir", "Config directory", paths.config_dir, env, CONFIG_DIR_ENV, inputs.uid
        ),
        check_directory(
            "data-dir", "Data directory", paths.data_dir, env, DATA_DIR_ENV, inputs.uid
        ),
        check_file_modes(paths, inputs.uid),
        check_lock_files(paths, inputs.uid),
    ]
    config, config_result = load_config(paths)
    results.append(config_result)

    # The slow checks start together; each has its own short timeout, and the overall deadline
    # below catches anything that ignores it.
    deadline = inputs.monotonic() + inputs.overall_timeout
    configured_backend = config.secrets_backend if config is not None else None
    wait_secrets = start_bounded(
        lambda: check_secret_store(
            env,
            configured_backend,
            inputs.open_secret_store,
            inputs.secret_timeout,
            secrets_file=paths.secrets_file,
        ),
        "secrets",
    )
    wait_database = start_bounded(
        lambda: check_database(paths.database, inputs.monotonic, inputs.integrity_budget),
        "database",
    )
    creds = resolve_app(config.app, env, None) if config is not None else None
    wait_port = start_bounded(
        lambda: check_callback_port(creds.redirect_uri if creds else None, inputs.proc_root),
        "port",
    )
    network_env = describe_network_env(env)
    network: list[tuple[Target, Callable[[float], Outcome[Reached]]]] = []
    network_results: list[CheckResult] = []
    client = None
    if inputs.offline:
        network_results.append(
            CheckResult("network", "Network", Level.SKIP, "not checked (--offline)")
        )
    else:
        network_results.append(check_network_env(network_env))
        endpoints = resolve_endpoints(env, sandbox=inputs.sandbox)
        regions = sorted({r.region for r in config.stores.values()}) if config else []
        wanted = targets(endpoints.lwa_url, {r: endpoints.spapi_base(r) for r in regions})
        try:
            client = inputs.make_http()
        except SoldscopeError as exc:
            network_results.extend(
                CheckResult(
                    f"network:{t.host}:{t.port}",
                    f"Reach {t.origin}",
                    Level.FAIL,
                    f"no HTTP client: {exc.message}",
                    exc.hint,
                )
                for t in wanted
            )
        else:
            proxies = network_env["proxies"]
            assert isinstance(proxies, dict)
            for index, target in enumerate(wanted):
                call = functools.partial(
                    probe_target,
                    target,
                    client,
                    inputs.resolver,
                    inputs.clock,
                    inputs.monotonic,
                    proxies,
                    inputs.network_timeout,
                    index,
                )
                network.append((target, start_bounded(call, f"net-{index}")))

    def remaining() -> float:
        return deadline - inputs.monotonic()

    secrets_outcome = wait_secrets(remaining())
    probe: ProbeResult | None = None
    if secrets_outcome.value is not None:
        secret_result, probe = secrets_outcome.value
    else:
        secret_result = _unfinished(
            "secret-store",
            "Secret store",
            secrets_outcome,
            "see docs/cron.md",
            inputs.overall_timeout,
        )
    results.append(secret_result)

    if config is None or creds is None:
        results.append(CheckResult("app", "App credentials", Level.SKIP, CONFIG_BROKEN))
    else:
        stored = probe.client_secret_stored if probe is not None else None
        results += [
            check_app_credentials(creds, stored),
            check_secret_rotation(creds, config.app.client_secret_set_at, now),
            check_redirect(creds),
            check_draft(creds),
            check_authorization_limits(config),
        ]

    reached: list[Reached] = []
    for target, wait in network:
        outcome = wait(remaining())
        if outcome.value is not None:
            reached.append(outcome.value)
            network_results.append(outcome.value.result)
        else:
            network_results.append(
                _unfinished(
                    f"network:{target.host}:{target.port}",
                    f"Reach {target.origin}",
                    outcome,
                    "check the network, firewall and proxy settings (https_proxy, no_proxy)",
                    inputs.overall_timeout,
                )
            )
    if not inputs.offline:
        network_results.append(check_clock_skew(reached))
    if client is not None:
        client.close()
    results += network_results

    port_outcome = wait_port(remaining())
    results.append(
        port_outcome.value
        if port_outcome.value is not None
        else _unfinished(
            "callback-port",
            "Consent callback port",
            port_outcome,
            "run it again",
            inputs.overall_timeout,
        )
    )
    database_outcome = wait_database(remaining())
    if database_outcome.value is not None:
        results += database_outcome.value
    else:
        results.append(
            _unfinished(
                "database",
                "State database",
                database_outcome,
                "run it again",
                inputs.overall_timeout,
            )
        )
    results.append(check_sync_lock(paths.sync_lock, now, inputs.proc_root))
    if config is None:
        results.append(CheckResult("stores", "Stores", Level.SKIP, CONFIG_BROKEN))
    else:
        results += check_stores(config, paths.database, now)
    return results


def exit_code(results: list[CheckResult]) -> int:
    """1 when any check failed, else 0 (warnings and skips do not fail the run)."""
    return 1 if any(r.status is Level.FAIL for r in results) else 0
