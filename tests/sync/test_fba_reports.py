"""Orders, returns and reimbursements: windows, row parsing (local number formats, Amazon's date
shapes, rejected lines), the covered span and resuming, on both engines."""

from __future__ import annotations

import gzip
import itertools
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from soldscope_cli.amazon.marketplaces import MARKETPLACES
from soldscope_cli.db.database import Database
from soldscope_cli.db.tables.keyed import KeyedTable
from soldscope_cli.simulator.flat_reports import (
    ORDER_COLUMNS,
    REIMBURSEMENT_COLUMNS,
    RETURN_COLUMNS,
    local_amount,
)
from soldscope_cli.simulator.markets import info
from soldscope_cli.sync import orders, parser_process, reimbursements, returns, windowed
from soldscope_cli.sync.base import DatasetJob
from soldscope_cli.sync.windowed import Windows, covered_spans, plan_windows
from tests.sync.conftest import NOW, Clock, FakeClient, make_store, rows

DE = "A1PA6795UKMFR9"
FR = "A13V1IB3VIYZZH"
US = "ATVPDKIKX0DER"


def tsv(columns: Sequence[str], lines: Sequence[Mapping[str, str]]) -> list[bytes]:
    text = "\t".join(columns) + "\n"
    text += "".join("\t".join(line.get(c, "") for c in columns) + "\n" for line in lines)
    data = gzip.compress(text.encode("utf-8"))
    return [data[i : i + 512] for i in range(0, len(data), 512)]


def order(order_id: str, sku: str, price: str, **more: str) -> dict[str, str]:
    return {
        "amazon-order-id": order_id,
        "purchase-date": "2026-11-20T08:12:44+00:00",
        "last-updated-date": "2026-11-21T09:00:00+00:00",
        "order-status": "Shipped",
        "fulfillment-channel": "Amazon",
        "sales-channel": "Amazon.de",
        "sku": sku,
        "asin": "B0TEST0001",
        "item-status": "Shipped",
        "quantity": "1",
        "currency": "EUR",
        "item-price": price,
        "ship-city": "Berlin",
        "ship-postal-code": "10115",
        **more,
    }


# --- row parsing ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "price", "expected"),
    [
        ("Amazon.de", "1.234,56", "1234.56"),
        ("Amazon.de", "1234,5", "1234.5"),
        ("Amazon.de", "-0,99", "-0.99"),
        ("Amazon.fr", "1\u202f234,56", "1234.56"),
        ("Amazon.com", "1,234.56", "1234.56"),
        ("Amazon.co.uk", "12.00", "12.00"),
        ("Amazon.in", "1,23,456.78", "123456.78"),
    ],
)
def test_order_amounts_follow_the_sales_channels_marketplace(
    channel: str, price: str, expected: str
) -> None:
    row = orders.LineParser(DE)(order("1", "S", price, **{"sales-channel": channel}))
    assert row[12] == expected


@pytest.mark.parametrize("market", MARKETPLACES, ids=lambda m: m.code)
def test_every_marketplace_reads_its_own_amounts(market: object) -> None:
    marketplace_id = market.marketplace_id  # type: ignore[attr-defined]
    code = market.code  # type: ignore[attr-defined]
    written = local_amount(Decimal("-1234.56"), code)
    channel = info(marketplace_id).name
    row = orders.LineParser(US)(order("1", "S", written, **{"sales-channel": channel}))
    assert (row[7], row[12]) == (marketplace_id, "-1234.56")


@pytest.mark.parametrize(
    "text",
    ["2026-11-03T08:12:44+00:00", "03.11.2026 08:12:44 UTC", "2026-11-03 08:12:44 UTC"],
)
def test_order_times_in_every_shape_amazon_writes(text: str) -> None:
    row = orders.LineParser(DE)(order("1", "S", "1,00", **{"purchase-date": text}))
    assert row[2] == datetime(2026, 11, 3, 8, 12, 44, tzinfo=UTC)


def test_a_short_us_date_is_midnight_utc() -> None:
    row = returns.row_of(
        {c: "x" for c in RETURN_COLUMNS} | {"return-date": "11/03/26", "quantity": "2"}
    )
    assert row[0] == datetime(2026, 11, 3, tzinfo=UTC)


def test_a_sku_seen_again_within_an_order_is_numbered_and_an_item_id_wins() -> None:
    parse = orders.LineParser(DE)
    keys = [
        parse(order("A", "S1", "1,00"))[1],
        parse(order("A", "S2", "1,00"))[1],
        parse(order("A", "S1", "1,00"))[1],
        parse(order("B", "S1", "1,00"))[1],
        parse(order("C", "S1", "1,00", **{"order-item-id": "12345"}))[1],
    ]
    assert keys == ["S1", "S2", "S1#2", "S1", "12345"]


def test_reimbursement_amounts_in_the_reports_marketplace_format() -> None:
    line = {c: "" for c in REIMBURSEMENT_COLUMNS} | {
        "approval-date": "2026-11-03T08:12:44+00:00",
        "reimbursement-id": "9001",
        "sku": "S1",
        "fnsku": "X001",
        "condition": "New",
        "currency-unit": "EUR",
        "amount-per-unit": "1.234,56",
        "amount-total": "2.469,12",
        "quantity-reimbursed-cash": "2",
        "quantity-reimbursed-inventory": "0",
        "quantity-reimbursed-total": "2",
    }
    row = reimbursements.LineParser(DE)(line)
    assert row[11:16] == ("1234.56", "2469.12", 2, 0, 2)
    with pytest.raises(ValueError, match="decimal comma"):
        reimbursements.LineParser(DE)(line | {"amount-total": "2,469.12"})


# --- windows --------------------------------------------------------------------------------------

W = Windows(
    max_span=timedelta(days=30),
    first_run=timedelta(days=30),
    lag=timedelta(minutes=5),
    min_tail=timedelta(minutes=15),
)


def test_windows_cover_the_gaps_in_spans_of_at_most_30_days() -> None:
    origin = NOW - timedelta(days=75)
    planned = plan_windows(NOW, W, origin, [], [])
    assert planned[0][0] == origin and planned[-1][1] == NOW - timedelta(minutes=5)
    assert all(e - s <= timedelta(days=30) for s, e in planned)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(planned))


def test_pending_windows_keep_their_bounds_and_covered_spans_are_skipped() -> None:
    origin = NOW - timedelta(days=40)
    pending = (NOW - timedelta(days=10), NOW - timedelta(days=5))
    covered = [(origin, NOW - timedelta(days=20))]
    planned = plan_windows(NOW, W, origin, covered, [pending])
    assert planned == [
        (NOW - timedelta(days=20), NOW - timedelta(days=10)),
        pending,
        (NOW - timedelta(days=5), NOW - timedelta(minutes=5)),
    ]


def test_a_newest_sliver_waits_for_a_later_run() -> None:
    covered = [(NOW - timedelta(days=1), NOW - timedelta(minutes=10))]
    assert plan_windows(NOW, W, NOW - timedelta(days=1), covered, []) == []


# --- through the lifecycle ------------------------------------------------------------------------


@pytest.fixture
def eu_job(make_job: Callable[..., DatasetJob]) -> Callable[..., DatasetJob]:
    return lambda **kw: make_job(store=make_store("acme-de", ["DE", "FR"]), **kw)


@pytest.mark.parametrize("in_child", [False, True], ids=["in-process", "child-process"])
def test_first_run_loads_one_window_and_rejects_what_does_not_parse(
    eu_job: Callable[..., DatasetJob],
    client: FakeClient,
    db: Database,
    in_child: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if in_child:  # as a big document is: its rejected lines are counted by the child
        monkeypatch.setattr(parser_process, "CHILD_MIN_BYTES", 1)
    lines = [
        order("A", "S1", "1.234,56"),
        order("A", "S2", "1,234.56"),  # a US-written amount in a German line: rejected
        order("B", "S1", "9,99", **{"sales-channel": "Amazon.fr", "last-updated-date": "soon"}),
        order("C", "S1", "12,00", **{"sales-channel": "Amazon.fr"}),
    ]
    client.documents = lambda mkt, start: tsv(ORDER_COLUMNS, lines)
    outcome = orders.sync(eu_job())
    [made] = [kw for name, kw in client.calls if name == "createReport"]
    assert made["report_type"] == orders.REPORT_TYPE
    assert made["marketplace_ids"] == [DE, FR]
    assert made["data_start_time"] == NOW - timedelta(days=30, minutes=5)
    assert made["data_end_time"] == NOW - timedelta(minutes=5)
    assert outcome.rows_added == 2
    [note] = [n.text for n in outcome.notes if n.warning]
    assert "2 line(s)" in note and "line 3:" in note and "decimal comma" in note
    assert rows(
        db, "SELECT amazon_order_id, order_item_key, item_price, marketplace_id FROM order_items"
        " ORDER BY amazon_order_id"
    ) == [("A", "S1", "1234.56", DE), ("C", "S1", "12.00", FR)]  # fmt: skip
    store_id = db.store_id("acme-de")
    state = db.sync_state(store_id, "orders")
    assert covered_spans(state["covered"]) == [(made["data_start_time"], made["data_end_time"])]
    assert not [k for k in state if k.startswith(("inflight:", "fatal:"))]


def test_a_later_run_asks_only_for_what_is_new_and_updates_orders_in_place(
    eu_job: Callable[..., DatasetJob], client: FakeClient, db: Database, clock: Clock
) -> None:
    client.documents = lambda mkt, start: tsv(ORDER_COLUMNS, [order("A", "S1", "1,00")])
    orders.sync(eu_job())
    first_end = next(kw for n, kw in client.calls if n == "createReport")["data_end_time"]
    clock.advance(hours=6)
    client.documents = lambda mkt, start: tsv(
        ORDER_COLUMNS, [order("A", "S1", "2,00", **{"order-status": "Cancelled"})]
    )
    outcome = orders.sync(eu_job())
    second = [kw for n, kw in client.calls if n == "createReport"][1]
    assert second["data_start_time"] == first_end
    assert outcome.rows_added == 1  # the lines loaded
    assert rows(db, "SELECT order_status, item_price FROM order_items") == [("Cancelled", "2.00")]


def test_an_order_read_again_replaces_its_lines(
    eu_job: Callable[..., DatasetJob], client: FakeClient, db: Database, clock: Clock
) -> None:
    # One unit shipped, one not: two lines of S1. Later both shipped: one line of quantity 2.
    client.documents = lambda mkt, start: tsv(
        ORDER_COLUMNS,
        [
            order("A", "S1", "1,00", **{"item-status": "Unshipped"}),
            order("A", "S1", "1,00"),
            order("B", "S1", "5,00"),
        ],
    )
    orders.sync(eu_job())
    keys = "SELECT amazon_order_id, order_item_key, quantity FROM order_items ORDER BY 1, 2"
    assert rows(db, keys) == [("A", "S1", 1), ("A", "S1#2", 1), ("B", "S1", 1)]
    clock.advance(hours=6)
    client.documents = lambda mkt, start: tsv(
        ORDER_COLUMNS, [order("A", "S1", "2,00", quantity="2")]
    )
    orders.sync(eu_job())
    assert rows(db, keys) == [("A", "S1", 2), ("B", "S1", 1)]  # B was not in the file: kept


def test_only_a_store_that_holds_orders_looks_for_lines_to_replace(
    eu_job: Callable[..., DatasetJob],
    client: FakeClient,
    db: Database,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    looked: list[int] = []
    stale_rows = KeyedTable.stale_rows

    def counted(self: KeyedTable, store_id: int, rows: Any, **kw: Any) -> Any:
        looked.append(len(rows))
        return stale_rows(self, store_id, rows, **kw)

    monkeypatch.setattr(KeyedTable, "stale_rows", counted)
    client.documents = lambda mkt, start: tsv(ORDER_COLUMNS, [order("A", "S1", "1,00")])
    orders.sync(eu_job())
    assert looked == []  # the first sync: nothing stored to replace
    clock.advance(hours=6)
    orders.sync(eu_job())
    assert looked == [1]
    assert rows(db, "SELECT amazon_order_id, order_item_key FROM order_items") == [("A", "S1")]


@pytest.mark.parametrize("publish", [2, 1000])
def test_an_order_cut_between_batches_keeps_every_line(
    eu_job: Callable[..., DatasetJob],
    client: FakeClient,
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
    publish: int,
) -> None:
    monkeypatch.setattr(windowed, "BATCH_ROWS", 2)
    monkeypatch.setattr(windowed, "PUBLISH_ROWS", publish)
    lines = [order("A", f"S{n}", "1,00") for n in (1, 2, 3)]
    lines += [order("B", "S1", "1,00"), order("C", "S1", "1,00"), order("C", "S2", "1,00")]
    client.documents = lambda mkt, start: tsv(ORDER_COLUMNS, lines)
    outcome = orders.sync(eu_job())
    assert outcome.rows_added == 6
    assert rows(db, "SELECT amazon_order_id, order_item_key FROM order_items ORDER BY 1, 2") == [
        ("A", "S1"), ("A", "S2"), ("A", "S3"), ("B", "S1"), ("C", "S1"), ("C", "S2"),
    ]  # fmt: skip


def test_a_window_still_processing_is_resumed_with_its_own_bounds(
    eu_job: Callable[..., DatasetJob], client: FakeClient, db: Database, clock: Clock
) -> None:
    client.documents = lambda mkt, start: tsv(ORDER_COLUMNS, [order("A", "S1", "1,00")])
    client.document_statuses = lambda n: ["IN_PROGRESS"] * 1000 + ["DONE"]
    orders.sync(eu_job(report_wait_s=30))
    [made] = [kw for n, kw in client.calls if n == "createReport"]
    assert "covered" not in db.sync_state(db.store_id("acme-de"), "orders")
    clock.advance(hours=1)
    for report in client.reports.values():
        report.polls = 10_000
    outcome = orders.sync(eu_job())
    creates = [kw for n, kw in client.calls if n == "createReport"]
    # The resumed window loads; the hour since is a new window starting where it ended.
    assert outcome.rows_added == 1
    [(start, end)] = [(c["data_start_time"], c["data_end_time"]) for c in creates[1:]]
    assert start == made["data_end_time"] and end - start >= timedelta(hours=1)
    # The new window is still processing: the covered span ends where the loaded one did.
    state = db.sync_state(db.store_id("acme-de"), "orders")
    assert covered_spans(state["covered"]) == [(made["data_start_time"], start)]
    assert [k for k in state if k.startswith("inflight:")] == [
        "inflight:" + windowed.key_of(start, end)
    ]


def test_fba_reports_ask_for_whole_days_up_to_the_start_of_yesterday(
    eu_job: Callable[..., DatasetJob], client: FakeClient, db: Database
) -> None:
    returned = {c: "" for c in RETURN_COLUMNS} | {
        "return-date": "2026-11-01T10:00:00+00:00",
        "order-id": "111-1",
        "sku": "S1",
        "quantity": "1",
        "license-plate-number": "",
        "customer-comments": "Jane Doe says too small",
    }
    client.documents = lambda mkt, start: tsv(RETURN_COLUMNS, [returned, returned])
    outcome = returns.sync(eu_job())
    creates = [kw for n, kw in client.calls if n == "createReport"]
    midnight = NOW.replace(hour=0, minute=0, second=0, microsecond=0)
    assert creates[-1]["data_end_time"] == midnight - timedelta(days=1)
    assert creates[0]["data_start_time"] == midnight - timedelta(days=61)
    assert all(c["marketplace_ids"] == [DE] for c in creates)
    assert all(c["data_end_time"] - c["data_start_time"] <= timedelta(days=30) for c in creates)
    # The same line in each window's document: one row, by its key.
    assert outcome.rows_added == 2 * len(creates)
    assert rows(db, "SELECT license_plate_number, quantity FROM fba_returns") == [("", 1)]
    text = json.dumps(rows(db, "SELECT * FROM fba_returns"), default=str)
    assert "Jane" not in text


def test_purge_removes_the_new_datasets_rows(
    eu_job: Callable[..., DatasetJob], client: FakeClient, db: Database, clock: Clock
) -> None:
    from soldscope_cli.datasets import registry

    client.documents = lambda mkt, start: tsv(ORDER_COLUMNS, [order("A", "S1", "1,00")])
    orders.sync(eu_job())
    db.delete_store("acme-de", clock(), purge_tables=registry.data_tables())
    assert rows(db, "SELECT COUNT(*) FROM order_items") == [(0,)]


def test_the_covered_mark_is_merged() -> None:
    a = datetime(2026, 11, 1, tzinfo=UTC)
    text = windowed.covered_text(
        [(a, a + timedelta(days=1)), (a + timedelta(days=1), a + timedelta(days=2))]
    )
    assert covered_spans(text) == [(a, a + timedelta(days=2))]


def test_a_fatal_window_cools_down_with_its_bounds_and_later_windows_still_load(
    eu_job: Callable[..., DatasetJob], client: FakeClient, db: Database, clock: Clock
) -> None:
    client.documents = lambda mkt, start: tsv(ORDER_COLUMNS, [order("A", "S1", "1,00")])
    client.document_statuses = lambda n: ["FATAL"] if n == 1 else ["DONE"]
    outcome = orders.sync(eu_job())
    [fatal] = [n.text for n in outcome.notes if "FATAL" in n.text]
    assert "retrying after 24 h" in fatal
    [failed] = [kw for n, kw in client.calls if n == "createReport"]
    clock.advance(hours=2)
    outcome = orders.sync(eu_job())
    creates = [kw for n, kw in client.calls if n == "createReport"][1:]
    # The FATAL window is not asked for again during its cooldown; the new gap after it is.
    assert [(c["data_start_time"], c["data_end_time"]) for c in creates] == [
        (failed["data_end_time"], failed["data_end_time"] + timedelta(hours=2))
    ]
    state = db.sync_state(db.store_id("acme-de"), "orders")
    assert covered_spans(state["covered"]) == [
        (failed["data_end_time"], creates[0]["data_end_time"])
    ]
    assert "fatal:" + windowed.key_of(failed["data_start_time"], failed["data_end_time"]) in state
    clock.advance(hours=25)
    orders.sync(eu_job())
    retried = [kw for n, kw in client.calls if n == "createReport"][2]
    assert (retried["data_start_time"], retried["data_end_time"]) == (
        failed["data_start_time"],
        failed["data_end_time"],
    )
    state = db.sync_state(db.store_id("acme-de"), "orders")
    assert covered_spans(state["covered"])[0][0] == failed["data_start_time"]
    assert windowed.cursor(state["covered"], state["from"]) is not None


def test_data_shows_a_fatal_window_of_a_flat_file_dataset() -> None:
    from soldscope_cli.db.model import DataFigures
    from soldscope_cli.sync.freshness import problems

    key = windowed.key_of(NOW - timedelta(days=30), NOW)
    mark = json.dumps(
        {"at": "2026-11-25T12:00:00.000000Z", "count": 1, "report_id": "R7", "reason": "No data"}
    )
    figures = DataFigures("orders", 0, None, None, "ok", None, None, {"fatal:" + key: mark})
    [problem] = problems(figures, NOW)
    assert problem.code == "report_fatal"
    assert problem.message == (
        f"window {key}: Amazon could not produce the report (FATAL, report R7); retried after "
        "2026-11-26 12:00Z. Amazon's reason: No data"
    )


def test_a_japanese_stores_lines_that_are_not_utf8_are_read_as_shift_jis(
    make_job: Callable[..., DatasetJob], client: FakeClient, db: Database
) -> None:
    columns = ORDER_COLUMNS
    line = order("J", "靴下-1", "1,200", **{"sales-channel": "Amazon.co.jp", "currency": "JPY"})
    text = "\t".join(columns) + "\n" + "\t".join(line.get(c, "") for c in columns) + "\n"
    data = gzip.compress(text.encode("cp932"))
    client.documents = lambda mkt, start: [data]
    outcome = orders.sync(make_job(store=make_store("acme-jp", ["JP"])))
    assert outcome.rows_added == 1 and not [n for n in outcome.notes if n.warning]
    assert rows(db, "SELECT sku, item_price FROM order_items") == [("靴下-1", "1200")]
