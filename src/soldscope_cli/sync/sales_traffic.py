"""Sales & traffic from Data Kiosk (analytics_salesAndTraffic_2024_04_24) into
sales_traffic_by_date (per marketplace and day) and sales_traffic_by_asin (per child ASIN too).

One query covers a span of days for every marketplace of the store: salesAndTrafficByDate at DAY
granularity, and salesAndTrafficByAsin at CHILD level once per day (an alias each: Amazon
aggregates by ASIN over the dates it is given, so a day is asked for as its own range). Records
are told apart by their fields (an ASIN record has parentAsin), not by the alias.

Once a day has closed, the next run asks for it and again for the last 3 days loaded (Amazon
restates business data for up to 72 hours, FACTS.md §8); a store whose yesterday is loaded asks
nothing. `--since` moves the oldest day loaded back, at most two years. createQuery calls share one budget for the whole fleet (sync/quota.py FleetBudget); what the
budget does not allow now is left for the next runs, with a note.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from soldscope_cli.amazon.spapi import SpapiNotFound
from soldscope_cli.datasets.sales_traffic import BY_ASIN, MAX_DAYS, NAME
from soldscope_cli.sync import datakiosk
from soldscope_cli.sync.base import (
    DatasetFailed,
    DatasetJob,
    DatasetOutcome,
    as_decimal,
    as_int,
    as_text,
    dig,
    raw_json,
)
from soldscope_cli.sync.quota import FleetBudget

DATASET_ID = "analytics_salesAndTraffic_2024_04_24"
FIRST_RUN_DAYS = 30
REPULL_DAYS = 3
# Days one query covers: one salesAndTrafficByAsin alias a day, within Amazon's 8,000 characters.
CHUNK_DAYS = 31
MAX_QUERY_CHARS = 8000
BATCH_ROWS = 2000
# Amazon's Data Kiosk createQuery plan: a burst of 15, then one a minute (FACTS.md §8). The
# budget keeps one token of the burst back: a token is taken before the call leaves (an access
# token may be fetched first), and calls that reach Amazon closer together than they took their
# tokens would otherwise meet a 429 at the edge of the rate.
AMAZON_BURST = 15
BUDGET_OPERATION = "dataKiosk:createQuery"
BUDGET_BURST = AMAZON_BURST - 1

THROUGH = "through"  # the newest day loaded
FROM = "from"  # the oldest day loaded
INFLIGHT = "inflight"  # {"id", "start", "end"} of a query Amazon is still processing

_FIGURES = (
    "sales { orderedProductSales { amount currencyCode } unitsOrdered totalOrderItems }"
    " traffic { pageViews sessions buyBoxPercentage unitSessionPercentage }"
)


@dataclass(frozen=True)
class Span:
    """Days one query asks for, both ends included."""

    start: date
    end: date

    @property
    def label(self) -> str:
        return f"sales & traffic {self.start}..{self.end}"

    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]


def query_text(span: Span, marketplace_ids: Sequence[str]) -> str:
    """The GraphQL query of one span (models/analytics_salesAndTraffic_2024_04_24.graphql)."""
    markets = json.dumps(list(marketplace_ids))
    by_asin = " ".join(
        f'd{day:%Y%m%d}: salesAndTrafficByAsin(aggregateBy: CHILD, startDate: "{day}", '
        f'endDate: "{day}", marketplaceIds: {markets}) {{ ...asin }}'
        for day in span.days()
    )
    return (
        f"query {{ {DATASET_ID} {{ "
        f'salesAndTrafficByDate(aggregateBy: DAY, startDate: "{span.start}", '
        f'endDate: "{span.end}", marketplaceIds: {markets}) {{ ...day }} '
        f"{by_asin} }} }} "
        f"fragment day on SalesAndTrafficByDate {{ startDate marketplaceId {_FIGURES} }} "
        f"fragment asin on SalesAndTrafficByAsin {{ startDate marketplaceId parentAsin childAsin "
        f"{_FIGURES} }}"
    )


def spans(start: date, end: date, marketplace_ids: Sequence[str], *, backward: bool) -> list[Span]:
    """[start, end] cut into spans whose query fits Amazon's limit, oldest first (backward:
    newest first, so a backfill moves the oldest day loaded back without a gap)."""
    days = CHUNK_DAYS
    while days > 1 and len(query_text(Span(end, end + timedelta(days - 1)), marketplace_ids)) > (
        MAX_QUERY_CHARS
    ):
        days -= 1
    out: list[Span] = []
    if backward:
        stop = end
        while stop >= start:
            first = max(start, stop - timedelta(days=days - 1))
            out.append(Span(first, stop))
            stop = first - timedelta(days=1)
    else:
        first = start
        while first <= end:
            stop = min(end, first + timedelta(days=days - 1))
            out.append(Span(first, stop))
            first = stop + timedelta(days=1)
    return out


def plan(
    job: DatasetJob, today: date, outcome: DatasetOutcome, *, loaded: Span | None = None
) -> list[tuple[Span, bool]]:
    """The spans this run asks for, in order, each with whether it is a backfill (behind the
    oldest day loaded); `loaded`: a span this run has loaded already (a query resumed)."""
    newest = today - timedelta(days=1)
    oldest = today - timedelta(days=MAX_DAYS)
    table = job.db.dataset_table(NAME)
    through = _day(table.mark(job.store_id, THROUGH))
    first = _day(table.mark(job.store_id, FROM))
    since = job.since.date() if job.since is not None else None
    if since is not None and since < oldest:
        outcome.note(f"sales & traffic reaches back two years, to {oldest}; not to {since}")
        since = oldest
    markets = job.marketplace_ids()
    if through is None or first is None:
        start = since if since is not None else newest - timedelta(days=FIRST_RUN_DAYS - 1)
        return [(s, False) for s in spans(max(start, oldest), newest, markets, backward=False)]
    out: list[tuple[Span, bool]] = []
    # Yesterday loaded: nothing new until a day closes, and tomorrow's query asks again for the
    # days Amazon may still restate. Asking again today would spend the fleet's budget on stores
    # already synced while stores further down the list wait.
    if through < newest:
        recent = max(oldest, through - timedelta(days=REPULL_DAYS - 1))
        if loaded is not None and loaded.start <= recent <= loaded.end:
            recent = loaded.end + timedelta(days=1)  # fresh from Amazon minutes ago
        out += [(s, False) for s in spans(recent, newest, markets, backward=False)]
    if since is not None and since < first:
        back = spans(since, first - timedelta(days=1), markets, backward=True)
        out += [(s, True) for s in back]
    return out


def sync(job: DatasetJob) -> DatasetOutcome:
    """Resume a query in flight, then ask for each span the fleet's budget allows now."""
    outcome = DatasetOutcome()
    budget = FleetBudget(
        job.db,
        BUDGET_OPERATION,
        burst=BUDGET_BURST,
        per_hour=job.option("st_queries_per_hour"),
        clock=job.clock,
    )
    resumed = _resume(job, outcome)
    if resumed is False:
        return outcome
    todo = plan(
        job, job.clock().date(), outcome, loaded=resumed if isinstance(resumed, Span) else None
    )
    for index, (span, backfill) in enumerate(todo):
        wait = budget.take()
        if wait > 0:
            left = len(todo) - index
            outcome.leave(
                left,
                f"the fleet's Data Kiosk budget is spent (the next query in {_duration(wait)}): "
                f"{left} sales & traffic span(s) from {span.start} left for the next syncs",
            )
            return outcome
        query_id = job.client.create_query(query_text(span, job.marketplace_ids()))
        _set_inflight(job, query_id, span)
        if not _finish(job, query_id, span, backfill, budget, outcome):
            return outcome
    return outcome


def _resume(job: DatasetJob, outcome: DatasetOutcome) -> Span | bool:
    """Finish the query a previous run left in flight: its span once loaded, False when it is
    still processing, True when there was none (or Amazon no longer has it)."""
    kept = job.db.get_sync_state(job.store_id, NAME, INFLIGHT)
    if kept is None:
        return True
    try:
        state = json.loads(kept)
        span = Span(date.fromisoformat(state["start"]), date.fromisoformat(state["end"]))
        query_id = str(state["id"])
    except (ValueError, KeyError, TypeError):
        _clear_inflight(job)
        return True
    first = _day(job.db.dataset_table(NAME).mark(job.store_id, FROM))
    try:
        backfill = first is not None and span.end < first
        return span if _finish(job, query_id, span, backfill, None, outcome) else False
    except SpapiNotFound:
        # Amazon keeps a query 30 days: this one is gone, and the plan asks for its days again.
        _clear_inflight(job)
        return True


def _finish(
    job: DatasetJob,
    query_id: str,
    span: Span,
    backfill: bool,
    budget: FleetBudget | None,
    outcome: DatasetOutcome,
) -> bool:
    """Wait for a query, load its pages and move the marks; False when the run should stop
    asking (still processing, or no budget for its next page)."""
    while True:
        try:
            done = datakiosk.poll(job, query_id, span.label)
        except DatasetFailed:
            # FATAL or CANCELLED is final: the next run asks for these days afresh instead of
            # reading the same answer again for the 30 days Amazon keeps it.
            _clear_inflight(job)
            raise
        if done is None:
            outcome.leave(1, f"{span.label}: still processing at Amazon; the next sync loads it")
            return False
        if done.document_id is not None:
            _load(job, done.document_id, outcome)
        if done.next_token is None:
            break
        if budget is None or budget.take() > 0:
            outcome.leave(
                1, f"{span.label}: the fleet's Data Kiosk budget is spent before its next page"
            )
            _clear_inflight(job)
            return False
        query_id = job.client.create_query(
            query_text(span, job.marketplace_ids()), pagination_token=done.next_token
        )
        _set_inflight(job, query_id, span)
    table = job.db.dataset_table(NAME)
    through = _day(table.mark(job.store_id, THROUGH))
    first = _day(table.mark(job.store_id, FROM))
    marks = {
        THROUGH: str(span.end if through is None else max(through, span.end)),
        FROM: str(span.start if first is None else min(first, span.start)),
    }
    if backfill and first is not None and span.end < first - timedelta(days=1):
        marks[FROM] = str(first)  # a gap would be left behind: only a contiguous span moves it
    table.write_rows(job.store_id, [], at=job.clock(), marks=marks)
    _clear_inflight(job)
    return True


def _load(job: DatasetJob, document_id: str, outcome: DatasetOutcome) -> None:
    by_date = job.db.dataset_table(NAME)
    by_asin = job.db.dataset_table(NAME, BY_ASIN.name)
    day_rows: list[tuple[Any, ...]] = []
    asin_rows: list[tuple[Any, ...]] = []
    for record in datakiosk.records(job, document_id):
        if "parentAsin" in record or "childAsin" in record:
            row = asin_row(record)
            if row is not None:
                asin_rows.append(row)
        else:
            row = date_row(record)
            if row is not None:
                day_rows.append(row)
        for rows, table in ((day_rows, by_date), (asin_rows, by_asin)):
            if len(rows) >= BATCH_ROWS:
                job.check_stop()
                counts = table.write_rows(job.store_id, rows, at=job.clock())
                outcome.count(counts.added, counts.updated)
                rows.clear()
    for rows, table in ((day_rows, by_date), (asin_rows, by_asin)):
        counts = table.write_rows(job.store_id, rows, at=job.clock())
        outcome.count(counts.added, counts.updated)


def _figures(record: Mapping[str, Any]) -> tuple[Any, ...]:
    return (
        as_decimal(dig(record, "sales", "orderedProductSales", "amount")),
        as_text(dig(record, "sales", "orderedProductSales", "currencyCode")),
        as_int(dig(record, "sales", "unitsOrdered")),
        as_int(dig(record, "sales", "totalOrderItems")),
        as_int(dig(record, "traffic", "pageViews")),
        as_int(dig(record, "traffic", "sessions")),
        _real(dig(record, "traffic", "buyBoxPercentage")),
        _real(dig(record, "traffic", "unitSessionPercentage")),
    )


def date_row(record: Mapping[str, Any]) -> tuple[Any, ...] | None:
    """A sales_traffic_by_date row (marketplace, date, figures, raw), or None without a key."""
    market, day = as_text(record.get("marketplaceId")), _day(record.get("startDate"))
    if market is None or day is None:
        return None
    return (market, str(day), *_figures(record), raw_json(record))


def asin_row(record: Mapping[str, Any]) -> tuple[Any, ...] | None:
    """A sales_traffic_by_asin row, or None without a key."""
    market, day = as_text(record.get("marketplaceId")), _day(record.get("startDate"))
    child = as_text(record.get("childAsin"))
    if market is None or day is None or child is None:
        return None
    return (
        market,
        str(day),
        child,
        as_text(record.get("parentAsin")),
        *_figures(record),
        raw_json(record),
    )


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def _real(value: Any) -> float | None:
    text = as_decimal(value)
    return None if text is None else float(text)


def _day(value: Any) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _set_inflight(job: DatasetJob, query_id: str, span: Span) -> None:
    state = json.dumps({"id": query_id, "start": str(span.start), "end": str(span.end)})
    job.db.update_sync_state(job.store_id, NAME, job.clock(), set_={INFLIGHT: state})


def _clear_inflight(job: DatasetJob) -> None:
    job.db.update_sync_state(job.store_id, NAME, job.clock(), delete=(INFLIGHT,))
