"""A connection's history for `soldscope log`: what happened to it, newest first.

Events (connected, reauthorized, status_changed, deleted) and failed sync runs come from the state
database; plain `checked` events are left out unless asked for, since a check that changed
nothing is not part of the audit trail.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from soldscope_cli.db.interface import StateReads
from soldscope_cli.db.model import HistoryEntry
from soldscope_cli.errors import UsageError
from soldscope_cli.fleet.config import Config, store_hint


@dataclass(frozen=True)
class LogQuery:
    """Whose history, from when, and whether plain checks are included."""

    names: Sequence[str] = ()
    since: datetime | None = None
    checks: bool = False


def run_log(config: Config, db: StateReads, query: LogQuery) -> list[HistoryEntry]:
    """The history of the named stores (every store by default), newest first.

    A name matches every connection that ever had it, so a deleted store's history is still shown,
    and the invitations of a name not connected yet.
    An unknown name is a usage error, with the nearest known names.
    """
    wanted = list(dict.fromkeys(query.names))
    store_ids: list[int] | None = None
    if wanted:
        known = set(db.store_names())
        unknown = [n for n in wanted if n not in known and n not in config.stores]
        # A name only invited so far has a history too: its invitations.
        unknown = [n for n in unknown if not db.history([], names=[n], checks=True)]
        if unknown:
            raise UsageError(
                f"no store named {', '.join(repr(n) for n in unknown)}",
                hint=store_hint(unknown, sorted(known | set(config.stores))),
            )
        store_ids = [i for name in wanted for i in db.connections_named(name)]
    return db.history(store_ids, names=wanted, since=query.since, checks=query.checks)
