"""Brand Analytics search terms: one WEEK report per marketplace and completed week.

createReport → getReport (polled with backoff) → getReportDocument → a streamed, gunzipped,
incrementally parsed download inserted in batches. A week's rows become visible (through the
`ba_search_terms` view) in the same transaction that records the week as loaded, so an interrupted
load is invisible and simply redone by the next run.
https://developer-docs.amazon.com/sp-api/docs/report-type-values-analytics (FACTS.md §7)
"""

from __future__ import annotations

import json
import operator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from soldscope_cli.amazon.spapi import SpapiError, SpapiForbidden, SpapiNotFound
from soldscope_cli.db.model import from_db_time, to_db_time
from soldscope_cli.sync.base import (
    BRAND_ANALYTICS,
    DatasetFailed,
    DatasetJob,
    DatasetOutcome,
    log,
)
from soldscope_cli.sync.document import ChunkStream, DocumentError, json_items

REPORT_TYPE = "GET_BRAND_ANALYTICS_SEARCH_TERMS_REPORT"
ITEMS_PREFIX = "dataByDepartmentAndSearchTerm.item"
BATCH_ROWS = 5000
# Amazon publishes a week's search terms a day or two after it ends; asking earlier risks a
# CANCELLED ("no data") answer that would mark the week empty for good.
AVAILABILITY_DELAY = timedelta(days=2)
FATAL_COOLDOWN = timedelta(hours=24)
# Amazon builds these reports in minutes to hours; one still unfinished after this long is stuck
# and is requested afresh rather than polled forever.
STALE_REPORT_AGE = timedelta(days=3)
MAX_FATAL_ATTEMPTS = 3
# createReport and getReportDocument refill one token a minute after a burst of 15: asking for more
# in one run would only wait on the rate limiter. The rest is requested by the next runs.
MAX_NEW_REPORTS = 15
POLL_FIRST_S = 5.0
POLL_FACTOR = 1.5
POLL_MAX_S = 60.0

# --- weeks ---------------------------------------------------------------------------------------


def week_start(day: date) -> date:
    """The Sunday that starts the Brand Analytics week containing `day`."""
    return day - timedelta(days=(day.weekday() + 1) % 7)


def latest_available_week(now: datetime) -> date:
    """The newest week (Sunday 00:00 – Saturday 23:59:59 UTC) that ended AVAILABILITY_DELAY ago."""
    return week_start((now - AVAILABILITY_DELAY).astimezone(UTC).date()) - timedelta(days=7)


def week_bounds(start: date) -> tuple[datetime, datetime]:
    """dataStartTime and dataEndTime of a week: exactly one period, or Amazon answers FATAL."""
    first = datetime.combine(start, time(0, 0, 0), tzinfo=UTC)
    last = datetime.combine(start + timedelta(days=6), time(23, 59, 59), tzinfo=UTC)
    return first, last


def weeks_between(first: date, last: date) -> list[date]:
    """Week starts from `last` back to `first`, newest first."""
    out: list[date] = []
    week = last
    while week >= first:
        out.append(week)
        week -= timedelta(days=7)
    return out


# --- sync_state keys -----------------------------------------------------------------------------


def _inflight_key(marketplace_id: str, week: date) -> str:
    return f"inflight:{marketplace_id}:{week.isoformat()}"


def _fatal_key(marketplace_id: str, week: date) -> str:
    return f"fatal:{marketplace_id}:{week.isoformat()}"


def _from_key(marketplace_id: str) -> str:
    return f"from:{marketplace_id}"


@dataclass
class _Period:
    marketplace_id: str
    week: date
    report_id: str


def sync(job: DatasetJob) -> DatasetOutcome:
    """Resume in-flight reports, request the missing weeks, then load each one as it is done."""
    outcome = DatasetOutcome()
    latest = latest_available_week(job.clock())
    tracked: list[_Period] = []
    wanted: list[tuple[str, date]] = []
    for marketplace_id in job.marketplace_ids():
        first = _first_week(job, marketplace_id, latest)
        loaded = job.db.search_terms.loaded_weeks(job.store_id, marketplace_id)
        inflight = job.db.sync_state(job.store_id, BRAND_ANALYTICS, f"inflight:{marketplace_id}:")
        fatal = job.db.sync_state(job.store_id, BRAND_ANALYTICS, f"fatal:{marketplace_id}:")
        for week in weeks_between(first, latest):
            if week.isoformat() in loaded:
                continue
            raw = inflight.get(_inflight_key(marketplace_id, week))
            if raw is not None:
                period = _Period(marketplace_id, week, json.loads(raw)["report_id"])
                if not _stale(job, raw):
                    tracked.append(period)
                    continue
                _forget(job, period)
                outcome.note(
                    f"{marketplace_id} week {week}: report {period.report_id} was still not done "
                    f"after {STALE_REPORT_AGE.days} days; requesting it again",
                    warning=True,
                )
            if _cooling_down(job, fatal.get(_fatal_key(marketplace_id, week))):
                continue
            wanted.append((marketplace_id, week))
    if tracked:
        log.info("%s: resuming %d brand analytics report(s)", job.name, len(tracked))
    for marketplace_id, week in wanted[:MAX_NEW_REPORTS]:
        job.check_stop()
        tracked.append(_request(job, marketplace_id, week))
    if len(wanted) > MAX_NEW_REPORTS:
        outcome.leave(
            len(wanted) - MAX_NEW_REPORTS,
            f"{len(wanted) - MAX_NEW_REPORTS} more week(s) will be requested by the next syncs "
            f"(Amazon allows about {MAX_NEW_REPORTS} report requests at once)",
        )
    _poll(job, tracked, outcome)
    return outcome


def _stale(job: DatasetJob, raw: str) -> bool:
    """Whether an in-flight report was requested longer ago than Amazon ever takes."""
    created = json.loads(raw).get("created_at")
    if not isinstance(created, str):
        return False
    return job.clock() - from_db_time(created) > STALE_REPORT_AGE


def _first_week(job: DatasetJob, marketplace_id: str, latest: date) -> date:
    """The oldest week this marketplace syncs: fixed on the first run, moved back by --since."""
    key = _from_key(marketplace_id)
    stored = job.db.get_sync_state(job.store_id, BRAND_ANALYTICS, key)
    first = (
        date.fromisoformat(stored)
        if stored
        else latest - timedelta(days=7 * (max(1, job.option("ba_weeks")) - 1))
    )
    if job.since is not None:
        first = min(first, week_start(job.since.astimezone(UTC).date()))
    if stored != first.isoformat():
        job.db.update_sync_state(
            job.store_id, BRAND_ANALYTICS, job.clock(), set_={key: first.isoformat()}
        )
    return first


def _cooling_down(job: DatasetJob, raw: str | None) -> bool:
    if raw is None:
        return False
    fatal = json.loads(raw)
    if int(fatal.get("count", 1)) >= MAX_FATAL_ATTEMPTS:
        return True
    return job.clock() < from_db_time(fatal["at"]) + FATAL_COOLDOWN


def _request(job: DatasetJob, marketplace_id: str, week: date) -> _Period:
    start, end = week_bounds(week)
    job.progress(f"brand analytics {marketplace_id} {week}: requesting the report")
    report_id = job.client.create_report(
        REPORT_TYPE,
        [marketplace_id],
        data_start_time=start,
        data_end_time=end,
        report_options={"reportPeriod": "WEEK"},
    )
    # Persisted at once: a crash from here on resumes this report instead of requesting another.
    job.db.update_sync_state(
        job.store_id,
        BRAND_ANALYTICS,
        job.clock(),
        set_={
            _inflight_key(marketplace_id, week): json.dumps(
                {"report_id": report_id, "created_at": to_db_time(job.clock())}
            )
        },
    )
    log.info("%s %s %s: requested report %s", job.name, marketplace_id, week, report_id)
    return _Period(marketplace_id, week, report_id)


def _poll(job: DatasetJob, tracked: list[_Period], outcome: DatasetOutcome) -> None:
    deadline = job.clock() + timedelta(seconds=job.report_wait_s)
    delay = POLL_FIRST_S
    remaining = list(tracked)
    failures: list[DatasetFailed] = []
    while remaining:
        waiting: list[_Period] = []
        for period in remaining:
            job.check_stop()
            try:
                if not _advance(job, period, outcome):
                    waiting.append(period)
            except (DocumentError, DatasetFailed) as exc:
                failures.append(_failure(period, exc))
            except SpapiError as exc:
                if isinstance(exc, SpapiForbidden):
                    raise
                failures.append(_failure(period, exc))
        remaining = waiting
        if not remaining:
            break
        if job.clock() + timedelta(seconds=delay) > deadline:
            outcome.leave(
                len(remaining),
                f"{len(remaining)} report(s) still processing at Amazon; the next sync loads them",
            )
            break
        job.progress(f"brand analytics: waiting for {len(remaining)} report(s)")
        job.sleep(delay)
        delay = min(delay * POLL_FACTOR, POLL_MAX_S)
    if failures:
        first = failures[0]
        more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
        raise DatasetFailed(first.message + more, code=first.code, request_id=first.request_id)


def _failure(period: _Period, exc: Exception) -> DatasetFailed:
    where = f"{period.marketplace_id} week {period.week}"
    if isinstance(exc, SpapiError):
        return DatasetFailed(
            f"{where}: {exc.operation} failed: {exc.status or ''} {exc.code} {exc.message}".strip(),
            code=exc.code,
            request_id=exc.request_id,
        )
    if isinstance(exc, DatasetFailed):
        return DatasetFailed(f"{where}: {exc.message}", code=exc.code, request_id=exc.request_id)
    return DatasetFailed(f"{where}: {exc}", code="document")


def _advance(job: DatasetJob, period: _Period, outcome: DatasetOutcome) -> bool:
    """Check one report; load, mark or record it when final. False while Amazon is still at it."""
    try:
        report = job.client.get_report(period.report_id)
    except SpapiNotFound:
        # Reports live 90 days; a lost one is simply requested again next time.
        _forget(job, period)
        outcome.note(
            f"{period.marketplace_id} week {period.week}: report {period.report_id} no longer "
            "exists at Amazon; it will be requested again",
            warning=True,
        )
        return True
    status = report.get("processingStatus")
    if status == "DONE":
        document_id = report.get("reportDocumentId")
        if not isinstance(document_id, str) or not document_id:
            raise DatasetFailed(f"report {period.report_id} is DONE without a document")
        _load(job, period, document_id, outcome)
        return True
    if status == "CANCELLED":
        # Amazon cancels a report that has no data: the week is loaded, with no rows.
        _mark_loaded(job, period, "CANCELLED", 0)
        outcome.note(f"{period.marketplace_id} week {period.week}: no data (report CANCELLED)")
        return True
    if status == "FATAL":
        _record_fatal(job, period, outcome)
        return True
    return False


def _forget(job: DatasetJob, period: _Period) -> None:
    job.db.update_sync_state(
        job.store_id,
        BRAND_ANALYTICS,
        job.clock(),
        delete=[_inflight_key(period.marketplace_id, period.week)],
    )


def _record_fatal(job: DatasetJob, period: _Period, outcome: DatasetOutcome) -> None:
    key = _fatal_key(period.marketplace_id, period.week)
    previous = job.db.get_sync_state(job.store_id, BRAND_ANALYTICS, key)
    count = (int(json.loads(previous).get("count", 1)) if previous else 0) + 1
    now = job.clock()
    job.db.update_sync_state(
        job.store_id,
        BRAND_ANALYTICS,
        now,
        set_={
            key: json.dumps({"at": to_db_time(now), "count": count, "report_id": period.report_id})
        },
        delete=[_inflight_key(period.marketplace_id, period.week)],
    )
    then = (
        f"retrying after {FATAL_COOLDOWN.total_seconds() / 3600:.0f} h"
        if count < MAX_FATAL_ATTEMPTS
        else f"giving up after {count} attempts"
    )
    outcome.note(
        f"{period.marketplace_id} week {period.week}: Amazon could not produce the report "
        f"(FATAL, report {period.report_id}); {then}",
        warning=True,
    )


def _mark_loaded(
    job: DatasetJob,
    period: _Period,
    status: str,
    total: int,
    load_id: int | None = None,
    last_rows: list[tuple[Any, ...]] | None = None,
) -> None:
    """Record the week as loaded (with its last rows): from then on it is visible and skipped."""
    _, end = week_bounds(period.week)
    job.db.search_terms.mark_loaded(
        job.store_id,
        period.marketplace_id,
        period.week.isoformat(),
        end.date().isoformat(),
        report_id=period.report_id,
        status=status,
        row_count=total,
        at=job.clock(),
        load_id=load_id,
        rows=last_rows or (),
        forget=[
            _inflight_key(period.marketplace_id, period.week),
            _fatal_key(period.marketplace_id, period.week),
        ],
    )


def _load(job: DatasetJob, period: _Period, document_id: str, outcome: DatasetOutcome) -> None:
    """Stream the document into the rows table; the week becomes visible with the final batch."""
    where = f"{period.marketplace_id} week {period.week}"
    table = job.db.search_terms
    week = period.week.isoformat()
    table.clear_staged(job.store_id, period.marketplace_id, week)
    # The presigned URL lives 5 minutes: ask for it only when ready to download.
    document = job.client.get_report_document(document_id)
    url = document.get("url")
    if not isinstance(url, str) or not url:
        raise DatasetFailed(f"report document {document_id} has no url")
    compression = document.get("compressionAlgorithm")
    if compression not in (None, "GZIP"):
        raise DatasetFailed(f"report document {document_id}: unknown compression {compression!r}")
    load_id = table.start_load(
        job.store_id, period.marketplace_id, week, period.report_id, job.clock()
    )
    began = job.clock()
    fixed = (load_id, job.store_id)
    total = 0
    batch: list[tuple[Any, ...]] = []
    job.progress(f"brand analytics {where}: downloading")
    with job.client.open_document(url) as chunks:
        stream = ChunkStream(chunks, gzip=compression == "GZIP")
        for item in json_items(stream, ITEMS_PREFIX):
            batch.append(_row(fixed, item))
            if len(batch) >= BATCH_ROWS:
                # Stopping leaves the week staged, not loaded: the next sync starts it afresh.
                job.check_stop()
                table.add_rows(batch)
                total += len(batch)
                batch = []
                if total % (BATCH_ROWS * 20) == 0:
                    job.progress(f"brand analytics {where}: {total:,} rows")
    total += len(batch)
    _mark_loaded(job, period, "DONE", total, load_id, batch)
    outcome.count(total, 0)
    seconds = max((job.clock() - began).total_seconds(), 1e-6)
    log.info(
        "%s %s: loaded %d search term rows in %.1f s (%.0f rows/s; report %s, %d bytes"
        " compressed, %d uncompressed)",
        job.name,
        where,
        total,
        seconds,
        total / seconds,
        period.report_id,
        stream.compressed_bytes,
        stream.bytes_out,
    )


_FIELDS = (
    "departmentName",
    "searchTerm",
    "searchFrequencyRank",
    "clickedAsin",
    "clickedItemName",
    "clickShareRank",
    "clickShare",
    "conversionShare",
)
# One C call per row instead of eight dict.get calls: the row builder is a third of the load time.
_PICK = operator.itemgetter(*_FIELDS)


def _row(fixed: tuple[int, int], item: Any) -> tuple[Any, ...]:
    try:
        return fixed + _PICK(item)  # type: ignore[no-any-return]
    except KeyError:
        # A field the schema marks required is missing: keep the row, store NULL there.
        return (*fixed, *map(item.get, _FIELDS))
    except TypeError:
        raise DocumentError(
            "dataByDepartmentAndSearchTerm holds something that is not an object"
        ) from None
