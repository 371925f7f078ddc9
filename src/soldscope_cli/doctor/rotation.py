"""The client secret's rotation setup: queue reachable, enrollment, days left, unresolved failures.

Amazon has no dry run of rotateApplicationClientSecret (every accepted call rotates), so
"enrolled" is judged from evidence: a rotation message this app received through the queue
confirms it; before the first one it is "not confirmed yet", a warning, not a failure.
"""

from __future__ import annotations

from datetime import datetime

from soldscope_cli.doctor.model import CheckResult, Level, RotationFacts
from soldscope_cli.fleet.config import format_time

CHECK_ID = "rotation"
TITLE = "Secret rotation"


def check_rotation(
    facts: RotationFacts | None, now: datetime, *, offline: bool
) -> list[CheckResult]:
    """One line on the rotation setup; none where no rotation queue is configured (the client
    secret is rotated by hand there, and the app check's rotation date covers it)."""
    if facts is None or facts.state.queue_url is None:
        return []
    return [_check(facts, now, offline=offline)]


def _check(facts: RotationFacts, now: datetime, *, offline: bool) -> CheckResult:
    state = facts.state
    if state.problem is not None:
        what = {
            "lost": "Amazon rotated the secret but its message never arrived",
            "refused": "Login with Amazon refused the new secret",
            "requested": f"a rotation requested {_when(state.requested_at)} has not completed",
        }.get(state.problem, "a rotation did not complete")
        by = (
            f"; the secret in use stops working by {format_time(state.deadline)}"
            if (state.deadline)
            else ""
        )
        return CheckResult(
            CHECK_ID,
            TITLE,
            Level.FAIL,
            f"{what}{by}",
            "run `soldscope app rotate` (docs/rotation.md#when-it-fails)",
        )
    if facts.queue_error is not None:
        return CheckResult(CHECK_ID, TITLE, Level.FAIL, facts.queue_error, facts.queue_fix)
    parts = []
    if offline:
        parts.append(f"queue {state.queue_url} not checked (--offline)")
    else:
        waiting = facts.queue_messages or 0
        parts.append(f"queue reachable ({waiting} message(s) waiting)")
    if facts.confirmed_at is not None:
        parts.append(f"enrolled (Amazon's message of {_when(facts.confirmed_at)})")
    days = state.days_left(now)
    if state.expires_at is not None:
        parts.append(f"secret expires {format_time(state.expires_at)} ({days} days left)")
    level = Level.OK
    fix = None
    if state.pending == "secret":
        level, fix = Level.WARN, "run `soldscope app rotate` to finish storing the new secret"
        parts.append("a new secret awaits proof")
    elif state.due(now):
        level = Level.WARN
        fix = "run `soldscope app rotate` (or keep `sync --watch` or `serve` running: they rotate)"
        parts.append(f"due: within {state.days_before} days of expiry")
    elif facts.confirmed_at is None:
        level = Level.WARN
        fix = (
            "run `soldscope app rotate` once: Amazon has no dry run, so enrollment is confirmed "
            "by the first rotation"
        )
        parts.append("enrollment not confirmed yet")
    return CheckResult(CHECK_ID, TITLE, level, "; ".join(parts), fix)


def _when(moment: datetime | None) -> str:
    return "?" if moment is None else format_time(moment)
