"""How each alert target stands: its URL understood by Apprise, its last delivery (for doctor)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from soldscope_cli.notify.announce import fingerprint
from soldscope_cli.notify.targets import Target


@dataclass(frozen=True)
class TargetHealth:
    label: str
    understood: bool
    last: Mapping[str, Any] | None  # the last delivery's record: kind, at, error


def understood(url: str) -> bool:
    """Whether Apprise can parse the URL (no message is sent)."""
    import apprise

    return bool(apprise.Apprise().add(url))


def target_health(
    targets: Sequence[Target], deliveries: Mapping[str, Mapping[str, Any]]
) -> list[TargetHealth]:
    """Every target, with the delivery record `announce.last_deliveries` found for it."""
    return [
        TargetHealth(t.label, understood(t.url), deliveries.get(fingerprint(t.url)))
        for t in targets
    ]
