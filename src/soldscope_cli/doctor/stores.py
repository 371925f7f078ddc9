"""The stores check: any in error, expired or expiring within 30 days, each with its fix."""

from __future__ import annotations

from datetime import datetime

from soldscope_cli.checks.result import reconnect_hint
from soldscope_cli.db.interface import StateLookup
from soldscope_cli.db.model import StoreState
from soldscope_cli.doctor.model import CheckResult, Level
from soldscope_cli.errors import SoldscopeError
from soldscope_cli.fleet.config import Config
from soldscope_cli.fleet.listing import StoreRow, build_rows, summary
from soldscope_cli.status import EXPIRING_SOON_DAYS, INVALID_GRANT, MISSING_TOKEN, Status

_RECONNECT_CODES = {INVALID_GRANT, MISSING_TOKEN}


def _store_result(row: StoreRow) -> CheckResult | None:
    name = row.name
    expires = row.expires_at.strftime("%Y-%m-%d")
    check_id = f"store:{name}"
    if row.status is Status.ERROR and row.problem is not None:
        problem = row.problem
        detail = f"error since {problem.found_at:%Y-%m-%d}: {problem.code}" + (
            f": {problem.message}" if problem.message else ""
        )
        if problem.code in _RECONNECT_CODES:
            fix = reconnect_hint(row.record)
        else:
            fix = f"fix the cause above, then re-check: soldscope validate {name}"
        return CheckResult(check_id, f"Store {name}", Level.FAIL, detail, fix)
    if row.status is Status.EXPIRED:
        return CheckResult(
            check_id,
            f"Store {name}",
            Level.FAIL,
            f"authorization expired on {expires} (365 days after it was given)",
            reconnect_hint(row.record),
        )
    if row.status is Status.EXPIRING_SOON:
        return CheckResult(
            check_id,
            f"Store {name}",
            Level.WARN,
            f"authorization expires on {expires} ({row.days_left} days left)",
            f"{reconnect_hint(row.record)}, before {expires}; then check: soldscope validate {name}",
        )
    return None


def check_stores(config: Config, database: StateLookup, now: datetime) -> list[CheckResult]:
    """An overview line, then one line per store needing attention.

    Only the store lines carry a warning or failure: the overview counts the stores, so one
    expired store is one failure in the tally, not two.
    """
    title = "Stores"
    if not config.stores:
        return [
            CheckResult(
                "stores",
                title,
                Level.OK,
                "none connected yet (connect one with `soldscope connect NAME --marketplace CC`)",
            )
        ]
    note = ""
    try:
        states: dict[str, StoreState] = database.peek_states(list(config.stores))
    except SoldscopeError as exc:  # unreadable file, or the team database out of reach
        # The database check reports the cause; dates alone still show expiry.
        states = {}
        note = f" (check history unreadable: {exc.message})"
    rows = build_rows(config.stores.values(), states, now)
    results = [r for r in map(_store_result, rows) if r is not None]
    detail = summary(rows) + note
    if results:
        detail += f"; {len(results)} need attention (below)"
    else:
        detail += f"; none expires within {EXPIRING_SOON_DAYS} days"
    return [CheckResult("stores", title, Level.OK, detail), *results]
