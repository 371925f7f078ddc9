"""A file named with --output/--textfile goes in a directory that exists; soldscope never makes one."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.e2e.conftest import Cli

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(
    "args",
    [
        ("calendar", "-o"),
        ("calendar", "--output"),
        ("metrics", "--textfile"),
        ("export", "inventory", "-o"),
    ],
    ids=["calendar-o", "calendar-output", "metrics-textfile", "export-o"],
)
def test_an_output_in_a_missing_directory_is_exit_2_naming_it(
    cli: Cli, tmp_path: Path, args: tuple[str, ...]
) -> None:
    missing = tmp_path / "no" / "such" / "dir"
    target = missing / "out.file"
    done = cli.run(*args, str(target))
    assert done.returncode == 2, done.stderr
    assert not (tmp_path / "no").exists()
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert str(missing) in lines[0] and "does not exist" in lines[0]
    assert "Traceback" not in done.stderr
