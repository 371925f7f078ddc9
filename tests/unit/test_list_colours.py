"""Each status has its own colour on a terminal: Expired is not Expiring soon."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tests.terminal import run_on_pty
from tests.unit.test_list_terminal import seed

pytestmark = pytest.mark.usefixtures("soldscope_command")

# The SGR sequence right before a status badge: ESC [ params m, padding, the word.
_STYLED = re.compile(r"\x1b\[([0-9;]+)m\s*(Active|Expiring soon|Expired|Error)\b", re.IGNORECASE)


def test_each_status_has_its_own_colour(tmp_path: Path) -> None:
    run = run_on_pty(["list"], seed(tmp_path), columns=120)
    colours: dict[str, set[str]] = {}
    for params, word in _STYLED.findall(run.raw):
        colours.setdefault(word.lower(), set()).add(params)
    assert {"active", "expiring soon", "expired", "error"} <= colours.keys(), run.raw
    assert colours["expired"].isdisjoint(colours["expiring soon"]), colours
    assert colours["active"].isdisjoint(colours["expiring soon"] | colours["expired"])
