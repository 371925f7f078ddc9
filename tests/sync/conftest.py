"""Fakes for the sync tests: a scripted SP-API client, a clock whose sleep moves time, a database."""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from soldscope_cli.amazon.spapi import SpapiError, SpapiForbidden, SpapiNotFound, SpapiTransient
from soldscope_cli.db.database import Database
from soldscope_cli.fleet.config import StoreRecord
from soldscope_cli.sync.base import DatasetJob
from tests.conftest import query

# A Wednesday: the newest available Brand Analytics week is the one that started 10 days before.
NOW = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)


class Clock:
    """Wall time that moves only when told to or when `sleep` is called."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += timedelta(seconds=seconds)

    def advance(self, **delta: float) -> None:
        with self._lock:
            self.now += timedelta(**delta)

    def monotonic(self) -> float:
        return self().timestamp()


def spapi_error(
    cls: type[SpapiError], status: int, code: str = "Err", message: str = "", operation: str = "op"
) -> SpapiError:
    """A typed SP-API error like SpapiClient raises."""
    return cls(
        status=status,
        code=code,
        message=message,
        details=None,
        request_id="req-" + code,
        operation=operation,
        store="acme-us",
    )


def forbidden(operation: str = "createReport") -> SpapiForbidden:
    err = spapi_error(
        SpapiForbidden, 403, "Unauthorized", "Access to requested resource is denied.", operation
    )
    assert isinstance(err, SpapiForbidden)
    return err


def transient(operation: str = "op") -> SpapiTransient:
    err = spapi_error(SpapiTransient, 503, "ServiceUnavailable", "try later", operation)
    assert isinstance(err, SpapiTransient)
    return err


def not_found(operation: str = "getReport") -> SpapiNotFound:
    err = spapi_error(SpapiNotFound, 404, "NotFound", "no such report", operation)
    assert isinstance(err, SpapiNotFound)
    return err


def gz_document(rows: Sequence[Mapping[str, Any]], *, chunk: int = 4096) -> list[bytes]:
    """A search terms document, gzipped and cut into download chunks."""
    doc = {
        "reportSpecification": {"reportType": "GET_BRAND_ANALYTICS_SEARCH_TERMS_REPORT"},
        "dataByDepartmentAndSearchTerm": list(rows),
    }
    data = gzip.compress(json.dumps(doc).encode())
    return [data[i : i + chunk] for i in range(0, len(data), chunk)]


def term_rows(n: int, prefix: str = "term") -> list[dict[str, Any]]:
    """n search term rows in the documented shape."""
    return [
        {
            "departmentName": "Amazon.com",
            "searchTerm": f"{prefix} {i // 3}",
            "searchFrequencyRank": i // 3 + 1,
            "clickedAsin": f"B{i:09d}",
            "clickedItemName": f"Item {i}",
            "clickShareRank": i % 3 + 1,
            "clickShare": 0.25,
            "conversionShare": 0.125,
        }
        for i in range(n)
    ]


@dataclass
class Report:
    """A report the fake remembers: statuses to walk through, then its document."""

    statuses: list[str]
    chunks: list[bytes] = field(default_factory=list)
    fail_after_chunks: int | None = None
    polls: int = 0


Handler = Callable[..., Any]


class FakeClient:
    """A SyncClient whose answers tests script; every call is recorded."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.inventory: Handler | None = None
        self.transactions: Handler | None = None
        self.participations: Handler = lambda: [{"marketplace": {"id": "ATVPDKIKX0DER"}}]
        self.create: Handler | None = None
        self.reports: dict[str, Report] = {}
        self.document_statuses: Callable[[int], list[str]] = lambda n: ["IN_QUEUE", "DONE"]
        self.documents: Callable[[str, str], list[bytes]] = lambda mkt, start: gz_document(
            term_rows(9, f"{mkt} {start}")
        )
        self._next_report = 0
        self._lock = threading.Lock()

    def _record(self, name: str, **kwargs: Any) -> None:
        with self._lock:
            self.calls.append((name, kwargs))

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    def get_marketplace_participations(self) -> list[dict[str, Any]]:
        self._record("getMarketplaceParticipations")
        result: list[dict[str, Any]] = self.participations()
        return result

    def get_inventory_summaries(
        self,
        marketplace_id: str,
        *,
        details: bool = True,
        start_date_time: datetime | None = None,
        next_token: str | None = None,
    ) -> dict[str, Any]:
        self._record(
            "getInventorySummaries",
            marketplace_id=marketplace_id,
            details=details,
            start_date_time=start_date_time,
            next_token=next_token,
        )
        assert self.inventory is not None, "unexpected getInventorySummaries"
        result: dict[str, Any] = self.inventory(marketplace_id, start_date_time, next_token)
        return result

    def list_transactions(
        self,
        *,
        posted_after: datetime,
        posted_before: datetime | None = None,
        marketplace_id: str | None = None,
        next_token: str | None = None,
    ) -> dict[str, Any]:
        self._record(
            "listTransactions",
            posted_after=posted_after,
            posted_before=posted_before,
            next_token=next_token,
        )
        assert self.transactions is not None, "unexpected listTransactions"
        result: dict[str, Any] = self.transactions(posted_after, posted_before, next_token)
        return result

    def create_report(
        self,
        report_type: str,
        marketplace_ids: Sequence[str],
        *,
        data_start_time: datetime | None = None,
        data_end_time: datetime | None = None,
        report_options: Mapping[str, str] | None = None,
    ) -> str:
        self._record(
            "createReport",
            report_type=report_type,
            marketplace_ids=list(marketplace_ids),
            data_start_time=data_start_time,
            data_end_time=data_end_time,
            report_options=dict(report_options or {}),
        )
        if self.create is not None:
            self.create(marketplace_ids, data_start_time)
        with self._lock:
            self._next_report += 1
            report_id = f"R{self._next_report}"
        assert data_start_time is not None
        mkt = marketplace_ids[0]
        start = data_start_time.date().isoformat()
        self.reports[report_id] = Report(
            self.document_statuses(self._next_report), self.documents(mkt, start)
        )
        return report_id

    def get_report(self, report_id: str) -> dict[str, Any]:
        self._record("getReport", report_id=report_id)
        report = self.reports.get(report_id)
        if report is None:
            raise not_found()
        status = report.statuses[min(report.polls, len(report.statuses) - 1)]
        report.polls += 1
        body: dict[str, Any] = {"reportId": report_id, "processingStatus": status}
        if status == "DONE":
            body["reportDocumentId"] = "D-" + report_id
        return body

    def get_report_document(self, document_id: str) -> dict[str, Any]:
        self._record("getReportDocument", document_id=document_id)
        return {
            "reportDocumentId": document_id,
            "url": "https://s3.example/" + document_id.removeprefix("D-") + "?X-Amz-Signature=x",
            "compressionAlgorithm": "GZIP",
        }

    @contextmanager
    def open_document(self, url: str) -> Iterator[Iterator[bytes]]:
        self._record("download", url=url)
        report_id = url.split("/")[-1].split("?")[0]
        report = self.reports[report_id]

        def chunks() -> Iterator[bytes]:
            for i, chunk in enumerate(report.chunks):
                if report.fail_after_chunks is not None and i >= report.fail_after_chunks:
                    raise transient("downloadReportDocument")
                yield chunk

        yield chunks()


def make_store(name: str = "acme-us", marketplaces: list[str] | None = None) -> StoreRecord:
    return StoreRecord(
        name=name,
        region="na",
        marketplaces=marketplaces or ["US"],
        authorized_at=NOW - timedelta(days=10),
        selling_partner_id="A1SELLER" + name.upper().replace("-", ""),
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def db(make_db: Callable[..., Any]) -> Database:
    """The state database, of each engine in turn."""
    database: Database = make_db()
    return database


@pytest.fixture
def client() -> FakeClient:
    return FakeClient()


@pytest.fixture
def make_job(db: Database, clock: Clock, client: FakeClient) -> Callable[..., DatasetJob]:
    def build(**kwargs: Any) -> DatasetJob:
        store = kwargs.pop("store", None) or make_store()
        if "ba_weeks" in kwargs:  # shorthand for Brand Analytics' dataset option
            kwargs["options"] = {"ba_weeks": kwargs.pop("ba_weeks")}
        return DatasetJob(
            store=store,
            client=kwargs.pop("client", client),
            db=db,
            clock=clock,
            sleep=clock.sleep,
            **kwargs,
        )

    return build


def rows(db: Database, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    return query(db, sql, *params)
