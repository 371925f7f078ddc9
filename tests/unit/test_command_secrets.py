"""The command secret backend: templates, exit statuses, values on stdin only, config checks."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from soldscope_cli.errors import ConfigError, SecretStoreError
from soldscope_cli.fleet.command_secrets import CommandSecretStore, expand
from soldscope_cli.fleet.config import parse_config
from soldscope_cli.fleet.secret_settings import SecretsSettings
from soldscope_cli.fleet.secrets import open_backend

VALUE = "Atzr|IwEBIcommand-backend-value-01"

# A tiny secret manager: one file per key, every argv it was run with logged, `pass`'s statuses
# (1 with nothing on stdout when the entry is missing).
MANAGER = """
import json, sys
from pathlib import Path
root = Path(sys.argv[1])
root.mkdir(exist_ok=True)
with open(root / "argv.log", "a") as log:
    log.write(json.dumps(sys.argv) + "\\n")
op, key = sys.argv[2], sys.argv[3]
entry = root / key.replace("/", "%2F")
if op == "get":
    if not entry.exists():
        sys.stderr.write("Error: not in the store\\n")
        sys.exit(1)
    sys.stdout.write(entry.read_text())
elif op == "set":
    entry.write_text(sys.stdin.read())
elif op == "delete":
    if not entry.exists():
        sys.exit(1)
    entry.unlink()
elif op == "fail":
    sys.stdout.write(sys.stdin.read() or "partial output")
    sys.stderr.write("gpg: decryption failed\\n")
    sys.exit(2)
"""


@pytest.fixture
def manager(tmp_path: Path) -> tuple[SecretsSettings, Path]:
    script = tmp_path / "manager.py"
    script.write_text(MANAGER)
    root = tmp_path / "vault"
    base = f"{sys.executable} {script} {root}"
    settings = SecretsSettings(
        get=f"{base} get soldscope/{{key}}",
        set=f"{base} set soldscope/{{key}}",
        delete=f"{base} delete soldscope/{{key}}",
    )
    return settings, root


def test_round_trip_through_the_commands(manager: tuple[SecretsSettings, Path]) -> None:
    settings, root = manager
    store = CommandSecretStore(settings, {"PATH": "/usr/bin:/bin"})
    assert store.get("ns/refresh-token:acme-us") is None
    store.set("ns/refresh-token:acme-us", VALUE)
    assert store.get("ns/refresh-token:acme-us") == VALUE
    store.delete("ns/refresh-token:acme-us")
    store.delete("ns/refresh-token:acme-us")  # already gone: status 1 is fine
    assert store.get("ns/refresh-token:acme-us") is None
    logged = (root / "argv.log").read_text()
    assert VALUE not in logged  # never on a command line
    calls = [json.loads(line) for line in logged.splitlines()]
    assert calls[1][2:] == ["set", "soldscope/ns/refresh-token:acme-us"]


def test_a_key_cannot_add_words_or_shell_syntax(manager: tuple[SecretsSettings, Path]) -> None:
    settings, root = manager
    store = CommandSecretStore(settings, {})
    store.set("ns/x; rm -rf $HOME 'quoted' two words", VALUE)
    calls = [json.loads(line) for line in (root / "argv.log").read_text().splitlines()]
    assert calls[-1][3] == "soldscope/ns/x; rm -rf $HOME 'quoted' two words"
    assert expand("pass show 'soldscope/{key}' --x", "a b") == [
        "pass",
        "show",
        "soldscope/a b",
        "--x",
    ]


def test_a_failing_command_is_an_error_that_never_shows_its_output(
    manager: tuple[SecretsSettings, Path],
) -> None:
    settings, _ = manager
    failing = SecretsSettings(
        get=settings.get.replace(" get ", " fail ") if settings.get else None,
        set=settings.set.replace(" set ", " fail ") if settings.set else None,
        delete=settings.delete.replace(" delete ", " fail ") if settings.delete else None,
    )
    store = CommandSecretStore(failing, {})
    for call in (
        lambda: store.get("ns/lwa-client-secret"),
        lambda: store.set("ns/lwa-client-secret", VALUE),
        lambda: store.delete("ns/lwa-client-secret"),
    ):
        with pytest.raises(SecretStoreError) as info:
            call()
        text = f"{info.value.message} {info.value.hint}"
        assert "exited with status 2" in text
        assert VALUE not in text and "gpg" not in text and "partial" not in text


def test_timeout_and_missing_program(tmp_path: Path) -> None:
    slow = tmp_path / "slow.py"
    slow.write_text("import time; time.sleep(5)")
    store = CommandSecretStore(SecretsSettings(get=f"{sys.executable} {slow} {{key}}"), {}, 0.2)
    with pytest.raises(SecretStoreError, match="did not finish"):
        store.get("ns/lwa-client-secret")
    missing = CommandSecretStore(SecretsSettings(get="soldscope-no-such-helper {key}"), {})
    with pytest.raises(SecretStoreError, match="not found on PATH"):
        missing.get("ns/lwa-client-secret")
    with pytest.raises(SecretStoreError, match="no \\[secrets\\] set command"):
        missing.set("ns/lwa-client-secret", VALUE)


def test_inspect_finds_each_program_on_path(manager: tuple[SecretsSettings, Path]) -> None:
    settings, _ = manager
    import os

    found = CommandSecretStore(settings, {"PATH": os.environ.get("PATH", "")}).inspect()
    assert found.count(sys.executable) == 3
    with pytest.raises(SecretStoreError, match="not found on PATH"):
        CommandSecretStore(
            SecretsSettings("", "nope-get {key}", "nope-set {key}", "nope-rm {key}"), {}
        ).inspect()


def test_open_backend_builds_it_from_the_settings(
    manager: tuple[SecretsSettings, Path], tmp_path: Path
) -> None:
    settings, _ = manager
    store = open_backend({"SOLDSCOPE_SECRETS": "command"}, None, tmp_path / "s", settings=settings)
    store.set("ns/lwa-client-secret", VALUE)
    assert store.get("ns/lwa-client-secret") == VALUE


def config_error(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(tmp_path / "config.toml", text)
    return info.value.message


def test_config_reads_and_checks_the_secret_commands(tmp_path: Path) -> None:
    config = parse_config(
        tmp_path / "config.toml",
        '[secrets]\nbackend = "command"\nget = "pass show soldscope/{key}"\n'
        'set = "pass insert -m -f soldscope/{key}"\ndelete = "pass rm -f soldscope/{key}"\n'
        'key_command = "systemd-creds decrypt /etc/soldscope/key.cred -"\n',
    )
    assert config.secrets_settings == SecretsSettings(
        "systemd-creds decrypt /etc/soldscope/key.cred -",
        "pass show soldscope/{key}",
        "pass insert -m -f soldscope/{key}",
        "pass rm -f soldscope/{key}",
    )
    from soldscope_cli.fleet.config import dump_config

    assert parse_config(tmp_path / "c.toml", dump_config(config)) == config


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[secrets]\nbackend = "command"\nget = "pass show {key}"\n', "line 2, column 1: backend"),
        ('[secrets]\n\nget = "pass show soldscope"\n', "line 3, column 1: get must contain {key}"),
        ('[secrets]\nset = "{key} insert"\n', "line 2, column 1: set must not put {key}"),
        ('[secrets]\ndelete = "pass rm \'x {key}"\n', "line 2, column 1: delete cannot be split"),
        ("[secrets]\nget = 3\n", "get must be a non-empty command string"),
        ('[secrets]\nkey_command = ""\n', "line 2, column 1: key_command must be a non-empty"),
        ('[secrets]\nkey_command = "pass \'x"\n', "key_command cannot be split"),
        ('[secrets]\nkey = "abc"\n', "unknown key 'key' in [secrets]"),
    ],
)
def test_bad_secret_settings_name_the_line(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in config_error(tmp_path, text)


def test_doctor_names_the_commands_and_runs_none_of_them(
    manager: tuple[SecretsSettings, Path],
) -> None:
    import os

    from soldscope_cli.doctor.model import Level
    from soldscope_cli.doctor.secret_probe import check_secret_store

    settings, root = manager
    store = CommandSecretStore(settings, {"PATH": os.environ.get("PATH", "")})
    store.set("ns/lwa-client-secret", VALUE)
    result, probe = check_secret_store(
        {"SOLDSCOPE_SECRETS": "command"}, None, lambda _c: store, 5.0
    )
    assert result.status == Level.OK
    assert "get: " in result.detail and "delete: " in result.detail
    assert VALUE not in result.detail
    assert probe is not None
    # Only the client secret was read: no probe entry was written into the manager.
    ops = [json.loads(line)[2] for line in (root / "argv.log").read_text().splitlines()]
    assert ops == ["set", "get"]
