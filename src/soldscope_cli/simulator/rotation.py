"""The Application Management API: rotateApplicationClientSecret, and the SQS notifications it sends.

Amazon delivers a rotated secret only to the SQS queue registered in the developer console's
notification preferences (FACTS §8); the simulator posts the same envelope to the queue URL an
admin call registered, through SQS's plain query API, which any SQS-compatible service accepts.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from soldscope_cli.simulator.clock import iso
from soldscope_cli.simulator.web import Request, Response, spapi_error

if TYPE_CHECKING:
    from soldscope_cli.simulator.engine import Engine

log = logging.getLogger(__name__)

ROTATION_PATH = "/applications/2023-11-30/clientSecret"
OPERATION = "rotateApplicationClientSecret"
SCOPE = "sellingpartnerapi::client_credential:rotation"
NOT_ENROLLED = (
    "Application is not enrolled for rotation notification. "
    "Please update application notification preference in Developer console."
)
NEW_SECRET = "APPLICATION_OAUTH_CLIENT_NEW_SECRET"
SECRET_EXPIRY = "APPLICATION_OAUTH_CLIENT_SECRET_EXPIRY"
PAYLOAD_VERSION = "2023-11-30"
SECRET_LIFETIME_SECONDS = 180 * 86400  # FACTS §3: client secrets expire every 180 days
SEND_TIMEOUT_S = 5.0


@dataclass
class RotationSettings:
    """The app's notification preference: where Amazon sends rotation messages."""

    queue_url: str | None = None
    deliver: bool = True  # False: Amazon rotates but the message never arrives (a lost message)
    sent: int = 0
    failed: int = 0

    def as_dict(self) -> dict[str, Any]:
        """The admin API's view."""
        return {
            "queue_url": self.queue_url,
            "deliver": self.deliver,
            "sent": self.sent,
            "failed": self.failed,
        }


def envelope(
    engine: Engine, notification_type: str, payload_key: str, body: dict[str, Any]
) -> dict[str, Any]:
    """A notification as Amazon's SQS message body holds it."""
    now = iso(engine.now(), millis=True)
    return {
        "notificationVersion": "1.0",
        "notificationType": notification_type,
        "payloadVersion": PAYLOAD_VERSION,
        "eventTime": now,
        "payload": {payload_key: body},
        "notificationMetadata": {
            "applicationId": engine.scenario.app.application_id,
            "subscriptionId": str(uuid.uuid4()),
            "publishTime": now,
            "notificationId": str(uuid.uuid4()),
        },
    }


def new_secret_message(
    engine: Engine, secret: str, new_expiry: float, old_expiry: float
) -> dict[str, Any]:
    """APPLICATION_OAUTH_CLIENT_NEW_SECRET."""
    return envelope(
        engine,
        NEW_SECRET,
        "applicationOAuthClientNewSecret",
        {
            "clientId": engine.scenario.app.client_id,
            "newClientSecret": secret,
            "newClientSecretExpiryTime": iso(new_expiry),
            "oldClientSecretExpiryTime": iso(old_expiry),
        },
    )


def expiry_message(engine: Engine, expiry: float, reason: str) -> dict[str, Any]:
    """APPLICATION_OAUTH_CLIENT_SECRET_EXPIRY."""
    return envelope(
        engine,
        SECRET_EXPIRY,
        "applicationOAuthClientSecretExpiry",
        {
            "clientId": engine.scenario.app.client_id,
            "clientSecretExpiryTime": iso(expiry),
            "clientSecretExpiryReason": reason,
        },
    )


def _region_of(queue_url: str) -> str:
    host = urllib.parse.urlsplit(queue_url).hostname or ""
    parts = host.split(".")
    if len(parts) >= 3 and parts[0] == "sqs":
        return parts[1]
    return "us-east-1"


def send(queue_url: str, message: dict[str, Any]) -> None:
    """SendMessage through SQS's query API; OSError when the queue cannot be reached."""
    data = urllib.parse.urlencode(
        {"Action": "SendMessage", "MessageBody": json.dumps(message), "Version": "2012-11-05"}
    ).encode()
    # The credential scope names the region; an emulator reads it, and signs nothing itself.
    scope = f"simulator/20260101/{_region_of(queue_url)}/sqs/aws4_request"
    request = urllib.request.Request(  # noqa: S310 - the URL is the admin-registered queue
        queue_url,
        data=data,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Authorization": f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host, "
            "Signature=0",
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=SEND_TIMEOUT_S) as answer:  # noqa: S310
        answer.read()


def handle_rotate(engine: Engine, request: Request) -> Response:
    """POST /applications/2023-11-30/clientSecret: 204, the new secret goes to the queue."""
    if request.method != "POST":
        return spapi_error(404, "NotFound", "The requested resource was not found.", "")
    if not engine.token_has_scope(request.headers.get("x-amz-access-token", ""), SCOPE):
        return spapi_error(403, "Unauthorized", "Access to requested resource is denied.", "")
    if not engine.limiter.try_acquire(OPERATION, "application"):
        return spapi_error(
            429, "QuotaExceeded", "You exceeded your quota for the requested resource.", ""
        )
    limit = {"x-amzn-RateLimit-Limit": engine.limiter.limit_header(OPERATION)}
    if engine.rotation_settings().queue_url is None:
        response = spapi_error(400, "InvalidInput", NOT_ENROLLED, "")
        response.headers.update(limit)
        return response
    engine.rotate_client_secret()
    return Response(204, b"", limit)
