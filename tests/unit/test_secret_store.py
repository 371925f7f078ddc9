"""Secret backends: file (opt-in, 0600), keyring failures and timeouts, backend choice."""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from soldscope_cli.errors import SecretStoreError
from soldscope_cli.fleet.namespaces import open_secret_store
from soldscope_cli.fleet.secrets import (
    FileSecretStore,
    KeyringSecretStore,
    MemorySecretStore,
    backend_choice,
)


def test_file_store_round_trips_with_mode_0600(tmp_path: Path) -> None:
    store = FileSecretStore(tmp_path / "d" / "secrets.json")
    store.set("refresh-token:a", "Atzr|one")
    store.set("refresh-token:b", "Atzr|two")
    store.delete("refresh-token:a")
    store.delete("refresh-token:missing")
    assert store.get("refresh-token:a") is None
    assert store.get("refresh-token:b") == "Atzr|two"
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    assert store.insecure


def test_corrupt_secrets_file_is_an_error_not_an_empty_store(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    path.write_text("{not json")
    with pytest.raises(SecretStoreError) as info:
        FileSecretStore(path).get("x")
    assert str(path) in info.value.message


def test_fail_backend_names_every_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    import keyring.core

    keyring.core._keyring_backend = None  # keyring caches the first backend it chose
    try:
        with pytest.raises(SecretStoreError) as info:
            KeyringSecretStore().get("x")
    finally:
        keyring.core._keyring_backend = None
    text = f"{info.value.message} {info.value.hint}"
    assert "no usable OS keyring" in text
    for fix in ("Secret Service", "PYTHON_KEYRING_BACKEND", "SOLDSCOPE_SECRETS=file"):
        assert fix in text


class HangingBackend:
    def __init__(self) -> None:
        self.release = threading.Event()

    def get_password(self, service: str, key: str) -> str | None:
        self.release.wait(5)
        return None


def test_a_hanging_keyring_times_out_with_the_fixes() -> None:
    store = KeyringSecretStore(timeout=0.2)
    backend = HangingBackend()
    store._backend = backend
    try:
        with pytest.raises(SecretStoreError) as info:
            store.get("x")
    finally:
        backend.release.set()
    assert "did not answer within" in info.value.message
    assert info.value.hint and "SOLDSCOPE_SECRETS=file" in info.value.hint


class ExplodingBackend:
    def get_password(self, service: str, key: str) -> str | None:
        raise RuntimeError("dbus went away")


def test_backend_exceptions_become_secret_store_errors() -> None:
    store = KeyringSecretStore(timeout=1)
    store._backend = ExplodingBackend()
    with pytest.raises(SecretStoreError) as info:
        store.get("x")
    assert "RuntimeError" in info.value.message


@pytest.mark.parametrize(
    ("env", "configured", "expected"),
    [
        ({}, None, ("keyring", "default")),
        ({}, "file", ("file", "config [secrets] backend")),
        ({"SOLDSCOPE_SECRETS": "file"}, None, ("file", "SOLDSCOPE_SECRETS")),
        ({"SOLDSCOPE_SECRETS": "keyring"}, "file", ("keyring", "SOLDSCOPE_SECRETS")),
    ],
)
def test_backend_choice(
    env: dict[str, str], configured: str | None, expected: tuple[str, str]
) -> None:
    assert backend_choice(env, configured) == expected


def test_unknown_backend_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SecretStoreError):
        open_secret_store({"SOLDSCOPE_SECRETS": "plaintext"}, None, tmp_path / "s.json")


# --- one home's namespace -----------------------------------------------------------------------


def _home(tmp_path: Path, text: str = "") -> Any:
    from soldscope_cli.fleet.config import ConfigFile

    config = tmp_path / "config" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    if text:
        config.write_text(text)
    return ConfigFile(config, tmp_path / "config" / ".config.toml.lock")


OLD_HOME = """
[app]
client_id = "amzn1.application-oa2-client.x"

[stores.acme]
region = "na"
marketplaces = ["US"]
authorized_at = 2026-11-01T00:00:00Z
"""


class _KeyringLike(MemorySecretStore):
    name = "keyring"  # shared by every home of the account: old entries are copied, not moved


def test_two_homes_on_one_store_keep_their_own_secrets(tmp_path: Path) -> None:
    from soldscope_cli.fleet.namespaces import NamespacedSecretStore
    from soldscope_cli.fleet.secrets import CLIENT_SECRET_KEY, token_key

    shared = _KeyringLike()
    first = NamespacedSecretStore(shared, _home(tmp_path / "one"))
    second = NamespacedSecretStore(shared, _home(tmp_path / "two"))
    first.set(token_key("acme"), "Atzr|first")
    first.set(CLIENT_SECRET_KEY, "secret-one")
    second.set(token_key("acme"), "Atzr|second")
    second.set(CLIENT_SECRET_KEY, "secret-two")
    assert first.get(token_key("acme")) == "Atzr|first"
    assert first.get(CLIENT_SECRET_KEY) == "secret-one"
    assert second.get(token_key("acme")) == "Atzr|second"
    first.delete(token_key("acme"))
    assert second.get(token_key("acme")) == "Atzr|second"
    assert first.namespace() != second.namespace()
    assert all("/" in key for key in shared.values)  # one scheme: every key is namespaced


@pytest.mark.parametrize(("inner", "moved"), [(MemorySecretStore, True), (_KeyringLike, False)])
def test_an_old_home_copies_its_entries_on_its_first_write(
    tmp_path: Path, inner: type[MemorySecretStore], moved: bool
) -> None:
    from soldscope_cli.fleet.namespaces import NamespacedSecretStore
    from soldscope_cli.fleet.secrets import CLIENT_SECRET_KEY, token_key

    legacy = {
        token_key("acme"): "Atzr|old",
        CLIENT_SECRET_KEY: "old-secret",
        "refresh-token:x": "Atzr|x",
    }
    backend = inner(legacy)
    home = _home(tmp_path, OLD_HOME)
    store = NamespacedSecretStore(backend, home)
    # Reading changes nothing: this home's own old entries, and only those.
    assert store.get(token_key("acme")) == "Atzr|old"
    assert store.get(token_key("x")) is None  # "x" is not one of this home's stores
    assert store.namespace() is None and "namespace" not in home.path.read_text()
    assert "no namespace yet" in store.describe()
    store.set(token_key("new"), "Atzr|new")
    namespace = store.namespace()
    assert namespace is not None and f'namespace = "{namespace}"' in home.path.read_text()
    assert backend.values[f"{namespace}/refresh-token:acme"] == "Atzr|old"
    assert backend.values[f"{namespace}/lwa-client-secret"] == "old-secret"
    # The file store is this home's alone (moved); the keyring may serve another old home (kept).
    assert (token_key("acme") in backend.values) is not moved
    assert (CLIENT_SECRET_KEY in backend.values) is not moved
    assert backend.values["refresh-token:x"] == "Atzr|x"  # never another home's entry
    assert f"namespace '{namespace}'" in store.describe()


def test_a_fresh_home_does_not_take_another_homes_old_client_secret(tmp_path: Path) -> None:
    from soldscope_cli.fleet.namespaces import NamespacedSecretStore
    from soldscope_cli.fleet.secrets import CLIENT_SECRET_KEY, token_key

    backend = _KeyringLike({CLIENT_SECRET_KEY: "someone-elses", token_key("acme"): "Atzr|theirs"})
    store = NamespacedSecretStore(backend, _home(tmp_path))
    assert store.get(CLIENT_SECRET_KEY) is None
    store.set(token_key("acme"), "Atzr|mine")
    assert store.get(CLIENT_SECRET_KEY) is None
    assert backend.values[token_key("acme")] == "Atzr|theirs"


def test_an_unusable_backend_writes_no_namespace(tmp_path: Path) -> None:
    from soldscope_cli.errors import SecretStoreError
    from soldscope_cli.fleet.namespaces import NamespacedSecretStore
    from soldscope_cli.fleet.secrets import token_key

    class Broken(MemorySecretStore):
        def get(self, key: str) -> str | None:
            raise SecretStoreError("no usable OS keyring was found")

    home = _home(tmp_path)
    with pytest.raises(SecretStoreError):
        NamespacedSecretStore(Broken(), home).set(token_key("acme"), "Atzr|x")
    assert not home.path.exists()


class _CountingKeyring(_KeyringLike):
    """Counts single reads and batch reads."""

    def __init__(self) -> None:
        super().__init__()
        self.gets = 0
        self.batches: list[list[str]] = []

    def get(self, key: str) -> str | None:
        self.gets += 1
        return super().get(key)

    def get_many(self, keys: Sequence[str]) -> dict[str, str | None]:
        self.batches.append(list(keys))
        return {key: self.values.get(key) for key in keys}


def test_a_home_reads_many_secrets_in_one_batch_of_its_own_namespace(tmp_path: Path) -> None:
    from soldscope_cli.fleet.namespaces import NamespacedSecretStore, SharedNamespaceSecretStore
    from soldscope_cli.fleet.secrets import read_many, token_key

    shared = _CountingKeyring()
    other = NamespacedSecretStore(shared, _home(tmp_path / "other"))
    other.set(token_key("acme"), "Atzr|other-home")
    home = NamespacedSecretStore(shared, _home(tmp_path / "home"))
    home.set(token_key("acme"), "Atzr|acme")
    home.set(token_key("beta"), "Atzr|beta")
    keys = [token_key("acme"), token_key("beta"), token_key("gone")]
    shared.gets = 0
    assert read_many(home, keys) == {
        token_key("acme"): "Atzr|acme",
        token_key("beta"): "Atzr|beta",
        token_key("gone"): None,
    }
    assert shared.gets == 0
    assert shared.batches == [[f"{home.namespace()}/{key}" for key in keys]]
    team = SharedNamespaceSecretStore(shared, "team0001")
    assert read_many(team, [token_key("acme")]) == {token_key("acme"): None}
    assert shared.batches[-1] == [f"team0001/{token_key('acme')}"]


def test_the_file_store_reads_its_file_once_for_a_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from soldscope_cli.fleet.secrets import read_many

    store = FileSecretStore(tmp_path / "secrets.json")
    store.set("a", "1")
    store.set("b", "2")
    reads = []
    original = FileSecretStore._read

    def counting(self: FileSecretStore) -> dict[str, str]:
        reads.append(1)
        return original(self)

    monkeypatch.setattr(FileSecretStore, "_read", counting)
    assert read_many(store, ["a", "b", "c"]) == {"a": "1", "b": "2", "c": None}
    assert len(reads) == 1
