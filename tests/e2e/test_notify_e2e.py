"""Alerts through Apprise, installed, against the simulator and a webhook receiver on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.e2e.test_validate import SELLERS, World, world  # noqa: F401  (the fixture)
from tests.webhook import PASSWORD, TOKEN, Receiver, no_secret, running_receiver

from soldscope_cli.fleet.config import NotifyTarget, dump_config, parse_config

pytestmark = pytest.mark.e2e


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as r:
        yield r


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def reconnect(world: World, env: dict[str, str] | None = None) -> None:  # noqa: F811
    """Renew bolt-us with a fresh token, as its seller's new consent would."""
    done = world.cli.run(
        "connect",
        "bolt-us",
        "--refresh-token-stdin",
        input=world.sim.authorize(SELLERS["bolt-us"]) + "\n",
        env=env,
    )
    assert done.returncode == 0, done.stderr


def test_a_revoked_store_is_announced_once(world: World, receiver: Receiver) -> None:  # noqa: F811
    env = {"SOLDSCOPE_NOTIFY_URLS": receiver.url}
    assert world.validate(env=env)[0] == 0
    assert receiver.messages == []  # healthy stores are never announced
    world.sim.revoke(SELLERS["bolt-us"])
    first = world.validate(env=env)
    second = world.validate(env=env)
    assert (first[0], second[0]) == (1, 1)
    assert len(receiver.messages) == 1
    message = receiver.messages[0]
    assert message["title"] == "soldscope: bolt-us (na): error"
    assert "invalid_grant" in message["message"]
    assert "Run: soldscope connect bolt-us" in message["message"]
    no_secret(first[2], second[2])
    assert first[2] == "" and second[2] == ""


def test_several_changes_make_one_digest(world: World, receiver: Receiver) -> None:  # noqa: F811
    world.sim.revoke(SELLERS["bolt-us"])
    world.sim.revoke(SELLERS["cora-eu"])
    code, _, stderr = world.validate(env={"SOLDSCOPE_NOTIFY_URLS": receiver.url})
    assert code == 1, stderr
    assert len(receiver.messages) == 1
    body = receiver.messages[0]["message"]
    assert "bolt-us (na): error" in body and "cora-eu (eu): error" in body
    assert receiver.messages[0]["title"] == "soldscope: 2 changes (2 in error)"


def test_no_notify_sends_nothing(world: World, receiver: Receiver) -> None:  # noqa: F811
    world.sim.revoke(SELLERS["bolt-us"])
    env = {"SOLDSCOPE_NOTIFY_URLS": receiver.url}
    assert world.validate("--no-notify", env=env)[0] == 1
    assert receiver.messages == []
    assert world.validate(env=env)[0] == 1  # still unannounced: the next run tells
    assert len(receiver.messages) == 1


def test_an_unreachable_target_changes_nothing(world: World, receiver: Receiver) -> None:  # noqa: F811
    dead = f"json://soldscope:{PASSWORD}@127.0.0.1:{closed_port()}/{TOKEN}"
    world.sim.revoke(SELLERS["bolt-us"])
    started = time.monotonic()
    code, rows, stderr = world.validate(env={"SOLDSCOPE_NOTIFY_URLS": f"{dead}, {receiver.url}"})
    assert time.monotonic() - started < 15
    assert code == 1
    assert {r["name"]: r["status"] for r in rows}["bolt-us"] == "error"
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("notify: not delivered to target 1 (json)")
    no_secret(stderr, json.dumps(rows))
    assert len(receiver.messages) == 1  # the live target got it, so it is announced


def test_notify_test_names_the_failed_target(world: World, receiver: Receiver) -> None:  # noqa: F811
    dead = f"json://soldscope:{PASSWORD}@127.0.0.1:{closed_port()}/{TOKEN}"
    result = world.cli.run(
        "notify", "test", env={"SOLDSCOPE_NOTIFY_URLS": f"{receiver.url} {dead}"}
    )
    assert result.returncode == 1
    assert "sent    target 1 (json)" in result.stdout
    assert "failed  target 2 (json)" in result.stdout
    no_secret(result.stdout, result.stderr)
    assert [m["title"] for m in receiver.messages] == ["soldscope: test message"]
    ok = world.cli.run("notify", "test", env={"SOLDSCOPE_NOTIFY_URLS": receiver.url})
    assert ok.returncode == 0, ok.stderr


def test_recovery_is_announced(world: World, receiver: Receiver) -> None:  # noqa: F811
    env = {"SOLDSCOPE_NOTIFY_URLS": receiver.url}
    world.sim.revoke(SELLERS["bolt-us"])
    assert world.validate(env=env)[0] == 1
    reconnect(world)  # without targets: the next validate is the first to see it active
    assert world.validate(env=env)[0] == 0
    assert [m["title"] for m in receiver.messages] == [
        "soldscope: bolt-us (na): error",
        "soldscope: bolt-us (na): active again",
    ]


def test_connect_announces_the_recovery_itself(world: World, receiver: Receiver) -> None:  # noqa: F811
    env = {"SOLDSCOPE_NOTIFY_URLS": receiver.url}
    world.sim.revoke(SELLERS["bolt-us"])
    assert world.validate(env=env)[0] == 1
    reconnect(world, env)
    assert [m["title"] for m in receiver.messages] == [
        "soldscope: bolt-us (na): error",
        "soldscope: bolt-us (na): active again",
    ]
    assert world.validate(env=env)[0] == 0
    assert len(receiver.messages) == 2  # validate has nothing new to tell


def test_data_that_stops_syncing_is_announced_once(world: World, receiver: Receiver) -> None:  # noqa: F811
    env = {"SOLDSCOPE_NOTIFY_URLS": receiver.url}
    synced = world.cli.run("sync", "acme-us", "--dataset", "inventory", env=env, timeout=120)
    assert synced.returncode == 0, synced.stderr
    assert receiver.messages == []
    # Three days pass without a sync: move the store's inventory runs back in time.
    database = Path(world.cli.env["SOLDSCOPE_DATA_DIR"]) / "soldscope.db"
    with closing(sqlite3.connect(database)) as conn, conn:
        conn.execute(
            "UPDATE sync_runs SET "
            "started_at = strftime('%Y-%m-%dT%H:%M:%f000Z', started_at, '-3 days'), "
            "finished_at = strftime('%Y-%m-%dT%H:%M:%f000Z', finished_at, '-3 days') "
            "WHERE dataset = 'inventory'"
        )
    assert world.validate(env=env)[0] == 0
    assert world.validate(env=env)[0] == 0
    assert [m["title"] for m in receiver.messages] == [
        "soldscope: acme-us (na): Inventory data is stale"
    ]
    body = receiver.messages[0]["message"]
    assert "the limit is 36 h" in body
    assert "Run: soldscope sync acme-us --dataset inventory" in body
    again = world.cli.run("sync", "acme-us", "--dataset", "inventory", env=env, timeout=120)
    assert again.returncode == 0, again.stderr
    assert (
        receiver.messages[-1]["title"] == "soldscope: acme-us (na): Inventory data is fresh again"
    )
    assert len(receiver.messages) == 2


def test_digest_prints_and_sends_one_summary(world: World, receiver: Receiver) -> None:  # noqa: F811
    env = {"SOLDSCOPE_NOTIFY_URLS": receiver.url}
    world.sim.revoke(SELLERS["bolt-us"])
    assert world.validate("--no-notify")[0] == 1
    done = world.cli.run("digest", "--expiring-within", "30", env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == (
        "soldscope digest: 3 stores, 1 broken, 0 expiring within 30 days, 0 stale datasets"
    )
    assert "  bolt-us (na): error: invalid_grant — run: soldscope connect bolt-us" in done.stdout
    assert done.stderr == "digest sent to 1 target\n"
    [message] = receiver.messages
    assert message["title"] == done.stdout.splitlines()[0]
    assert message["message"].strip() == "\n".join(done.stdout.splitlines()[2:]).strip()
    as_json = world.cli.run("digest", "--json", "--no-notify", env=env)
    data = json.loads(as_json.stdout)
    assert [b["name"] for b in data["broken"]] == ["bolt-us"] and data["stores"] == 3
    assert len(receiver.messages) == 1


def test_doctor_names_a_target_whose_last_delivery_failed(world: World, receiver: Receiver) -> None:  # noqa: F811
    dead = f"json://soldscope:{PASSWORD}@127.0.0.1:{closed_port()}/{TOKEN}"
    env = {"SOLDSCOPE_NOTIFY_URLS": f"{receiver.url} {dead}"}
    world.sim.revoke(SELLERS["bolt-us"])
    assert world.validate(env=env)[0] == 1
    doctor = world.cli.run("doctor", "--offline", "--json", env=env)
    found = {r["id"]: r for r in json.loads(doctor.stdout)}
    assert (
        found["notify:1"]["status"] == "ok" and "last delivered at" in found["notify:1"]["detail"]
    )
    assert found["notify:2"]["status"] == "warn"
    assert "failed" in found["notify:2"]["detail"]
    no_secret(doctor.stdout, doctor.stderr)
    broken = world.cli.run(
        "doctor", "--offline", "--json", env={"SOLDSCOPE_NOTIFY_URLS": "nope://x"}
    )
    assert {r["id"]: r["status"] for r in json.loads(broken.stdout)}["notify:1"] == "fail"


def test_an_app_alert_grouped_with_a_store_alert_is_sent_and_recorded(
    world: World,  # noqa: F811
    receiver: Receiver,
) -> None:
    """A secret due for rotation and a revoked store in one run: one message, told once."""
    path = Path(world.cli.env["SOLDSCOPE_CONFIG_DIR"]) / "config.toml"
    config = parse_config(path, path.read_text())
    config.app.client_secret_set_at = datetime.now(UTC) - timedelta(days=160)
    config.notify.append(NotifyTarget(receiver.url))
    path.write_text(dump_config(config))
    world.sim.revoke(SELLERS["bolt-us"])
    first = world.validate()
    second = world.validate()
    assert (first[0], second[0]) == (1, 1), (first[2], second[2])
    assert first[2] == "" and second[2] == ""
    assert [m["title"] for m in receiver.messages] == [
        "soldscope: 2 changes (1 in error, 1 rotation due)"
    ]
    body = receiver.messages[0]["message"]
    assert "bolt-us (na): error" in body
    assert "the app's client secret must be rotated" in body
    no_secret(first[2], json.dumps(first[1]))


def test_a_lost_role_is_announced_once_and_listed_by_the_digest(
    world: World,  # noqa: F811
    receiver: Receiver,
) -> None:
    env = {"SOLDSCOPE_NOTIFY_URLS": receiver.url}

    def sync() -> None:
        done = world.cli.run("sync", "acme-us", "--dataset", "finances", env=env, timeout=120)
        assert done.returncode == 0, done.stderr

    sync()
    assert receiver.messages == []
    world.sim.remove_role(SELLERS["acme-us"], "finances")
    sync()
    sync()
    assert [m["title"] for m in receiver.messages] == [
        "soldscope: acme-us (na): Finances not authorized"
    ]
    body = receiver.messages[0]["message"]
    assert "the app is not authorized for finances data of this store" in body
    assert "Run: soldscope connect acme-us" in body
    digest = world.cli.run("digest", "--no-notify", env=env)
    assert digest.returncode == 0, digest.stderr
    assert digest.stdout.splitlines()[0] == (
        "soldscope digest: 3 stores, 0 broken, 0 expiring within 30 days, 0 stale datasets, "
        "1 dataset not authorized"
    )
    assert (
        "  acme-us (na) Finances: the app lacks the role — run: soldscope connect acme-us"
        in digest.stdout
    )
    as_json = json.loads(world.cli.run("digest", "--json", "--no-notify", env=env).stdout)
    assert as_json["not_authorized"] == [
        {
            "name": "acme-us",
            "region": "na",
            "dataset": "finances",
            # Imported from a self-authorization: its owner renews it in Seller Central.
            "command": "soldscope connect acme-us --refresh-token-stdin",
        }
    ]
    world.sim.add_role(SELLERS["acme-us"], "finances")
    sync()
    assert [m["title"] for m in receiver.messages][1:] == [
        "soldscope: acme-us (na): Finances authorized again"
    ]
    sync()
    assert len(receiver.messages) == 2
