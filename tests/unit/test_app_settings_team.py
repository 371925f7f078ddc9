"""`app set` in team mode: the client secret's date goes to the team database, not config.toml."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from soldscope_cli.fleet.app_settings import AppSetRequest, run_app_set
from soldscope_cli.fleet.config import ConfigFile
from soldscope_cli.fleet.secrets import CLIENT_SECRET_KEY, MemorySecretStore

NOW = datetime(2026, 3, 1, tzinfo=UTC)
APP = "amzn1.sp.solution.6f1c0a2e-0000-4000-8000-0000000000aa"
CLIENT = "amzn1.application-oa2-client.team"


class TeamDates:
    """The registry's client-secret date, as the team database keeps it."""

    def __init__(self, when: datetime | None = None) -> None:
        self.when = when

    def client_secret_set_at(self) -> datetime | None:
        return self.when

    def set_client_secret_set_at(self, when: datetime | None) -> None:
        self.when = when


def test_the_date_goes_to_the_team_and_not_to_the_file(tmp_path: Path) -> None:
    config_file = ConfigFile(tmp_path / "config.toml", tmp_path / ".lock")
    team = TeamDates()
    secrets = MemorySecretStore()
    request = AppSetRequest(APP, CLIENT, client_secret="amzn1.oa2-cs.v1.team")
    changed = run_app_set(config_file, lambda: secrets, NOW, request, team=team)  # type: ignore[arg-type]
    assert changed[0] == "client secret"
    assert team.when == NOW
    assert config_file.load().app.client_secret_set_at is None
    assert "client_secret_set_at" not in config_file.path.read_text()


def test_a_failed_config_write_puts_the_teams_date_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_file = ConfigFile(tmp_path / "config.toml", tmp_path / ".lock")
    before = NOW - timedelta(days=30)
    team = TeamDates(before)
    secrets = MemorySecretStore({CLIENT_SECRET_KEY: "amzn1.oa2-cs.v1.old"})

    def fail(*args: object, **kwargs: object) -> None:
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr("soldscope_cli.fleet.config.atomic_write", fail)
    request = AppSetRequest(APP, CLIENT, client_secret="amzn1.oa2-cs.v1.new")
    with pytest.raises(OSError):
        run_app_set(config_file, lambda: secrets, NOW, request, team=team)  # type: ignore[arg-type]
    assert team.when == before
    assert secrets.get(CLIENT_SECRET_KEY) == "amzn1.oa2-cs.v1.old"
