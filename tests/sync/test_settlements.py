"""Settlements: listing, exactly-once loading, local amounts, rejected lines, concurrent loaders."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import pytest

from soldscope_cli.amazon.spapi import SpapiForbidden
from soldscope_cli.db.database import Database
from soldscope_cli.sync import settlements
from soldscope_cli.sync.base import DatasetFailed, DatasetJob
from tests.conftest import reopen

from .conftest import Clock, FakeClient, Report, forbidden, make_store, rows

DE = "A1PA6795UKMFR9"
US = "ATVPDKIKX0DER"
COLUMNS = (
    "settlement-id\tsettlement-start-date\tsettlement-end-date\tdeposit-date\ttotal-amount\t"
    "currency\ttransaction-type\torder-id\tmerchant-order-id\tadjustment-id\tshipment-id\t"
    "marketplace-name\tamount-type\tamount-description\tamount\tfulfillment-id\tposted-date\t"
    "posted-date-time\torder-item-code\tmerchant-order-item-id\tmerchant-adjustment-item-id\t"
    "sku\tquantity-purchased\tpromotion-id"
)


def header(settlement_id: str, total: str, currency: str = "EUR") -> str:
    return "\t".join(
        [
            settlement_id,
            "05.11.2026 00:00:00 UTC",
            "19.11.2026 00:00:00 UTC",
            "22.11.2026 00:00:00 UTC",
            total,
            currency,
            *[""] * 18,
        ]
    )


def line(settlement_id: str, amount: str, sku: str = "SKU-1", posted: str = "") -> str:
    fields = [""] * 24
    fields[0] = settlement_id
    fields[6:9] = ["Order", "302-1234567-1234567", ""]
    fields[11:15] = ["Amazon.de", "ItemPrice", "Principal", amount]
    fields[16:18] = ["11/10/26", posted or "2026-11-10T08:12:44+00:00"]
    fields[21:23] = [sku, "1"]
    return "\t".join(fields)


def document(*lines: str) -> list[bytes]:
    data = gzip.compress(("\n".join([COLUMNS, *lines]) + "\n").encode())
    return [data[i : i + 200] for i in range(0, len(data), 200)]


class SettlementClient(FakeClient):
    """FakeClient with getReports: the listed settlement reports, `page_size` a page."""

    def __init__(self) -> None:
        super().__init__()
        self.listed: list[dict[str, Any]] = []
        self.page_size = 10
        self.repeat_token = False
        self.forbid = False

    def add(self, report_id: str, chunks: list[bytes], marketplace: str = DE) -> None:
        self.reports[report_id] = Report(["DONE"], chunks)
        self.listed.append(
            {
                "reportId": report_id,
                "reportType": settlements.REPORT_TYPE,
                "processingStatus": "DONE",
                "reportDocumentId": "D-" + report_id,
                "createdTime": f"2026-11-{10 + len(self.listed):02d}T01:00:00Z",
                "marketplaceIds": [marketplace],
            }
        )

    def get_reports(
        self,
        report_types: Sequence[str] | None = None,
        *,
        processing_statuses: Sequence[str] = (),
        created_since: datetime | None = None,
        page_size: int = 100,
        next_token: str | None = None,
    ) -> dict[str, Any]:
        self._record(
            "getReports",
            report_types=report_types,
            processing_statuses=processing_statuses,
            created_since=created_since,
            next_token=next_token,
        )
        if self.forbid:
            raise forbidden("getReports")
        offset = 0 if next_token is None else int(next_token)
        body: dict[str, Any] = {"reports": self.listed[offset : offset + self.page_size]}
        if offset + self.page_size < len(self.listed):
            body["nextToken"] = "0" if self.repeat_token else str(offset + self.page_size)
        return body


@pytest.fixture
def client() -> SettlementClient:
    return SettlementClient()


@pytest.fixture
def reopen_db(db: Database) -> Iterator[Callable[[], Database]]:
    """More engine objects on the same database, as other workers would open it."""
    opened: list[Database] = []

    def build() -> Database:
        other: Database = reopen(db)
        opened.append(other)
        return other

    yield build
    for other in opened:
        other.close()


def stored(db: Database) -> list[tuple[Any, ...]]:
    return rows(
        db,
        "SELECT settlement_id, line, report_id, total_amount, amount, sku FROM settlement_lines"
        " ORDER BY settlement_id, line",
    )


def test_lists_the_last_90_days_pages_and_loads_each_settlement(
    db: Database, client: SettlementClient, make_job: Callable[..., DatasetJob], clock: Clock
) -> None:
    client.page_size = 1
    client.add(
        "R1", document(header("111", "1.233,56"), line("111", "1.234,56"), line("111", "-1,00"))
    )
    client.add("R2", document(header("222", "95,00"), line("222", "95,00")))
    outcome = settlements.sync(make_job(store=make_store("acme-de", ["DE"])))
    assert outcome.rows_added == 5
    assert stored(db) == [
        ("111", 1, "R1", "1233.56", None, None),
        ("111", 2, "R1", "1233.56", "1234.56", "SKU-1"),
        ("111", 3, "R1", "1233.56", "-1.00", "SKU-1"),
        ("222", 1, "R2", "95.00", None, None),
        ("222", 2, "R2", "95.00", "95.00", "SKU-1"),
    ]
    [first, *more] = [kw for name, kw in client.calls if name == "getReports"]
    assert first["report_types"] == [settlements.REPORT_TYPE]
    assert first["processing_statuses"] == ("DONE",)
    assert first["created_since"] == clock() - settlements.LISTING_WINDOW
    assert [kw["next_token"] for kw in more] == ["1"]  # the second page, then no more


def test_a_settlement_listed_again_is_not_loaded_again(
    db: Database, client: SettlementClient, make_job: Callable[..., DatasetJob]
) -> None:
    client.add("R1", document(header("111", "10,00"), line("111", "10,00")))
    job = make_job(store=make_store("acme-de", ["DE"]))
    assert settlements.sync(job).rows_added == 2
    # The next run lists it again, and Amazon lists the same settlement under a second report.
    client.add("R9", document(header("111", "10,00"), line("111", "10,00")))
    again = settlements.sync(job)
    assert again.rows_added == 0
    assert [n.text for n in again.notes] == [
        "settlement report R9: stored meanwhile by another run"
    ]
    downloads = [kw["url"] for name, kw in client.calls if name == "download"]
    assert len(downloads) == 2  # R1 once, R9 once (given up at its first line); R1 never again
    assert [r[:3] for r in stored(db)] == [("111", 1, "R1"), ("111", 2, "R1")]


def test_a_value_that_does_not_read_is_a_rejected_line_named_in_the_note(
    db: Database, client: SettlementClient, make_job: Callable[..., DatasetJob]
) -> None:
    # "1,234.56" is not how a German file writes an amount: refused, never read as 1.23456.
    client.add(
        "R1",
        document(
            header("111", "20,00"),
            line("111", "1,234.56"),
            line("111", "20,00"),
            line("111", "abc"),
            line("111", "1,00", posted="2026-11-10 08:12:44"),
        ),
    )
    outcome = settlements.sync(make_job(store=make_store("acme-de", ["DE"])))
    assert [r[4] for r in stored(db)] == [None, "20.00"]
    [note] = outcome.notes
    assert note.warning and "3 line(s)" in note.text and "rejected" in note.text
    assert "line 3:" in note.text  # the file's line (after its column names' line)


def test_us_amounts_read_with_a_decimal_point(
    db: Database, client: SettlementClient, make_job: Callable[..., DatasetJob]
) -> None:
    client.add(
        "R1",
        document(header("333", "1,233.56", "USD"), line("333", "1,234.56"), line("333", "-1.00")),
        marketplace=US,
    )
    settlements.sync(make_job())
    assert [r[3:5] for r in stored(db)] == [
        ("1233.56", None),
        ("1233.56", "1234.56"),
        ("1233.56", "-1.00"),
    ]


def test_a_repeated_next_token_stops_the_listing(
    client: SettlementClient, make_job: Callable[..., DatasetJob]
) -> None:
    client.page_size = 1
    client.repeat_token = True
    for n in range(3):
        client.add(f"R{n}", document(header(str(n), "1,00"), line(str(n), "1,00")))
    with pytest.raises(DatasetFailed) as failed:
        settlements.sync(make_job(store=make_store("acme-de", ["DE"])))
    assert failed.value.code == "repeated_next_token"


def test_a_403_on_the_listing_is_left_to_the_runner(
    client: SettlementClient, make_job: Callable[..., DatasetJob]
) -> None:
    client.forbid = True
    with pytest.raises(SpapiForbidden):
        settlements.sync(make_job())


def test_a_broken_download_stores_nothing_and_the_next_run_loads_it_whole(
    db: Database, client: SettlementClient, make_job: Callable[..., DatasetJob]
) -> None:
    lines = [line("111", f"{n},00") for n in range(1, 200)]
    total = f"{sum(range(1, 200))},00"
    client.add("R1", document(header("111", total), *lines))
    client.reports["R1"].fail_after_chunks = 3
    job = make_job(store=make_store("acme-de", ["DE"]))
    settlements.BATCH_ROWS, batch = 10, settlements.BATCH_ROWS
    try:
        with pytest.raises(DatasetFailed):
            settlements.sync(job)
        assert stored(db) == []  # batches written before the failure rolled back with it
        client.reports["R1"].fail_after_chunks = None
        assert settlements.sync(job).rows_added == 200
    finally:
        settlements.BATCH_ROWS = batch
    assert [r[1] for r in stored(db)] == list(range(1, 201))


class GatedClient(SettlementClient):
    """Both loaders' downloads pause after their first chunk until both got there."""

    def __init__(self, gate: threading.Barrier) -> None:
        super().__init__()
        self.gate = gate

    @contextmanager
    def open_document(self, url: str) -> Iterator[Iterator[bytes]]:
        with super().open_document(url) as chunks:

            def gated() -> Iterator[bytes]:
                for i, chunk in enumerate(chunks):
                    if i == 1:
                        self.gate.wait(timeout=30)
                    yield chunk

            yield gated()


@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
def test_two_workers_loading_the_same_settlement_store_it_once(
    db: Database, clock: Clock, reopen_db: Callable[[], Database]
) -> None:
    gate = threading.Barrier(2)
    db.store_id("acme-de")
    lines = [line("111", f"{n},00") for n in range(1, 300)]
    doc = document(header("111", f"{sum(range(1, 300))},00"), *lines)
    outcomes: list[Any] = []
    errors: list[BaseException] = []

    def worker() -> None:
        client = GatedClient(gate)
        client.add("R1", doc)
        job = DatasetJob(
            store=make_store("acme-de", ["DE"]),
            client=client,
            db=reopen_db(),
            clock=clock,
            sleep=clock.sleep,
        )
        try:
            outcomes.append(settlements.sync(job))
        except BaseException as exc:
            errors.append(exc)

    settlements.BATCH_ROWS, batch = 20, settlements.BATCH_ROWS
    try:
        threads = [threading.Thread(target=worker) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        settlements.BATCH_ROWS = batch
    assert errors == []
    assert sorted(o.rows_added for o in outcomes) == [0, 300]
    assert [r[1] for r in stored(db)] == list(range(1, 301))


def test_a_nul_in_a_line_is_dropped_as_every_table_drops_it(
    db: Database, client: SettlementClient, make_job: Callable[..., DatasetJob]
) -> None:
    client.add("R1", document(header("1\x0011", "10,00"), line("111", "10,00", sku="SK\x00U-1")))
    settlements.sync(make_job(store=make_store("acme-de", ["DE"])))
    assert [(r[0], r[5]) for r in stored(db)] == [("111", None), ("111", "SKU-1")]


def test_a_big_settlement_parsed_in_the_parser_process_stores_what_in_process_does(
    db: Database,
    client: SettlementClient,
    make_job: Callable[..., DatasetJob],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from soldscope_cli.sync import parser_process

    started: list[int] = []
    start = parser_process._Child.start

    def recording(*args: Any) -> Any:
        child = start(*args)
        if child is not None:
            started.append(child.pid)
        return child

    monkeypatch.setattr(parser_process._Child, "start", recording)
    lines = [line("111", f"{n},00", sku=f"S-{n}") for n in range(1, 400)]
    lines[10] = line("111", "1,234.56")  # rejected: a batch that crosses pickled
    lines[300] = line("111", "1,00", posted="2026-11-10 08:12:44")
    doc = document(header("111", "1,00"), *lines)
    client.add("R1", doc)
    job = make_job(store=make_store("acme-de", ["DE"]))
    settlements.BATCH_ROWS, batch = 50, settlements.BATCH_ROWS
    try:
        monkeypatch.setattr(parser_process, "CHILD_MIN_BYTES", 1 << 30)  # R1 in-process
        in_process = settlements.sync(job)
        assert started == []
        monkeypatch.setattr(parser_process, "CHILD_MIN_BYTES", 1024)  # R2 in the child
        client.add("R2", document(header("222", "1,00"), *["222" + li[3:] for li in lines]))
        in_child = settlements.sync(job)
    finally:
        settlements.BATCH_ROWS = batch
    assert len(started) == 1
    assert in_process.rows_added == in_child.rows_added == 398
    [first], [second] = in_process.notes, in_child.notes
    assert second.text == first.text.replace("111", "222").replace("R1", "R2")
    assert "2 line(s)" in first.text and "(line 13:" in first.text and "; line 303:" in first.text
    everything = rows(
        db,
        "SELECT settlement_id, report_id, line, settlement_start, total_amount, amount, posted_at,"
        " sku, quantity_purchased, synced_at FROM settlement_lines ORDER BY settlement_id, line",
    )
    ours = [r for r in everything if r[0] == "111"]
    theirs = [r for r in everything if r[0] == "222"]
    assert [r[2:] for r in theirs] == [r[2:] for r in ours] and len(ours) == 398
