"""Every alert's fix is a command that does something for that store: never `sync NAME` for a store
sync skips, and a broken connection also names `invite NAME` (the link the seller clicks)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.e2e.test_validate import SELLERS, World, world  # noqa: F401  (the fixture)
from tests.webhook import Receiver, running_receiver

pytestmark = pytest.mark.e2e


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as r:
        yield r


def consented(world: World, name: str) -> None:  # noqa: F811
    """Make a store one a seller's consent connected (the fixture imports self-authorized tokens)."""
    config = world.cli.home / "config" / "config.toml"
    head, _, tail = config.read_text().partition(f"[stores.{name}]")
    config.write_text(head + f"[stores.{name}]" + tail.replace("self_authorized = true\n", "", 1))


def test_a_sync_that_found_a_revoked_grant_says_connect_and_invite(
    world: World,  # noqa: F811
    receiver: Receiver,
) -> None:
    consented(world, "bolt-us")
    world.sim.revoke(SELLERS["bolt-us"])
    env = {"SOLDSCOPE_NOTIFY_URLS": receiver.url}
    synced = world.cli.run("sync", "bolt-us", "--dataset", "inventory", env=env, timeout=120)
    assert synced.returncode == 1, synced.stderr
    again = world.cli.run("sync", "bolt-us", "--dataset", "inventory", "--json", "--no-notify")
    assert '"skipped"' in again.stdout  # the next sync skips it: `sync bolt-us` fixes nothing
    bodies = "\n".join(m["message"] for m in receiver.messages)
    assert bodies, "the failure was announced"
    assert "Run: soldscope sync bolt-us" not in bodies
    assert "Run: soldscope connect bolt-us" in bodies
    assert "soldscope invite bolt-us" in bodies


def test_an_error_alert_names_invite_too(world: World, receiver: Receiver) -> None:  # noqa: F811
    consented(world, "bolt-us")
    world.sim.revoke(SELLERS["bolt-us"])
    code, _, _ = world.validate("bolt-us", env={"SOLDSCOPE_NOTIFY_URLS": receiver.url})
    assert code == 1
    body = receiver.messages[0]["message"]
    assert "Run: soldscope connect bolt-us\n" in body + "\n"
    assert "Or send the seller a renewal link: soldscope invite bolt-us" in body


def test_a_self_authorized_store_is_not_sent_an_invitation(
    world: World,  # noqa: F811
    receiver: Receiver,
) -> None:
    world.sim.revoke(SELLERS["acme-us"])
    env = {"SOLDSCOPE_NOTIFY_URLS": receiver.url}
    synced = world.cli.run("sync", "acme-us", "--dataset", "inventory", env=env, timeout=120)
    assert synced.returncode == 1, synced.stderr
    bodies = "\n".join(m["message"] for m in receiver.messages)
    assert "Run: soldscope connect acme-us --refresh-token-stdin" in bodies
    assert "Run: soldscope sync acme-us" not in bodies and "invite" not in bodies
