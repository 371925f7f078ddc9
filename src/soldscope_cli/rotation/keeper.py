"""Where a rotated secret is kept: the pending one while it is proven, then the app's own.

The pending secret goes to the secret store (keyring, file, command or the team database, sealed)
before anything else happens to its message, so a process killed at any step leaves either the old
secret (still valid for 7 days) with the new one waiting, or the new one stored: never neither.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from soldscope_cli.db.interface import StoreRegistry
from soldscope_cli.fleet.config import ConfigFile, format_time
from soldscope_cli.fleet.secrets import CLIENT_SECRET_KEY, SecretStore
from soldscope_cli.redact import register_secret
from soldscope_cli.rotation.messages import NewSecret

PENDING_KEY = "lwa-client-secret-pending"


@dataclass(frozen=True)
class Pending:
    """A new secret taken from the queue and not yet proven."""

    secret: str = field(repr=False)
    expires_at: datetime | None
    old_expires_at: datetime | None
    notification_id: str | None
    requested: bool
    receipt: str | None = field(default=None, repr=False)  # deletes its message once stored


def stored_time(value: object) -> datetime | None:
    """A time rotation recorded (in the pending secret or an event's detail); None when absent
    or unreadable, so a damaged record never stops a rotation."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


class SecretKeeper:
    """The app's client secret and the pending one, in the configured secret store."""

    def __init__(
        self,
        store: Callable[[], SecretStore],
        config_file: ConfigFile,
        team: StoreRegistry | None,
    ) -> None:
        self._store = store
        self._config_file = config_file
        self._team = team

    def current(self) -> str | None:
        """The stored client secret."""
        value = self._store().get(CLIENT_SECRET_KEY)
        if value:
            register_secret(value)
        return value or None

    def pending(self) -> Pending | None:
        """The secret taken from the queue and not yet proven, if any."""
        raw = self._store().get(PENDING_KEY)
        if not raw:
            return None
        try:
            data = json.loads(raw)
        except ValueError:
            return None
        secret = data.get("secret") if isinstance(data, dict) else None
        if not isinstance(secret, str) or not secret:
            return None
        register_secret(secret)
        note = data.get("notification_id")
        receipt = data.get("receipt")
        return Pending(
            secret,
            stored_time(data.get("expires_at")),
            stored_time(data.get("old_expires_at")),
            note if isinstance(note, str) else None,
            bool(data.get("requested")),
            receipt if isinstance(receipt, str) else None,
        )

    def hold(self, message: NewSecret, *, requested: bool, receipt: str | None = None) -> Pending:
        """Keep a new secret as pending (before its message is touched again)."""
        pending = Pending(
            message.secret,
            message.expires_at,
            message.old_expires_at,
            message.notification_id,
            requested,
            receipt,
        )
        self._store().set(
            PENDING_KEY,
            json.dumps(
                {
                    "secret": pending.secret,
                    "expires_at": None
                    if pending.expires_at is None
                    else format_time(pending.expires_at),
                    "old_expires_at": None
                    if pending.old_expires_at is None
                    else format_time(pending.old_expires_at),
                    "notification_id": pending.notification_id,
                    "requested": requested,
                    "receipt": receipt,
                }
            ),
        )
        return pending

    def drop_pending(self) -> None:
        """Forget the pending secret (stored as the app's, or refused)."""
        self._store().delete(PENDING_KEY)

    def commit(self, secret: str, now: datetime) -> None:
        """Store a proven secret as the app's and date it (the team's date in team mode)."""
        self._store().set(CLIENT_SECRET_KEY, secret)
        if self._team is not None:
            self._team.set_client_secret_set_at(now)
            return
        with self._config_file.edit() as config:
            config.app.client_secret_set_at = now
