"""The SQS queue Amazon sends rotation messages to, read through boto3 (imported only here).

boto3's own configuration decides credentials, profile and endpoint (AWS_ENDPOINT_URL_SQS and
AWS_ENDPOINT_URL are honoured as boto3 does, so an SQS-compatible service works); the region is the
queue URL's (sqs.<region>.amazonaws.com), else boto3's configured one.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from soldscope_cli.errors import ConfigError, IncompleteError
from soldscope_cli.redact import redact, register_secret

log = logging.getLogger(__name__)

QUEUE_URL_ENV = "SOLDSCOPE_ROTATION_QUEUE_URL"
INSTALL_HINT = "install the rotation extra: pip install 'soldscope-cli[rotation]'"
MAX_LONG_POLL_S = 20  # SQS's longest ReceiveMessage wait
VISIBILITY_S = 60  # a message being taken stays hidden from other readers this long
CONNECT_TIMEOUT_S = 10


@dataclass(frozen=True)
class QueueMessage:
    """One received message: its body (it may hold a secret) and the handle that deletes it."""

    body: str = field(repr=False)
    receipt: str = field(repr=False)
    message_id: str = ""


class RotationSetupError(ConfigError):
    """Rotation cannot work as set up: no queue, no AWS credentials, not enrolled, no boto3."""


def queue_url(config_url: str | None, env: Mapping[str, str]) -> str | None:
    """SOLDSCOPE_ROTATION_QUEUE_URL, else [rotation] queue_url."""
    return env.get(QUEUE_URL_ENV) or config_url or None


def require_queue_url(config_url: str | None, env: Mapping[str, str]) -> str:
    """The queue URL, or the setup error that says how to give one."""
    url = queue_url(config_url, env)
    if url is None:
        raise RotationSetupError(
            "no rotation queue is configured: Amazon sends a new client secret only to an SQS "
            "queue",
            hint="create the queue and register it in the app's notification preferences, then "
            "set [rotation] queue_url in config.toml or SOLDSCOPE_ROTATION_QUEUE_URL "
            "(see docs/rotation.md)",
        )
    return url


def region_of(url: str) -> str | None:
    """The region in an SQS queue URL's host (sqs.us-east-1.amazonaws.com), else None."""
    host = (urlsplit(url).hostname or "").split(".")
    if len(host) >= 4 and host[0] == "sqs" and host[-2:] == ["amazonaws", "com"]:
        return host[1]
    if len(host) >= 4 and host[1] == "queue" and host[-2:] == ["amazonaws", "com"]:
        return host[0]  # the legacy form: us-east-1.queue.amazonaws.com
    return None


def _session_settings(env: Mapping[str, str]) -> dict[str, str]:
    """boto3's environment settings read from the command's environment (the process's own in
    production, a demo's or a test's otherwise); profiles, files and roles stay boto3's."""
    settings: dict[str, str] = {}
    if env.get("AWS_PROFILE"):
        settings["profile_name"] = env["AWS_PROFILE"]
    if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
        settings["aws_access_key_id"] = env["AWS_ACCESS_KEY_ID"]
        settings["aws_secret_access_key"] = env["AWS_SECRET_ACCESS_KEY"]
        if env.get("AWS_SESSION_TOKEN"):
            settings["aws_session_token"] = env["AWS_SESSION_TOKEN"]
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    if region:
        settings["region_name"] = region
    return settings


class SqsQueue:
    """Receive, release and delete rotation messages; errors become setup or unreachable errors."""

    def __init__(self, url: str, env: Mapping[str, str]) -> None:
        self.url = url
        self._env = env
        self._client: Any = None

    def _sqs(self) -> Any:
        if self._client is None:
            try:
                import boto3
                from botocore.config import Config
            except ImportError as exc:
                raise RotationSetupError(
                    "rotation reads Amazon's SQS queue through boto3, which is not installed",
                    hint=INSTALL_HINT,
                ) from exc
            session = boto3.session.Session(**_session_settings(self._env))
            # A queue lives in one region; a client of another region cannot reach it.
            region = region_of(self.url) or session.region_name or "us-east-1"
            self._client = session.client(
                "sqs",
                region_name=region,
                endpoint_url=self._env.get("AWS_ENDPOINT_URL_SQS")
                or self._env.get("AWS_ENDPOINT_URL")
                or None,
                config=Config(
                    connect_timeout=CONNECT_TIMEOUT_S,
                    read_timeout=MAX_LONG_POLL_S + 10,
                    retries={"max_attempts": 3, "mode": "standard"},
                ),
            )
        return self._client

    def _call(self, doing: str, operation: str, **kwargs: Any) -> Any:
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            EndpointConnectionError,
            NoCredentialsError,
            NoRegionError,
            ProfileNotFound,
        )

        try:
            return getattr(self._sqs(), operation)(QueueUrl=self.url, **kwargs)
        except NoCredentialsError as exc:
            raise RotationSetupError(
                f"no AWS credentials to {doing} the rotation queue",
                hint="give boto3 credentials that may read and delete the queue's messages: "
                "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or an instance role "
                "(IAM policy in docs/rotation.md)",
            ) from exc
        except ProfileNotFound as exc:
            raise RotationSetupError(
                f"the AWS profile {self._env.get('AWS_PROFILE')!r} does not exist",
                hint="set AWS_PROFILE to a profile of ~/.aws/config, or unset it",
            ) from exc
        except NoRegionError as exc:
            raise RotationSetupError(
                "no AWS region for the rotation queue", hint="set AWS_DEFAULT_REGION"
            ) from exc
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            text = redact(str(error.get("Message", "")))[:300]
            if "NonExistentQueue" in code or "QueueDoesNotExist" in code:
                raise RotationSetupError(
                    f"the rotation queue {self.url} does not exist",
                    hint="check [rotation] queue_url (or SOLDSCOPE_ROTATION_QUEUE_URL) against "
                    "the queue's URL in the SQS console",
                ) from exc
            if code in ("AccessDenied", "AccessDeniedException", "InvalidClientTokenId",
                        "SignatureDoesNotMatch", "UnrecognizedClientException"):  # fmt: skip
                raise RotationSetupError(
                    f"AWS refused to {doing} the rotation queue ({code}: {text})",
                    hint="grant these credentials sqs:ReceiveMessage, sqs:DeleteMessage, "
                    "sqs:ChangeMessageVisibility and sqs:GetQueueAttributes on the queue "
                    "(IAM policy in docs/rotation.md)",
                ) from exc
            raise IncompleteError(
                f"SQS could not {doing} the rotation queue ({code}: {text})",
                hint="try again in a few minutes",
            ) from exc
        except EndpointConnectionError as exc:
            raise IncompleteError(
                f"SQS could not be reached to {doing} the rotation queue ({exc})",
                hint="check the network, the queue URL and AWS_ENDPOINT_URL_SQS; try again",
            ) from exc
        except BotoCoreError as exc:
            raise IncompleteError(
                f"SQS failed to {doing} the rotation queue ({type(exc).__name__})",
                hint="try again in a few minutes",
            ) from exc

    def check(self) -> int:
        """Whether the queue answers with these credentials: its approximate message count."""
        answer = self._call(
            "read", "get_queue_attributes", AttributeNames=["ApproximateNumberOfMessages"]
        )
        return int(answer.get("Attributes", {}).get("ApproximateNumberOfMessages", 0))

    def receive(self, wait_seconds: float) -> list[QueueMessage]:
        """Up to 10 messages, waiting at most `wait_seconds` (long polling, ≤ 20 s) for one."""
        wait = max(0, min(MAX_LONG_POLL_S, math.ceil(wait_seconds)))
        answer = self._call(
            "read",
            "receive_message",
            MaxNumberOfMessages=10,
            WaitTimeSeconds=wait,
            VisibilityTimeout=VISIBILITY_S,
        )
        messages = [
            QueueMessage(str(m.get("Body", "")), str(m["ReceiptHandle"]), str(m.get("MessageId")))
            for m in answer.get("Messages", [])
        ]
        for message in messages:
            # SQS quotes a handle it refuses in its error text, which becomes the one-line error.
            register_secret(message.receipt)
        log.debug("rotation queue: %d message(s) received", len(messages))
        return messages

    def release(self, message: QueueMessage) -> None:
        """Make a message visible again at once (it is not ours, or it could not be used now)."""
        self._call("release a message of", "change_message_visibility",
                   ReceiptHandle=message.receipt, VisibilityTimeout=0)  # fmt: skip

    def delete(self, message: QueueMessage) -> None:
        """Remove a message for good (its secret is stored, or it was refused)."""
        self._call("delete a message of", "delete_message", ReceiptHandle=message.receipt)
