"""A local SQS for the demo: moto's server on a free loopback port, with one queue, when moto is
installed (it is not a dependency of soldscope; the tests and `pip install 'moto[server]'` have it)."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

REGION = "us-east-1"


@dataclass(frozen=True)
class LocalSqs:
    """The emulator's endpoint, one queue on it, and the environment that points boto3 there."""

    endpoint: str
    queue_url: str

    def env(self) -> dict[str, str]:
        """boto3's settings for the emulator (its credentials are dummies it accepts)."""
        return {
            "AWS_ENDPOINT_URL_SQS": self.endpoint,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": REGION,
        }


def available() -> bool:
    """Whether moto's server and boto3 can be imported here."""
    return all(importlib.util.find_spec(name) is not None for name in ("moto", "boto3"))


@contextmanager
def local_sqs(queue: str = "soldscope-rotation") -> Iterator[LocalSqs]:
    """Start moto's SQS server, create `queue`, stop at the end."""
    import logging

    from moto.server import ThreadedMotoServer

    # The emulator's web server logs every request on stderr; the demo's lines are the story.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        import boto3

        local = LocalSqs(endpoint, "")
        env = local.env()
        client = boto3.client(
            "sqs",
            endpoint_url=endpoint,
            region_name=REGION,
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        )
        url = str(client.create_queue(QueueName=queue)["QueueUrl"])
        yield LocalSqs(endpoint, url)
    finally:
        server.stop()
