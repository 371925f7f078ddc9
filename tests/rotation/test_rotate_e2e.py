"""`soldscope app rotate` and `app rotation`, installed, against the simulator and moto's SQS."""

from __future__ import annotations

import json

import pytest

from .conftest import World

pytestmark = pytest.mark.e2e


def test_a_rotation_is_requested_proven_stored_and_its_message_deleted(world: World) -> None:
    old = world.secret()
    done = world.rotate("--wait", "30")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    new = world.sim.scenario.app.client_secret
    assert new != old
    assert result == {
        "result": "rotated",
        "requested": True,
        "proven_with": "acme-us",
        "at": result["at"],
        "expires_at": result["expires_at"],
        "old_expires_at": result["old_expires_at"],
    }
    assert world.secret() == new
    assert new not in done.stdout + done.stderr
    assert world.sqs.count(world.queue) == 0
    validated = world.cli.run("validate")
    assert validated.returncode == 0, validated.stderr
    state = world.rotation()
    assert state["client_secret"]["expiry_source"] == "amazon"
    assert state["client_secret"]["expires_at"] == result["expires_at"]
    assert state["client_secret"]["days_left"] in (179, 180)
    assert state["last_rotation"]["requested"] is True
    assert (state["pending"], state["problem"]) == (None, None)
    assert "lwa-client-secret-pending" not in (world.cli.home / "a").as_posix()


def test_without_a_queue_registered_amazon_says_not_enrolled(world: World) -> None:
    world.sim.set_rotation_queue(None)
    old = world.secret()
    done = world.rotate("--wait", "5")
    assert done.returncode == 2, done.stderr
    assert "not enrolled for rotation notification" in done.stderr
    assert "notification preferences" in done.stderr
    assert world.secret() == old


def test_setup_problems_exit_2_with_their_fix(world: World) -> None:
    no_queue = world.cli.run("app", "rotate", env={"SOLDSCOPE_ROTATION_QUEUE_URL": ""})
    assert no_queue.returncode == 2
    assert "[rotation] queue_url" in no_queue.stderr
    no_credentials = world.cli.run(
        "app", "rotate", "--wait", "3",
        env={"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SHARED_CREDENTIALS_FILE":
             "/nonexistent", "AWS_CONFIG_FILE": "/nonexistent", "AWS_EC2_METADATA_DISABLED": "true"},
    )  # fmt: skip
    assert no_credentials.returncode == 2, no_credentials.stderr
    assert "no AWS credentials" in no_credentials.stderr


def test_an_unreachable_queue_exits_3(world: World) -> None:
    from tests.serve_process import free_port

    down = world.cli.run(
        "app", "rotate", "--wait", "3",
        env={"AWS_ENDPOINT_URL_SQS": f"http://127.0.0.1:{free_port()}"},
    )  # fmt: skip
    assert down.returncode == 3, down.stderr


def test_a_lost_message_keeps_the_old_secret_and_says_the_deadline(world: World) -> None:
    world.sim.set_rotation_queue(world.queue, deliver=False)
    old = world.secret()
    done = world.rotate("--wait", "2")
    assert done.returncode == 1, done.stderr
    assert "did not reach" in done.stderr and "stops accepting it by" in done.stderr
    assert world.secret() == old
    assert world.cli.run("validate").returncode == 0  # the old secret works its 7 days
    state = world.rotation()
    assert state["problem"] == "lost"
    assert state["deadline"] is not None
    doctor = world.cli.run("doctor", "--offline")
    assert doctor.returncode == 1, doctor.stdout
    assert "rotation" in doctor.stdout


def test_a_secret_rotated_in_the_portal_is_taken_from_the_queue(world: World) -> None:
    portal = world.sim.rotate_client_secret()
    # A person rotated: nothing to request, but rotate finds the message first
    consumed = world.cli.run("app", "rotation")
    assert consumed.returncode == 0
    done = world.rotate("--wait", "10")
    assert done.returncode == 0, done.stderr
    assert world.secret() == portal
    assert json.loads(done.stdout)["requested"] is False
