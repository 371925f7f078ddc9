"""Where the client secret's rotation stands: pure rules over the config and the event log.

The expiry comes from Amazon's own messages when one is known (the new secret's expiry, or an
expiry notice newer than the secret), else from the 180-day rule. A rotation requested or failed
after the secret was last set is unresolved: the secret in use stops working by its deadline.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from soldscope_cli.fleet.app_credentials import secret_due
from soldscope_cli.fleet.config import format_time
from soldscope_cli.rotation.flow import EXPIRY_NOTICE, FAILED, REQUESTED, ROTATED
from soldscope_cli.rotation.keeper import stored_time

# A rotation event within this of the secret's date belongs to that secret.
SAME_MOMENT = timedelta(minutes=5)

Events = Mapping[str, tuple[datetime, dict[str, Any]]]


@dataclass(frozen=True)
class RotationState:
    """The state `app rotation` shows and doctor judges."""

    set_at: datetime | None
    expires_at: datetime | None
    expiry_source: str  # "amazon" (a message said so), "rule" (180 days), "unknown"
    queue_url: str | None
    days_before: int
    last_rotated_at: datetime | None
    last_rotation: dict[str, Any] | None
    pending: str | None  # "secret" (awaiting proof), "message" (requested, none arrived), None
    problem: str | None  # "lost", "refused", "requested": unresolved since the secret was set
    requested_at: datetime | None
    deadline: datetime | None  # when the secret in use stops working, if a rotation is unresolved

    def days_left(self, now: datetime) -> int | None:
        """Whole days until the secret expires."""
        return None if self.expires_at is None else (self.expires_at - now).days

    def due(self, now: datetime) -> bool:
        """Whether automatic rotation should run now ([rotation] days_before)."""
        return self.expires_at is not None and now >= self.expires_at - timedelta(
            days=self.days_before
        )

    def as_json(self, now: datetime) -> dict[str, Any]:
        """`app rotation --json` (never a secret)."""

        def text(value: datetime | None) -> str | None:
            return None if value is None else format_time(value)

        last = None
        if self.last_rotated_at is not None and self.last_rotation is not None:
            last = {
                "at": text(self.last_rotated_at),
                "requested": bool(self.last_rotation.get("requested")),
                "proven_with": self.last_rotation.get("proven_with"),
            }
        return {
            "queue_url": self.queue_url,
            "days_before": self.days_before,
            "client_secret": {
                "set_at": text(self.set_at),
                "expires_at": text(self.expires_at),
                "expiry_source": self.expiry_source,
                "days_left": self.days_left(now),
            },
            "last_rotation": last,
            "pending": self.pending,
            "problem": self.problem,
            "requested_at": text(self.requested_at),
            "deadline": text(self.deadline),
            "due": self.due(now),
        }


def rotation_state(
    set_at: datetime | None,
    events: Events,
    *,
    queue_url: str | None,
    days_before: int,
    pending_secret: bool,
) -> RotationState:
    """Combine the secret's date, the rotation events and the pending secret."""
    rotated = events.get(ROTATED)
    notice = events.get(EXPIRY_NOTICE)
    expires_at, source = (secret_due(set_at), "rule") if set_at else (None, "unknown")
    if rotated is not None and set_at is not None and abs(rotated[0] - set_at) <= SAME_MOMENT:
        from_amazon = stored_time(rotated[1].get("expires_at"))
        if from_amazon is not None:
            expires_at, source = from_amazon, "amazon"
    if notice is not None and (set_at is None or notice[0] >= set_at):
        noticed = stored_time(notice[1].get("expires_at"))
        if noticed is not None:
            expires_at, source = noticed, "amazon"
    settled = max((t for t in (set_at, rotated[0] if rotated else None) if t), default=None)
    problem: str | None = None
    deadline: datetime | None = None
    requested_at: datetime | None = None
    requested = events.get(REQUESTED)
    failed = events.get(FAILED)
    if requested is not None and (settled is None or requested[0] > settled):
        requested_at = requested[0]
        deadline = stored_time(requested[1].get("deadline"))
        problem = "requested"
    if failed is not None and (settled is None or failed[0] > settled):
        problem = str(failed[1].get("reason") or "failed")
        deadline = stored_time(failed[1].get("deadline")) or deadline
    pending = "secret" if pending_secret else ("message" if problem else None)
    return RotationState(
        set_at,
        expires_at,
        source,
        queue_url,
        days_before,
        rotated[0] if rotated else None,
        rotated[1] if rotated else None,
        pending,
        problem,
        requested_at,
        deadline,
    )
