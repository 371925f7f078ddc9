"""Scheduled settlement reports: every 14 days, listed for 90 days, local amounts, FATAL, roles."""

from __future__ import annotations

import gzip
import json
from decimal import Decimal
from itertools import pairwise

import httpx
import pytest

from soldscope_cli.simulator import ManualClock, Simulator
from soldscope_cli.simulator.clock import parse_iso
from soldscope_cli.simulator.settlements import local_amount
from soldscope_cli.sync.values import amount_parser

from .support import DE, EU_SELLER, NA_SELLER, US, access_token, auth

SETTLEMENTS = "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"
REPORTS = "/reports/2021-06-30/reports"
DAY = 86400.0


def listed(client: httpx.Client, token: str, **params: str) -> list[dict[str, object]]:
    """Every listed DONE settlement report, following nextToken."""
    found: list[dict[str, object]] = []
    query = {"reportTypes": SETTLEMENTS, "processingStatuses": "DONE", "pageSize": "2", **params}
    while True:
        response = client.get(REPORTS, params=query, headers=auth(token))
        assert response.status_code == 200, response.text
        body = response.json()
        found += body["reports"]
        if "nextToken" not in body:
            return found
        query = {"nextToken": body["nextToken"]}


def download(client: httpx.Client, token: str, document_id: str) -> str:
    doc = client.get(f"/reports/2021-06-30/documents/{document_id}", headers=auth(token)).json()
    return gzip.decompress(client.get(doc["url"]).content).decode()


def test_a_settlement_every_14_days_listed_for_90_days(
    sim: Simulator, client: httpx.Client, clock: ManualClock
) -> None:
    token = access_token(sim, client, NA_SELLER)
    reports = listed(client, token)
    assert 6 <= len(reports) <= 7
    ends = sorted(parse_iso(str(r["dataEndTime"])).timestamp() for r in reports)
    assert {b - a for a, b in pairwise(ends)} == {14 * DAY}
    assert all(r["marketplaceIds"] == [US] and r["reportDocumentId"] for r in reports)
    # Listing again makes nothing new; a new one appears 14 days later, the oldest drops out.
    assert listed(client, token) == reports
    clock.advance(14 * DAY)
    later = listed(client, access_token(sim, client, NA_SELLER))
    assert len(later) == len(reports)
    assert {r["reportId"] for r in later} - {r["reportId"] for r in reports}
    assert min(r["createdTime"] for r in later) > min(r["createdTime"] for r in reports)  # type: ignore[operator]


def test_a_german_settlement_writes_local_amounts_that_add_up(
    sim: Simulator, client: httpx.Client
) -> None:
    token = access_token(sim, client, EU_SELLER)
    [report, *_] = listed(client, token)
    assert report["marketplaceIds"] == [DE]
    text = download(client, token, str(report["reportDocumentId"]))
    header, first, *lines = [line.split("\t") for line in text.splitlines()]
    assert header[:6] == [
        "settlement-id",
        "settlement-start-date",
        "settlement-end-date",
        "deposit-date",
        "total-amount",
        "currency",
    ]
    assert first[5] == "EUR" and first[6] == "" and first[1].endswith(" UTC")
    parse = amount_parser(DE)
    amounts = [parse(line[14]) for line in lines]
    assert sum(amounts, Decimal(0)) == parse(first[4])
    assert any("." in line[14] and "," in line[14] for line in lines)  # "1.234,56"


@pytest.mark.parametrize(
    ("value", "marketplace", "text"),
    [
        (Decimal("1234.56"), DE, "1.234,56"),
        (Decimal("-0.99"), DE, "-0,99"),
        (Decimal("1234.56"), "A13V1IB3VIYZZH", "1\u202f234,56"),
        (Decimal("1234567.5"), US, "1,234,567.50"),
    ],
)
def test_local_amounts(value: Decimal, marketplace: str, text: str) -> None:
    assert local_amount(value, marketplace) == text
    assert amount_parser(marketplace)(text) == value


def test_settlements_need_the_finance_role(sim: Simulator, client: httpx.Client) -> None:
    sim.update_seller(EU_SELLER, {"roles": ["sellers", "inventory"]})
    token = access_token(sim, client, EU_SELLER)
    response = client.get(REPORTS, params={"reportTypes": SETTLEMENTS}, headers=auth(token))
    assert response.status_code == 403


def test_a_fatal_settlement_carries_amazons_reason(sim: Simulator, client: httpx.Client) -> None:
    sim.set_reports(
        outcomes={SETTLEMENTS: "FATAL"}, error_details={SETTLEMENTS: "Settlement on hold."}
    )
    token = access_token(sim, client, NA_SELLER)
    assert listed(client, token) == []  # only DONE ones were asked for
    [report, *_] = listed(client, token, processingStatuses="FATAL")
    assert report["processingStatus"] == "FATAL"
    text = download_plain(client, token, str(report["reportDocumentId"]))
    assert json.loads(text) == {"errorDetails": "Settlement on hold."}


def download_plain(client: httpx.Client, token: str, document_id: str) -> str:
    doc = client.get(f"/reports/2021-06-30/documents/{document_id}", headers=auth(token)).json()
    return client.get(doc["url"]).text


def test_ready_settlement_documents_are_made_when_amazon_lists_them(
    sim: Simulator, client: httpx.Client
) -> None:
    token = access_token(sim, client, EU_SELLER)
    # Off (the default), the listed settlements keep no document.
    [plain_report, *_] = listed(client, token)
    plain = download(client, token, str(plain_report["reportDocumentId"]))
    assert sim.ready_documents == {}
    sim.set_reports(ready_documents=True)
    other = access_token(sim, client, NA_SELLER)
    reports = listed(client, other)
    # Each listed settlement's document is stored before anyone downloads it.
    assert len(sim.ready_documents) == len(reports)
    first = str(reports[0]["reportDocumentId"])
    doc = client.get(f"/reports/2021-06-30/documents/{first}", headers=auth(other)).json()
    assert client.get(doc["url"]).content in {b"".join(b) for b in sim.ready_documents.values()}
    # The same settlement downloaded again is the same text as when it was made on the fly.
    assert download(client, token, str(plain_report["reportDocumentId"])) == plain
