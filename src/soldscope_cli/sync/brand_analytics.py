"""Brand Analytics search terms: one WEEK report per marketplace and completed week.

A report dataset on the shared lifecycle (sync/reports.py): this module plans the weeks and stores
the rows. A week's rows become visible (through the `ba_search_terms` view) in the same
transaction that records the week as loaded, so an interrupted load is invisible and simply redone
by the next run.
https://developer-docs.amazon.com/sp-api/docs/report-type-values-analytics (FACTS.md §7)
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from typing import Any

from soldscope_cli.sync import reports
from soldscope_cli.sync.base import BRAND_ANALYTICS, DatasetJob, DatasetOutcome
from soldscope_cli.sync.document import BadLines, DocumentFormat, JsonDocument, RowBuilder, Rows
from soldscope_cli.sync.reports import Period, ReportPolicy, Requested
from soldscope_cli.sync.search_term_rows import rows_of

REPORT_TYPE = "GET_BRAND_ANALYTICS_SEARCH_TERMS_REPORT"
ITEMS_PREFIX = "dataByDepartmentAndSearchTerm.item"
BATCH_ROWS = 5000
# Amazon publishes a week's search terms a day or two after it ends; asking earlier risks a
# CANCELLED ("no data") answer that would mark the week empty for good.
AVAILABILITY_DELAY = timedelta(days=2)
POLICY = ReportPolicy()

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


def _period(marketplace_id: str, week: date) -> Period:
    # The key is what `inflight:` and `fatal:` marks have always been named after.
    start, end = week_bounds(week)
    return Period(
        key=f"{marketplace_id}:{week.isoformat()}",
        label=f"{marketplace_id} week {week}",
        marketplace_ids=(marketplace_id,),
        start=start,
        end=end,
    )


def _week(report: Requested) -> tuple[str, date]:
    """(marketplace id, week start) of a requested week."""
    assert report.period.start is not None  # every week has its bounds
    return report.period.marketplace_ids[0], report.period.start.date()


# --- the dataset ---------------------------------------------------------------------------------


class SearchTermsReports:
    """Brand Analytics search terms as a report dataset."""

    name = BRAND_ANALYTICS
    label = "brand analytics"
    noun = "search term"
    period_noun = "week"
    report_type = REPORT_TYPE
    report_options: Mapping[str, str] = {"reportPeriod": "WEEK"}
    document = JsonDocument(ITEMS_PREFIX)
    policy = POLICY

    @property
    def batch_rows(self) -> int:
        # The module's constant, read when a load starts: the knob tests and benchmarks turn.
        return BATCH_ROWS

    def plan(self, job: DatasetJob) -> list[Period]:
        """Every marketplace's weeks from its first to the latest available, newest first, that
        are not loaded yet."""
        latest = latest_available_week(job.clock())
        periods: list[Period] = []
        for marketplace_id in job.marketplace_ids():
            first = _first_week(job, marketplace_id, latest)
            loaded = job.db.search_terms.loaded_weeks(job.store_id, marketplace_id)
            periods.extend(
                _period(marketplace_id, week)
                for week in weeks_between(first, latest)
                if week.isoformat() not in loaded
            )
        return periods

    def load(self, job: DatasetJob, report: Requested) -> WeekLoad:
        return WeekLoad(job, report)

    def no_data(self, job: DatasetJob, report: Requested) -> None:
        _mark_loaded(job, report, "CANCELLED", 0)


SEARCH_TERMS = SearchTermsReports()


def sync(job: DatasetJob) -> DatasetOutcome:
    """Resume in-flight reports, request the missing weeks, then load each one as it is done."""
    return reports.sync(job, SEARCH_TERMS)


def _first_week(job: DatasetJob, marketplace_id: str, latest: date) -> date:
    """The oldest week this marketplace syncs: fixed on the first run, moved back by --since."""
    key = f"from:{marketplace_id}"
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


class WeekLoad:
    """One week's document going into ba_search_terms_rows, published by its week mark."""

    document: DocumentFormat | None = None  # the dataset's JSON document
    bad_lines: BadLines | None = None  # every object is a row

    def __init__(self, job: DatasetJob, report: Requested) -> None:
        self._job = job
        self._report = report
        self._fixed: tuple[int, int] = (0, job.store_id)
        self._load_id: int | None = None
        marketplace_id, week = _week(report)
        job.db.search_terms.clear_staged(job.store_id, marketplace_id, week.isoformat())

    def begin(self) -> None:
        job = self._job
        marketplace_id, week = _week(self._report)
        self._load_id = job.db.search_terms.start_load(
            job.store_id, marketplace_id, week.isoformat(), self._report.report_id, job.clock()
        )
        self._fixed = (self._load_id, job.store_id)

    def rows(self, records: list[Any]) -> Rows:
        return rows_of(self._fixed, records)

    @property
    def row_builder(self) -> RowBuilder:
        """`rows` as a picklable callable, so a big document's rows are built in a child process."""
        return partial(rows_of, self._fixed)

    def add(self, rows: Rows) -> None:
        self._job.db.search_terms.add_rows(rows)

    def finish(self, rows: Rows, total: int) -> None:
        _mark_loaded(self._job, self._report, "DONE", total, self._load_id, rows)


def _mark_loaded(
    job: DatasetJob,
    report: Requested,
    status: str,
    total: int,
    load_id: int | None = None,
    last_rows: Rows | None = None,
) -> None:
    """Record the week as loaded (with its last rows): from then on it is visible and skipped."""
    marketplace_id, week = _week(report)
    _, end = week_bounds(week)
    job.db.search_terms.mark_loaded(
        job.store_id,
        marketplace_id,
        week.isoformat(),
        end.date().isoformat(),
        report_id=report.report_id,
        status=status,
        row_count=total,
        at=job.clock(),
        load_id=load_id,
        rows=last_rows or (),
        forget=report.ledger_keys,
    )
