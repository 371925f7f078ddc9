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

import operator
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from soldscope_cli.amazon.spapi import SpapiError, SpapiForbidden
from soldscope_cli.datasets.settlements import LINE_FIELDS, NAME
from soldscope_cli.datasets.spec import LISTED_AT
from soldscope_cli.db.model import to_db_time
from soldscope_cli.db.tables.settlements import AlreadyLoaded
from soldscope_cli.sync import reports
from soldscope_cli.sync.base import DatasetFailed, DatasetJob, DatasetOutcome, log
from soldscope_cli.sync.document import BadLines, DocumentError, FlatFile, Rows
from soldscope_cli.sync.reports import Period, ReportPolicy, Requested
from soldscope_cli.sync.values import amount_parser, decimal_text, legacy_encoding, parse_time

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
    where = f"settlement report {item.report_id}"
    if isinstance(exc, SpapiError):
        return DatasetFailed(
            f"{where}: {exc.operation} failed: {exc.status or ''} {exc.code} {exc.message}".strip(),
            code=exc.code,
            request_id=exc.request_id,
        )
    if isinstance(exc, DatasetFailed):
        return DatasetFailed(f"{where}: {exc.message}", code=exc.code, request_id=exc.request_id)
    return DatasetFailed(f"{where}: {exc}", code="document")


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
    """One settlement's lines going into settlement_lines, its header on every row."""

    def __init__(
        self, job: DatasetJob, report: Requested, marketplace_id: str, outcome: DatasetOutcome
    ) -> None:
        self._job = job
        self._table = job.db.settlements
        self._report = report
        self._marketplace_id = marketplace_id
        self._outcome = outcome
        self._amount = amount_parser(marketplace_id)
        # Every row starts with the store and the settlement's header and ends with the time it
        # was stored: both fixed once the first line is read.
        self._prefix: tuple[Any, ...] | None = None
        self._suffix = (self._table.time(job.clock()),)
        self._settlement_id = ""
        self._line = 0
        self._claimed = False
        self.rejected = BadLines()

    def begin(self) -> None:
        return None

    def rows(self, records: list[Any]) -> Rows:
        out: Rows = []
        row = self._row
        for record in records:
            self._line += 1
            if self._prefix is None:
                out.append(self._header_row(record))
                continue
            try:
                out.append(row(record))
            except (ValueError, KeyError) as exc:
                self.rejected.add(self._line + 1, str(exc))  # +1: the column names' line
        return out

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
        store_id = self._job.store_id
        if rows and not self._claimed:
            self._table.claim(store_id, rows[0])
            self._claimed = True
            rows = rows[1:]
        self._table.add_lines(store_id, rows)

    def _header_row(self, record: dict[str, str]) -> tuple[Any, ...]:
        """The first line: the settlement's header, which every row then carries."""
        record = {key: text.replace("\x00", "") for key, text in record.items()}
        settlement_id = record.get("settlement-id", "").strip()
        if not settlement_id:
            raise DocumentError("the first line names no settlement-id")
        try:
            start, end, deposit = (_time(record.get(column, "")) for column in _HEADER_TIMES)
            total = _decimal(self._amount, record.get("total-amount", ""))
            fields = self._fields(record)
        except (ValueError, KeyError) as exc:
            raise DocumentError(f"settlement {settlement_id}'s first line: {exc}") from None
        self._settlement_id = settlement_id
        header = (
            settlement_id,
            self._report.report_id,
            self._marketplace_id,
            start,
            end,
            deposit,
            total,
            record.get("currency", "").strip() or None,
        )
        self._prefix = self._table.line_prefix(self._job.store_id, header)
        return (*self._prefix, self._line, *fields, *self._suffix)

    def _row(self, record: dict[str, str]) -> tuple[Any, ...]:
        settlement_id = record["settlement-id"]
        if settlement_id != self._settlement_id and settlement_id.strip() not in (
            "",
            self._settlement_id,
        ):
            raise ValueError(f"settlement-id {settlement_id} in settlement {self._settlement_id}")
        assert self._prefix is not None
        return (*self._prefix, self._line, *self._fields(record), *self._suffix)

    def _fields(self, record: dict[str, str]) -> list[Any]:
        """The line's fields in LINE_FIELDS order, amounts, times and quantities read, without
        U+0000 (which neither engine stores as text; the table relies on its absence)."""
        texts = _PICK(record)
        if "\x00" in "".join(texts):
            texts = [text.replace("\x00", "") for text in texts]
        values: list[Any] = [text.strip() or None for text in texts]
        amount = values[_AMOUNT]
        if amount is not None:
            values[_AMOUNT] = decimal_text(self._amount(amount))
        posted = values[_POSTED] or record.get("posted-date", "").strip()
        values[_POSTED] = self._table.time(_time(posted)) if posted else None
        quantity = values[_QUANTITY]
        if quantity is not None:
            values[_QUANTITY] = int(quantity)
        return values


_HEADER_TIMES = ("settlement-start-date", "settlement-end-date", "deposit-date")
# One C call picks a line's fields: a dict lookup per field was a fifth of the load.
_PICK = operator.itemgetter(*(column for _, column, _ in LINE_FIELDS))
_NAMES = [name for name, _, _ in LINE_FIELDS]
_AMOUNT = _NAMES.index("amount")
_POSTED = _NAMES.index("posted_at")
_QUANTITY = _NAMES.index("quantity_purchased")


def _time(text: str) -> datetime | None:
    text = text.strip()
    if not text:
        return None
    if len(text) == 25 and text.endswith("+00:00"):
        # Amazon's usual shape, read by the C parser (every other shape by parse_time).
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            pass
    return parse_time(text)


def _decimal(parse: Any, text: str) -> str | None:
    if not text.strip():
        return None
    value: Decimal = parse(text)
    return decimal_text(value)
