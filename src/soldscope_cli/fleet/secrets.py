"""Where secrets live: the OS keyring by default; a 0600 file, the database or commands if asked.

Named secret_store, not secrets, so the stdlib `secrets` module stays importable everywhere.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

from soldscope_cli.errors import SecretStoreError
from soldscope_cli.fleet.files import atomic_write
from soldscope_cli.fleet.secret_settings import SecretsSettings

if TYPE_CHECKING:
    from soldscope_cli.db.interface import SecretRows

SERVICE = "soldscope"
CLIENT_SECRET_KEY = "lwa-client-secret"
# The home's key that derives invitation link tokens (onboarding/invitations.py); never shown.
INVITATION_KEY = "invitation-key"
# The key of the calendar feed's secret URL (monitoring/feed.py); a new one retires the old URL.
CALENDAR_KEY = "calendar-key"
SECRETS_ENV = "SOLDSCOPE_SECRETS"
KEYRING_TIMEOUT_S = 10.0

T = TypeVar("T")

KEYRING_FIXES = (
    "start or unlock a Secret Service (e.g. run under `dbus-run-session` and unlock "
    "gnome-keyring-daemon), choose another backend with PYTHON_KEYRING_BACKEND, or opt in to "
    "file storage with SOLDSCOPE_SECRETS=file (see docs/configuration.md#secrets)"
)


TOKEN_KEY_PREFIX = "refresh-token:"


def token_key(store: str) -> str:
    """The secret-store key of a store's refresh token (before the home's namespace is added)."""
    return f"{TOKEN_KEY_PREFIX}{store}"


def token_store(key: str) -> str | None:
    """The store whose refresh token a key names (namespaced or not), None for other secrets."""
    bare = key.rpartition("/")[2]
    return bare[len(TOKEN_KEY_PREFIX) :] if bare.startswith(TOKEN_KEY_PREFIX) else None


class SecretStore(Protocol):
    """The one interface every secret backend offers."""

    name: str
    insecure: bool

    def get(self, key: str) -> str | None: ...

    def set(self, key: str, value: str) -> None: ...

    def delete(self, key: str) -> None: ...

    def describe(self) -> str: ...


# How many secrets one batch read asks for at once (each batch has the store's own timeout).
BATCH_SIZE = 50


@runtime_checkable
class BatchReader(Protocol):
    """A secret store that reads many keys at once cheaper than one by one."""

    def get_many(self, keys: Sequence[str]) -> dict[str, str | None]: ...


def read_many(store: SecretStore, keys: Sequence[str]) -> dict[str, str | None]:
    """Every key's secret (None when absent): in batches where the store can, else one by one."""
    if isinstance(store, BatchReader):
        return store.get_many(keys)
    return {key: store.get(key) for key in keys}


class MemorySecretStore:
    """Secrets in a dict: for tests and throwaway runs."""

    name = "memory"
    insecure = False

    def __init__(self, initial: Mapping[str, str] | None = None) -> None:
        self.values: dict[str, str] = dict(initial or {})

    def get(self, key: str) -> str | None:
        return self.values.get(key)

    def set(self, key: str, value: str) -> None:
        self.values[key] = value

    def delete(self, key: str) -> None:
        self.values.pop(key, None)

    def describe(self) -> str:
        return "in-memory (nothing is kept)"


class FileSecretStore:
    """Secrets in a mode-0600 JSON file in the data dir: explicit opt-in, shown as insecure."""

    name = "file"
    insecure = True

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def _read(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise SecretStoreError(
                f"{self.path}: cannot read the secrets file ({exc.__class__.__name__})",
                hint="restore it from a backup or remove it and reconnect the stores",
            ) from None
        if not isinstance(data, dict):
            raise SecretStoreError(f"{self.path}: not a secrets file", hint="remove it")
        return {str(k): str(v) for k, v in data.items()}

    def _write(self, data: dict[str, str]) -> None:
        atomic_write(self.path, json.dumps(data, indent=1, sort_keys=True), mode=0o600)

    def get(self, key: str) -> str | None:
        with self._lock:
            return self._read().get(key)

    def get_many(self, keys: Sequence[str]) -> dict[str, str | None]:
        with self._lock:
            data = self._read()  # the file once, not once a key
        return {key: data.get(key) for key in keys}

    def set(self, key: str, value: str) -> None:
        with self._lock, _file_lock(self.path):
            data = self._read()
            data[key] = value
            self._write(data)

    def delete(self, key: str) -> None:
        with self._lock, _file_lock(self.path):
            data = self._read()
            if data.pop(key, None) is not None:
                self._write(data)

    def describe(self) -> str:
        return f"plaintext file {self.path} (mode 0600; insecure: anyone with this account can read it)"


def _file_lock(path: Path) -> Any:
    from soldscope_cli.fleet.locks import private_lock

    return private_lock(path.with_name(path.name + ".lock"), timeout=30)


def _with_timeout(call: Callable[[], T], timeout: float, what: str) -> T:
    """Run a keyring call on a daemon thread: a locked Secret Service can block forever."""
    result: list[T] = []
    error: list[BaseException] = []

    def target() -> None:
        try:
            result.append(call())
        except BaseException as exc:
            error.append(exc)

    thread = threading.Thread(target=target, name="soldscope-keyring", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise SecretStoreError(
            f"the OS keyring did not answer within {timeout:.0f} s while trying to {what} "
            "(a locked Secret Service waits for an unlock prompt nobody can see)",
            hint=KEYRING_FIXES,
        )
    if error:
        raise error[0]
    return result[0]


class KeyringSecretStore:
    """Secrets in the OS keyring through `keyring`, service name "soldscope", with timeouts."""

    name = "keyring"
    insecure = False

    def __init__(self, timeout: float = KEYRING_TIMEOUT_S) -> None:
        self.timeout = timeout
        self._backend: Any = None

    def backend(self) -> Any:
        """The usable keyring backend, or a SecretStoreError naming the fixes."""
        if self._backend is None:
            import keyring
            from keyring.backends import fail

            backend = _with_timeout(keyring.get_keyring, self.timeout, "find a keyring backend")
            if isinstance(backend, fail.Keyring):
                raise SecretStoreError("no usable OS keyring was found", hint=KEYRING_FIXES)
            self._backend = backend
        return self._backend

    def _call(self, what: str, call: Callable[[Any], T]) -> T:
        from keyring.errors import KeyringError

        backend = self.backend()
        try:
            return _with_timeout(lambda: call(backend), self.timeout, what)
        except KeyringError as exc:
            raise SecretStoreError(
                f"the OS keyring refused to {what}: {exc.__class__.__name__}", hint=KEYRING_FIXES
            ) from None
        except SecretStoreError:
            raise
        except Exception as exc:
            raise SecretStoreError(
                f"the OS keyring failed to {what}: {exc.__class__.__name__}", hint=KEYRING_FIXES
            ) from None

    def get(self, key: str) -> str | None:
        value: str | None = self._call("read a secret", lambda b: b.get_password(SERVICE, key))
        return value

    def get_many(self, keys: Sequence[str]) -> dict[str, str | None]:
        """A Secret Service is read BATCH_SIZE keys per connection (fleet/secret_service.py);
        other keyrings one key at a time."""
        from soldscope_cli.fleet.secret_service import is_secret_service, read_secrets

        if not is_secret_service(self.backend()):
            return {key: self.get(key) for key in keys}
        found: dict[str, str | None] = {}
        for start in range(0, len(keys), BATCH_SIZE):
            batch = list(keys[start : start + BATCH_SIZE])

            def read(backend: Any, batch: list[str] = batch) -> dict[str, str | None]:
                return read_secrets(backend, SERVICE, batch)

            found.update(self._call("read secrets", read))
        return found

    def set(self, key: str, value: str) -> None:
        self._call("store a secret", lambda b: b.set_password(SERVICE, key, value))

    def delete(self, key: str) -> None:
        from keyring.errors import PasswordDeleteError

        def delete(backend: Any) -> None:
            # Already gone is fine: deleting is idempotent.
            with contextlib.suppress(PasswordDeleteError):
                backend.delete_password(SERVICE, key)

        self._call("delete a secret", delete)

    def describe(self) -> str:
        try:
            backend = self.backend()
        except SecretStoreError as exc:
            return f"OS keyring: unusable ({exc.message})"
        cls = type(backend)
        return f"OS keyring ({cls.__module__}.{cls.__name__}), service {SERVICE!r}"


def backend_choice(env: Mapping[str, str], configured: str | None) -> tuple[str, str]:
    """(backend name, where the choice came from): SOLDSCOPE_SECRETS, then config, then keyring."""
    chosen = (env.get(SECRETS_ENV) or "").strip().lower()
    if chosen:
        if chosen not in BACKENDS:
            raise SecretStoreError(
                f"{SECRETS_ENV}={chosen!r} is not a secrets backend",
                hint=f"set {SECRETS_ENV} to {' or '.join(BACKENDS)}, or unset it",
            )
        return chosen, SECRETS_ENV
    if configured:
        return configured, "config [secrets] backend"
    return "keyring", "default"


@dataclass(frozen=True)
class BackendSetup:
    """What a backend may be built from: the environment, the home's files, the config."""

    env: Mapping[str, str]
    file_path: Path  # the file backend's secrets.json
    timeout: float | None = None  # doctor's cap on how long a backend may wait
    settings: SecretsSettings = field(default_factory=SecretsSettings)
    # The database backend's rows (the state database's secrets table), opened only when used.
    rows: Callable[[], SecretRows] | None = None
    database_path: Path | None = None  # for describe() alone


def _keyring(setup: BackendSetup) -> SecretStore:
    raw = setup.env.get("SOLDSCOPE_KEYRING_TIMEOUT")
    try:
        seconds = float(raw) if raw else KEYRING_TIMEOUT_S
    except ValueError:
        seconds = KEYRING_TIMEOUT_S
    timeout = setup.timeout
    return KeyringSecretStore(timeout=seconds if timeout is None else min(seconds, timeout))


def _file(setup: BackendSetup) -> SecretStore:
    return FileSecretStore(setup.file_path)


def _database(setup: BackendSetup) -> SecretStore:
    from soldscope_cli.fleet.database_secrets import open_database_store

    where = str(setup.database_path) if setup.database_path else "(not opened)"
    return open_database_store(
        setup.env, setup.settings.key_command, setup.rows, where, token_store
    )


def _command(setup: BackendSetup) -> SecretStore:
    from soldscope_cli.fleet.command_secrets import COMMAND_TIMEOUT_S, CommandSecretStore

    timeout = COMMAND_TIMEOUT_S if setup.timeout is None else min(COMMAND_TIMEOUT_S, setup.timeout)
    return CommandSecretStore(setup.settings, setup.env, timeout)


# The secret backends by name, as SOLDSCOPE_SECRETS and `[secrets] backend` name them. A new
# backend is a class with the SecretStore methods and one line here.
BACKENDS: Mapping[str, Callable[[BackendSetup], SecretStore]] = {
    "keyring": _keyring,
    "file": _file,
    "database": _database,
    "command": _command,
}


def open_backend(
    env: Mapping[str, str],
    configured: str | None,
    file_path: Path,
    *,
    timeout: float | None = None,
    settings: SecretsSettings | None = None,
    rows: Callable[[], SecretRows] | None = None,
    database_path: Path | None = None,
) -> SecretStore:
    """The bare backend the environment and config name, keys used as given."""
    name, _ = backend_choice(env, configured)
    setup = BackendSetup(
        env, file_path, timeout, settings or SecretsSettings(), rows, database_path
    )
    return BACKENDS[name](setup)


def file_mode_ok(path: Path) -> bool:
    """True when a file is readable by its owner only."""
    try:
        return (os.stat(path).st_mode & 0o077) == 0
    except FileNotFoundError:
        return True
