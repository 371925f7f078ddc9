"""The alert targets: each URL understood by Apprise, and how its last delivery went."""

from __future__ import annotations

from collections.abc import Sequence

from soldscope_cli.doctor.model import AlertTarget, CheckResult, Level

TITLE = "Alert targets"
DOCS = "docs/alerts.md"


def check_alert_targets(targets: Sequence[AlertTarget]) -> list[CheckResult]:
    """One line per target; none configured is fine (alerts are optional)."""
    if not targets:
        return [
            CheckResult(
                "notify",
                TITLE,
                Level.SKIP,
                f"no alert targets configured (SOLDSCOPE_NOTIFY_URLS or [[notify]], see {DOCS})",
            )
        ]
    results: list[CheckResult] = []
    for target in targets:
        check_id = f"notify:{target.label.split(' ')[1]}"
        title = f"Alert {target.label}"
        if not target.understood:
            results.append(
                CheckResult(
                    check_id,
                    title,
                    Level.FAIL,
                    "Apprise does not understand this URL, so nothing can be sent to it",
                    f"correct its scheme and parts (see {DOCS}), then run `soldscope notify test`",
                )
            )
        elif target.last_kind == "failed":
            results.append(
                CheckResult(
                    check_id,
                    title,
                    Level.WARN,
                    f"the last delivery, at {target.last_at}, failed: {target.last_error}",
                    "make the service reachable, then run `soldscope notify test`",
                )
            )
        elif target.last_kind == "ok":
            results.append(
                CheckResult(check_id, title, Level.OK, f"last delivered at {target.last_at}")
            )
        else:
            results.append(
                CheckResult(
                    check_id,
                    title,
                    Level.OK,
                    "the URL is valid; nothing has been sent to it yet",
                    "prove it with `soldscope notify test`",
                )
            )
    return results
