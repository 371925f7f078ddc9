"""Usage errors from Click and from soldscope look alike: one `error: … — hint` line, exit 2."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from tests.terminal import SOLDSCOPE, run_on_pty

pytestmark = pytest.mark.usefixtures("soldscope_command")


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOLDSCOPE_")}
    env |= {"SOLDSCOPE_CONFIG_DIR": str(tmp_path / "c"), "SOLDSCOPE_DATA_DIR": str(tmp_path / "d")}
    return subprocess.run(
        [str(SOLDSCOPE), *args], env=env, capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ["list", "--sotr", "name"],
            "error: no such option --sotr — did you mean --sort? see `soldscope list --help`",
        ),
        (
            ["--debg", "list"],
            "error: no such option --debg — did you mean --debug? see `soldscope --help`",
        ),
        (["lst"], "error: no such command 'lst' — did you mean list? see `soldscope --help`"),
        (
            ["app", "sett"],
            "error: no such command 'sett' — did you mean set? see `soldscope app --help`",
        ),
        (["delete"], "error: missing argument 'NAME' — see `soldscope delete --help`"),
        (
            ["validate", "--concurrency", "0"],
            "error: invalid value for '--concurrency': 0 is not in the range 1<=x<=64 — "
            "see `soldscope validate --help`",
        ),
        (
            ["list", "--status", "broken"],
            "error: unknown status 'broken' — use one of: active, expiring_soon, expired, error",
        ),
    ],
)
def test_one_line_on_stderr_and_exit_2(tmp_path: Path, args: list[str], line: str) -> None:
    result = run(tmp_path, *args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == line + "\n"


def test_the_suggested_commands_work(tmp_path: Path) -> None:
    assert run(tmp_path, "list", "--sort", "name").returncode == 0
    assert run(tmp_path, "list", "--help").returncode == 0


def test_no_boxed_panel_on_a_terminal_but_help_stays_rich(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOLDSCOPE_")}
    env |= {"SOLDSCOPE_CONFIG_DIR": str(tmp_path / "c"), "SOLDSCOPE_DATA_DIR": str(tmp_path / "d")}
    bad = run_on_pty(["list", "--sotr"], env, columns=80)
    assert bad.returncode == 2
    assert bad.text.strip().splitlines() == [
        "error: no such option --sotr — did you mean --sort? see `soldscope list --help`"
    ]
    helped = run_on_pty(["list", "--help"], env, columns=80)
    assert helped.returncode == 0 and "╭─ Options" in helped.text
