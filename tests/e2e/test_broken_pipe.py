"""A reader that goes away (`| head`, `| true`) makes every command exit 141, never 1."""

from __future__ import annotations

import os
import subprocess

import pytest
from tests.e2e.conftest import SOLDSCOPE, Cli

pytestmark = pytest.mark.e2e

RUNS = 10  # the failure was a race: 9 runs in 10 exited 1


def run_into_closed_pipe(cli: Cli, *args: str) -> tuple[int, str]:
    """Run with stdout a pipe whose reader has already closed it."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        process = subprocess.Popen(
            [str(SOLDSCOPE), *args],
            stdout=write_end,
            stderr=subprocess.PIPE,
            env=cli.env,
            text=True,
        )
    finally:
        os.close(write_end)
    _, stderr = process.communicate(timeout=60)
    return process.returncode, stderr


def run_into_head(cli: Cli, *args: str) -> tuple[int, str, bytes]:
    """`soldscope ARGS | head -c 100`: the reader takes a little and closes."""
    process = subprocess.Popen(
        [str(SOLDSCOPE), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli.env
    )
    assert process.stdout is not None and process.stderr is not None
    with process.stdout, process.stderr:
        first = process.stdout.read(100)
        process.stdout.close()
        stderr = process.stderr.read().decode()
    process.wait(timeout=60)
    return process.returncode, stderr, first


def many_stores(cli: Cli, count: int = 1000) -> None:
    """Enough stores that `list` prints more than a pipe holds (64 KiB on Linux)."""
    (cli.home / "config").mkdir(parents=True, exist_ok=True)
    tables = [
        f'[stores.store-{i:05d}]\nregion = "na"\nmarketplaces = ["US"]\n'
        f"authorized_at = 2026-11-01T00:00:00Z\n"
        for i in range(count)
    ]
    (cli.home / "config" / "config.toml").write_text("\n".join(tables))


@pytest.mark.parametrize(
    "args",
    [
        ("--help",),
        ("list", "--help"),
        ("app", "--help"),
        ("--version",),
        ("app", "show"),
        ("list",),
        ("list", "--json"),
        ("doctor", "--offline"),
    ],
    ids=lambda args: " ".join(args),
)
def test_a_reader_closed_at_once_is_exit_141(cli: Cli, args: tuple[str, ...]) -> None:
    many_stores(cli, 50)
    outcomes = [run_into_closed_pipe(cli, *args) for _ in range(RUNS)]
    assert outcomes == [(141, "")] * RUNS


@pytest.mark.parametrize("args", [("list",), ("list", "--json")], ids=["list", "list --json"])
def test_head_on_a_long_listing_is_exit_141(cli: Cli, args: tuple[str, ...]) -> None:
    many_stores(cli)
    for _ in range(RUNS):
        code, stderr, first = run_into_head(cli, *args)
        assert (code, stderr) == (141, "")
        assert first  # it did print before the reader left
