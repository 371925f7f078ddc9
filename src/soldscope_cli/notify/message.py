"""Alert wording: one message per alert, or one digest when several stores change at once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from soldscope_cli.notify.alerts import Alert


def compose(alerts: Sequence[Alert]) -> tuple[str, str]:
    """(title, body) of the message announcing these alerts."""
    if len(alerts) == 1:
        alert = alerts[0]
        return f"soldscope: {alert.headline}", _block(alert)
    counts = Counter(a.kind for a in alerts)
    # By event name, so a title never depends on the order the changes were found in.
    ordered = sorted(counts.items(), key=lambda item: item[0].name)
    summary = ", ".join(f"{n} {kind.label}" for kind, n in ordered)
    title = f"soldscope: {len(alerts)} changes ({summary})"
    return title, "\n\n".join(_block(a) for a in alerts)


def _block(alert: Alert) -> str:
    lines = [alert.headline, alert.detail]
    if alert.command:
        lines.append(f"Run: {alert.command}")
    if alert.invite:
        lines.append(f"Or send the seller a renewal link: {alert.invite}")
    return "\n".join(lines)
