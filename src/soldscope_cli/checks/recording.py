"""Recording checks: each one with its event, so the log tells when a store's status changed.

validate and sync both record through a CheckRecorder, so a status change is logged the same way
whichever command found it.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from soldscope_cli.checks.result import StoreCheck
from soldscope_cli.db.interface import Database
from soldscope_cli.db.model import CHECK_OK, CHECK_PROBLEM, StoreDeleted, StoreState
from soldscope_cli.fleet.config import StoreRecord
from soldscope_cli.fleet.listing import build_row
from soldscope_cli.status import Problem


class CheckRecorder:
    """Writes checks and their events, keeping the known states current for status diffs.

    Safe to call from several threads: one store's check and event go in one transaction.
    """

    def __init__(
        self,
        db: Database,
        records: Iterable[StoreRecord],
        states: Mapping[str, StoreState],
        clock: Callable[[], datetime],
        source: str,
    ) -> None:
        self.db = db
        self.records = {record.name: record for record in records}
        self.states = dict(states)
        self.clock = clock
        self.source = source
        self._lock = threading.Lock()

    def snapshot(self) -> dict[str, StoreState]:
        """The states as the recorded checks left them."""
        with self._lock:
            return dict(self.states)

    def record(self, check: StoreCheck) -> None:
        """Append the check; log status_changed when the status moves, else checked."""
        record = self.records[check.store]
        with self._lock:
            now = self.clock()
            before = self.states.get(check.store) or StoreState()
            after = next_state(before, check, now)
            old_status = build_row(record, before, now).status
            new_status = build_row(record, after, now).status
            try:
                with self.db.store_transaction(self.db.store_id(check.store)) as tx:
                    self.db.record_check(check.to_record(now, self.source), tx=tx)
                    if new_status != old_status:
                        detail: dict[str, Any] = {
                            "from": old_status.value,
                            "to": new_status.value,
                        }
                        if check.code and check.outcome != CHECK_OK:
                            detail["code"] = check.code
                        self.db.log_event("status_changed", now, check.store, detail, tx=tx)
                    else:
                        self.db.log_event(
                            "checked", now, check.store, {"outcome": check.outcome}, tx=tx
                        )
            except StoreDeleted:
                return  # deleted while it was being checked: nothing of it may be written
            self.states[check.store] = after


def next_state(state: StoreState, check: StoreCheck, now: datetime) -> StoreState:
    """The state after a check; mirrors the database's reading: only ok and problem conclude."""
    if check.outcome == CHECK_OK:
        return dataclasses.replace(state, problem=None, last_checked_at=now)
    if check.outcome == CHECK_PROBLEM:
        problem = Problem(check.code or "unknown", check.message or "", now, check.request_id)
        return dataclasses.replace(state, problem=problem, last_checked_at=now)
    return dataclasses.replace(state, last_checked_at=now)
