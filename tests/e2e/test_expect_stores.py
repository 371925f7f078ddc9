"""`--expect-stores N`: a CI job pointed at the wrong config directory fails instead of passing."""

from __future__ import annotations

import pytest
from tests.e2e.conftest import Cli

pytestmark = pytest.mark.e2e

STORE = '[stores.acme-us]\nregion = "na"\nmarketplaces = ["US"]\nauthorized_at = {when}\n'


@pytest.mark.parametrize("command", ["list", "validate", "sync"])
def test_an_empty_home_fails_with_expect_stores(cli: Cli, command: str) -> None:
    plain = cli.run(command)
    assert plain.returncode == 0  # "No stores yet" alone is not a failure
    result = cli.run(command, "--expect-stores", "1")
    assert result.returncode == 2
    assert "0 stores are configured, fewer than --expect-stores 1" in result.stderr
    assert str(cli.home / "config" / "config.toml") in result.stderr


def test_enough_stores_pass(cli: Cli) -> None:
    from datetime import UTC, datetime

    (cli.home / "config").mkdir(parents=True)
    when = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    (cli.home / "config" / "config.toml").write_text(STORE.format(when=when))
    assert cli.run("list", "--expect-stores", "1").returncode == 0
    short = cli.run("list", "--expect-stores", "2")
    assert short.returncode == 2
    assert "1 store is configured, fewer than --expect-stores 2" in short.stderr
