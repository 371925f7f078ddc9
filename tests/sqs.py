"""A real SQS API for the rotation tests: moto's server mode on a free 127.0.0.1 port.

Amazon delivers a rotated client secret only to an SQS queue; the tests run moto's emulation of
the SQS API as its own server (the `rotation` code talks to it through boto3 like to AWS) and point
boto3's standard configuration at it: AWS_ENDPOINT_URL_SQS, dummy credentials, a region.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

ACCOUNT = "123456789012"
REGION = "us-east-1"


@dataclass
class Sqs:
    """A running emulator: its endpoint, the environment that points boto3 at it, a client."""

    endpoint: str

    def env(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL_SQS": self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
        }

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "sqs",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def create_queue(self, name: str = "soldscope-rotation") -> str:
        return str(self.client().create_queue(QueueName=name)["QueueUrl"])

    def bodies(self, queue_url: str) -> list[dict[str, Any]]:
        """Every message in the queue (made visible again at once), parsed."""
        answer = self.client().receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0, WaitTimeSeconds=0
        )
        return [json.loads(m["Body"]) for m in answer.get("Messages", [])]

    def count(self, queue_url: str) -> int:
        attributes = self.client().get_queue_attributes(
            QueueUrl=queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )


@contextmanager
def moto_sqs() -> Iterator[Sqs]:
    """moto's server on a free loopback port for the duration of the block."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield Sqs(f"http://{host}:{port}")
    finally:
        server.stop()
