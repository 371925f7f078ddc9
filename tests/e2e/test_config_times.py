"""Times in config.toml and on the command line: what soldscope writes it can read, absurd ones are refused."""

from __future__ import annotations

import json
import textwrap

import pytest
from tests.e2e.conftest import Cli

pytestmark = pytest.mark.e2e

TOKEN = "Atzr|IwEBIconfigtimes-e2e-refresh-token"


def write_store(cli: Cli, authorized_at: str) -> None:
    (cli.home / "config").mkdir(parents=True, exist_ok=True)
    (cli.home / "config" / "config.toml").write_text(
        textwrap.dedent(
            f"""\
            [stores.acme-us]
            region = "na"
            marketplaces = ["US"]
            authorized_at = {authorized_at}
            """
        )
    )


@pytest.mark.parametrize(
    "value", ["0026-09-14", "1999-12-31", "2101-01-01", "0001-01-01", "9999-12-31T23:59:59Z"]
)
def test_connect_refuses_an_absurd_authorized_at_before_storing_anything(
    cli: Cli, value: str
) -> None:
    result = cli.run(
        "connect",
        "acme-us",
        "--marketplace",
        "US",
        "--refresh-token-stdin",
        "--authorized-at",
        value,
        input=TOKEN + "\n",
    )
    assert result.returncode == 2, result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith(f"error: --authorized-at {value!r} is not a plausible time")
    assert "between 2000 and 2100" in line and "YYYY-MM-DD" in line
    assert not (cli.home / "config" / "config.toml").exists()
    assert not (cli.home / "data" / "secrets.json").exists()
    assert TOKEN not in result.stdout + result.stderr


@pytest.mark.parametrize(
    "value",
    [
        "0026-09-14T00:00:00Z",
        '"26-09-14T00:00:00Z"',  # what an older soldscope wrote for the year 26
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
        "0001-01-01T00:00:00+01:00",  # the offset moves it before year 1
        '"9999-12-31T23:59:59-01:00"',  # ... or after year 9999
        "1999-12-31T23:59:59Z",
        "2101-01-01T00:00:00Z",
    ],
)
@pytest.mark.parametrize("command", [("list",), ("validate",), ("sync",), ("doctor", "--offline")])
def test_absurd_times_in_the_config_are_one_line_with_the_place(
    cli: Cli, value: str, command: tuple[str, ...]
) -> None:
    write_store(cli, value)
    result = cli.run(*command)
    assert "Traceback" not in result.stderr and "unexpected" not in result.stderr, result.stderr
    place = f"{cli.home / 'config' / 'config.toml'}, line 4, column 1: authorized_at"
    if command[0] == "doctor":
        assert result.returncode == 1
        assert place in result.stdout
    else:
        assert result.returncode == 2, result.stderr
        [line] = result.stderr.splitlines()
        assert line.startswith(f"error: {place}")


def test_a_deeply_nested_array_is_a_config_error(cli: Cli) -> None:
    depth = 5000
    write_store(cli, "2026-01-01T00:00:00Z")
    with (cli.home / "config" / "config.toml").open("a") as handle:
        handle.write("[app]\nredirect_uri = " + "[" * depth + "]" * depth + "\n")
    for command in (("list",), ("validate",), ("sync",)):
        result = cli.run(*command)
        assert result.returncode == 2, result.stderr
        [line] = result.stderr.splitlines()
        assert "nested too deeply" in line and "config.toml" in line
    doctor = cli.run("doctor", "--offline", "--json")
    assert doctor.returncode == 1 and "Traceback" not in doctor.stderr
    config = next(c for c in json.loads(doctor.stdout) if c["id"] == "config")
    assert config["status"] == "fail" and "nested too deeply" in config["detail"]


def test_times_soldscope_writes_it_reads_back(cli: Cli) -> None:
    for value in ("2000-01-01T00:00:00Z", "2026-09-14T09:30:00Z", "2100-12-31T23:59:59Z"):
        write_store(cli, value)
        # An edit through soldscope (app set) keeps the store's time as the user wrote it.
        done = cli.run(
            "app",
            "set",
            "--app-id",
            "amzn1.sp.solution.00000000-1111-2222-3333-444444444444",
            "--client-id",
            "amzn1.application-oa2-client.y",
            "--client-secret-stdin",
            input="amzn1.oa2-cs.v1.config-times-secret",
        )
        assert done.returncode == 0, done.stderr
        assert f"authorized_at = {value}" in (cli.home / "config" / "config.toml").read_text()
        listed = cli.run("list", "--json")
        assert listed.returncode in (0, 1), listed.stderr
        assert json.loads(listed.stdout)[0]["authorized_at"] == value


def test_a_broken_toml_bracket_names_file_line_and_fix(cli: Cli) -> None:
    config = cli.home / "config" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text('[app]\nclient_id = "x"\n\n[stores.acme-us\nregion = "na"\n')
    listed = cli.run("list")
    assert listed.returncode == 2, listed.stderr
    [line] = [line for line in listed.stderr.splitlines() if line.startswith("error:")]
    assert f"{config}, line 4, column 16: not valid TOML: expected ']'" in line
    assert "close the table header with ], e.g. [stores.acme-us]" in line
    assert "(at line" not in line
