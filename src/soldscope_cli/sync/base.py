"""What every dataset shares: the job it is given, the outcome it returns, and field parsing."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import cached_property
from typing import Any, Protocol

from soldscope_cli.amazon.marketplaces import BY_CODE
from soldscope_cli.datasets import registry
from soldscope_cli.db.interface import DatasetDatabase
from soldscope_cli.db.model import BRAND_ANALYTICS, FINANCES, INVENTORY
from soldscope_cli.fleet.config import StoreRecord

__all__ = ["BRAND_ANALYTICS", "FINANCES", "INVENTORY"]

log = logging.getLogger("soldscope_cli.sync")


class SyncClient(Protocol):
    """The SP-API calls the datasets make (soldscope_cli.amazon.spapi.SpapiClient provides them)."""

    def get_marketplace_participations(self) -> list[dict[str, Any]]: ...

    def get_inventory_summaries(
        self,
        marketplace_id: str,
        *,
        details: bool = True,
        start_date_time: datetime | None = None,
        next_token: str | None = None,
    ) -> dict[str, Any]: ...

    def list_transactions(
        self,
        *,
        posted_after: datetime,
        posted_before: datetime | None = None,
        marketplace_id: str | None = None,
        next_token: str | None = None,
    ) -> dict[str, Any]: ...

    def create_report(
        self,
        report_type: str,
        marketplace_ids: Sequence[str],
        *,
        data_start_time: datetime | None = None,
        data_end_time: datetime | None = None,
        report_options: Mapping[str, str] | None = None,
    ) -> str: ...

    def get_reports(
        self,
        report_types: Sequence[str] | None = None,
        *,
        processing_statuses: Sequence[str] = (),
        created_since: datetime | None = None,
        page_size: int = 100,
        next_token: str | None = None,
    ) -> dict[str, Any]: ...

    def get_report(self, report_id: str) -> dict[str, Any]: ...

    def get_report_document(self, document_id: str) -> dict[str, Any]: ...

    def open_document(self, url: str) -> AbstractContextManager[Iterator[bytes]]: ...

    def create_query(self, query: str, *, pagination_token: str | None = None) -> str: ...

    def get_query(self, query_id: str) -> dict[str, Any]: ...

    def get_document(self, document_id: str) -> dict[str, Any]: ...


class DatasetFailed(Exception):
    """A dataset could not finish; what it stored so far stays valid (marks are transactional)."""

    def __init__(self, message: str, *, code: str = "failed", request_id: str | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.request_id = request_id


# Backstops for a pagination that never ends with fresh tokens (a repeated one is caught at once):
# far beyond what a real store needs (inventory: 2.5 million items at 50 a page; finances: every
# 180-day window's pages together), and short enough that a stuck dataset cannot hold the sync
# lock, and with it every later cron run, for more than a few hours.
MAX_PAGES = 50_000
MAX_DATASET_SECONDS = 6 * 3600.0


class SyncStopped(Exception):
    """The run is stopping (Ctrl-C): leave the dataset at its last stored batch, cursor included."""


class StopSignal:
    """One run's stop request, shared by every store's worker; its sleeps end when it is set."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        """Ask every worker to stop at its next page, batch or poll."""
        self._event.set()

    def is_set(self) -> bool:
        """Whether a stop was asked for."""
        return self._event.is_set()

    def check(self) -> None:
        """Raise SyncStopped once a stop was asked for."""
        if self._event.is_set():
            raise SyncStopped

    def sleeper(self, sleep: Callable[[float], None]) -> Callable[[float], None]:
        """`sleep` that a stop cuts short (SyncStopped); a test's fake sleep is kept as it is."""

        def stoppable(seconds: float) -> None:
            self.check()
            if sleep is time.sleep:
                self._event.wait(seconds)
            else:
                sleep(seconds)
            self.check()

        return stoppable


@dataclass(frozen=True)
class Note:
    """Something a dataset wants the user to know; warnings also show with --quiet."""

    text: str
    warning: bool = False


@dataclass
class DatasetOutcome:
    """What one dataset sync of one store did."""

    rows_added: int = 0
    rows_updated: int = 0
    notes: list[Note] = field(default_factory=list)
    left: int = 0  # pieces (weeks, reports) this run left for the next ones

    def leave(self, count: int, text: str) -> None:
        """Note work left for the next syncs: a --since backfill is then not complete."""
        self.left += count
        self.note(text)

    def note(self, text: str, *, warning: bool = False) -> None:
        """Add a note (logged too, so the log file tells the same story)."""
        self.notes.append(Note(text, warning))
        (log.warning if warning else log.info)("%s", text)

    def count(self, added: int, updated: int) -> None:
        """Add row counts."""
        self.rows_added += added
        self.rows_updated += updated


@dataclass
class DatasetJob:
    """Everything a dataset needs to sync one store; collaborators are injected for tests."""

    store: StoreRecord
    client: SyncClient
    db: DatasetDatabase
    clock: Callable[[], datetime]
    sleep: Callable[[float], None]
    since: datetime | None = None
    options: Mapping[str, int] = field(default_factory=dict)  # the datasets' options, by key
    known_id: int | None = None  # the connection's id, as the runner resolved it for the run
    report_wait_s: float = 1800.0
    progress: Callable[[str], None] = lambda text: None
    stopping: Callable[[], bool] = lambda: False
    monotonic: Callable[[], float] = time.monotonic
    max_pages: int = MAX_PAGES  # pages of the whole dataset (every marketplace or window)
    max_seconds: float = MAX_DATASET_SECONDS  # the dataset's wall time
    pages_read: int = field(default=0, init=False)
    began: float = field(default=0.0, init=False)

    def __post_init__(self) -> None:
        self.began = self.monotonic()

    def check_stop(self) -> None:
        """Raise SyncStopped when the run is stopping: called before each page, batch and poll."""
        if self.stopping():
            raise SyncStopped

    def pages(self, where: str) -> Pages:
        """The guard of one pagination (`where`: what it reads, e.g. "marketplace ATVPDKIKX0DER")."""
        return Pages(self, where)

    @property
    def name(self) -> str:
        return self.store.name

    def option(self, key: str) -> int:
        """A dataset option's value for this run: given (flag or [sync]), else its default."""
        return self.options.get(key, registry.OPTIONS[key].default)

    @cached_property
    def store_id(self) -> int:
        """The id of the connection being synced (rows reference it, not the name)."""
        if self.known_id is not None:
            return self.known_id
        return self.db.store_id(self.store.name)

    def marketplace_ids(self) -> list[str]:
        """The store's marketplace ids, in config order."""
        return [BY_CODE[code].marketplace_id for code in self.store.marketplaces]


class Pages:
    """One pagination, guarded: a nextToken Amazon sent before, too many pages or too long a
    dataset fail the dataset instead of paging on forever.

    Amazon has answered pages with the token it was asked with (selling-partner-api-models issues
    #2947, #4713); following it would re-read the same page until the process is killed, while
    the sync lock keeps every later run out. Rows stored so far stay; a cursor moves only with a
    pagination's last page, so the next sync reads the rest again.
    """

    def __init__(self, job: DatasetJob, where: str) -> None:
        self._job = job
        self._where = where
        self._seen: set[str] = set()
        self._repeated = False
        self.number = 0

    def turn(self) -> int:
        """Before a page is requested: stop if asked to, enforce the caps; the page's number."""
        job = self._job
        job.check_stop()
        if self._repeated:
            raise DatasetFailed(
                f"{self._where}: Amazon sent the same nextToken again after page "
                f"{self.number}, so its pages would never end; stopped (the rows read so far are "
                "stored, the next sync reads this part again; if it keeps happening, report it "
                "to Amazon's Selling Partner API support)",
                code="repeated_next_token",
            )
        if job.pages_read >= job.max_pages:
            raise DatasetFailed(
                f"{self._where}: stopped after {job.pages_read} pages, the most one dataset's "
                "sync reads; the rows read so far are stored and the next sync starts this part "
                "over",
                code="page_limit",
            )
        elapsed = job.monotonic() - job.began
        if elapsed >= job.max_seconds:
            raise DatasetFailed(
                f"{self._where}: stopped after {_duration(elapsed)}, the longest one dataset's "
                f"sync may run ({_duration(job.max_seconds)}); the rows read so far are stored "
                "and the next sync starts this part over",
                code="time_limit",
            )
        job.pages_read += 1
        self.number += 1
        return self.number

    def follow(self, token: Any) -> str | None:
        """The nextToken of the page just read (None: it was the last).

        A token seen before is returned too, so the page that carried it is stored like any
        other, and the next `turn` fails the dataset instead of requesting it again.
        """
        if not isinstance(token, str) or not token:
            return None
        if token in self._seen:
            self._repeated = True
        self._seen.add(token)
        return token


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:g} h" if seconds % 3600 == 0 else f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.0f} s"


def raw_json(value: Any) -> str:
    """Compact JSON of one item as Amazon sent it (key order kept, decimals exact)."""
    return "".join(_encode(value))


def _encode(value: Any) -> Iterator[str]:
    # json.dumps cannot write a Decimal as a number; the SP-API client parses numbers with a
    # fraction as Decimal (no float rounding), so this writes them back digit for digit.
    if isinstance(value, Decimal):
        yield str(value)
    elif isinstance(value, Mapping):
        yield "{"
        for i, (key, item) in enumerate(value.items()):
            if i:
                yield ","
            yield json.dumps(str(key), ensure_ascii=False)
            yield ":"
            yield from _encode(item)
        yield "}"
    elif isinstance(value, list | tuple):
        yield "["
        for i, item in enumerate(value):
            if i:
                yield ","
            yield from _encode(item)
        yield "]"
    else:
        yield json.dumps(value, ensure_ascii=False)


def as_int(value: Any) -> int | None:
    """An integer field, or None when absent or not a number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def as_decimal(value: Any) -> str | None:
    """A BigDecimal field as exact decimal text ("-12.34"), or None when absent or not a number.

    Amazon's BigDecimal arrives as a JSON number; the SP-API client parses it as a Decimal, so no
    float ever rounds it. Plain notation, with the scale Amazon sent.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):  # only from a caller that parsed JSON itself
        value = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            value = Decimal(value.strip())
        except InvalidOperation:
            return None
    if isinstance(value, Decimal) and value.is_finite():
        return format(value, "f")
    return None


def as_text(value: Any) -> str | None:
    """A string field, or None when absent or empty."""
    return value if isinstance(value, str) and value != "" else None


def dig(item: Mapping[str, Any], *path: str) -> Any:
    """item[path[0]][path[1]]..., or None when any level is missing or not an object."""
    value: Any = item
    for part in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value
