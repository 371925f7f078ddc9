"""Finances 2024-06-19: first-run start, 180-day windows, pagination, cursor and lookback."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from soldscope_cli.db.database import Database, from_db_time, to_db_time
from soldscope_cli.sync import finances
from soldscope_cli.sync.base import FINANCES, DatasetFailed, DatasetJob

from .conftest import NOW, Clock, FakeClient, rows, transient

US = "ATVPDKIKX0DER"


def txn(
    tid: str, posted: str = "2026-11-20T08:00:00.000Z", status: str = "RELEASED"
) -> dict[str, Any]:
    return {
        "sellingPartnerMetadata": {
            "sellingPartnerId": "A1",
            "accountType": "PAYABLE",
            "marketplaceId": US,
        },
        "relatedIdentifiers": [
            {"relatedIdentifierName": "ORDER_ID", "relatedIdentifierValue": "111-2222222-3333333"},
            {"relatedIdentifierName": "FINANCIAL_EVENT_GROUP_ID", "relatedIdentifierValue": "G1"},
        ],
        "transactionType": "Shipment",
        "transactionId": tid,
        "transactionStatus": status,
        "description": "Order Payment",
        "postedDate": posted,
        "totalAmount": {"currencyAmount": 12.34, "currencyCode": "USD"},
        "marketplaceDetails": {"marketplaceId": US, "marketplaceName": "Amazon.com"},
        "items": [],
        "breakdowns": [],
    }


def answer(pages: dict[str | None, tuple[list[dict[str, Any]], str | None]]) -> Callable[..., Any]:
    def handler(after: datetime, before: datetime | None, token: str | None) -> dict[str, Any]:
        items, nxt = pages.get(token, ([], None))
        payload: dict[str, Any] = {"transactions": items}
        if nxt:
            payload["nextToken"] = nxt
        return {"payload": payload}

    return handler


def windows_called(client: FakeClient) -> list[tuple[datetime, datetime | None]]:
    return [
        (kw["posted_after"], kw["posted_before"])
        for name, kw in client.calls
        if name == "listTransactions" and kw["next_token"] is None
    ]


def test_first_run_reads_30_days_up_to_5_minutes_ago_with_pagination(
    make_job: Callable[..., DatasetJob], client: FakeClient, db: Database
) -> None:
    client.transactions = answer({None: ([txn("T1"), txn("T2")], "n2"), "n2": ([txn("T3")], None)})
    outcome = finances.sync(make_job())
    assert (outcome.rows_added, outcome.rows_updated) == (3, 0)
    assert windows_called(client) == [(NOW - timedelta(days=30), NOW - timedelta(minutes=5))]
    tokens = [kw["next_token"] for name, kw in client.calls if name == "listTransactions"]
    assert tokens == [None, "n2"]
    assert rows(
        db,
        "SELECT store, transaction_id, transaction_type, transaction_status, description,"
        " posted_date, total_amount, total_currency, marketplace_id, order_id,"
        " financial_event_group_id FROM financial_transactions WHERE transaction_id = 'T3'",
    ) == [
        (
            "acme-us",
            "T3",
            "Shipment",
            "RELEASED",
            "Order Payment",
            "2026-11-20T08:00:00.000Z",
            "12.34",  # exact decimal text, never a float
            "USD",
            US,
            "111-2222222-3333333",
            "G1",
        )
    ]
    cursor = db.get_sync_state(db.store_id("acme-us"), FINANCES, "cursor")
    assert cursor is not None and from_db_time(cursor) == NOW - timedelta(minutes=5)


def test_since_far_back_is_cut_into_180_day_windows_each_moving_the_cursor(
    make_job: Callable[..., DatasetJob], client: FakeClient, db: Database
) -> None:
    cursors: list[str | None] = []

    def handler(after: datetime, before: datetime | None, token: str | None) -> dict[str, Any]:
        cursors.append(db.get_sync_state(db.store_id("acme-us"), FINANCES, "cursor"))
        return {"payload": {"transactions": [txn("T" + after.date().isoformat())]}}

    client.transactions = handler
    since = NOW - timedelta(days=400)
    finances.sync(make_job(since=since))
    got = windows_called(client)
    end = NOW - timedelta(minutes=5)
    assert got[0][0] == since
    assert got[-1][1] == end
    for (_, b), (c, _) in itertools.pairwise(got):
        assert b == c  # contiguous: no gap, no overlap
    assert all(b is not None and b - a <= timedelta(days=180) for a, b in got)
    assert len(got) == 3
    # Each window's cursor is committed with its rows: the second window starts after the first.
    assert cursors[0] is None
    assert cursors[1] == to_db_time(got[0][1])  # type: ignore[arg-type]


def test_rerun_rereads_a_day_and_adds_nothing_but_updates_changed_status(
    make_job: Callable[..., DatasetJob], client: FakeClient, db: Database, clock: Clock
) -> None:
    client.transactions = answer({None: ([txn("T1", status="DEFERRED"), txn("T2")], None)})
    finances.sync(make_job())
    clock.advance(hours=2)
    client.transactions = answer({None: ([txn("T1", status="DEFERRED_RELEASED"), txn("T2")], None)})
    outcome = finances.sync(make_job())
    assert (outcome.rows_added, outcome.rows_updated) == (0, 1)
    second = windows_called(client)[-1]
    assert second[0] == NOW - timedelta(minutes=5) - finances.LOOKBACK
    assert rows(
        db, "SELECT transaction_status FROM financial_transactions WHERE transaction_id = 'T1'"
    ) == [("DEFERRED_RELEASED",)]
    outcome = finances.sync(make_job())
    assert (outcome.rows_added, outcome.rows_updated) == (0, 0)
    assert rows(db, "SELECT COUNT(*) FROM financial_transactions") == [(2,)]


def test_failed_page_leaves_the_cursor_where_it_was(
    make_job: Callable[..., DatasetJob], client: FakeClient, db: Database
) -> None:
    def handler(after: datetime, before: datetime | None, token: str | None) -> dict[str, Any]:
        if token is None:
            return {"payload": {"transactions": [txn("T1")], "nextToken": "n2"}}
        raise transient("listTransactions")

    client.transactions = handler
    with pytest.raises(Exception, match="ServiceUnavailable"):
        finances.sync(make_job())
    assert db.get_sync_state(db.store_id("acme-us"), FINANCES, "cursor") is None


def test_since_backfill_never_moves_the_cursor_back(
    make_job: Callable[..., DatasetJob], client: FakeClient, db: Database, clock: Clock
) -> None:
    client.transactions = answer({None: ([txn("T1")], None)})
    finances.sync(make_job())
    before = db.get_sync_state(db.store_id("acme-us"), FINANCES, "cursor")
    # The store was just synced; a backfill from far back must not leave the cursor behind.
    finances.sync(make_job(since=NOW - timedelta(days=365)))
    assert db.get_sync_state(db.store_id("acme-us"), FINANCES, "cursor") == before
    assert windows_called(client)[1][0] == NOW - timedelta(days=365)


def test_since_later_than_the_cursor_does_not_skip_ahead(
    make_job: Callable[..., DatasetJob], client: FakeClient, clock: Clock
) -> None:
    client.transactions = answer({None: ([], None)})
    finances.sync(make_job())
    clock.advance(days=10)
    finances.sync(make_job(since=NOW + timedelta(days=9)))
    assert windows_called(client)[1][0] == NOW - timedelta(minutes=5) - finances.LOOKBACK


def test_nothing_to_read_when_called_again_within_minutes(
    make_job: Callable[..., DatasetJob], client: FakeClient, clock: Clock
) -> None:
    client.transactions = answer({None: ([], None)})
    job = make_job(since=NOW - timedelta(minutes=3))
    finances.sync(job)
    assert windows_called(client) == []


def test_windows_are_contiguous_and_bounded() -> None:
    start = datetime(2025, 1, 1, tzinfo=NOW.tzinfo)
    cut = finances.windows(start, start + timedelta(days=361))
    assert [b - a for a, b in cut] == [timedelta(days=180), timedelta(days=180), timedelta(days=1)]
    assert finances.windows(start, start) == []


@pytest.mark.parametrize(
    ("amount", "stored"),
    [
        ("12345678901234567.89", "12345678901234567.89"),  # beyond a float's 15-17 digits
        ("0.1", "0.1"),
        ("-1234.5600", "-1234.5600"),  # Amazon's scale is kept
        ("1E-7", "0.0000001"),  # plain notation
        ("42", "42"),
    ],
)
def test_amounts_are_stored_and_kept_in_raw_digit_for_digit(
    make_job: Callable[..., DatasetJob],
    client: FakeClient,
    db: Database,
    amount: str,
    stored: str,
) -> None:
    item = txn("T1")
    # What the SP-API client hands over: JSON numbers with a fraction parsed as Decimal.
    item["totalAmount"] = json.loads(
        f'{{"currencyAmount": {amount}, "currencyCode": "JPY"}}', parse_float=Decimal
    )
    client.transactions = answer({None: ([item], None)})
    finances.sync(make_job())
    [(total, currency, raw)] = rows(
        db, "SELECT total_amount, total_currency, raw FROM financial_transactions"
    )
    assert (total, currency) == (stored, "JPY")
    if not hasattr(db, "url"):
        # SQLite keeps Amazon's text; PostgreSQL's jsonb keeps the exact number (as numeric).
        assert f'"currencyAmount":{amount}' in raw
    assert json.loads(raw, parse_float=Decimal)["totalAmount"]["currencyAmount"] == Decimal(amount)


def test_a_repeated_next_token_fails_finances_with_the_window_it_was_in(
    make_job: Callable[..., DatasetJob], client: FakeClient, db: Database
) -> None:
    served = {"n": 0}

    def handler(after: datetime, before: datetime | None, token: str | None) -> dict[str, Any]:
        served["n"] += 1
        assert served["n"] <= 40, "the sync kept paging"
        return {"payload": {"transactions": [txn(f"T{served['n']}")], "nextToken": "stuck"}}

    client.transactions = handler
    with pytest.raises(DatasetFailed) as failed:
        finances.sync(make_job())
    assert failed.value.code == "repeated_next_token"
    assert "same nextToken" in failed.value.message
    assert served["n"] == 2
    assert db.get_sync_state(db.store_id("acme-us"), FINANCES, "cursor") is None
