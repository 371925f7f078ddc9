"""Flat-file report datasets pulled in time windows: orders by last update, FBA returns and
reimbursements.

A report dataset on the shared lifecycle (sync/reports.py) whose periods are windows of time
(dataStartTime..dataEndTime) and whose rows are upserted by key. What has been loaded is the
dataset's `covered` mark: the spans whose windows were loaded, merged, written in the transaction
that stores a window's last rows, so it never runs ahead of the data. Each run plans the gaps
between the dataset's start (`from`, fixed on the first run, moved back by --since) and now, cut
into windows of at most `max_span`. A window in flight or FATAL keeps its exact bounds (its
ledger key names them), so a later run resumes or cools it down instead of asking for another.
https://developer-docs.amazon.com/sp-api/docs/reports-api-v2021-06-30-reference (FACTS.md §7)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from typing import Any, Protocol

from soldscope_cli.datasets.schema import Kind
from soldscope_cli.db.model import to_db_time
from soldscope_cli.sync import reports
from soldscope_cli.sync.base import DatasetJob, DatasetOutcome
from soldscope_cli.sync.document import BadLines, ByteStream, DocumentFormat, FlatFile, Rows
from soldscope_cli.sync.reports import FATAL, INFLIGHT, Period, ReportPolicy, Requested
from soldscope_cli.sync.values import legacy_encoding, legacy_encoding_of

COVERED = "covered"
FROM = "from"
SEPARATOR = ".."
BATCH_ROWS = 5000
# Batches are upserted together once this many rows are staged (SQLite; PostgreSQL upserts each
# batch): a commit per 5,000 rows spread over the key range rewrote most of the index's pages
# every time, and one per 50,000 still a good part of them (a 1,000,000-line orders load took a
# sixth longer than with 200,000). Staged rows are in the connection's temporary table, on disk.
PUBLISH_ROWS = 200_000
# An order with more lines than this (no real one has) is written in parts as it comes.
CARRY_MAX = 4 * BATCH_ROWS

# A row parser: one flat-file record ({column: text}) as a row in the table's row_columns order;
# ValueError (a value that does not parse) or KeyError (a missing column) rejects the line.
RowParser = Callable[[Mapping[str, str]], tuple[Any, ...]]


class WholeRows(Protocol):
    """A dataset's own reader and picklable row builder in one, for its big documents: records
    read its way, built into whole table rows (the row start, the values with times as the
    database stores them and no U+0000 in text, the sync time), rejected lines in `bad_lines`."""

    bad_lines: BadLines

    def records(self, stream: ByteStream, bad: BadLines) -> Iterator[Any]: ...

    def __call__(self, records: list[Any]) -> Rows: ...


# (job, report, the row start: the store's id and name, the sync time as stored) → WholeRows
WholeRowsFactory = Callable[[DatasetJob, Requested, tuple[Any, ...], str], WholeRows]


@dataclass(frozen=True)
class Windows:
    """How a dataset cuts time into report requests."""

    max_span: timedelta  # Amazon's longest dataStartTime..dataEndTime for the report type
    first_run: timedelta  # how far back a store's first sync reaches (--since reaches further)
    lag: timedelta  # how far behind now the newest window ends
    min_tail: timedelta  # a newest window shorter than this waits for a later run
    whole_days: bool = False  # windows start and end at midnight UTC


Span = tuple[datetime, datetime]


def key_of(start: datetime, end: datetime) -> str:
    """A window's ledger key: its bounds, so a later run can plan around it."""
    return f"{_text(start)}{SEPARATOR}{_text(end)}"


def span_of(key: str) -> Span | None:
    """A window's bounds from its ledger key (None: not a window's key)."""
    start, sep, end = key.partition(SEPARATOR)
    if not sep:
        return None
    try:
        return _parse(start), _parse(end)
    except ValueError:
        return None


def _text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def merge(spans: list[Span]) -> list[Span]:
    """Spans sorted, with touching or overlapping ones joined."""
    out: list[Span] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def covered_text(spans: list[Span]) -> str:
    """The `covered` mark's value."""
    return json.dumps([[_text(s), _text(e)] for s, e in merge(spans)])


def covered_spans(text: str | None) -> list[Span]:
    """The spans a `covered` mark holds."""
    if not text:
        return []
    return [(_parse(s), _parse(e)) for s, e in json.loads(text)]


def gaps(origin: datetime, end: datetime, taken: list[Span]) -> list[Span]:
    """The parts of origin..end no span in `taken` covers, oldest first."""
    out: list[Span] = []
    at = origin
    for start, stop in merge(taken):
        if stop <= at:
            continue
        if start >= end:
            break
        if start > at:
            out.append((at, start))
        at = max(at, stop)
    if at < end:
        out.append((at, end))
    return out


def cut(span: Span, longest: timedelta) -> list[Span]:
    """A span as consecutive windows of at most `longest`."""
    start, end = span
    out: list[Span] = []
    while start < end:
        stop = min(start + longest, end)
        out.append((start, stop))
        start = stop
    return out


def newest_end(now: datetime, windows: Windows) -> datetime:
    """Where the newest window ends: `lag` before now, on a whole second (or midnight UTC)."""
    end = (now - windows.lag).astimezone(UTC).replace(microsecond=0)
    if windows.whole_days:
        end = end.replace(hour=0, minute=0, second=0)
    return end


def plan_windows(
    now: datetime,
    windows: Windows,
    origin: datetime,
    covered: list[Span],
    pending: list[Span],
) -> list[Span]:
    """The windows to load, oldest first: those pending (in flight or FATAL, kept exactly) and
    the gaps between origin and the newest end, cut to `max_span`."""
    end = newest_end(now, windows)
    planned = [(s, e) for s, e in pending if not _inside(s, e, covered)]
    for gap in gaps(origin, end, covered + planned):
        for start, stop in cut(gap, windows.max_span):
            if stop == end and stop - start < windows.min_tail:
                continue  # the newest sliver: a later run asks for it with more in it
            planned.append((start, stop))
    return sorted(planned)


def _inside(start: datetime, end: datetime, covered: list[Span]) -> bool:
    return any(s <= start and end <= e for s, e in covered)


class WindowedReport:
    """A flat-file report dataset pulled in windows and upserted by key."""

    noun = "line"
    period_noun = "window"
    report_options: Mapping[str, str] = {}
    policy = ReportPolicy()

    def __init__(
        self,
        name: str,
        label: str,
        report_type: str,
        windows: Windows,
        parser: Callable[[DatasetJob, Requested], RowParser],
        *,
        every_marketplace: bool,
        whole_rows: WholeRowsFactory | None = None,
    ) -> None:
        self.name = name
        self.label = label
        self.report_type = report_type
        self.windows = windows
        self._parser = parser
        # A dataset that reads its documents its own way, into whole rows (orders).
        self.whole_rows = whole_rows
        # Orders: one report for all the store's marketplaces (the sales channel tells each
        # line's); FBA reports cover the seller's fulfillment account: one, for the first.
        self._every_marketplace = every_marketplace
        # Lines that are not UTF-8 are read as Windows-1252, the code page of most marketplaces;
        # each load reads them in its own marketplaces' code page (WindowLoad.document).
        self.document = FlatFile("utf-8", fallback=legacy_encoding(None))

    @property
    def batch_rows(self) -> int:
        # The module's constant, read when a load starts: the knob tests and benchmarks turn.
        return BATCH_ROWS

    def plan(self, job: DatasetJob) -> list[Period]:
        """The pending windows and the gaps up to now, oldest first."""
        state = job.db.sync_state(job.store_id, self.name)
        covered = covered_spans(state.get(COVERED))
        pending = [
            span
            for key in state
            if key.startswith((INFLIGHT, FATAL))
            and (span := span_of(key.split(":", 1)[1])) is not None
        ]
        origin = self._origin(job, state.get(FROM))
        ids = job.marketplace_ids()
        marketplaces = tuple(ids if self._every_marketplace else ids[:1])
        return [
            Period(
                key=key_of(start, end),
                label=f"{_text(start)[:16].replace('T', ' ')}..{_text(end)[:16].replace('T', ' ')}",
                marketplace_ids=marketplaces,
                start=start,
                end=end,
            )
            for start, end in plan_windows(job.clock(), self.windows, origin, covered, pending)
        ]

    def _origin(self, job: DatasetJob, stored: str | None) -> datetime:
        """Where the dataset starts: fixed on the first run, moved back (never on) by --since."""
        first = (
            _parse(stored)
            if stored
            else newest_end(job.clock() - self.windows.first_run, self.windows)
        )
        if job.since is not None:
            since = job.since.astimezone(UTC).replace(microsecond=0)
            if self.windows.whole_days:
                since = since.replace(hour=0, minute=0, second=0)
            first = min(first, since)
        if stored != _text(first):
            job.db.update_sync_state(
                job.store_id, self.name, job.clock(), set_={FROM: _text(first)}
            )
        return first

    def load(self, job: DatasetJob, report: Requested) -> WindowLoad:
        return WindowLoad(job, self, report, self._parser(job, report))

    def no_data(self, job: DatasetJob, report: Requested) -> None:
        load = WindowLoad(job, self, report, _no_rows)
        load.begin()
        load.finish([], 0)


def _no_rows(record: Mapping[str, str]) -> tuple[Any, ...]:  # pragma: no cover - never called
    raise ValueError("no rows expected")


def sync(job: DatasetJob, dataset: WindowedReport) -> DatasetOutcome:
    """Resume in-flight windows, request the missing ones, then load each as it is done."""
    return reports.sync(job, dataset)


class ParsedLines:
    """A row parser over batches of records, the lines it rejects counted. Picklable when the
    parser is (a module-level class's instance): a big document is then parsed in a child
    process (sync/parser_process.py), which reports the rejected lines with the document's."""

    def __init__(self, parse: RowParser, times: tuple[int, ...] = ()) -> None:
        self._parse = parse
        # The row's times, handed on as the fixed-width UTC text SQLite stores and PostgreSQL's
        # COPY reads: converted here (in the child process, for a big document) rather than
        # by the writer, and rows of text and numbers cross the pipe marshalled, not pickled.
        self._times = times
        # Per time column, the last time converted and its text: a parser that hands the same
        # object again (an order's lines share its times) is not converted again.
        self._last: dict[int, tuple[datetime, str]] = {}
        self._line = 1  # the header's
        self.bad_lines = BadLines()

    def __call__(self, records: list[Any]) -> Rows:
        out: Rows = []
        parse = self._parse
        for record in records:
            self._line += 1
            try:
                out.append(parse(record))
            except (ValueError, KeyError) as exc:
                why = f"no {exc} column" if isinstance(exc, KeyError) else str(exc)
                self.bad_lines.add(self._line, why)
        return [self._stored(row) for row in out] if self._times else out

    def _stored(self, row: tuple[Any, ...]) -> tuple[Any, ...]:
        values = list(row)
        last = self._last
        for at in self._times:
            value = values[at]
            if isinstance(value, datetime):
                done = last.get(at)
                if done is None or done[0] is not value:
                    done = last[at] = (value, to_db_time(value))
                values[at] = done[1]
        return tuple(values)


class WindowLoad:
    """One window's document upserted batch by batch; its last batch marks the window covered.

    Rows are visible as their batches are upserted (every PUBLISH_ROWS on SQLite, which stages
    the batches between): they are upserted by key, so a load that dies half way leaves rows the
    re-run writes again, never twice.
    """

    def __init__(
        self, job: DatasetJob, dataset: WindowedReport, report: Requested, parse: RowParser
    ) -> None:
        self._staged = 0
        self._job = job
        self._dataset = dataset
        self._report = report
        self._table = job.db.dataset_table(dataset.name)
        declared = self._table.table
        times = tuple(
            at
            for at, name in enumerate(self._table.row_columns)
            if declared.column(name).kind is Kind.TIME
        )
        self.row_builder: WholeRows | ParsedLines
        self.document: DocumentFormat
        # A window without data (parse is _no_rows) stores nothing: the general way will do.
        factory = dataset.whole_rows if parse is not _no_rows else None
        self._whole = factory is not None
        if factory is not None:
            whole = factory(
                job, report, self._table.row_start(job.store_id), to_db_time(job.clock())
            )
            self.row_builder = self.document = whole
        else:
            self.row_builder = ParsedLines(parse, times)
            # A Japanese store's lines that are not UTF-8 are Shift_JIS, not Windows-1252.
            self.document = FlatFile(
                "utf-8", fallback=legacy_encoding_of(report.period.marketplace_ids)
            )
        self.bad_lines = self.row_builder.bad_lines
        # A group the table takes whole (an order's lines) is never cut between two writes: the
        # rows of the batch's last group wait for the next batch.
        names = declared.names if self._whole else self._table.row_columns
        group = declared.whole_group
        self._group_of = None if group is None else itemgetter(names.index(group))
        self._carried: Rows = []
        # Stored rows of the groups written since the last publish that the document no longer
        # has: deleted in the transaction that publishes their groups' rows.
        self._stale: list[tuple[Any, ...]] = []
        self._fresh = False
        self._replaces = self._group_of is not None

    def begin(self) -> None:
        """Drop what a load stopped half way staged on this connection."""
        self._table.discard_staged()
        # A store that holds no rows yet (its first sync, the big one) has no stored group to
        # replace but what this load writes itself, and a document lists each group once, its
        # rows together: the seek per group is skipped, and its keys are likely new (load_rows'
        # `fresh`). The home's sync lock (in team mode, the worker's claim on the store) keeps
        # any other load of it out until this one ends (a batch meeting its keys is upserted).
        self._fresh = not self._table.holds_rows(self._job.store_id)
        self._replaces = self._group_of is not None and not self._fresh

    def rows(self, records: list[Any]) -> Rows:
        return self.row_builder(records)

    def add(self, rows: Rows) -> None:
        rows = self._whole_groups(rows)
        if not rows:
            return
        store_id = self._job.store_id
        if self._replaces:
            self._stale += self._table.stale_rows(store_id, rows, whole=self._whole)
        self._staged += len(rows)
        if self._staged < PUBLISH_ROWS and self._table.stages_rows:
            self._table.stage_rows(store_id, rows, at=self._job.clock(), whole=self._whole)
            return
        self._staged = 0
        stale, self._stale = self._stale, []
        self._table.load_rows(
            store_id,
            rows,
            at=self._job.clock(),
            whole=self._whole,
            delete=stale,
            fresh=self._fresh,
        )

    def _whole_groups(self, rows: Rows) -> Rows:
        """The rows to write now: with the rows carried from the last batch, without those of
        this batch's last group (carried to the next, or to finish). A group longer than
        CARRY_MAX rows is written as it comes."""
        if self._group_of is None or not rows:
            return rows
        rows = self._carried + list(rows)
        cut = _split_at_last_group(rows, self._group_of)
        if cut == 0 and len(rows) <= CARRY_MAX:
            self._carried = rows
            return []
        cut = cut or len(rows)
        self._carried = rows[cut:]
        return rows[:cut]

    def finish(self, rows: Rows, total: int) -> None:
        job = self._job
        period = self._report.period
        assert period.start is not None and period.end is not None  # every window has bounds
        covered = covered_spans(self._table.mark(job.store_id, COVERED))
        rows, self._carried = self._carried + list(rows), []
        if self._replaces and rows:
            self._stale += self._table.stale_rows(job.store_id, rows, whole=self._whole)
        stale, self._stale = self._stale, []
        self._table.load_rows(
            job.store_id,
            rows,
            delete=stale,
            at=job.clock(),
            marks={COVERED: covered_text([*covered, (period.start, period.end)])},
            forget=self._report.ledger_keys,
            whole=self._whole,
            fresh=self._fresh,
        )


def _split_at_last_group(rows: Rows, group_of: Callable[[Any], Any]) -> int:
    """Where the rows of the last row's group start (rows of a group come together)."""
    last = group_of(rows[-1])
    cut = len(rows) - 1
    while cut > 0 and group_of(rows[cut - 1]) == last:
        cut -= 1
    return cut


def cursor(covered: str | None, origin: str | None) -> datetime | None:
    """The end of the span loaded without a gap from the dataset's start (None: nothing yet)."""
    spans = covered_spans(covered)
    if not spans or origin is None or spans[0][0] > _parse(origin):
        return None
    return spans[0][1]
