"""Brand Analytics: weeks, report lifecycle, resume, CANCELLED, FATAL, atomic visibility."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest

from soldscope_cli.amazon.spapi import SpapiForbidden, SpapiTransient
from soldscope_cli.datasets import registry
from soldscope_cli.db.database import Database
from soldscope_cli.sync import brand_analytics as ba
from soldscope_cli.sync import parser_process
from soldscope_cli.sync.base import BRAND_ANALYTICS, DatasetFailed, DatasetJob

from .conftest import NOW, Clock, FakeClient, forbidden, gz_document, make_store, rows, term_rows

US = "ATVPDKIKX0DER"
CA = "A2EUQ1WTGCTBG2"
# NOW is Wednesday 2026-11-25: the week of Sunday 11-15 ended on Saturday 11-21, 4 days ago.
LATEST = date(2026, 11, 15)


def visible(db: Database, week: date | None = None) -> int:
    if week is None:
        return rows(db, "SELECT COUNT(*) FROM ba_search_terms")[0][0]  # type: ignore[no-any-return]
    return rows(db, "SELECT COUNT(*) FROM ba_search_terms WHERE week_start = ?", week.isoformat())[
        0
    ][0]  # type: ignore[no-any-return]


def staged(db: Database) -> int:
    return rows(db, "SELECT COUNT(*) FROM ba_search_terms_rows")[0][0]  # type: ignore[no-any-return]


def serve_uncompressed(client: FakeClient, chunks: list[bytes]) -> None:
    """Every document is these chunks, announced without a compressionAlgorithm."""
    client.documents = lambda mkt, start: chunks
    original = client.get_report_document

    def plain(document_id: str) -> dict[str, object]:
        doc = original(document_id)
        del doc["compressionAlgorithm"]
        return doc

    client.get_report_document = plain  # type: ignore[method-assign]


def creates(client: FakeClient) -> list[dict[str, object]]:
    return [kw for name, kw in client.calls if name == "createReport"]


@pytest.mark.parametrize(
    ("day", "sunday"),
    [
        (date(2026, 11, 22), date(2026, 11, 22)),  # Sunday itself
        (date(2026, 11, 28), date(2026, 11, 22)),  # Saturday
        (date(2026, 11, 23), date(2026, 11, 22)),  # Monday
    ],
)
def test_week_start_is_the_sunday(day: date, sunday: date) -> None:
    assert ba.week_start(day) == sunday


@pytest.mark.parametrize(
    ("now", "latest"),
    [
        (datetime(2026, 11, 25, 12, tzinfo=UTC), date(2026, 11, 15)),
        # The week of 11-15 ended Saturday 23:59:59; two days later (Monday 24:00) it is available.
        (datetime(2026, 11, 23, 23, 59, tzinfo=UTC), date(2026, 11, 8)),
        (datetime(2026, 11, 24, 0, 0, tzinfo=UTC), date(2026, 11, 15)),
    ],
)
def test_latest_available_week(now: datetime, latest: date) -> None:
    assert ba.latest_available_week(now) == latest


def test_week_bounds_are_one_whole_period() -> None:
    start, end = ba.week_bounds(date(2026, 11, 15))
    assert start == datetime(2026, 11, 15, 0, 0, 0, tzinfo=UTC)
    assert end == datetime(2026, 11, 21, 23, 59, 59, tzinfo=UTC)


def test_first_run_requests_the_last_weeks_and_loads_them(
    make_job: Callable[..., DatasetJob], client: FakeClient, db: Database, clock: Clock
) -> None:
    outcome = ba.sync(make_job(ba_weeks=4))
    made = creates(client)
    assert [c["data_start_time"] for c in made] == [
        datetime.combine(LATEST - timedelta(days=7 * k), datetime.min.time(), tzinfo=UTC)
        for k in range(4)
    ]
    assert all(c["report_options"] == {"reportPeriod": "WEEK"} for c in made)
    assert all(c["marketplace_ids"] == [US] for c in made)
    assert all(c["report_type"] == ba.REPORT_TYPE for c in made)
    assert outcome.rows_added == 4 * 9
    assert visible(db) == 36
    assert (
        clock.sleeps and clock.sleeps[0] == ba.POLICY.poll_first_s
    )  # injected sleep, no real wait
    weeks = rows(
        db,
        "SELECT week_start, week_end, processing_status, row_count FROM ba_search_terms_weeks"
        " ORDER BY week_start DESC LIMIT 1",
    )
    assert weeks == [("2026-11-15", "2026-11-21", "DONE", 9)]
    assert db.sync_state(db.store_id("acme-us"), BRAND_ANALYTICS, "inflight:") == {}
    sample = rows(
        db,
        "SELECT store, marketplace_id, department_name, search_term, search_frequency_rank,"
        " clicked_asin, clicked_item_name, click_share_rank, click_share, conversion_share"
        " FROM ba_search_terms WHERE week_start = '2026-11-15' AND clicked_asin = 'B000000004'",
    )
    assert sample == [
        (
            "acme-us",
            US,
            "Amazon.com",
            f"{US} 2026-11-15 1",
            2,
            "B000000004",
            "Item 4",
            2,
            0.25,
            0.125,
        )
    ]


def test_rerun_when_up_to_date_requests_nothing_and_adds_nothing(
    make_job: Callable[..., DatasetJob], client: FakeClient, db: Database
) -> None:
    ba.sync(make_job(ba_weeks=2))
    before = len(client.calls)
    outcome = ba.sync(make_job(ba_weeks=2))
    assert outcome.rows_added == 0
    assert client.calls[before:] == []
    assert visible(db) == 18


def test_a_new_week_is_picked_up_and_missed_weeks_are_not_lost(
    make_job: Callable[..., DatasetJob], client: FakeClient, db: Database, clock: Clock
) -> None:
    ba.sync(make_job(ba_weeks=1))
    clock.advance(days=21)  # three more weeks became available while sync did not run
    ba.sync(make_job(ba_weeks=1))
    starts = [c["data_start_time"].date() for c in creates(client)]  # type: ignore[attr-defined]
    assert starts == [
        LATEST,
        LATEST + timedelta(days=21),
        LATEST + timedelta(days=14),
        LATEST + timedelta(days=7),
    ]


def test_since_extends_the_first_week_back(
    make_job: Callable[..., DatasetJob], client: FakeClient, db: Database
) -> None:
    ba.sync(make_job(ba_weeks=1))
    ba.sync(make_job(ba_weeks=1, since=datetime(2026, 10, 28, tzinfo=UTC)))  # a Wednesday
    starts = sorted(c["data_start_time"].date() for c in creates(client))  # type: ignore[attr-defined]
    assert starts == [date(2026, 10, 25), date(2026, 11, 1), date(2026, 11, 8), LATEST]
    assert db.get_sync_state(db.store_id("acme-us"), BRAND_ANALYTICS, "from:" + US) == "2026-10-25"


def test_in_flight_reports_are_resumed_not_requested_again(
    make_job: Callable[..., DatasetJob], client: FakeClient, db: Database, clock: Clock
) -> None:
    client.document_statuses = lambda n: ["IN_QUEUE"] * 50 + ["DONE"]
    outcome = ba.sync(make_job(ba_weeks=2, report_wait_s=30))
    assert outcome.rows_added == 0
    assert any("still processing" in n.text for n in outcome.notes)
    inflight = db.sync_state(db.store_id("acme-us"), BRAND_ANALYTICS, "inflight:")
    assert {json.loads(v)["report_id"] for v in inflight.values()} == {"R1", "R2"}
    for report in client.reports.values():
        report.statuses = ["DONE"]
    outcome = ba.sync(make_job(ba_weeks=2, report_wait_s=30))
    assert len(creates(client)) == 2  # none requested again
    assert outcome.rows_added == 18
    assert db.sync_state(db.store_id("acme-us"), BRAND_ANALYTICS, "inflight:") == {}


def test_poll_backoff_grows_and_is_capped(
    make_job: Callable[..., DatasetJob], client: FakeClient, clock: Clock
) -> None:
    client.document_statuses = lambda n: ["IN_PROGRESS"] * 12 + ["DONE"]
    ba.sync(make_job(ba_weeks=1, report_wait_s=3600))
    assert clock.sleeps[:3] == [5.0, 7.5, 11.25]
    assert max(clock.sleeps) == ba.POLICY.poll_max_s


def test_cancelled_means_loaded_with_no_rows(
    make_job: Callable[..., DatasetJob], client: FakeClient, db: Database
) -> None:
    client.document_statuses = lambda n: ["CANCELLED"]
    outcome = ba.sync(make_job(ba_weeks=1))
    assert rows(db, "SELECT processing_status, row_count FROM ba_search_terms_weeks") == [
        ("CANCELLED", 0)
    ]
    assert any("no data" in n.text for n in outcome.notes)
    before = len(client.calls)
    ba.sync(make_job(ba_weeks=1))
    assert client.calls[before:] == []


def test_fatal_is_recorded_retried_after_cooldown_and_given_up_after_three(
    make_job: Callable[..., DatasetJob], client: FakeClient, db: Database, clock: Clock
) -> None:
    client.document_statuses = lambda n: ["FATAL"]
    outcome = ba.sync(make_job(ba_weeks=1))
    assert any("FATAL" in n.text and n.warning for n in outcome.notes)
    fatal = json.loads(
        db.get_sync_state(db.store_id("acme-us"), BRAND_ANALYTICS, f"fatal:{US}:{LATEST}") or "{}"
    )
    assert fatal["count"] == 1 and fatal["report_id"] == "R1"
    assert db.sync_state(db.store_id("acme-us"), BRAND_ANALYTICS, "inflight:") == {}
    clock.advance(hours=23)
    ba.sync(make_job(ba_weeks=1))
    assert len(creates(client)) == 1  # still cooling down
    clock.advance(hours=2)
    ba.sync(make_job(ba_weeks=1))
    assert len(creates(client)) == 2
    clock.advance(hours=25)
    outcome = ba.sync(make_job(ba_weeks=1))
    assert any("giving up" in n.text for n in outcome.notes)
    clock.advance(days=3)
    before = len(creates(client))
    ba.sync(make_job(ba_weeks=1, since=datetime(2026, 11, 15, tzinfo=UTC)))
    # The week that failed three times is not requested again (newer weeks are).
    assert all(c["data_start_time"].date() != LATEST for c in creates(client)[before:])  # type: ignore[attr-defined]


def test_fatal_then_done_clears_the_fatal_mark(
    make_job: Callable[..., DatasetJob], client: FakeClient, db: Database, clock: Clock
) -> None:
    client.document_statuses = lambda n: ["FATAL"] if n == 1 else ["DONE"]
    ba.sync(make_job(ba_weeks=1))
    clock.advance(hours=25)
    ba.sync(make_job(ba_weeks=1))
    assert db.sync_state(db.store_id("acme-us"), BRAND_ANALYTICS, "fatal:") == {}
    assert visible(db) == 9


def test_403_on_create_report_propagates_for_the_runner_to_classify(
    make_job: Callable[..., DatasetJob], client: FakeClient, db: Database
) -> None:
    def deny(marketplace_ids: object, start: object) -> None:
        raise forbidden()

    client.create = deny
    with pytest.raises(SpapiForbidden):
        ba.sync(make_job(ba_weeks=1))
    assert db.sync_state(db.store_id("acme-us"), BRAND_ANALYTICS, "inflight:") == {}


def test_report_gone_at_amazon_is_requested_again_next_run(
    make_job: Callable[..., DatasetJob], client: FakeClient, db: Database
) -> None:
    client.document_statuses = lambda n: ["IN_QUEUE"]
    ba.sync(make_job(ba_weeks=1, report_wait_s=1))
    client.reports.clear()
    outcome = ba.sync(make_job(ba_weeks=1, report_wait_s=1))
    assert any("no longer exists" in n.text for n in outcome.notes)
    assert db.sync_state(db.store_id("acme-us"), BRAND_ANALYTICS, "inflight:") == {}
    client.document_statuses = lambda n: ["DONE"]
    ba.sync(make_job(ba_weeks=1))
    assert len(creates(client)) == 2
    assert visible(db) == 9


def test_interrupted_download_is_invisible_and_rerun_loads_exactly_once(
    make_job: Callable[..., DatasetJob],
    client: FakeClient,
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ba, "BATCH_ROWS", 100)
    # Large enough to span several parser reads, so some batches commit before the failure.
    client.documents = lambda mkt, start: gz_document(term_rows(6000, start), chunk=1024)
    client.document_statuses = lambda n: ["DONE"]
    original_open = client.open_document

    def failing_open(url: str):  # type: ignore[no-untyped-def]
        for report in client.reports.values():
            report.fail_after_chunks = len(report.chunks) // 2
        return original_open(url)

    client.open_document = failing_open  # type: ignore[method-assign]
    with pytest.raises(DatasetFailed, match="ServiceUnavailable"):
        ba.sync(make_job(ba_weeks=1))
    # Batches were committed while streaming, but none of them is visible: the week is not loaded.
    assert staged(db) > 0
    assert visible(db) == 0
    assert rows(db, "SELECT COUNT(*) FROM ba_search_terms_weeks") == [(0,)]
    assert len(db.sync_state(db.store_id("acme-us"), BRAND_ANALYTICS, "inflight:")) == 1
    client.open_document = original_open  # type: ignore[method-assign]
    for report in client.reports.values():
        report.fail_after_chunks = None
    outcome = ba.sync(make_job(ba_weeks=1))
    assert len(creates(client)) == 1  # resumed, not requested again
    assert outcome.rows_added == 6000
    assert visible(db) == 6000
    assert staged(db) == 6000  # the partial attempt's rows were cleared first
    assert rows(db, "SELECT COUNT(*) FROM ba_search_terms_loads") == [(1,)]
    assert rows(db, "SELECT COUNT(DISTINCT clicked_asin) FROM ba_search_terms") == [(6000,)]


def test_one_failed_week_does_not_stop_the_others(
    make_job: Callable[..., DatasetJob], client: FakeClient, db: Database
) -> None:
    client.document_statuses = lambda n: ["DONE"]
    original = client.get_report_document

    def flaky(document_id: str) -> dict[str, object]:
        if document_id == "D-R1":
            raise SpapiTransient(
                status=503,
                code="ServiceUnavailable",
                message="later",
                details=None,
                request_id="rid-9",
                operation="getReportDocument",
                store="acme-us",
            )
        return original(document_id)

    client.get_report_document = flaky  # type: ignore[method-assign]
    with pytest.raises(DatasetFailed) as caught:
        ba.sync(make_job(ba_weeks=3))
    assert caught.value.request_id == "rid-9"
    assert "2026-11-15" in caught.value.message
    assert rows(db, "SELECT week_start FROM ba_search_terms_weeks ORDER BY 1") == [
        ("2026-11-01",),
        ("2026-11-08",),
    ]


def test_each_marketplace_is_its_own_report(
    make_job: Callable[..., DatasetJob], client: FakeClient, db: Database
) -> None:
    ba.sync(make_job(ba_weeks=1, store=make_store(marketplaces=["US", "CA"])))
    assert sorted(c["marketplace_ids"][0] for c in creates(client)) == sorted([US, CA])  # type: ignore[index]
    assert rows(
        db, "SELECT marketplace_id, COUNT(*) FROM ba_search_terms GROUP BY 1 ORDER BY 1"
    ) == [
        (CA, 9),
        (US, 9),
    ]


def test_new_requests_are_capped_per_run(
    make_job: Callable[..., DatasetJob], client: FakeClient
) -> None:
    outcome = ba.sync(make_job(ba_weeks=20))
    assert len(creates(client)) == ba.POLICY.max_new_reports
    assert any("5 more week(s)" in n.text for n in outcome.notes)
    ba.sync(make_job(ba_weeks=20))
    assert len(creates(client)) == 20


def test_uncompressed_documents_are_read_too(
    make_job: Callable[..., DatasetJob], client: FakeClient, db: Database
) -> None:
    payload = json.dumps(
        {"reportSpecification": {}, "dataByDepartmentAndSearchTerm": term_rows(6)}
    ).encode()
    serve_uncompressed(client, [payload[:50], payload[50:]])
    ba.sync(make_job(ba_weeks=1))
    assert visible(db) == 6


def test_purge_removes_brand_analytics_rows(
    make_job: Callable[..., DatasetJob], db: Database, clock: Clock
) -> None:
    ba.sync(make_job(ba_weeks=1))
    db.delete_store("acme-us", clock(), purge_tables=registry.data_tables())
    assert staged(db) == 0
    assert rows(db, "SELECT COUNT(*) FROM ba_search_terms_weeks") == [(0,)]
    assert rows(db, "SELECT COUNT(*) FROM ba_search_terms_loads") == [(0,)]


def test_a_document_whose_rows_are_not_objects_fails_that_week_and_loads_nothing(
    make_job: Callable[..., DatasetJob], client: FakeClient, db: Database
) -> None:
    payload = json.dumps(
        {"reportSpecification": {}, "dataByDepartmentAndSearchTerm": [*term_rows(2), 7]}
    ).encode()
    serve_uncompressed(client, [payload])
    with pytest.raises(DatasetFailed) as caught:
        ba.sync(make_job(ba_weeks=1))
    assert "not an object" in caught.value.message
    assert visible(db) == 0


def test_rows_missing_a_field_keep_the_others(
    make_job: Callable[..., DatasetJob], client: FakeClient, db: Database
) -> None:
    rows_ = term_rows(3)
    del rows_[1]["clickedItemName"]
    payload = json.dumps(
        {"reportSpecification": {}, "dataByDepartmentAndSearchTerm": rows_}
    ).encode()
    serve_uncompressed(client, [payload])
    ba.sync(make_job(ba_weeks=1))
    assert visible(db) == 3
    names = rows(db, "SELECT clicked_item_name FROM ba_search_terms ORDER BY search_frequency_rank")
    assert sum(1 for (n,) in names if n is None) == 1


def test_a_report_stuck_at_amazon_for_days_is_requested_again(
    make_job: Callable[..., DatasetJob], client: FakeClient, db: Database, clock: Clock
) -> None:
    client.document_statuses = lambda n: ["IN_PROGRESS"] * 1000
    ba.sync(make_job(ba_weeks=1, report_wait_s=10))
    assert len(creates(client)) == 1
    clock.now += timedelta(days=2)
    ba.sync(make_job(ba_weeks=1, report_wait_s=10))
    assert len(creates(client)) == 1  # two days: still resumed, not requested again
    clock.now += timedelta(days=2)
    client.document_statuses = lambda n: ["DONE"]
    outcome = ba.sync(make_job(ba_weeks=1, report_wait_s=10))
    first, again = creates(client)
    assert again["data_start_time"] == first["data_start_time"]  # the same week, afresh
    assert any("requesting it again" in n.text and n.warning for n in outcome.notes)
    assert visible(db) > 0


def test_memory_stays_flat_in_the_documents_size(
    make_job: Callable[..., DatasetJob],
    client: FakeClient,
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Rows are streamed into the database (COPY on PostgreSQL) batch by batch: four times the
    rows do not take four times the memory."""
    import tracemalloc

    monkeypatch.setattr(ba, "BATCH_ROWS", 500)
    # Both documents bigger than the head held to decide: they go through the parser process.
    monkeypatch.setattr(parser_process, "CHILD_MIN_BYTES", 256 * 1024)
    client.document_statuses = lambda n: ["DONE"]
    peaks = []
    for week_rows in (4000, 16000):
        document = gz_document(term_rows(week_rows), chunk=16384)
        client.documents = lambda mkt, start, document=document: document
        tracemalloc.start()
        try:
            outcome = ba.sync(make_job(ba_weeks=1))
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
        assert outcome.rows_added == week_rows
        db.delete_store("acme-us", NOW, purge_tables=registry.data_tables())
    # tracemalloc counts every thread's allocations, those of threads an earlier test left
    # winding down too: a fixed slack keeps that noise out, while memory that grew with the
    # document (four times the rows) would still be far above the bound.
    assert peaks[1] < peaks[0] * 1.5 + 512 * 1024, peaks
