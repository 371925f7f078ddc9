"""The secret store check: which backend and why, and a timed round trip of a throwaway secret."""

from __future__ import annotations

import secrets
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from soldscope_cli.doctor.model import CheckResult, Level, TimedOut, bounded
from soldscope_cli.errors import SecretStoreError
from soldscope_cli.fleet.secrets import CLIENT_SECRET_KEY, SECRETS_ENV, SecretStore, backend_choice

PROBE_KEY = "doctor-probe"
KEYRING_BACKEND_ENV = "PYTHON_KEYRING_BACKEND"
HEADLESS_FIX = (
    "pick one (docs/cron.md): run soldscope under `dbus-run-session` and unlock the keyring first "
    "(`gnome-keyring-daemon --unlock` fed a password from a root-only file); choose another "
    f"keyring backend with {KEYRING_BACKEND_ENV}; or store secrets in a 0600 file with "
    f"{SECRETS_ENV}=file"
)
FILE_FIX = (
    "prefer the OS keyring where one is available: move the secrets into it with "
    f"`soldscope secrets move --to keyring`, then unset {SECRETS_ENV} if it is set "
    "(docs/configuration.md#moving-secrets-to-another-backend)"
)
KEYRING_FIX = (
    "start or unlock your keyring (Secret Service, macOS Keychain, Windows Credential Locker); "
    f"choose another backend with {KEYRING_BACKEND_ENV}; or use {SECRETS_ENV}=file "
    "(docs/configuration.md#secrets)"
)


@dataclass(frozen=True)
class ProbeResult:
    """What a round trip learned; the probe value itself is never kept."""

    description: str
    round_trip_ok: bool
    client_secret_stored: bool


def probe(store: SecretStore) -> ProbeResult:
    """Set, read back and delete a random throwaway secret; note whether a client secret exists."""
    value = secrets.token_urlsafe(16)
    store.set(PROBE_KEY, value)
    try:
        read_back = store.get(PROBE_KEY)
    finally:
        store.delete(PROBE_KEY)
    gone = store.get(PROBE_KEY) is None
    return ProbeResult(
        description=store.describe(),
        round_trip_ok=read_back == value and gone,
        client_secret_stored=bool(store.get(CLIENT_SECRET_KEY)),
    )


def headless(env: Mapping[str, str], platform: str = sys.platform) -> bool:
    """No session bus and no display: cron, SSH or a container, where Secret Service is absent."""
    if not platform.startswith("linux"):
        return False
    return not any(
        env.get(name) for name in ("DBUS_SESSION_BUS_ADDRESS", "DISPLAY", "WAYLAND_DISPLAY")
    )


def _why_unreachable(env: Mapping[str, str], platform: str) -> str:
    parts = []
    if headless(env, platform):
        parts.append(
            "DBUS_SESSION_BUS_ADDRESS and DISPLAY are unset, as under cron or SSH: the Secret "
            "Service keyring lives on a desktop session's D-Bus, which this process cannot reach, "
            "and nobody is there to unlock it"
        )
    if env.get(KEYRING_BACKEND_ENV):
        parts.append(f"{KEYRING_BACKEND_ENV}={env[KEYRING_BACKEND_ENV]} chooses the backend")
    return ("; " + "; ".join(parts)) if parts else ""


def check_secret_store(
    env: Mapping[str, str],
    configured: str | None,
    open_store: Callable[[str | None], SecretStore],
    timeout: float,
    platform: str = sys.platform,
    secrets_file: Path | None = None,
    database_file: Path | None = None,
) -> tuple[CheckResult, ProbeResult | None]:
    """The backend in use and why, proved by a round trip within `timeout` seconds."""
    title = "Secret store"
    try:
        backend, source = backend_choice(env, configured)
    except SecretStoreError as exc:
        return CheckResult("secret-store", title, Level.FAIL, exc.message, exc.hint), None
    chosen = f"{backend} ({'default' if source == 'default' else 'from ' + source})"
    if backend == "file" and secrets_file is not None and not secrets_file.exists():
        # A round trip would create the file (and the data dir) on a machine doctor should only
        # look at; an absent file holds no secrets to read anyway.
        return (
            CheckResult(
                "secret-store",
                title,
                Level.WARN,
                f"{chosen}: plaintext file {secrets_file}, not created yet (nothing stored)",
                FILE_FIX,
            ),
            ProbeResult(f"plaintext file {secrets_file}", True, False),
        )
    if backend in ("database", "command"):
        return _inspect(backend, chosen, configured, open_store, timeout, database_file)
    fix = HEADLESS_FIX if headless(env, platform) else KEYRING_FIX
    try:
        result = bounded(lambda: probe(open_store(configured)), timeout, "secrets")
    except TimedOut:
        return (
            CheckResult(
                "secret-store",
                title,
                Level.FAIL,
                f"{chosen}: the OS keyring did not answer within {timeout:g} s (a locked Secret "
                "Service waits for an unlock prompt nobody can see)"
                + _why_unreachable(env, platform),
                fix,
            ),
            None,
        )
    except SecretStoreError as exc:
        unreachable = _why_unreachable(env, platform) if backend == "keyring" else ""
        return (
            CheckResult(
                "secret-store",
                title,
                Level.FAIL,
                f"{chosen}: {exc.message}{unreachable}",
                fix if backend == "keyring" else exc.hint,
            ),
            None,
        )
    except Exception as exc:
        # A keyring backend can raise anything (D-Bus errors, OSError); the type is the useful part.
        return (
            CheckResult(
                "secret-store",
                title,
                Level.FAIL,
                f"{chosen}: the round trip failed: {exc.__class__.__name__}"
                + _why_unreachable(env, platform),
                fix,
            ),
            None,
        )
    if not result.round_trip_ok:
        return (
            CheckResult(
                "secret-store",
                title,
                Level.FAIL,
                f"{chosen}, {result.description}: a test secret did not read back as written "
                "(a null or read-only keyring backend?)",
                fix,
            ),
            result,
        )
    if backend == "file":
        return (
            CheckResult(
                "secret-store",
                title,
                Level.WARN,
                f"{chosen}: {result.description}; round trip ok",
                FILE_FIX,
            ),
            result,
        )
    if "plaintext" in result.description.lower() or "keyrings.alt" in result.description:
        return (
            CheckResult(
                "secret-store",
                title,
                Level.WARN,
                f"{chosen}: {result.description} keeps secrets unencrypted; round trip ok",
                f"use a Secret Service, Keychain or Credential Locker backend ({KEYRING_BACKEND_ENV})",
            ),
            result,
        )
    return (
        CheckResult(
            "secret-store", title, Level.OK, f"{chosen}: {result.description}; round trip ok"
        ),
        result,
    )


def _inspect(
    backend: str,
    chosen: str,
    configured: str | None,
    open_store: Callable[[str | None], SecretStore],
    timeout: float,
    database_file: Path | None,
) -> tuple[CheckResult, ProbeResult | None]:
    """The database backend's key state, or the command backend's programs; nothing is written.

    A round trip would write the shared database or the operator's password manager, so these
    backends are looked at instead: the key against the key check, each command on PATH.
    """
    title = "Secret store"

    def look() -> ProbeResult:
        store = open_store(configured)
        inner: Any = getattr(store, "inner", store)  # the backend under the home's namespace
        inspect: Callable[..., str] = inner.inspect
        if backend == "database" and database_file is not None and not database_file.exists():
            # Opening the database would create it on a machine doctor should only look at.
            return ProbeResult(inspect(read_rows=False), True, False)
        state = inspect()
        return ProbeResult(state, True, bool(store.get(CLIENT_SECRET_KEY)))

    try:
        result = bounded(look, timeout, "secrets")
    except TimedOut:
        return (
            CheckResult(
                "secret-store",
                title,
                Level.FAIL,
                f"{chosen}: no answer within {timeout:g} s (a key command or secret command "
                "waiting for a prompt nobody can see?)",
                "run the key_command or get command yourself to see what it waits for",
            ),
            None,
        )
    except SecretStoreError as exc:
        return CheckResult(
            "secret-store", title, Level.FAIL, f"{chosen}: {exc.message}", exc.hint
        ), None
    except Exception as exc:
        return (
            CheckResult(
                "secret-store",
                title,
                Level.FAIL,
                f"{chosen}: the check failed: {exc.__class__.__name__}",
                "run `soldscope doctor --debug` for details",
            ),
            None,
        )
    return CheckResult("secret-store", title, Level.OK, f"{chosen}: {result.description}"), result
