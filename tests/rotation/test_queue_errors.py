"""SQS's error texts can quote a receipt handle: the one-line error never shows it."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from soldscope_cli.errors import IncompleteError
from soldscope_cli.rotation.queue import SqsQueue

HANDLE = "AQEBhandle-of-a-rotation-message-0123456789abcdef"


class Sqs:
    """An SQS client that hands out one message and refuses its handle as AWS words it."""

    def receive_message(self, **_: Any) -> dict[str, Any]:
        return {"Messages": [{"Body": "{}", "ReceiptHandle": HANDLE, "MessageId": "m1"}]}

    def change_message_visibility(self, **kwargs: Any) -> None:
        message = (
            f"Value {kwargs['ReceiptHandle']} for parameter ReceiptHandle is invalid. Reason: "
            "Message does not exist or is not available for visibility timeout change."
        )
        error = {"Error": {"Code": "InvalidParameterValue", "Message": message}}
        raise ClientError(error, "ChangeMessageVisibility")  # type: ignore[arg-type]


def test_a_refused_handle_is_not_in_the_error() -> None:
    queue = SqsQueue("https://sqs.us-east-1.amazonaws.com/1/q", {})
    queue._client = Sqs()  # the client boto3 would build, answering as AWS does
    [message] = queue.receive(0)
    with pytest.raises(IncompleteError) as raised:
        queue.release(message)
    assert "InvalidParameterValue" in raised.value.message
    assert HANDLE not in raised.value.message
