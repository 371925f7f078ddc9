"""Settlements: list the V2 settlement reports Amazon generated, load each new one exactly once.

Settlement reports cannot be requested: Amazon writes one about every 14 days and getReports
lists it for 90 days (FACTS.md §8). Each run lists the DONE ones of that window (paged, a repeated
nextToken stopping it) and loads every report not stored yet through the shared download half of
the report lifecycle (`reports.load_document`), inside one transaction per settlement
(db/tables/settlements.py): a killed run leaves nothing, and a settlement another run or host
stored meanwhile is given up cleanly.

Amounts are read in the number format of the report's marketplace (getReports' marketplaceIds;
the store's first marketplace when Amazon names none), never guessed per value: a line whose
value does not parse is rejected, counted and named in the sync's note.
https://developer-docs.amazon.com/sp-api/docs/report-type-values-settlement
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from soldscope_cli.amazon.spapi import SpapiError, SpapiForbidden
from soldscope_cli.datasets.settlements import NAME
from soldscope_cli.datasets.spec import LISTED_AT
from soldscope_cli.db.model import to_db_time
from soldscope_cli.db.tables.settlements import AlreadyLoaded
from soldscope_cli.sync import reports
from soldscope_cli.sync.base import DatasetFailed, DatasetJob, DatasetOutcome, log
from soldscope_cli.sync.document import (
    BadLines,
    DocumentError,
    FlatFile,
    RowBuilder,
    Rows,
)
from soldscope_cli.sync.reports import Period, ReportPolicy, Requested
from soldscope_cli.sync.settlement_rows import (
    LINE_AT,
    LINE_WIDTH,
    SETTLEMENT_AT,
    SettlementRows,
)
from soldscope_cli.sync.values import (
    amount_parser,
    legacy_encoding,
)

REPORT_TYPE = "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"
# getReports lists reports created in the last 90 days at most.
LISTING_WINDOW = timedelta(days=90)
BATCH_ROWS = 5000
POLICY = ReportPolicy()


@dataclass(frozen=True)
class Listed:
    """A DONE settlement report as getReports lists it."""

    report_id: str
    document_id: str
    created: str
    marketplace_ids: tuple[str, ...]


def sync(job: DatasetJob) -> DatasetOutcome:
    """List the settlement reports of the last 90 days and load those not stored yet."""
    outcome = DatasetOutcome()
    listed = list_settlements(job)
    job.db.update_sync_state(
        job.store_id, NAME, job.clock(), set_={LISTED_AT: to_db_time(job.clock())}
    )
    loaded = job.db.settlements.loaded_reports(job.store_id)
    failures: list[DatasetFailed] = []
    for item in sorted(listed, key=lambda r: (r.created, r.report_id)):
        if item.report_id in loaded:
            continue
        job.check_stop()
        try:
            load_settlement(job, item, outcome)
        except AlreadyLoaded:
            outcome.note(f"settlement report {item.report_id}: stored meanwhile by another run")
        except (DocumentError, DatasetFailed, SpapiError) as exc:
            if isinstance(exc, SpapiForbidden):
                raise
            failures.append(_failure(item, exc))
    if failures:
        more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
        first = failures[0]
        raise DatasetFailed(first.message + more, code=first.code, request_id=first.request_id)
    return outcome


def list_settlements(job: DatasetJob) -> list[Listed]:
    """Every DONE V2 settlement report getReports lists for the store (all pages)."""
    since = job.clock() - LISTING_WINDOW
    pages = job.pages("settlement reports")
    token: str | None = None
    found: dict[str, Listed] = {}
    while True:
        page = pages.turn()
        job.progress(f"settlements: listing reports, page {page}")
        body = job.client.get_reports(
            [REPORT_TYPE], processing_statuses=("DONE",), created_since=since, next_token=token
        )
        items = body.get("reports")
        for item in items if isinstance(items, list) else []:
            listed = _listed(item)
            if listed is not None:
                found.setdefault(listed.report_id, listed)
        token = pages.follow(body.get("nextToken"))
        if token is None:
            return list(found.values())


def _listed(item: Any) -> Listed | None:
    if not isinstance(item, dict) or item.get("processingStatus") != "DONE":
        return None
    report_id, document_id = item.get("reportId"), item.get("reportDocumentId")
    if not isinstance(report_id, str) or not isinstance(document_id, str) or not document_id:
        return None
    markets = item.get("marketplaceIds")
    return Listed(
        report_id,
        document_id,
        str(item.get("createdTime") or ""),
        tuple(m for m in markets if isinstance(m, str)) if isinstance(markets, list) else (),
    )


def _failure(item: Listed, exc: Exception) -> DatasetFailed:
    return reports.failure_at(f"settlement report {item.report_id}", exc)


def load_settlement(job: DatasetJob, item: Listed, outcome: DatasetOutcome) -> None:
    """Load one listed report in one transaction (AlreadyLoaded: another load stored it)."""
    marketplace_id = (item.marketplace_ids or tuple(job.marketplace_ids()) or ("",))[0]
    try:
        amount_parser(marketplace_id)
    except ValueError as exc:
        raise DatasetFailed(str(exc), code="marketplace") from None
    dataset = SettlementReport(marketplace_id, outcome)
    period = Period(item.report_id, f"settlement report {item.report_id}", (marketplace_id,))
    with job.db.settlements.loading(job.store_id):
        reports.load_document(
            job, dataset, Requested(period, item.report_id), item.document_id, outcome
        )


@dataclass
class SettlementReport:
    """One listed settlement report as the lifecycle's download half sees a report dataset."""

    marketplace_id: str
    outcome: DatasetOutcome
    name: str = NAME
    label: str = "settlements"
    noun: str = "settlement line"
    period_noun: str = "settlement"
    report_type: str = REPORT_TYPE
    report_options: Mapping[str, str] = field(default_factory=dict)
    policy: ReportPolicy = POLICY

    @property
    def document(self) -> FlatFile:
        # What the dataset declares; each load reads its document with SettlementRows.
        return FlatFile("utf-8", fallback=legacy_encoding(self.marketplace_id))

    @property
    def batch_rows(self) -> int:
        # The module's constant, read when a load starts: the knob tests and benchmarks turn.
        return BATCH_ROWS

    def plan(self, job: DatasetJob) -> list[Period]:
        return []  # listed, never requested

    def load(self, job: DatasetJob, report: Requested) -> SettlementLoad:
        return SettlementLoad(job, report, self.marketplace_id, self.outcome)

    def no_data(self, job: DatasetJob, report: Requested) -> None:
        return None


class SettlementLoad:
    """One settlement's lines going into settlement_lines, its header on every row.

    Its reader and row builder are one picklable `SettlementRows`, so a big settlement is read
    and parsed in the parser process (sync/parser_process.py) while this process only writes.
    """

    def __init__(
        self, job: DatasetJob, report: Requested, marketplace_id: str, outcome: DatasetOutcome
    ) -> None:
        self._job = job
        self._table = job.db.settlements
        self._report = report
        self._marketplace_id = marketplace_id
        self._outcome = outcome
        self._settlement_id = ""
        self._claimed = False
        # What the first row starts and ends with, which the other rows leave out.
        self._start: tuple[Any, ...] = ()
        self._end: tuple[Any, ...] = ()
        self.rejected = BadLines()
        self._rows = SettlementRows(
            self._table.row_start(job.store_id),
            report.report_id,
            marketplace_id,
            to_db_time(job.clock()),
        )

    @property
    def document(self) -> SettlementRows:
        return self._rows

    @property
    def row_builder(self) -> RowBuilder:
        return self._rows

    # Rejected values come back with their batch (Rejecting) and are noted per settlement.
    bad_lines: BadLines | None = None

    def begin(self) -> None:
        return None

    def rows(self, records: list[Any]) -> Rows:
        return self._rows(records)

    def add(self, rows: Rows) -> None:
        self._store(rows)

    def finish(self, rows: Rows, total: int) -> None:
        self._store(rows)
        if not self._claimed:
            raise DocumentError("the document has no settlement line")
        if self.rejected.count:
            self._outcome.note(
                f"settlement {self._settlement_id} (report {self._report.report_id}): "
                f"{self.rejected.count:,} line(s) with a value that does not read as "
                f"{self._marketplace_id}'s format were rejected "
                f"({'; '.join(self.rejected.examples)})",
                warning=True,
            )
        log.info(
            "%s: settlement %s of report %s: %d line(s) stored",
            self._job.name,
            self._settlement_id,
            self._report.report_id,
            total,
        )

    def _store(self, rows: Rows) -> None:
        for line, why in getattr(rows, "rejected", ()):
            self.rejected.add(line, why)
        store_id = self._job.store_id
        if rows and not self._claimed:
            first = rows[0]
            self._table.claim(store_id, first)
            self._claimed = True
            self._settlement_id = first[SETTLEMENT_AT]
            self._start, self._end = first[:LINE_AT], first[LINE_AT + LINE_WIDTH :]
            rows = rows[1:]
        self._table.add_lines(store_id, self._start, rows, self._end)
