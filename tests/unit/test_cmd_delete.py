"""`soldscope delete`: confirmation rules, record and token together, purge."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.conftest import NOW, Harness, make_harness

from soldscope_cli.db.database import CHECK_OK, CheckRecord
from soldscope_cli.errors import SecretStoreError
from soldscope_cli.fleet.secrets import token_key


def test_without_a_terminal_and_without_yes_nothing_is_deleted(
    harness: Harness, invoke: Any
) -> None:
    harness.add_store("acme")
    result = invoke(harness, "delete", "acme")
    assert result.exit_code == 2
    assert "soldscope delete acme --yes" in harness.stderr
    assert "acme" in harness.ctx.config(reload=True).stores
    assert harness.secrets.get(token_key("acme"))


def test_yes_removes_record_and_token_and_explains_revocation(
    harness: Harness, invoke: Any
) -> None:
    harness.add_store("acme")
    harness.add_store("other")
    result = invoke(harness, "delete", "acme", "--yes")
    assert result.exit_code == 0
    assert list(harness.ctx.config(reload=True).stores) == ["other"]
    assert harness.secrets.get(token_key("acme")) is None
    assert harness.secrets.get(token_key("other"))
    assert "Manage Your Apps" in harness.stderr and "Revoke" in harness.stderr


def test_confirmation_on_a_terminal(tmp_path: Path, invoke: Any) -> None:
    h = make_harness(tmp_path, tty=True)
    h.add_store("acme")
    from typer.testing import CliRunner

    from soldscope_cli.cli import app

    declined = CliRunner().invoke(app, ["delete", "acme"], obj=h.ctx, input="n\n")
    assert declined.exit_code == 0
    assert "acme" in h.ctx.config(reload=True).stores
    accepted = CliRunner().invoke(app, ["delete", "acme"], obj=h.ctx, input="y\n")
    assert accepted.exit_code == 0
    assert "acme" not in h.ctx.config(reload=True).stores


def test_unknown_name_changes_nothing(harness: Harness, invoke: Any) -> None:
    harness.add_store("acme")
    before = harness.ctx.paths.config_file.read_text()
    result = invoke(harness, "delete", "nope", "--yes")
    assert result.exit_code == 2
    assert "no store named 'nope'" in harness.stderr
    assert harness.ctx.paths.config_file.read_text() == before


def test_purge_data_removes_history(harness: Harness, invoke: Any) -> None:
    harness.add_store("acme")
    harness.add_store("keep")
    db = harness.ctx.database()
    db.record_check(CheckRecord("acme", NOW, "validate", CHECK_OK))
    db.record_check(CheckRecord("keep", NOW, "validate", CHECK_OK))
    assert invoke(harness, "delete", "acme", "--yes", "--purge-data").exit_code == 0
    assert harness.ctx.database().checks("acme") == []
    assert len(harness.ctx.database().checks("keep")) == 1


def test_without_purge_history_stays(harness: Harness, invoke: Any) -> None:
    harness.add_store("acme")
    harness.ctx.database().record_check(CheckRecord("acme", NOW, "validate", CHECK_OK))
    assert invoke(harness, "delete", "acme", "--yes").exit_code == 0
    conn = harness.ctx.database().connection()
    # The rows stay, under the deleted connection's id: a new "acme" starts with no history.
    assert conn.execute("SELECT COUNT(*) FROM checks WHERE store = 'acme'").fetchone()[0] == 1
    assert harness.ctx.database().checks("acme") == []
    deleted = conn.execute("SELECT deleted_at FROM stores WHERE name = 'acme'").fetchall()
    assert [r[0] is not None for r in deleted] == [True]


class BrokenStore:
    name = "keyring"
    insecure = False

    def get(self, key: str) -> str | None:
        raise SecretStoreError("no usable OS keyring was found", hint="fixes")

    def set(self, key: str, value: str) -> None:
        raise AssertionError("not reached")

    def delete(self, key: str) -> None:
        raise AssertionError("not reached")

    def describe(self) -> str:
        return "broken"


def test_an_unusable_keyring_deletes_nothing(harness: Harness, invoke: Any) -> None:
    harness.add_store("acme")
    harness.ctx.secret_store_override = BrokenStore()  # type: ignore[assignment]
    result = invoke(harness, "delete", "acme", "--yes")
    assert result.exit_code == 2
    assert "no usable OS keyring" in harness.stderr
    assert "acme" in harness.ctx.config(reload=True).stores


def test_token_is_restored_when_the_config_write_fails(
    harness: Harness, invoke: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness.add_store("acme", token="Atzr|keep-me")

    def fail(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("soldscope_cli.fleet.config.atomic_write", fail)
    with pytest.raises(OSError):
        from soldscope_cli.fleet.connections import delete_connection

        delete_connection(harness.ctx.config_file, harness.secrets, None, "acme", NOW)
    assert harness.secrets.get(token_key("acme")) == "Atzr|keep-me"
    assert "acme" in harness.ctx.config(reload=True).stores


@pytest.mark.parametrize("purge", [False, True])
def test_an_unreadable_database_deletes_nothing(harness: Harness, invoke: Any, purge: bool) -> None:
    """Checked before anything changes, so the delete (and its purge) can be run again."""
    harness.add_store("acme", token="Atzr|keep-me")
    harness.ctx.paths.database.parent.mkdir(parents=True, exist_ok=True)
    harness.ctx.paths.database.write_bytes(b"this is not a database" * 100)
    result = invoke(harness, "delete", "acme", "--yes", *(["--purge-data"] if purge else []))
    assert result.exit_code == 2
    assert "cannot open the state database" in harness.stderr
    assert harness.secrets.get(token_key("acme")) == "Atzr|keep-me"
    assert "acme" in harness.ctx.config(reload=True).stores


def test_a_failed_config_write_rolls_the_purge_back(
    harness: Harness, invoke: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness.add_store("acme", token="Atzr|keep-me")
    db = harness.ctx.database()
    db.record_check(CheckRecord("acme", NOW, "validate", CHECK_OK))

    def fail(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("soldscope_cli.fleet.config.atomic_write", fail)
    invoke(harness, "delete", "acme", "--yes", "--purge-data")
    assert "acme" in harness.ctx.config(reload=True).stores
    assert harness.secrets.get(token_key("acme")) == "Atzr|keep-me"
    assert len(db.checks("acme")) == 1  # the purge rolled back with the failed edit
