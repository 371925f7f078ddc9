"""Alert wording: one message per alert, or one digest when several stores change at once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from soldscope_cli.notify.alerts import Alert

_NAMES = {
    "error": "in error",
    "expired": "expired",
    "expiring": "expiring soon",
    "recovered": "recovered",
    "sync_failed": "sync failed",
    "app_rejected": "app rejected",
}


def compose(alerts: Sequence[Alert]) -> tuple[str, str]:
    """(title, body) of the message announcing these alerts."""
    if len(alerts) == 1:
        alert = alerts[0]
        return f"soldscope: {alert.headline}", _block(alert)
    counts = Counter(a.event for a in alerts)
    summary = ", ".join(f"{n} {_NAMES[e]}" for e, n in sorted(counts.items()))
    title = f"soldscope: {len(alerts)} changes ({summary})"
    return title, "\n\n".join(_block(a) for a in alerts)


def _block(alert: Alert) -> str:
    lines = [alert.headline, alert.detail]
    if alert.command:
        lines.append(f"Run: {alert.command}")
    return "\n".join(lines)
