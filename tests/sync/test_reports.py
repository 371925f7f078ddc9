"""The shared Reports API lifecycle, with a scripted client and a dataset that keeps rows in memory.

Brand Analytics is tested on top of it in test_brand_analytics.py; these tests pin what every
report dataset gets: FATAL with Amazon's reason, CANCELLED, the ledger across runs, documents
whatever their label says, flat files with bad lines, and stopping.
"""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest

from soldscope_cli.db.database import Database
from soldscope_cli.sync import reports
from soldscope_cli.sync.base import DatasetFailed, DatasetJob, SyncStopped
from soldscope_cli.sync.document import (
    BadLines,
    DocumentFormat,
    FlatFile,
    JsonDocument,
    RowBuilder,
    Rows,
)
from soldscope_cli.sync.reports import Period, ReportPolicy, Requested

from .conftest import NOW, Clock, make_store, transient

DATASET = "test-reports"
US = "ATVPDKIKX0DER"
TERMS = JsonDocument("data.item")


# --- a scripted Reports API ----------------------------------------------------------------------


@dataclass
class Script:
    """What Amazon does with one report: statuses in turn, then a document (as served)."""

    statuses: list[str]
    body: bytes = b""
    label: str | None = "GZIP"  # the document's compressionAlgorithm
    polls: int = 0


@dataclass
class ScriptedClient:
    """The report calls of a SyncClient, answering from scripts; every call is recorded."""

    next_script: Callable[[int], Script] = lambda n: Script(["DONE"], gz_json([{"n": 1}]))
    calls: list[tuple[str, Any]] = field(default_factory=list)
    reports: dict[str, Script] = field(default_factory=dict)
    download: Callable[[str, bytes], Iterator[bytes]] | None = None

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    def create_report(
        self,
        report_type: str,
        marketplace_ids: Sequence[str],
        *,
        data_start_time: datetime | None = None,
        data_end_time: datetime | None = None,
        report_options: Mapping[str, str] | None = None,
    ) -> str:
        self.calls.append(("createReport", (report_type, list(marketplace_ids), report_options)))
        report_id = f"R{len(self.reports) + 1}"
        self.reports[report_id] = self.next_script(len(self.reports) + 1)
        return report_id

    def get_report(self, report_id: str) -> dict[str, Any]:
        self.calls.append(("getReport", report_id))
        script = self.reports[report_id]
        status = script.statuses[min(script.polls, len(script.statuses) - 1)]
        script.polls += 1
        body: dict[str, Any] = {"reportId": report_id, "processingStatus": status}
        if status in ("DONE", "FATAL") and script.body:
            body["reportDocumentId"] = "D-" + report_id
        return body

    def get_report_document(self, document_id: str) -> dict[str, Any]:
        self.calls.append(("getReportDocument", document_id))
        script = self.reports[document_id.removeprefix("D-")]
        document = {"reportDocumentId": document_id, "url": "https://s3.example/" + document_id}
        if script.label is not None:
            document["compressionAlgorithm"] = script.label
        return document

    @contextmanager
    def open_document(self, url: str) -> Iterator[Iterator[bytes]]:
        self.calls.append(("download", url))
        body = self.reports[url.rsplit("/D-", 1)[1]].body
        if self.download is not None:
            yield self.download(url, body)
        else:
            yield iter([body[i : i + 1000] for i in range(0, len(body), 1000)])


def gz_json(items: list[Any]) -> bytes:
    return gzip.compress(json.dumps({"header": {"x": 1}, "data": items}).encode())


# --- a report dataset that keeps its rows in memory ----------------------------------------------


@dataclass
class MemoryLoad:
    dataset: MemoryDataset
    report: Requested
    staged: list[tuple[Any, ...]] = field(default_factory=list)
    row_builder: RowBuilder | None = None
    document: DocumentFormat | None = None
    bad_lines: BadLines | None = None

    def begin(self) -> None:
        self.dataset.events.append(("begin", self.report.report_id))

    def rows(self, records: list[Any]) -> Rows:
        return [tuple(sorted(r.items())) if isinstance(r, dict) else (r,) for r in records]

    def add(self, rows: Rows) -> None:
        self.staged.extend(rows)

    def finish(self, rows: Rows, total: int) -> None:
        self.staged.extend(rows)
        assert total == len(self.staged)
        self.dataset.loaded[self.report.period.key] = ("DONE", list(self.staged))
        self.dataset.forget(self.report)


@dataclass
class MemoryDataset:
    """Weeks of one marketplace; loaded periods are kept in memory, the ledger in the database."""

    db: Database
    periods: list[str] = field(default_factory=lambda: ["2026-11-15"])
    document: DocumentFormat = TERMS
    batch_rows: int = 2
    name: str = DATASET
    label: str = "test"
    noun: str = "test"
    period_noun: str = "week"
    report_type: str = "GET_TEST_REPORT"
    report_options: Mapping[str, str] = field(default_factory=lambda: {"reportPeriod": "WEEK"})
    policy: ReportPolicy = field(default_factory=ReportPolicy)
    loaded: dict[str, tuple[str, list[tuple[Any, ...]]]] = field(default_factory=dict)
    events: list[tuple[str, str]] = field(default_factory=list)
    loads: list[MemoryLoad] = field(default_factory=list)

    def plan(self, job: DatasetJob) -> list[Period]:
        return [
            Period(f"{US}:{week}", f"{US} week {week}", (US,), NOW, NOW)
            for week in self.periods
            if f"{US}:{week}" not in self.loaded
        ]

    def load(self, job: DatasetJob, report: Requested) -> MemoryLoad:
        load = MemoryLoad(self, report)
        self.loads.append(load)
        return load

    def no_data(self, job: DatasetJob, report: Requested) -> None:
        self.loaded[report.period.key] = ("CANCELLED", [])
        self.forget(report)

    def forget(self, report: Requested) -> None:
        store_id = self.db.store_id("acme-us")
        self.db.update_sync_state(store_id, DATASET, NOW, delete=report.ledger_keys)


@pytest.fixture
def client() -> ScriptedClient:
    return ScriptedClient()


@pytest.fixture
def dataset(db: Database) -> MemoryDataset:
    return MemoryDataset(db)


@pytest.fixture
def job(db: Database, clock: Clock, client: ScriptedClient) -> Callable[..., DatasetJob]:
    def build(**kwargs: Any) -> DatasetJob:
        return DatasetJob(
            store=make_store(),
            client=client,  # type: ignore[arg-type]
            db=db,
            clock=clock,
            sleep=clock.sleep,
            **kwargs,
        )

    return build


def ledger(db: Database, prefix: str = "") -> dict[str, Any]:
    return {
        key: json.loads(value)
        for key, value in db.sync_state(db.store_id("acme-us"), DATASET, prefix).items()
    }


# --- the lifecycle -------------------------------------------------------------------------------


def test_done_report_is_loaded_in_batches_and_the_ledger_is_emptied(
    job: Callable[..., DatasetJob], client: ScriptedClient, dataset: MemoryDataset, db: Database
) -> None:
    client.next_script = lambda n: Script(
        ["IN_QUEUE", "DONE"], gz_json([{"n": i} for i in range(5)])
    )
    outcome = reports.sync(job(), dataset)
    assert outcome.rows_added == 5
    assert dataset.loaded[f"{US}:2026-11-15"] == ("DONE", [(("n", i),) for i in range(5)])
    assert client.calls[0] == ("createReport", ("GET_TEST_REPORT", [US], {"reportPeriod": "WEEK"}))
    assert ledger(db) == {}


def test_fatal_shows_and_keeps_amazons_reason_from_the_reports_document(
    job: Callable[..., DatasetJob], client: ScriptedClient, dataset: MemoryDataset, db: Database
) -> None:
    reason = {"errorDetails": "Report period \x1b[31mWEEK\x1b[0m must start on a Sunday.\n\x07"}
    client.next_script = lambda n: Script(["FATAL"], gzip.compress(json.dumps(reason).encode()))
    outcome = reports.sync(job(), dataset)
    [note] = outcome.notes
    assert note.warning
    assert note.text == (
        f"{US} week 2026-11-15: Amazon could not produce the report (FATAL, report R1); "
        "retrying after 24 h. Amazon's reason: Report period WEEK must start on a Sunday."
    )
    mark = ledger(db, "fatal:")[f"fatal:{US}:2026-11-15"]
    assert mark["reason"] == "Report period WEEK must start on a Sunday."
    assert mark["count"] == 1 and mark["report_id"] == "R1"
    assert client.names() == [
        "createReport",
        "getReport",
        "getReportDocument",
        "download",
    ]
    assert ledger(db, "inflight:") == {}


@pytest.mark.parametrize(
    ("body", "shown"),
    [
        # A plain document labelled GZIP, as Amazon sometimes serves them.
        (b"Invalid\tdata range", "Invalid data range"),
        (
            json.dumps({"errorDetails": {"code": "E1", "text": "no"}}).encode(),
            '{"code":"E1","text":"no"}',
        ),
        (json.dumps(["not", "an", "object"]).encode(), '["not","an","object"]'),
        (("é" * 400 + "\u202e").encode(), "é" * (reports.REASON_CHARS - 1) + "…"),
    ],
)
def test_the_reason_is_one_clean_line(
    job: Callable[..., DatasetJob],
    client: ScriptedClient,
    dataset: MemoryDataset,
    db: Database,
    body: bytes,
    shown: str,
) -> None:
    client.next_script = lambda n: Script(["FATAL"], body)
    reports.sync(job(), dataset)
    assert ledger(db, "fatal:")[f"fatal:{US}:2026-11-15"]["reason"] == shown


def test_fatal_without_a_document_or_with_an_unreadable_one_is_still_recorded(
    job: Callable[..., DatasetJob], client: ScriptedClient, dataset: MemoryDataset, db: Database
) -> None:
    client.next_script = lambda n: Script(["FATAL"])  # no reportDocumentId at all
    outcome = reports.sync(job(), dataset)
    assert "reason" not in outcome.notes[0].text
    assert "reason" not in ledger(db, "fatal:")[f"fatal:{US}:2026-11-15"]
    assert "getReportDocument" not in client.names()

    dataset.periods = ["2026-11-08"]
    client.next_script = lambda n: Script(["FATAL"], b"\x1f\x8b broken gzip")
    outcome = reports.sync(job(), dataset)
    assert outcome.notes[0].warning and "FATAL" in outcome.notes[0].text
    assert ledger(db, "fatal:")[f"fatal:{US}:2026-11-08"]["count"] == 1


def test_fatal_is_retried_after_the_cooldown_and_given_up_after_the_last_attempt(
    job: Callable[..., DatasetJob],
    client: ScriptedClient,
    dataset: MemoryDataset,
    db: Database,
    clock: Clock,
) -> None:
    dataset.policy = ReportPolicy(fatal_cooldown=timedelta(hours=2), max_fatal_attempts=2)
    client.next_script = lambda n: Script(["FATAL"], b'{"errorDetails": "no"}', label=None)
    reports.sync(job(), dataset)
    clock.advance(hours=1)
    assert reports.sync(job(), dataset).notes == []  # cooling down: nothing asked
    clock.advance(hours=1, seconds=1)
    outcome = reports.sync(job(), dataset)
    assert "giving up after 2 attempts. Amazon's reason: no" in outcome.notes[0].text
    clock.advance(days=30)
    reports.sync(job(), dataset)
    assert client.names().count("createReport") == 2


def test_cancelled_is_no_data_and_forgets_the_ledger(
    job: Callable[..., DatasetJob], client: ScriptedClient, dataset: MemoryDataset, db: Database
) -> None:
    client.next_script = lambda n: Script(["IN_PROGRESS", "CANCELLED"])
    outcome = reports.sync(job(), dataset)
    assert dataset.loaded == {f"{US}:2026-11-15": ("CANCELLED", [])}
    assert [n.text for n in outcome.notes] == [f"{US} week 2026-11-15: no data (report CANCELLED)"]
    assert ledger(db) == {}


def test_a_report_requested_by_a_run_that_died_is_polled_not_requested_again(
    job: Callable[..., DatasetJob], client: ScriptedClient, dataset: MemoryDataset, db: Database
) -> None:
    client.next_script = lambda n: Script(["IN_QUEUE"] * 3 + ["DONE"], gz_json([{"n": 1}]))
    stopping = {"now": False}

    def die_after_the_request(text: str) -> None:
        if "waiting" in text:
            stopping["now"] = True

    with pytest.raises(SyncStopped):
        reports.sync(job(progress=die_after_the_request, stopping=lambda: stopping["now"]), dataset)
    assert ledger(db, "inflight:")[f"inflight:{US}:2026-11-15"]["report_id"] == "R1"

    outcome = reports.sync(job(), dataset)
    assert client.names().count("createReport") == 1
    assert outcome.rows_added == 1
    assert ledger(db) == {}


def test_a_stuck_report_is_requested_afresh(
    job: Callable[..., DatasetJob],
    client: ScriptedClient,
    dataset: MemoryDataset,
    db: Database,
    clock: Clock,
) -> None:
    client.next_script = lambda n: Script(["IN_PROGRESS"] if n == 1 else ["DONE"], gz_json([1]))
    reports.sync(job(report_wait_s=1), dataset)
    clock.advance(days=3, seconds=1)
    outcome = reports.sync(job(report_wait_s=1), dataset)
    assert "requesting it again" in outcome.notes[0].text
    assert client.names().count("createReport") == 2
    assert dataset.loaded[f"{US}:2026-11-15"] == ("DONE", [(1,)])


# --- documents -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "label"),
    [
        (json.dumps({"data": [{"n": 1}, {"n": 2}, {"n": 3}]}).encode(), "GZIP"),  # plain, says GZIP
        (gz_json([{"n": 1}, {"n": 2}, {"n": 3}]), None),  # gzip, says nothing
        (gz_json([{"n": 1}, {"n": 2}, {"n": 3}]), "GZIP"),
        (json.dumps({"data": [{"n": 1}, {"n": 2}, {"n": 3}]}).encode(), None),
    ],
)
def test_the_bytes_decide_whether_a_document_is_gzip_not_its_label(
    job: Callable[..., DatasetJob],
    client: ScriptedClient,
    dataset: MemoryDataset,
    body: bytes,
    label: str | None,
) -> None:
    client.next_script = lambda n: Script(["DONE"], body, label)
    assert reports.sync(job(), dataset).rows_added == 3


def test_an_unknown_compression_label_fails_the_period(
    job: Callable[..., DatasetJob], client: ScriptedClient, dataset: MemoryDataset
) -> None:
    client.next_script = lambda n: Script(["DONE"], gz_json([1]), "ZSTD")
    with pytest.raises(DatasetFailed, match="unknown compression 'ZSTD'"):
        reports.sync(job(), dataset)


def test_a_flat_file_loads_with_its_bad_lines_counted_and_reported(
    job: Callable[..., DatasetJob], client: ScriptedClient, dataset: MemoryDataset
) -> None:
    text = (
        "sku\tqty\tnote\r\n"
        "A-1\t3\tcafé\r\n"
        "A-2\t4\r\n"  # a field short
        "A-3\t5\tok\t\t\r\n"  # trailing tabs are not fields
        "\r\n"
    )
    body = text.encode("cp1252") + b"A-4\t6\t\x81\n" + b"A-5\t7\tend"  # 0x81: not cp1252
    dataset.document = FlatFile("cp1252")
    client.next_script = lambda n: Script(["DONE"], gzip.compress(body), label=None)
    outcome = reports.sync(job(), dataset)
    assert outcome.rows_added == 3
    assert [dict(row) for row in dataset.loaded[f"{US}:2026-11-15"][1]] == [
        {"sku": "A-1", "qty": "3", "note": "café"},
        {"sku": "A-3", "qty": "5", "note": "ok"},
        {"sku": "A-5", "qty": "7", "note": "end"},
    ]
    [note] = outcome.notes
    assert note.warning
    assert note.text == (
        f"{US} week 2026-11-15: 2 line(s) of report R1 could not be read and were skipped "
        "(line 3: 2 fields where the header has 3; line 6: not valid cp1252)"
    )


def test_a_broken_document_fails_its_period_and_publishes_nothing(
    job: Callable[..., DatasetJob], client: ScriptedClient, dataset: MemoryDataset
) -> None:
    client.next_script = lambda n: Script(
        ["DONE"], gzip.compress(b'{"data": [{"n": 1}, {"n": 2}, {"n')
    )
    with pytest.raises(DatasetFailed, match="not valid JSON") as failed:
        reports.sync(job(), dataset)
    assert failed.value.code == "document"
    assert dataset.loaded == {}


def test_stopping_mid_document_publishes_nothing_and_ends_the_read_thread(
    job: Callable[..., DatasetJob], client: ScriptedClient, dataset: MemoryDataset
) -> None:
    client.next_script = lambda n: Script(["DONE"], gz_json([{"n": i} for i in range(2000)]))
    added = dataset.batch_rows * 5

    def stopping() -> bool:
        return bool(dataset.loads) and len(dataset.loads[0].staged) >= added

    with pytest.raises(SyncStopped):
        reports.sync(job(stopping=stopping), dataset)
    assert dataset.loaded == {}
    assert len(dataset.loads[0].staged) == added
    assert not [t for t in threading.enumerate() if t.name == "soldscope-read"]


def test_a_download_that_fails_midway_fails_its_period_after_the_rows_before(
    job: Callable[..., DatasetJob], client: ScriptedClient, dataset: MemoryDataset
) -> None:
    def flaky(url: str, body: bytes) -> Iterator[bytes]:
        yield body[: len(body) // 2]
        raise transient("downloadReportDocument")

    client.download = flaky
    # Large enough that the half before the failure spans several reads of the parser.
    client.next_script = lambda n: Script(["DONE"], gz_json([{"n": i} for i in range(100_000)]))
    dataset.batch_rows = 1000
    with pytest.raises(DatasetFailed, match="ServiceUnavailable"):
        reports.sync(job(), dataset)
    assert dataset.loaded == {}
    assert dataset.loads[0].staged  # batches before the failure were written, unpublished
