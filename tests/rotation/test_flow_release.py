"""A message left in the queue that can no longer be released does not undo a rotation's result."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from soldscope_cli.errors import IncompleteError
from soldscope_cli.fleet.config import ConfigFile
from soldscope_cli.fleet.secrets import CLIENT_SECRET_KEY, MemorySecretStore
from soldscope_cli.rotation.flow import Rotator
from soldscope_cli.rotation.keeper import SecretKeeper
from soldscope_cli.rotation.queue import QueueMessage

CLIENT_ID = "amzn1.application-oa2-client.ours"
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _body(client_id: str, secret: str) -> str:
    item = {
        "clientId": client_id,
        "newClientSecret": secret,
        "newClientSecretExpiryTime": "2026-11-28T00:00:00Z",
        "oldClientSecretExpiryTime": "2026-06-08T00:00:00Z",
    }
    return json.dumps(
        {
            "notificationType": "APPLICATION_OAUTH_CLIENT_NEW_SECRET",
            "payload": {"applicationOAuthClientNewSecret": item},
        }
    )


class StaleHandleQueue:
    """SQS as it answers a receipt handle that is no longer the message's newest one."""

    url = "https://sqs.us-east-1.amazonaws.com/1/q"

    def __init__(self, messages: list[QueueMessage]) -> None:
        self.messages = messages
        self.deleted: list[str] = []

    def receive(self, wait_seconds: float) -> list[QueueMessage]:
        batch, self.messages = self.messages, []
        return batch

    def release(self, message: QueueMessage) -> None:
        raise IncompleteError("SQS could not release a message of the rotation queue")

    def delete(self, message: QueueMessage) -> None:
        self.deleted.append(message.message_id)


class Events:
    def __init__(self) -> None:
        self.kinds: list[str] = []

    def log_event(
        self,
        kind: str,
        at: datetime,
        store: str | None = None,
        detail: dict[str, Any] | None = None,
        tx: Any = None,
    ) -> None:
        self.kinds.append(kind)

    def last_app_events(self, kinds: Sequence[str]) -> dict[str, tuple[datetime, dict[str, Any]]]:
        return {}


def test_a_foreign_message_that_cannot_be_released_leaves_the_rotation_done(
    tmp_path: Path,
) -> None:
    store = MemorySecretStore({CLIENT_SECRET_KEY: "old-secret-000000"})
    queue = StaleHandleQueue(
        [
            QueueMessage(_body("amzn1.application-oa2-client.other", "theirs-0000000"), "h1", "m1"),
            QueueMessage(_body(CLIENT_ID, "new-secret-0000000"), "h2", "m2"),
        ]
    )
    events = Events()
    rotator = Rotator(
        client_id=CLIENT_ID,
        queue=queue,
        keeper=SecretKeeper(
            lambda: store, ConfigFile(tmp_path / "config.toml", tmp_path / "c.lock"), None
        ),
        prove=lambda secret: "store-a",
        request=lambda: None,
        events=events,
        clock=lambda: NOW,
        monotonic=lambda: 0.0,
    )
    outcome = rotator.consume(0)
    assert outcome.result == "rotated" and outcome.proven_with == "store-a"
    assert store.get(CLIENT_SECRET_KEY) == "new-secret-0000000"
    assert queue.deleted == ["m2"] and events.kinds == ["secret_rotated"]
