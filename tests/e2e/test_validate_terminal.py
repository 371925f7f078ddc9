"""`validate` on a real terminal never waits for an answer nobody may be there to give."""

from __future__ import annotations

import pytest
from tests.e2e.test_validate import SELLERS, World, world  # noqa: F401  (the fixture)
from tests.terminal import run_on_pty

pytestmark = pytest.mark.e2e


def test_validate_on_a_terminal_does_not_ask_to_renew(world: World) -> None:  # noqa: F811
    world.sim.revoke(SELLERS["bolt-us"])
    # A cron job under `script`, a CI runner with a pty: nobody answers a prompt there.
    run = run_on_pty(["validate", "--no-notify"], world.cli.env, columns=120, timeout=20)
    assert run.returncode == 1, run.text
    assert "Renew" not in run.text and "[y/N]" not in run.text
    assert "soldscope validate --reauthorize bolt-us" in run.text
