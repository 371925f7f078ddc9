"""Automatic rotation: `sync --watch` takes a secret rotated in the portal, and rotates when
Amazon's expiry notice arrives; `serve` does the same beside the server."""

from __future__ import annotations

import signal
import subprocess
import time

import pytest

from tests.e2e.conftest import SOLDSCOPE

from .conftest import World

pytestmark = pytest.mark.e2e


def watch_until_rotated(world: World, *argv: str) -> str:
    """Run a long-lived command until it says it rotated; SIGTERM it; return its stderr."""
    with subprocess.Popen(
        [str(SOLDSCOPE), *argv],
        env=world.cli.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stderr is not None
        lines: list[str] = []
        deadline = time.monotonic() + 120
        for line in process.stderr:
            lines.append(line)
            if "rotation:" in line or time.monotonic() > deadline:
                break
        process.send_signal(signal.SIGTERM)
        lines.append(process.stderr.read())
        process.wait(timeout=60)
    return "".join(lines)


def test_sync_watch_takes_a_secret_rotated_in_the_portal(world: World) -> None:
    portal = world.sim.rotate_client_secret()
    said = watch_until_rotated(
        world, "sync", "--watch", "--dataset", "inventory", "--quiet", "--no-notify"
    )
    assert "rotation: the app's client secret was rotated" in said, said
    assert world.secret() == portal
    assert world.sim.rotation_settings().sent == 1  # nothing requested: the portal's was taken
    assert world.rotation()["last_rotation"]["requested"] is False


def test_an_expiry_notice_makes_sync_watch_rotate(world: World) -> None:
    old = world.secret()
    world.sim.notify_secret_expiry()
    said = watch_until_rotated(
        world, "sync", "--watch", "--dataset", "inventory", "--quiet", "--no-notify"
    )
    assert "rotation: the app's client secret was rotated" in said, said
    assert world.secret() == world.sim.scenario.app.client_secret != old
    assert world.rotation()["last_rotation"]["requested"] is True


def test_serve_rotates_when_the_secret_is_within_days_before_its_expiry(world: World) -> None:
    config = world.cli.home / "config" / "config.toml"
    text = config.read_text()
    set_at = [line for line in text.splitlines() if line.startswith("client_secret_set_at")]
    assert set_at, text
    config.write_text(
        text.replace(set_at[0], 'client_secret_set_at = "2020-01-01T00:00:00Z"')
        + "\n[rotation]\ndays_before = 30\n"
    )
    from tests.serve_process import free_port

    said = watch_until_rotated(world, "serve", "--listen", f"127.0.0.1:{free_port()}")
    assert "rotation: the app's client secret was rotated" in said, said
    assert world.secret() == world.sim.scenario.app.client_secret
