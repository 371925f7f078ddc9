"""The Reports API lifecycle, once for every report dataset.

A report dataset declares what it asks Amazon for and where the rows go (`ReportDataset`); `sync`
does the rest the same way for each: createReport → getReport, polled with backoff →
getReportDocument → a streamed download (fetched and gunzipped a few blocks ahead on a helper
thread), parsed and written in batches.

The ledger is the dataset's `sync_state`: `inflight:<key>` holds the report id of a period from
the moment Amazon accepts the request, so the next run polls a report a dead run asked for instead
of asking again; `fatal:<key>` holds when a period last ended FATAL, how often, and Amazon's reason.
https://developer-docs.amazon.com/sp-api/docs/reports-api-v2021-06-30-reference (FACTS.md §7, §8)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from soldscope_cli.amazon.spapi import SpapiError, SpapiForbidden, SpapiNotFound
from soldscope_cli.db.model import from_db_time, to_db_time
from soldscope_cli.sync.base import DatasetFailed, DatasetJob, DatasetOutcome, log
from soldscope_cli.sync.document import (
    BadLines,
    DocumentError,
    DocumentFormat,
    ReadAhead,
    RowBuilder,
    Rows,
    read_head,
)
from soldscope_cli.sync.parser_process import parsed_batches
from soldscope_cli.untrusted import printable

INFLIGHT = "inflight:"
FATAL = "fatal:"
# A FATAL report's document is a short error message; more than this is not a message.
ERROR_DOCUMENT_BYTES = 64 * 1024
REASON_CHARS = 300


@dataclass(frozen=True)
class ReportPolicy:
    """How patient the lifecycle is with Amazon; the defaults suit every Reports API dataset."""

    poll_first_s: float = 5.0
    poll_factor: float = 1.5
    poll_max_s: float = 60.0
    # A FATAL period is asked for again after the cooldown, at most this many times in all.
    fatal_cooldown: timedelta = timedelta(hours=24)
    max_fatal_attempts: int = 3
    # Amazon builds reports in minutes to hours; one still unfinished after this long is stuck
    # and is requested afresh rather than polled forever.
    stale_age: timedelta = timedelta(days=3)
    # createReport and getReportDocument refill one token a minute after a burst of 15: asking for
    # more in one run would only wait on the rate limiter. The next runs request the rest.
    max_new_reports: int = 15


@dataclass(frozen=True)
class Period:
    """One report a dataset wants: the ledger key that names it and createReport's arguments."""

    key: str  # unique within the dataset and store, e.g. "ATVPDKIKX0DER:2026-11-15"
    label: str  # how messages name it, e.g. "ATVPDKIKX0DER week 2026-11-15"
    marketplace_ids: tuple[str, ...]
    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True)
class Requested:
    """A period and the report Amazon accepted for it."""

    period: Period
    report_id: str

    @property
    def ledger_keys(self) -> tuple[str, str]:
        """The period's ledger entries, which loading it removes (in the same transaction)."""
        return INFLIGHT + self.period.key, FATAL + self.period.key


class ReportLoad(Protocol):
    """Where one report's rows go; created by the dataset for each document it loads."""

    def begin(self) -> None:
        """Start the load, once the download link is in hand."""
        ...

    def rows(self, records: list[Any]) -> Rows:
        """The row parser: a batch of the document's records (JSON objects, or a flat file's
        {column: text}) as the rows `add` and `finish` store."""
        ...

    @property
    def row_builder(self) -> RowBuilder | None:
        """`rows` as a picklable callable (a module-level function, a functools.partial of one,
        an instance of a module-level class), read after `begin`: a big document is then parsed
        in a child process (sync/parser_process.py). None: always parsed here."""
        ...

    @property
    def document(self) -> DocumentFormat | None:
        """How this load reads its document (a Japanese store's flat file in Shift_JIS); None:
        as the dataset reads every document."""
        ...

    @property
    def bad_lines(self) -> BadLines | None:
        """Where the load counts values it rejects itself, for the same note as the reader's
        skipped lines; None when it rejects none (or tells them its own way)."""
        ...

    def add(self, rows: Rows) -> None:
        """Store a full batch, not yet visible."""
        ...

    def finish(self, rows: Rows, total: int) -> None:
        """Store the last rows and publish the load, forgetting the ledger keys, in one
        transaction."""
        ...


class ReportDataset(Protocol):
    """What a report dataset declares; `sync(job, dataset)` does the rest."""

    @property
    def name(self) -> str:
        """The dataset's name: its sync_state namespace."""
        ...

    @property
    def label(self) -> str:
        """How progress and notes name it ("brand analytics")."""
        ...

    @property
    def noun(self) -> str:
        """What a row is, for the log ("search term")."""
        ...

    @property
    def period_noun(self) -> str:
        """What a period is, for notes ("week")."""
        ...

    @property
    def report_type(self) -> str: ...

    @property
    def report_options(self) -> Mapping[str, str]: ...

    @property
    def document(self) -> DocumentFormat:
        """How its documents are read (JsonDocument or FlatFile)."""
        ...

    @property
    def batch_rows(self) -> int:
        """Rows per write transaction."""
        ...

    @property
    def policy(self) -> ReportPolicy: ...

    def plan(self, job: DatasetJob) -> list[Period]:
        """The periods not loaded yet, in the order to request them."""
        ...

    def load(self, job: DatasetJob, report: Requested) -> ReportLoad:
        """Get ready to load a DONE report (clear what an interrupted load left)."""
        ...

    def no_data(self, job: DatasetJob, report: Requested) -> None:
        """Record a CANCELLED report's period as loaded without rows, forgetting its ledger keys."""
        ...


def sync(job: DatasetJob, dataset: ReportDataset) -> DatasetOutcome:
    """Resume in-flight reports, request the missing periods, then load each one as it is done."""
    outcome = DatasetOutcome()
    policy = dataset.policy
    inflight = job.db.sync_state(job.store_id, dataset.name, INFLIGHT)
    fatal = job.db.sync_state(job.store_id, dataset.name, FATAL)
    tracked: list[Requested] = []
    wanted: list[Period] = []
    for period in dataset.plan(job):
        raw = inflight.get(INFLIGHT + period.key)
        if raw is not None:
            report = Requested(period, json.loads(raw)["report_id"])
            if not _stale(job, raw, policy):
                tracked.append(report)
                continue
            _forget(job, dataset, report)
            outcome.note(
                f"{period.label}: report {report.report_id} was still not done "
                f"after {policy.stale_age.days} days; requesting it again",
                warning=True,
            )
        if _cooling_down(job, fatal.get(FATAL + period.key), policy):
            continue
        wanted.append(period)
    if tracked:
        log.info("%s: resuming %d %s report(s)", job.name, len(tracked), dataset.label)
    for period in wanted[: policy.max_new_reports]:
        job.check_stop()
        tracked.append(_request(job, dataset, period))
    if len(wanted) > policy.max_new_reports:
        outcome.leave(
            len(wanted) - policy.max_new_reports,
            f"{len(wanted) - policy.max_new_reports} more {dataset.period_noun}(s) will be "
            f"requested by the next syncs (Amazon allows about {policy.max_new_reports} report "
            "requests at once)",
        )
    _poll(job, dataset, tracked, outcome)
    return outcome


def _stale(job: DatasetJob, raw: str, policy: ReportPolicy) -> bool:
    """Whether an in-flight report was requested longer ago than Amazon ever takes."""
    created = json.loads(raw).get("created_at")
    if not isinstance(created, str):
        return False
    return job.clock() - from_db_time(created) > policy.stale_age


def _cooling_down(job: DatasetJob, raw: str | None, policy: ReportPolicy) -> bool:
    if raw is None:
        return False
    fatal = json.loads(raw)
    if int(fatal.get("count", 1)) >= policy.max_fatal_attempts:
        return True
    return job.clock() < from_db_time(fatal["at"]) + policy.fatal_cooldown


def _request(job: DatasetJob, dataset: ReportDataset, period: Period) -> Requested:
    job.progress(f"{dataset.label} {period.label}: requesting the report")
    report_id = job.client.create_report(
        dataset.report_type,
        list(period.marketplace_ids),
        data_start_time=period.start,
        data_end_time=period.end,
        report_options=dataset.report_options,
    )
    # Persisted at once: a crash from here on resumes this report instead of requesting another.
    job.db.update_sync_state(
        job.store_id,
        dataset.name,
        job.clock(),
        set_={
            INFLIGHT + period.key: json.dumps(
                {"report_id": report_id, "created_at": to_db_time(job.clock())}
            )
        },
    )
    log.info("%s %s: requested report %s", job.name, period.label, report_id)
    return Requested(period, report_id)


def _poll(
    job: DatasetJob, dataset: ReportDataset, tracked: list[Requested], outcome: DatasetOutcome
) -> None:
    policy = dataset.policy
    deadline = job.clock() + timedelta(seconds=job.report_wait_s)
    delay = policy.poll_first_s
    remaining = list(tracked)
    failures: list[DatasetFailed] = []
    while remaining:
        waiting: list[Requested] = []
        for report in remaining:
            job.check_stop()
            try:
                if not _advance(job, dataset, report, outcome):
                    waiting.append(report)
            except (DocumentError, DatasetFailed) as exc:
                failures.append(_failure(report, exc))
            except SpapiError as exc:
                if isinstance(exc, SpapiForbidden):
                    raise
                failures.append(_failure(report, exc))
        remaining = waiting
        if not remaining:
            break
        if job.clock() + timedelta(seconds=delay) > deadline:
            outcome.leave(
                len(remaining),
                f"{len(remaining)} report(s) still processing at Amazon; the next sync loads them",
            )
            break
        job.progress(f"{dataset.label}: waiting for {len(remaining)} report(s)")
        job.sleep(delay)
        delay = min(delay * policy.poll_factor, policy.poll_max_s)
    if failures:
        first = failures[0]
        more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
        raise DatasetFailed(first.message + more, code=first.code, request_id=first.request_id)


def _failure(report: Requested, exc: Exception) -> DatasetFailed:
    return failure_at(report.period.label, exc)


def failure_at(where: str, exc: Exception) -> DatasetFailed:
    """One document's failure as a DatasetFailed whose message starts with `where`."""
    if isinstance(exc, SpapiError):
        return DatasetFailed(
            f"{where}: {exc.operation} failed: {exc.status or ''} {exc.code} {exc.message}".strip(),
            code=exc.code,
            request_id=exc.request_id,
        )
    if isinstance(exc, DatasetFailed):
        return DatasetFailed(f"{where}: {exc.message}", code=exc.code, request_id=exc.request_id)
    return DatasetFailed(f"{where}: {exc}", code="document")


def _advance(
    job: DatasetJob, dataset: ReportDataset, report: Requested, outcome: DatasetOutcome
) -> bool:
    """Check one report; load, mark or record it when final. False while Amazon is still at it."""
    where = report.period.label
    try:
        body = job.client.get_report(report.report_id)
    except SpapiNotFound:
        # Reports live 90 days; a lost one is simply requested again next time.
        _forget(job, dataset, report)
        outcome.note(
            f"{where}: report {report.report_id} no longer exists at Amazon; it will be "
            "requested again",
            warning=True,
        )
        return True
    status = body.get("processingStatus")
    if status == "DONE":
        document_id = body.get("reportDocumentId")
        if not isinstance(document_id, str) or not document_id:
            raise DatasetFailed(f"report {report.report_id} is DONE without a document")
        load_document(job, dataset, report, document_id, outcome)
        return True
    if status == "CANCELLED":
        # Amazon cancels a report that has no data: the period is loaded, with no rows.
        dataset.no_data(job, report)
        outcome.note(f"{where}: no data (report CANCELLED)")
        return True
    if status == "FATAL":
        _record_fatal(job, dataset, report, body.get("reportDocumentId"), outcome)
        return True
    return False


def _forget(job: DatasetJob, dataset: ReportDataset, report: Requested) -> None:
    job.db.update_sync_state(
        job.store_id, dataset.name, job.clock(), delete=[INFLIGHT + report.period.key]
    )


def _record_fatal(
    job: DatasetJob,
    dataset: ReportDataset,
    report: Requested,
    document_id: object,
    outcome: DatasetOutcome,
) -> None:
    policy = dataset.policy
    reason = _fatal_reason(job, report, document_id)
    key = FATAL + report.period.key
    previous = job.db.get_sync_state(job.store_id, dataset.name, key)
    count = (int(json.loads(previous).get("count", 1)) if previous else 0) + 1
    now = job.clock()
    mark: dict[str, Any] = {"at": to_db_time(now), "count": count, "report_id": report.report_id}
    if reason:
        mark["reason"] = reason
    job.db.update_sync_state(
        job.store_id,
        dataset.name,
        now,
        set_={key: json.dumps(mark)},
        delete=[INFLIGHT + report.period.key],
    )
    then = (
        f"retrying after {policy.fatal_cooldown.total_seconds() / 3600:.0f} h"
        if count < policy.max_fatal_attempts
        else f"giving up after {count} attempts"
    )
    outcome.note(
        f"{report.period.label}: Amazon could not produce the report (FATAL, report "
        f"{report.report_id}); {then}" + (f". Amazon's reason: {reason}" if reason else ""),
        warning=True,
    )


def _fatal_reason(job: DatasetJob, report: Requested, document_id: object) -> str | None:
    """Amazon's reason for a FATAL report: the text of the report's own document, when it has one.

    A reason that cannot be read leaves the FATAL as it is; it never fails the dataset.
    """
    if not isinstance(document_id, str) or not document_id:
        return None
    try:
        document = job.client.get_report_document(document_id)
        url = document.get("url")
        if not isinstance(url, str) or not url:
            return None
        with job.client.open_document(url) as chunks:
            data, more = read_head(chunks, ERROR_DOCUMENT_BYTES)
    except (SpapiError, DocumentError) as exc:
        log.warning(
            "%s %s: the error document of FATAL report %s could not be read: %s",
            job.name,
            report.period.label,
            report.report_id,
            exc,
        )
        return None
    return amazon_reason(data, complete=not more)


def amazon_reason(data: bytes, *, complete: bool = True) -> str | None:
    """The message of a FATAL report's document, as one clean line of at most REASON_CHARS.

    Amazon writes `{"errorDetails": "..."}` (FACTS.md §8); anything else is shown as it is. The
    text is Amazon's, shown on terminals and in logs: control characters and escape sequences
    are removed.
    """
    text = data.decode("utf-8", errors="replace")
    details: Any = text
    if complete:
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and "errorDetails" in parsed:
            details = parsed["errorDetails"]
        elif parsed is not None:
            details = parsed
    if not isinstance(details, str):
        details = json.dumps(details, ensure_ascii=False, separators=(",", ":"))
    return printable(details, limit=REASON_CHARS) or None


def load_document(
    job: DatasetJob,
    dataset: ReportDataset,
    report: Requested,
    document_id: str,
    outcome: DatasetOutcome,
) -> None:
    """Stream a DONE report's document into the dataset; its rows become visible with the final
    batch. The lifecycle calls it for the reports it requested; a dataset whose reports Amazon
    generates (settlements) calls it for each one it lists."""
    where = f"{dataset.label} {report.period.label}"
    load = dataset.load(job, report)
    # The presigned URL lives 5 minutes: ask for it only when ready to download.
    document = job.client.get_report_document(document_id)
    url = document.get("url")
    if not isinstance(url, str) or not url:
        raise DatasetFailed(f"report document {document_id} has no url")
    compression = document.get("compressionAlgorithm")
    if compression not in (None, "GZIP"):
        raise DatasetFailed(f"report document {document_id}: unknown compression {compression!r}")
    load.begin()
    began = job.clock()
    size = dataset.batch_rows
    total = 0
    held: Rows = []
    job.progress(f"{where}: downloading")
    bad = load.bad_lines or BadLines()
    builder = load.row_builder
    reader = load.document or dataset.document
    with (
        job.client.open_document(url) as chunks,
        ReadAhead(chunks) as stream,
        parsed_batches(stream, reader, load.rows, size, bad, builder=builder) as batches,
    ):
        for rows in batches:
            # One batch is held back: the last one is written with the mark that publishes them.
            if held:
                # Stopping leaves the period staged, not loaded: the next sync starts it afresh.
                job.check_stop()
                load.add(held)
                total += len(held)
                if total % (size * 20) == 0:
                    job.progress(f"{where}: {total:,} rows")
            held = rows
    total += len(held)
    load.finish(held, total)
    outcome.count(total, 0)
    if stream.gzip != (compression == "GZIP"):
        log.info(
            "%s %s: report document %s is labelled %s but is %s",
            job.name,
            report.period.label,
            document_id,
            compression or "uncompressed",
            "gzip" if stream.gzip else "not gzip",
        )
    if bad.count:
        outcome.note(
            f"{report.period.label}: {bad.count:,} line(s) of report "
            f"{report.report_id} could not be read and were skipped "
            f"({'; '.join(bad.examples)})",
            warning=True,
        )
    seconds = max((job.clock() - began).total_seconds(), 1e-6)
    log.info(
        "%s %s: loaded %d %s rows in %.1f s (%.0f rows/s; report %s, %d bytes"
        " compressed, %d uncompressed)",
        job.name,
        report.period.label,
        total,
        dataset.noun,
        seconds,
        total / seconds,
        report.report_id,
        stream.compressed_bytes,
        stream.bytes_out,
    )
