"""What a test needs outside the Python environment, and what happens to it when that is missing.

The installed soldscope command is part of what the tests test, and installing the package (the
README's test command does) puts it next to the interpreter: without it a test fails, it never
skips. The rest (the Secret Service, Chromium, a tmpfs that root can mount, Amazon's SP-API models
in the shared folder beside the checkout) may be missing on a developer's machine, and there the
test skips; under CI (`CI` set) it is all there, .ci/run installs the software, so there the test
fails instead: a green CI run never hides a part that was not tested.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

SOLDSCOPE = Path(sys.executable).parent / "soldscope"


def in_ci() -> bool:
    """Whether the tests run under CI (`CI=true`, as .ci/run is run)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require_soldscope() -> Path:
    """The installed soldscope command; fails the test when it is not installed."""
    __tracebackhide__ = True  # report the caller's line, not this one
    if not SOLDSCOPE.exists():
        pytest.fail(
            f"the soldscope command is not installed next to {sys.executable}: install the "
            "project into this environment (pip install -e '.[test]', as the README's test "
            "command does)",
            pytrace=False,
        )
    return SOLDSCOPE


def require(available: bool, missing: str) -> None:
    """Skip when something the test needs is missing (`missing` says what); under CI, fail.

    Called at module level, it skips the whole module, or under CI stops the collection with
    that line.
    """
    __tracebackhide__ = True  # report the caller's line, not this one
    if available:
        return
    if in_ci():
        pytest.fail(
            f"{missing}; under CI (CI is set) every test must run, so this one fails instead "
            "of skipping",
            pytrace=False,
        )
    pytest.skip(missing, allow_module_level=True)
