"""A home's view of the shared secret backends: every key carries the home's namespace.

The OS keyring is shared by every home of an account, so each home (a SOLDSCOPE_CONFIG_DIR)
prefixes its keys with a random namespace kept in its config.toml; see NamespacedSecretStore.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from soldscope_cli.fleet.secrets import (
    CALENDAR_KEY,
    CLIENT_SECRET_KEY,
    INVITATION_KEY,
    TOKEN_KEY_PREFIX,
    SecretStore,
    open_backend,
    read_many,
    token_key,
)

if TYPE_CHECKING:
    from soldscope_cli.db.interface import SecretRows
    from soldscope_cli.fleet.config import Config, ConfigFile
    from soldscope_cli.fleet.secret_settings import SecretsSettings


def namespaced_key(namespace: str, key: str) -> str:
    """The key a backend stores: `<namespace>/refresh-token:<store>`, `<namespace>/lwa-client-secret`."""
    return f"{namespace}/{key}"


def new_namespace() -> str:
    """A fresh random namespace id for a home (16 hex digits)."""
    import uuid

    return uuid.uuid4().hex[:16]


class NamespacedSecretStore:
    """One home's view of a secret store: its keys carry the namespace kept in its config.toml.

    The OS keyring is shared by every home of an account (service "soldscope"), so without a
    namespace a second SOLDSCOPE_CONFIG_DIR that connects a store of the same name, or runs
    `app set`, replaces the first home's secrets. Every backend uses the same scheme.

    A home gets its namespace on its first write of a secret. Until then it reads the unprefixed
    entries of older versions, but only its own: tokens of stores in its config, and the client
    secret when its config has an [app]. The first write copies those entries into the namespace
    (under the config lock) before the config names it. In the file and memory backends, which
    belong to this home alone, the old entries are then removed; in the keyring they stay, because
    another home on the same account may still need them and cannot be asked.
    """

    def __init__(self, inner: SecretStore, home: ConfigFile) -> None:
        self.inner = inner
        self.name = inner.name
        self.insecure = inner.insecure
        self._home = home
        self._namespace: str | None = None
        self._lock = threading.Lock()

    @staticmethod
    def is_home_key(key: str) -> bool:
        """The keys a home owns: refresh tokens and the client secret (a probe key passes through)."""
        return key in (CLIENT_SECRET_KEY, INVITATION_KEY, CALENDAR_KEY) or key.startswith(
            TOKEN_KEY_PREFIX
        )

    def namespace(self) -> str | None:
        """This home's namespace, or None before its first secret is stored."""
        if self._namespace is None:
            self._namespace = self._home.load().secrets_namespace
        return self._namespace

    def get(self, key: str) -> str | None:
        if not self.is_home_key(key):
            return self.inner.get(key)
        namespace = self.namespace()
        if namespace is not None:
            return self.inner.get(namespaced_key(namespace, key))
        return self.inner.get(key) if key in legacy_keys(self._home.load()) else None

    def get_many(self, keys: Sequence[str]) -> dict[str, str | None]:
        namespace = self.namespace()
        if namespace is None:  # an older home: its few legacy reads, one by one
            return {key: self.get(key) for key in keys}
        stored = {
            key: namespaced_key(namespace, key) if self.is_home_key(key) else key for key in keys
        }
        found = read_many(self.inner, list(stored.values()))
        return {key: found[inner_key] for key, inner_key in stored.items()}

    def set(self, key: str, value: str) -> None:
        if not self.is_home_key(key):
            self.inner.set(key, value)
            return
        self.inner.set(namespaced_key(self.ensure_namespace(), key), value)

    def delete(self, key: str) -> None:
        if not self.is_home_key(key):
            self.inner.delete(key)
            return
        self.inner.delete(namespaced_key(self.ensure_namespace(), key))

    def describe(self) -> str:
        namespace = self.namespace()
        where = (
            f"namespace {namespace!r}"
            if namespace
            else "no namespace yet (the first `connect` or `app set` creates it)"
        )
        return f"{self.inner.describe()}, {where}"

    def ensure_namespace(self) -> str:
        """The namespace, created (and this home's older entries copied into it) if missing."""
        with self._lock:
            namespace = self.namespace()
            if namespace is not None:
                return namespace
            # Fails early, with nothing written, when the backend is unusable (no keyring).
            self.inner.get(CLIENT_SECRET_KEY)
            copied: list[str] = []
            with self._home.edit() as config:
                if config.secrets_namespace is None:  # another process may have just made it
                    fresh = new_namespace()
                    try:
                        copied = self._copy_legacy(config, fresh)
                    except BaseException:
                        for key in copied:
                            self.inner.delete(namespaced_key(fresh, key))
                        raise
                    config.secrets_namespace = fresh
                self._namespace = config.secrets_namespace
            if self.inner.name in ("file", "memory"):
                # The file (and memory) store is this home's alone: the old entries are moved.
                # The keyring, a secret manager behind commands and a database may be shared.
                for key in copied:
                    self.inner.delete(key)
            assert self._namespace is not None
            return self._namespace

    def _copy_legacy(self, config: Config, namespace: str) -> list[str]:
        copied = []
        for key in legacy_keys(config):
            value = self.inner.get(key)
            if value is None:
                continue
            target = namespaced_key(namespace, key)
            if self.inner.get(target) is None:
                self.inner.set(target, value)
            copied.append(key)
        return copied


def legacy_keys(config: Config) -> set[str]:
    """The unprefixed keys of older versions that this home may claim as its own."""
    keys = {token_key(name) for name in config.stores}
    app = config.app
    if app.application_id or app.client_id or app.client_secret_set_at:
        keys.add(CLIENT_SECRET_KEY)
    return keys


def open_secret_store(
    env: Mapping[str, str],
    configured: str | None,
    file_path: Path,
    home: ConfigFile | None = None,
    *,
    timeout: float | None = None,
    settings: SecretsSettings | None = None,
    rows: Callable[[], SecretRows] | None = None,
    database_path: Path | None = None,
    team_namespace: str | None = None,
) -> SecretStore:
    """The secret store the environment and config ask for; never a silent plaintext fallback.

    With `home`, the store is that home's namespaced view (NamespacedSecretStore). timeout caps
    how long a backend may wait for an answer (doctor probes with a short one). settings are
    the config's [secrets] (key command, command templates); rows open the database backend's
    table when it is first used. team_namespace (team mode) replaces the home's own namespace
    with the one every host of the team database shares.
    """
    store = open_backend(
        env,
        configured,
        file_path,
        timeout=timeout,
        settings=settings,
        rows=rows,
        database_path=database_path,
    )
    if team_namespace is not None:
        return SharedNamespaceSecretStore(store, team_namespace)
    return store if home is None else NamespacedSecretStore(store, home)


class SharedNamespaceSecretStore:
    """Team mode: the keys carry the team database's namespace, the same on every host.

    A team database starts empty, so there are no older unprefixed entries to carry over
    (`soldscope team import` copies a home's secrets into it).
    """

    def __init__(self, inner: SecretStore, namespace: str) -> None:
        self.inner = inner
        self.name = inner.name
        self.insecure = inner.insecure
        self._namespace = namespace

    def namespace(self) -> str:
        return self._namespace

    def _key(self, key: str) -> str:
        home_key = NamespacedSecretStore.is_home_key(key)
        return namespaced_key(self._namespace, key) if home_key else key

    def get(self, key: str) -> str | None:
        return self.inner.get(self._key(key))

    def get_many(self, keys: Sequence[str]) -> dict[str, str | None]:
        found = read_many(self.inner, [self._key(key) for key in keys])
        return {key: found[self._key(key)] for key in keys}

    def set(self, key: str, value: str) -> None:
        self.inner.set(self._key(key), value)

    def delete(self, key: str) -> None:
        self.inner.delete(self._key(key))

    def describe(self) -> str:
        return f"{self.inner.describe()}, team namespace {self._namespace!r}"
