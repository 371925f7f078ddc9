"""A secret a killed run left pending, refused when the next run proves it, is refused once: its
message leaves the queue with it, so no later run reads it, is refused and alerts again."""

from __future__ import annotations

from pathlib import Path

import pytest

from soldscope_cli.errors import IncompleteError
from soldscope_cli.fleet.config import ConfigFile
from soldscope_cli.fleet.secrets import CLIENT_SECRET_KEY, MemorySecretStore
from soldscope_cli.rotation.flow import FAILED, Rotator, SecretRefused
from soldscope_cli.rotation.keeper import SecretKeeper
from soldscope_cli.rotation.messages import parse_notification
from soldscope_cli.rotation.queue import QueueMessage

from .test_flow_release import CLIENT_ID, NOW, Events, _body


class RedeliveringQueue:
    """SQS as a killed run leaves it: the message it had taken comes back until it is deleted."""

    url = "https://sqs.us-east-1.amazonaws.com/1/q"

    def __init__(self, message: QueueMessage) -> None:
        self.message: QueueMessage | None = message
        self.deleted: list[str] = []

    def receive(self, wait_seconds: float) -> list[QueueMessage]:
        return [] if self.message is None else [self.message]

    def release(self, message: QueueMessage) -> None:
        return None

    def delete(self, message: QueueMessage) -> None:
        self.deleted.append(message.receipt)
        if self.message is not None and message.receipt == self.message.receipt:
            self.message = None


def refuse(secret: str) -> str:
    raise SecretRefused("Login with Amazon refused the new client secret", "check it")


def test_a_pending_secret_refused_again_is_refused_and_alerted_once(tmp_path: Path) -> None:
    store = MemorySecretStore({CLIENT_SECRET_KEY: "old-secret-000000"})
    keeper = SecretKeeper(
        lambda: store, ConfigFile(tmp_path / "config.toml", tmp_path / "c.lock"), None
    )
    body = _body(CLIENT_ID, "new-secret-0000000")
    parsed = parse_notification(body)
    assert parsed is not None
    keeper.hold(parsed, requested=True, receipt="handle-1")  # what the killed run had done
    queue = RedeliveringQueue(QueueMessage(body, "handle-1", "m1"))
    events = Events()

    def run() -> str:
        rotator = Rotator(
            client_id=CLIENT_ID,
            queue=queue,
            keeper=keeper,
            prove=refuse,
            request=lambda: None,
            events=events,
            clock=lambda: NOW,
            monotonic=lambda: 0.0,
        )
        return rotator.consume(0).result

    with pytest.raises(SecretRefused):
        run()
    assert keeper.pending() is None and queue.deleted == ["handle-1"]
    assert run() == "none"  # nothing left to read: no second refusal, no second alert
    assert events.kinds == [FAILED]
    assert store.get(CLIENT_SECRET_KEY) == "old-secret-000000"


class FailingQueue(RedeliveringQueue):
    """SQS refusing to delete or release: its answer must not replace the rotation's own."""

    def delete(self, message: QueueMessage) -> None:
        raise IncompleteError("SQS could not delete a message of the rotation queue")

    def release(self, message: QueueMessage) -> None:
        raise IncompleteError("SQS could not release a message of the rotation queue")


@pytest.mark.parametrize("proof", ["refused", "unreachable"])
def test_what_sqs_says_when_a_proof_fails_never_hides_the_failure(
    tmp_path: Path, proof: str
) -> None:
    store = MemorySecretStore({CLIENT_SECRET_KEY: "old-secret-000000"})
    body = _body(CLIENT_ID, "new-secret-0000000")

    def prove(secret: str) -> str:
        if proof == "refused":
            refuse(secret)
        raise IncompleteError("Login with Amazon is unreachable", "try again")

    rotator = Rotator(
        client_id=CLIENT_ID,
        queue=FailingQueue(QueueMessage(body, "handle-1", "m1")),
        keeper=SecretKeeper(
            lambda: store, ConfigFile(tmp_path / "config.toml", tmp_path / "c.lock"), None
        ),
        prove=prove,
        request=lambda: None,
        events=Events(),
        clock=lambda: NOW,
        monotonic=lambda: 0.0,
    )
    expected = SecretRefused if proof == "refused" else IncompleteError
    with pytest.raises(expected, match="Login with Amazon"):
        rotator.consume(0)
    assert store.get(CLIENT_SECRET_KEY) == "old-secret-000000"
