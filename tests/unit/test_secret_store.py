"""Secret backends: file (opt-in, 0600), keyring failures and timeouts, backend choice."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from soldscope_cli.errors import SecretStoreError
from soldscope_cli.fleet.secrets import (
    FileSecretStore,
    KeyringSecretStore,
    backend_choice,
    open_secret_store,
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
