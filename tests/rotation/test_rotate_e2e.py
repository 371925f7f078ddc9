"""`soldscope app rotate` and `app rotation`, installed, against the simulator and moto's SQS."""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import stored_secret

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
    assert stored_secret(world.cli.env, "lwa-client-secret-pending") is None


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


def _send(world: World, client_id: str, secret: str) -> None:
    from soldscope_cli.simulator.rotation import new_secret_message

    message = new_secret_message(world.sim, secret, world.sim.now() + 180 * 86400, world.sim.now())
    message["payload"]["applicationOAuthClientNewSecret"]["clientId"] = client_id
    world.sqs.client().send_message(QueueUrl=world.queue, MessageBody=json.dumps(message))


def test_a_secret_login_with_amazon_refuses_is_not_stored(world: World) -> None:
    old = world.secret()
    wrong = "amzn1.oa2-cs.v1.not-the-real-one"
    _send(world, world.sim.scenario.app.client_id, wrong)
    done = world.rotate("--wait", "10")
    assert done.returncode == 1, done.stderr
    assert "refused the new client secret" in done.stderr
    assert wrong not in done.stderr + done.stdout
    assert world.secret() == old
    assert world.sim.rotation_settings().sent == 0  # refused before anything was requested
    assert world.sqs.count(world.queue) == 0
    assert world.rotation()["problem"] == "refused"
    assert world.cli.run("doctor", "--offline").returncode == 1
    fixed = world.rotate("--wait", "30")  # the next rotation resolves it
    assert fixed.returncode == 0, fixed.stderr
    assert world.rotation()["problem"] is None
    assert world.cli.run("doctor", "--offline").returncode == 0


def test_a_message_of_another_app_is_left_in_the_queue(world: World) -> None:
    _send(world, "amzn1.application-oa2-client.someone-else", "amzn1.oa2-cs.v1.theirs")
    done = world.rotate("--wait", "10")
    assert done.returncode == 0, done.stderr
    assert world.secret() == world.sim.scenario.app.client_secret
    [left] = world.sqs.bodies(world.queue)
    assert left["payload"]["applicationOAuthClientNewSecret"]["clientId"].endswith("someone-else")


def _doctor_rotation(world: World, **env: str) -> dict[str, str]:
    done = world.cli.run("doctor", "--json", env=env)
    [line] = [item for item in json.loads(done.stdout) if item["id"] == "rotation"]
    return dict(line)


def test_doctor_checks_the_queue_enrollment_and_days_left(world: World) -> None:
    before = _doctor_rotation(world)
    assert before["status"] == "warn"
    assert "queue reachable (0 message(s) waiting)" in before["detail"]
    assert "enrollment not confirmed yet" in before["detail"]
    assert world.rotate("--wait", "30").returncode == 0
    after = _doctor_rotation(world)
    assert after["status"] == "ok", after
    assert "enrolled (Amazon's message of" in after["detail"]
    assert "days left" in after["detail"]
    from tests.serve_process import free_port

    down = _doctor_rotation(world, AWS_ENDPOINT_URL_SQS=f"http://127.0.0.1:{free_port()}")
    assert down["status"] == "fail" and "could not be reached" in down["detail"]


def test_doctor_without_a_queue_says_nothing_of_rotation(world: World) -> None:
    done = world.cli.run("doctor", "--json", "--offline", env={"SOLDSCOPE_ROTATION_QUEUE_URL": ""})
    assert "rotation" not in [item["id"] for item in json.loads(done.stdout)]


def test_amazon_unreachable_keeps_the_new_secret_pending_for_the_next_run(world: World) -> None:
    old = world.secret()
    portal = world.sim.rotate_client_secret()
    world.sim.add_failure(503, count=None, path_prefix="/auth/o2/token")
    down = world.rotate("--wait", "5")
    assert down.returncode == 3, down.stderr
    assert "could not be reached to prove the new secret" in down.stderr
    assert world.secret() == old
    assert world.rotation()["pending"] == "secret"
    world.sim.clear_failures()
    done = world.rotate("--wait", "10")
    assert done.returncode == 0, done.stderr
    assert world.secret() == portal
    assert world.sim.rotation_settings().sent == 1  # finished, not rotated again
    assert world.sqs.count(world.queue) == 0
    assert world.rotation()["pending"] is None


def test_app_show_names_app_rotate_when_a_queue_is_configured(world: World) -> None:
    config = world.cli.home / "config" / "config.toml"
    text = config.read_text()
    [line] = [x for x in text.splitlines() if x.startswith("client_secret_set_at")]
    config.write_text(text.replace(line, 'client_secret_set_at = "2020-01-01T00:00:00Z"'))
    shown = world.cli.run("app", "show")
    assert "run `soldscope app rotate`" in shown.stderr
    by_hand = world.cli.run("app", "show", env={"SOLDSCOPE_ROTATION_QUEUE_URL": ""})
    assert "soldscope app set --client-secret-stdin" in by_hand.stderr
