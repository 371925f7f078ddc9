"""The README's test command: every check, the quickest first, and CI runs exactly that line."""

from __future__ import annotations

from pathlib import Path

from tests.prerequisites import require

ROOT = Path(__file__).resolve().parents[2]


def readme_test_command() -> str:
    """The one line of README.md that sets up the environment and runs the checks and tests."""
    lines = [
        line
        for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
        if line.startswith("python3 -m venv .venv && ") and "'.[test]'" in line
    ]
    assert len(lines) == 1, lines
    return lines[0]


def test_the_test_command_runs_every_check_quickest_first() -> None:
    assert readme_test_command().split(" && ") == [
        "python3 -m venv .venv",
        ".venv/bin/pip install -q -e '.[test]'",
        ".venv/bin/ruff check",
        ".venv/bin/ruff format --check",
        ".venv/bin/lint-imports",
        ".venv/bin/mypy",
        ".venv/bin/python -m pytest",
    ]


def test_ci_runs_the_readme_test_command_exactly() -> None:
    script = ROOT / ".ci" / "run"
    require(
        script.exists(), f"{script} is not in this copy of the sources (it is in the repository)"
    )
    commands = [
        line
        for line in script.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert commands[-1] == readme_test_command()
