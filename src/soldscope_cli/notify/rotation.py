"""Announcing a rotation's outcome: one alert when it rotated, one when it failed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from soldscope_cli.db.interface import NotifiedLog
from soldscope_cli.notify.alerts import rotation_failed_alert, secret_rotated_alert
from soldscope_cli.notify.announce import announce
from soldscope_cli.notify.sender import Delivery, Notifier
from soldscope_cli.rotation.flow import Outcome, RotationLost, SecretRefused


def announce_rotated(
    notifier: Notifier, log: NotifiedLog, outcome: Outcome, clock: Callable[[], datetime]
) -> list[Delivery]:
    """Tell the targets the secret was rotated (only a rotation this run did)."""
    if outcome.result != "rotated" or not notifier.targets:
        return []
    alert = secret_rotated_alert(
        outcome.at or clock(),
        outcome.expires_at,
        requested=outcome.requested,
        proven_with=outcome.proven_with,
    )
    return announce(notifier, log, [alert], clock)


def announce_failed(
    notifier: Notifier,
    log: NotifiedLog,
    error: RotationLost | SecretRefused,
    clock: Callable[[], datetime],
) -> list[Delivery]:
    """Tell the targets a rotation did not complete, with the deadline of the secret in use."""
    if not notifier.targets:
        return []
    if isinstance(error, RotationLost):
        alert = rotation_failed_alert("lost", clock(), error.deadline)
    else:
        alert = rotation_failed_alert("refused", clock(), None)
    return announce(notifier, log, [alert], clock)
