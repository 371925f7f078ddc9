"""Alerts through Apprise, installed, against the simulator and a webhook receiver on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from tests.e2e.test_validate import SELLERS, World, world  # noqa: F401  (the fixture)

pytestmark = pytest.mark.e2e

PASSWORD = "hunter2-webhook-secret"
TOKEN = "tok3n-in-the-path-0042"


class Receiver:
    """A webhook that keeps every JSON body posted to it."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        received = self.messages

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                received.append(json.loads(self.rfile.read(length) or b"{}"))
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"json://soldscope:{PASSWORD}@127.0.0.1:{self.port}/{TOKEN}"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.thread.start()
    yield r
    r.server.shutdown()
    r.server.server_close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def no_secret(*texts: str) -> None:
    for text in texts:
        assert PASSWORD not in text
        assert TOKEN not in text


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
    done = world.cli.run(
        "connect",
        "bolt-us",
        "--refresh-token-stdin",
        input=world.sim.authorize(SELLERS["bolt-us"]) + "\n",
    )
    assert done.returncode == 0, done.stderr
    assert world.validate(env=env)[0] == 0
    assert [m["title"] for m in receiver.messages] == [
        "soldscope: bolt-us (na): error",
        "soldscope: bolt-us (na): active again",
    ]
