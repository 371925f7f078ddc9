"""`soldscope app set|show`: validation, secret handling, env overrides, rotation warnings."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import NOW, Harness, make_harness

from soldscope_cli.fleet.secrets import CLIENT_SECRET_KEY

APP_ID = "amzn1.sp.solution.00000000-1111-2222-3333-444444444444"
CLIENT_ID = "amzn1.application-oa2-client.0123456789abcdef"
SECRET = "amzn1.oa2-cs.v1.supersecretvalue"


def set_app(h: Harness, invoke: Any, *extra: str) -> Any:
    return invoke(
        h,
        "app",
        "set",
        "--app-id",
        APP_ID,
        "--client-id",
        CLIENT_ID,
        "--redirect-uri",
        "https://agency.example/soldscope/",
        *extra,
    )


def test_set_with_secret_on_stdin(tmp_path: Path, invoke: Any) -> None:
    h = make_harness(tmp_path, stdin=SECRET + "\n")
    result = set_app(h, invoke, "--client-secret-stdin", "--draft")
    assert result.exit_code == 0, h.stderr
    assert h.secrets.get(CLIENT_SECRET_KEY) == SECRET
    text = h.ctx.paths.config_file.read_text()
    assert SECRET not in text
    assert APP_ID in text and "draft = true" in text
    assert "client_secret_set_at" in text
    assert SECRET not in h.stdout + h.stderr


def test_no_terminal_and_no_stdin_flag_is_exit_2(harness: Harness, invoke: Any) -> None:
    result = set_app(harness, invoke)
    assert result.exit_code == 2
    assert "--client-secret-stdin" in harness.stderr
    assert not harness.ctx.paths.config_file.exists()


def test_prompts_hidden_on_a_terminal(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from soldscope_cli.cli import app

    h = make_harness(tmp_path, tty=True)
    result = CliRunner().invoke(
        app,
        ["app", "set", "--app-id", APP_ID, "--client-id", CLIENT_ID],
        obj=h.ctx,
        input=SECRET + "\n",
    )
    assert result.exit_code == 0, result.output
    assert h.secrets.get(CLIENT_SECRET_KEY) == SECRET
    assert SECRET not in result.output


def test_updating_one_field_keeps_the_stored_secret(tmp_path: Path, invoke: Any) -> None:
    h = make_harness(tmp_path, stdin=SECRET)
    set_app(h, invoke, "--client-secret-stdin")
    result = invoke(h, "app", "set", "--no-draft", "--redirect-uri", "https://b.example/r")
    assert result.exit_code == 0, h.stderr
    assert h.secrets.get(CLIENT_SECRET_KEY) == SECRET
    assert "https://b.example/r" in h.ctx.paths.config_file.read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--redirect-uri", "http://agency.example/r"], "only accepts https"),
        (["--redirect-uri", "https://agency.example/r#x"], "MD5110"),
        (["--redirect-uri", "agency.example/r"], "not an absolute https URL"),
        (["--app-id", "amzn1.application-oa2-client.x"], "does not look like amzn1.sp.solution"),
        (["--client-id", "abc"], "does not look like amzn1.application-oa2-client"),
    ],
)
def test_bad_values_are_refused(tmp_path: Path, invoke: Any, args: list[str], message: str) -> None:
    h = make_harness(tmp_path, stdin=SECRET)
    result = invoke(h, "app", "set", "--client-secret-stdin", *args)
    assert result.exit_code == 2
    assert message in h.stderr
    assert h.secrets.get(CLIENT_SECRET_KEY) is None


def test_loopback_http_is_accepted_for_the_simulator(tmp_path: Path, invoke: Any) -> None:
    h = make_harness(tmp_path, stdin=SECRET)
    result = invoke(
        h,
        "app",
        "set",
        "--app-id",
        APP_ID,
        "--client-id",
        CLIENT_ID,
        "--redirect-uri",
        "http://127.0.0.1:8765/callback",
        "--client-secret-stdin",
    )
    assert result.exit_code == 0, h.stderr


def test_show_json_never_contains_the_secret(tmp_path: Path, invoke: Any) -> None:
    h = make_harness(tmp_path, stdin=SECRET)
    set_app(h, invoke, "--client-secret-stdin")
    h.clock.now = NOW + timedelta(days=10)
    invoke(h, "app", "show", "--json")
    assert SECRET not in h.stdout
    data = json.loads(h.stdout)
    assert data["application_id"] == APP_ID
    assert data["sources"] == {
        "application_id": "config",
        "client_id": "config",
        "redirect_uri": "config",
    }
    assert data["client_secret"]["stored"] is True
    assert data["client_secret"]["source"] == "memory"
    assert data["client_secret"]["age_days"] == 10
    assert data["client_secret"]["rotation_due"] == "2027-05-28T12:00:00Z"
    assert data["client_secret"]["rotation"] == "ok"


@pytest.mark.parametrize(
    ("age", "state", "warning"),
    [
        (149, "ok", None),
        (151, "due_soon", "must be rotated by"),
        (181, "overdue", "likely expired"),
    ],
)
def test_rotation_warnings(
    tmp_path: Path, invoke: Any, age: int, state: str, warning: str | None
) -> None:
    h = make_harness(tmp_path, stdin=SECRET)
    set_app(h, invoke, "--client-secret-stdin")
    h.clock.now = NOW + timedelta(days=age)
    invoke(h, "app", "show", "--json")
    assert json.loads(h.stdout)["client_secret"]["rotation"] == state
    invoke(h, "app", "show")
    if warning:
        assert warning in h.stderr
    else:
        assert "warning" not in h.stderr


def test_environment_wins_over_config(tmp_path: Path, invoke: Any) -> None:
    env = {"SOLDSCOPE_APP_ID": "amzn1.sp.solution.env", "SOLDSCOPE_LWA_CLIENT_SECRET": SECRET}
    h = make_harness(tmp_path, env=env, stdin=SECRET)
    set_app(h, invoke, "--client-secret-stdin")
    invoke(h, "app", "show", "--json")
    data = json.loads(h.stdout)
    assert data["application_id"] == "amzn1.sp.solution.env"
    assert data["sources"]["application_id"] == "env SOLDSCOPE_APP_ID"
    assert data["client_secret"]["source"] == "env SOLDSCOPE_LWA_CLIENT_SECRET"
    assert SECRET not in h.stdout


def test_file_backend_is_shown_as_insecure(tmp_path: Path, invoke: Any) -> None:
    h = make_harness(tmp_path, env={"SOLDSCOPE_SECRETS": "file"}, stdin=SECRET)
    h.ctx.secret_store_override = None
    result = set_app(h, invoke, "--client-secret-stdin")
    assert result.exit_code == 0, h.stderr
    invoke(h, "app", "show")
    assert "insecure" in h.stdout
    assert "plaintext file" in h.stderr
    secrets_file = h.ctx.paths.secrets_file
    assert secrets_file.stat().st_mode & 0o077 == 0


def test_show_unconfigured(harness: Harness, invoke: Any) -> None:
    assert invoke(harness, "app", "show").exit_code == 0
    assert "soldscope app set" in harness.stderr


def test_bad_values_are_refused_before_the_secret_is_asked_for(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from soldscope_cli.cli import app

    h = make_harness(tmp_path, tty=True)
    result = CliRunner().invoke(
        app, ["app", "set", "--redirect-uri", "ftp://agency.example/r"], obj=h.ctx, input=""
    )
    assert result.exit_code == 2
    assert "not an absolute https URL" in h.stderr
    assert "LWA client secret" not in result.output  # no prompt was shown


def test_a_refused_edit_stores_no_secret(tmp_path: Path, invoke: Any) -> None:
    """On an empty config the ids are missing: exit 2, and the secret was never written."""
    h = make_harness(tmp_path, stdin=SECRET + "\n")
    result = invoke(h, "app", "set", "--client-secret-stdin")
    assert result.exit_code == 2
    assert "needs both an application id and an LWA client id" in h.stderr
    assert h.secrets.get(CLIENT_SECRET_KEY) is None


def test_a_failed_config_write_puts_the_previous_secret_back(
    tmp_path: Path, invoke: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = make_harness(tmp_path, stdin="amzn1.oa2-cs.v1.old\n")
    assert set_app(h, invoke, "--client-secret-stdin").exit_code == 0
    set_at = h.ctx.config(reload=True).app.client_secret_set_at
    h.ctx.stdin = io.StringIO(SECRET + "\n")
    h.clock.now = NOW + timedelta(days=1)  # a new date to write: the write is what fails

    def fail(*args: object, **kwargs: object) -> None:
        raise OSError(30, "Read-only file system", str(tmp_path / "config" / "config.toml"))

    monkeypatch.setattr("soldscope_cli.fleet.config.atomic_write", fail)
    assert set_app(h, invoke, "--client-secret-stdin").exit_code == 74
    assert h.stderr.startswith("error: cannot write ") and "Read-only file system" in h.stderr
    assert "make " in h.stderr and "writable for this user" in h.stderr
    assert "unexpected" not in h.stderr and h.stderr.count("\n") == 1
    assert h.secrets.get(CLIENT_SECRET_KEY) == "amzn1.oa2-cs.v1.old"
    assert h.ctx.config(reload=True).app.client_secret_set_at == set_at
