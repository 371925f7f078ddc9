"""`digest` and doctor's fix lines fit the terminal: wrapped between words, continuation indented,
no command or backticked span cut in two; piped output stays one line each."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tests.terminal import run_on_pty
from tests.unit.test_list_terminal import seed

pytestmark = pytest.mark.usefixtures("soldscope_command")


@pytest.mark.parametrize("columns", [60, 80])
def test_digest_fits_the_terminal(tmp_path: Path, columns: int) -> None:
    run = run_on_pty(["digest", "--no-notify"], seed(tmp_path), columns=columns)
    assert run.returncode == 0, run.text
    lines = run.lines
    assert all(len(line) <= columns for line in lines), run.text
    # dune-eu's line continues indented under its store, and its command stays whole.
    start = next(i for i, line in enumerate(lines) if line.startswith("  dune-eu (eu):"))
    assert lines[start + 1].startswith("    "), run.text
    assert any("soldscope connect dune-eu" in line for line in lines[start : start + 3]), run.text


@pytest.mark.parametrize("columns", [60, 80])
def test_doctor_fix_lines_fit_the_terminal(tmp_path: Path, columns: int) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOLDSCOPE_", "NO_COLOR"))}
    env |= {
        "SOLDSCOPE_CONFIG_DIR": str(tmp_path / "config"),
        "SOLDSCOPE_DATA_DIR": str(tmp_path / "data"),
        "SOLDSCOPE_SECRETS": "file",
    }
    run = run_on_pty(["doctor", "--offline"], env, columns=columns)
    lines = run.lines
    # Only what must stay whole may overflow: a word longer than the terminal (this test's long
    # temporary path) or a command on a line of its own (copied whole from a soft-wrapped line).
    assert all(
        len(line) <= columns or " " not in line.strip() or line.strip().startswith("`")
        for line in lines
    ), run.text
    fix = next(i for i, line in enumerate(lines) if line.startswith("    fix: run"))
    # The continuation of a fix is indented under it, never back at the left edge.
    assert lines[fix + 1].startswith("         "), run.text
    text = " ".join(line.strip() for line in lines[fix : fix + 4])
    assert "`soldscope app set --app-id amzn1.sp.solution.… --client-id" in text
    # Every check's line starts at the left edge with its symbol; its continuation is indented.
    for i, line in enumerate(lines[:-1]):
        if line.startswith(("✓ ", "! ", "✗ ", "- ")):
            follower = lines[i + 1]
            assert follower.startswith(("✓ ", "! ", "✗ ", "- ", "  ")) or follower[:1].isdigit()
