"""Amazon's rotation notifications as they arrive in the SQS queue, parsed and checked.

Shapes: FACTS §8 (Amazon's sample, selling-partner-api-samples use-cases/lwa-rotation). The
envelope's key casing is not documented firmly, so `Payload`/`payload` (and every other key) are
read either way; a queue fed through an SNS topic wraps the notification in `Message`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from soldscope_cli.redact import register_secret
from soldscope_cli.untrusted import printable

NEW_SECRET = "APPLICATION_OAUTH_CLIENT_NEW_SECRET"
SECRET_EXPIRY = "APPLICATION_OAUTH_CLIENT_SECRET_EXPIRY"


@dataclass(frozen=True)
class NewSecret:
    """APPLICATION_OAUTH_CLIENT_NEW_SECRET: the new secret (kept out of repr) and both expiries."""

    client_id: str
    secret: str = field(repr=False)
    expires_at: datetime | None
    old_expires_at: datetime | None
    notification_id: str | None = None


@dataclass(frozen=True)
class SecretExpiry:
    """APPLICATION_OAUTH_CLIENT_SECRET_EXPIRY: Amazon's notice that the secret will expire."""

    client_id: str
    expires_at: datetime | None
    reason: str
    notification_id: str | None = None


Notification = NewSecret | SecretExpiry


def _get(data: Any, name: str) -> Any:
    """A key of a JSON object whatever the case of its first letter."""
    if not isinstance(data, dict):
        return None
    if name in data:
        return data[name]
    return data.get(name[0].upper() + name[1:])


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _client_id(value: Any) -> str | None:
    """A clientId as sent, or None when it is not one: an id that printing would change (control
    characters, spaces, a cut) must not read as this app's once printed."""
    text = _text(value)
    if text is None or len(text) > 200 or printable(text) != text or " " in text:
        return None
    return text


def parse_notification(body: str) -> Notification | None:
    """The rotation notification a message body holds; None for anything else.

    The new secret is registered with the redactor before anything else sees it.
    """
    try:
        data = json.loads(body)
    except ValueError:
        return None
    inner = _get(data, "message")
    if _get(data, "type") == "Notification" and isinstance(inner, str):
        try:
            data = json.loads(inner)
        except ValueError:
            return None
    kind = _get(data, "notificationType")
    payload = _get(data, "payload")
    notification_id = _text(_get(_get(data, "notificationMetadata"), "notificationId"))
    if kind == NEW_SECRET:
        item = _get(payload, "applicationOAuthClientNewSecret")
        secret = _text(_get(item, "newClientSecret"))
        client_id = _client_id(_get(item, "clientId"))
        if secret is not None:
            register_secret(secret)  # even in a message that is not ours: it is still a secret
        if secret is None or client_id is None:
            return None
        return NewSecret(
            client_id,
            secret,
            _time(_get(item, "newClientSecretExpiryTime")),
            _time(_get(item, "oldClientSecretExpiryTime")),
            notification_id,
        )
    if kind == SECRET_EXPIRY:
        item = _get(payload, "applicationOAuthClientSecretExpiry")
        client_id = _client_id(_get(item, "clientId"))
        if client_id is None:
            return None
        return SecretExpiry(
            client_id,
            _time(_get(item, "clientSecretExpiryTime")),
            printable(_text(_get(item, "clientSecretExpiryReason")) or "", limit=100),
            notification_id,
        )
    return None
