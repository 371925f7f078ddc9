"""`secrets move`: copy, verify, switch config, then remove the old entries; a failure changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from soldscope_cli.errors import SecretStoreError, UsageError
from soldscope_cli.fleet.config import ConfigFile, StoreRecord
from soldscope_cli.fleet.secret_move import move_secrets, moved_summary
from soldscope_cli.fleet.secrets import CLIENT_SECRET_KEY, MemorySecretStore, token_key

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def home(tmp_path: Path, *names: str) -> ConfigFile:
    config_file = ConfigFile(tmp_path / "config.toml", tmp_path / ".lock")
    with config_file.edit() as config:
        config.secrets_backend = "file"
        for name in names:
            config.stores[name] = StoreRecord(name, "na", ["US"], NOW)
    return config_file


class Forgetful(MemorySecretStore):
    """A backend that accepts a value and gives back another (a broken helper, say)."""

    def get(self, key: str) -> str | None:
        value = super().get(key)
        return None if value is None or key == CLIENT_SECRET_KEY else value


class Refusing(MemorySecretStore):
    def delete(self, key: str) -> None:
        raise SecretStoreError("the old backend refused")


def test_everything_moves_then_config_switches_then_the_old_entries_go(tmp_path: Path) -> None:
    config_file = home(tmp_path, "a-us", "b-us")
    source = MemorySecretStore(
        {token_key("a-us"): "Atzr|a", token_key("b-us"): "Atzr|b", CLIENT_SECRET_KEY: "cs"}
    )
    target = MemorySecretStore()
    report = move_secrets(config_file, source, target, source_name="file", target_name="keyring")
    assert report.moved == [token_key("a-us"), token_key("b-us"), CLIENT_SECRET_KEY]
    assert target.values == {
        token_key("a-us"): "Atzr|a",
        token_key("b-us"): "Atzr|b",
        CLIENT_SECRET_KEY: "cs",
    }
    assert source.values == {}
    assert config_file.load().secrets_backend == "keyring"
    assert moved_summary(report.moved) == "2 refresh tokens and the client secret"


def test_a_dry_run_changes_nothing(tmp_path: Path) -> None:
    config_file = home(tmp_path, "a-us")
    source = MemorySecretStore({token_key("a-us"): "Atzr|a"})
    target = MemorySecretStore()
    report = move_secrets(
        config_file, source, target, source_name="file", target_name="keyring", dry_run=True
    )
    assert report.dry_run and report.moved == [token_key("a-us")]
    assert target.values == {} and source.values == {token_key("a-us"): "Atzr|a"}
    assert config_file.load().secrets_backend == "file"


def test_a_value_that_does_not_come_back_undoes_every_write(tmp_path: Path) -> None:
    config_file = home(tmp_path, "a-us")
    source = MemorySecretStore({token_key("a-us"): "Atzr|a", CLIENT_SECRET_KEY: "cs"})
    target = Forgetful({token_key("a-us"): "Atzr|older"})
    with pytest.raises(SecretStoreError, match="did not give back the client secret it was given"):
        move_secrets(config_file, source, target, source_name="file", target_name="command")
    assert target.values == {token_key("a-us"): "Atzr|older"}  # as it was
    assert source.values == {token_key("a-us"): "Atzr|a", CLIENT_SECRET_KEY: "cs"}
    assert config_file.load().secrets_backend == "file"


def test_a_missing_token_stops_the_move_before_any_write(tmp_path: Path) -> None:
    config_file = home(tmp_path, "a-us", "b-us")
    source = MemorySecretStore({token_key("a-us"): "Atzr|a"})
    target = MemorySecretStore()
    with pytest.raises(UsageError, match=r"no refresh token for 1 store \(b-us\)") as info:
        move_secrets(config_file, source, target, source_name="file", target_name="keyring")
    assert "--from" in (info.value.hint or "")
    assert target.values == {} and config_file.load().secrets_backend == "file"


def test_the_same_backend_is_refused(tmp_path: Path) -> None:
    config_file = home(tmp_path)
    with pytest.raises(UsageError, match="in the file backend already"):
        move_secrets(
            config_file,
            MemorySecretStore(),
            MemorySecretStore(),
            source_name="file",
            target_name="file",
        )


def test_old_entries_that_cannot_be_removed_are_listed(tmp_path: Path) -> None:
    config_file = home(tmp_path, "a-us")
    source = Refusing({token_key("a-us"): "Atzr|a"})
    target = MemorySecretStore()
    report = move_secrets(config_file, source, target, source_name="file", target_name="keyring")
    assert report.left_behind == [token_key("a-us")]
    assert target.values == {token_key("a-us"): "Atzr|a"}
    assert config_file.load().secrets_backend == "keyring"
