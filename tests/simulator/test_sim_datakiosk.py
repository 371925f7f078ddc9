"""The simulator's Data Kiosk: queries validated against Amazon's schema, documents, FATAL, no
data, 30-day retention and the application's createQuery quota."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import graphql
import httpx
import pytest

from soldscope_cli.simulator import ManualClock, Simulator
from soldscope_cli.simulator.datakiosk_schema import SDL
from soldscope_cli.sync.sales_traffic import Span, query_text
from tests.prerequisites import require

from .support import CA, EU_SELLER, US, access_token, auth

MODELS = Path(__file__).resolve().parents[3] / "shared" / "spapi" / "models"
SCHEMA_FILE = MODELS / "analytics_salesAndTraffic_2024_04_24.graphql"
require(SCHEMA_FILE.is_file(), f"Amazon's Data Kiosk schema is not at {SCHEMA_FILE}")
DK = "/dataKiosk/2023-11-15"


def official() -> graphql.GraphQLSchema:
    return graphql.build_schema(SCHEMA_FILE.read_text(encoding="utf-8"))


def by_date(fields: str = "startDate marketplaceId", **args: str) -> str:
    values = {
        "aggregateBy": "DAY",
        "startDate": '"2026-02-01"',
        "endDate": '"2026-02-03"',
        "marketplaceIds": f'["{US}"]',
        **args,
    }
    arguments = ", ".join(f"{k}: {v}" for k, v in values.items() if v)
    return (
        "query { analytics_salesAndTraffic_2024_04_24 { "
        f"salesAndTrafficByDate({arguments}) {{ {fields} }} }} }}"
    )


class Kiosk:
    def __init__(self, sim: Simulator, client: httpx.Client, clock: ManualClock) -> None:
        self.sim, self.client, self.clock = sim, client, clock
        self.token = access_token(sim, client)

    def create(self, query: str, token: str | None = None) -> httpx.Response:
        return self.client.post(
            f"{DK}/queries", json={"query": query}, headers=auth(token or self.token)
        )

    def finish(self, query: str) -> dict[str, Any]:
        created = self.create(query)
        assert created.status_code == 202, created.text
        query_id = created.json()["queryId"]
        for _ in range(5):
            body = self.client.get(f"{DK}/queries/{query_id}", headers=auth(self.token)).json()
            if body["processingStatus"] in ("DONE", "FATAL"):
                return dict(body)
        raise AssertionError("query did not end")

    def document(self, document_id: str) -> bytes:
        info = self.client.get(f"{DK}/documents/{document_id}", headers=auth(self.token))
        assert info.status_code == 200, info.text
        download = self.client.get(info.json()["documentUrl"])
        assert download.headers["Content-Encoding"] == "gzip"
        # httpx inflates a Content-Encoding: gzip body by itself.
        return download.content


@pytest.fixture
def kiosk(sim: Simulator, client: httpx.Client, clock: ManualClock) -> Kiosk:
    return Kiosk(sim, client, clock)


def test_the_served_schema_is_a_part_of_amazons() -> None:
    ours = graphql.build_schema(SDL)
    assert graphql.find_breaking_changes(ours, official()) == []


def test_a_field_amazon_lacks_would_be_caught() -> None:
    bigger = graphql.build_schema(
        SDL.replace("  sessions: Long!", "  visits: Long!\n  sessions: Long!")
    )
    assert graphql.find_breaking_changes(bigger, official())


def test_the_sync_query_is_valid_against_amazons_schema() -> None:
    text = query_text(Span(date(2026, 11, 1), date(2026, 11, 30)), [US, CA])
    assert graphql.validate(official(), graphql.parse(text)) == []


@pytest.mark.parametrize(
    ("query", "words"),
    [
        (by_date().replace("analytics_salesAndTraffic_2024_04_24", "analytics_x"), "analytics_x"),
        (by_date("startDate visits"), "visits"),
        (by_date(marketplaceIds=""), "marketplaceIds"),
        (by_date(aggregateBy="HOUR"), "HOUR"),
        (by_date(colour='"red"'), "colour"),
        ("query { analytics_salesAndTraffic_2024_04_24 {", "Syntax Error"),
        (by_date() + " " * 10 + "#" + "x" * 8000, "8000"),
    ],
)
def test_an_invalid_query_is_400_naming_what_is_wrong(kiosk: Kiosk, query: str, words: str) -> None:
    response = kiosk.create(query)
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["code"] == "InvalidInput"
    assert words in error["details"] or words in error["message"]


def test_a_done_query_serves_json_lines_with_the_fields_asked_for(kiosk: Kiosk) -> None:
    done = kiosk.finish(by_date("startDate marketplaceId sales { unitsOrdered }"))
    assert done["processingStatus"] == "DONE" and "errorDocumentId" not in done
    lines = kiosk.document(done["dataDocumentId"]).decode().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["startDate"] for r in records] == ["2026-02-01", "2026-02-02", "2026-02-03"]
    assert all(set(r) == {"startDate", "marketplaceId", "sales"} for r in records)
    assert all(set(r["sales"]) == {"unitsOrdered"} for r in records)


def test_days_without_data_end_done_without_a_document(kiosk: Kiosk, clock: ManualClock) -> None:
    today = date.fromtimestamp(clock())
    future = f'"{today + timedelta(days=3)}"'
    done = kiosk.finish(by_date(startDate=future, endDate=future))
    assert done["processingStatus"] == "DONE"
    assert "dataDocumentId" not in done


def test_a_marketplace_not_the_sellers_ends_fatal_with_an_error_document(kiosk: Kiosk) -> None:
    ended = kiosk.finish(by_date(marketplaceIds='["A1PA6795UKMFR9"]'))
    assert ended["processingStatus"] == "FATAL" and "dataDocumentId" not in ended
    error = json.loads(kiosk.document(ended["errorDocumentId"]))
    assert "A1PA6795UKMFR9" in error["errors"][0]["message"]


def test_a_start_over_two_years_back_ends_fatal(kiosk: Kiosk) -> None:
    ended = kiosk.finish(by_date(startDate='"2023-01-01"'))
    assert ended["processingStatus"] == "FATAL"
    assert "two years" in kiosk.document(ended["errorDocumentId"]).decode()


def test_queries_and_documents_are_kept_30_days(kiosk: Kiosk, clock: ManualClock) -> None:
    done = kiosk.finish(by_date())
    clock.advance(31 * 86400)
    kiosk.token = access_token(kiosk.sim, kiosk.client)
    query = kiosk.client.get(f"{DK}/queries/{done['queryId']}", headers=auth(kiosk.token))
    document = kiosk.client.get(
        f"{DK}/documents/{done['dataDocumentId']}", headers=auth(kiosk.token)
    )
    assert (query.status_code, document.status_code) == (404, 404)


def test_createquery_quota_is_the_applications_not_the_sellers(kiosk: Kiosk) -> None:
    kiosk.sim.update_seller(EU_SELLER, {"roles": ["sellers", "brand_analytics"]})
    other = access_token(kiosk.sim, kiosk.client, EU_SELLER)
    statuses = [kiosk.create(by_date()).status_code for _ in range(10)]
    eu_query = by_date(marketplaceIds='["A1PA6795UKMFR9"]')
    statuses += [kiosk.create(eu_query, other).status_code for _ in range(6)]
    assert statuses == [202] * 15 + [429]
    kiosk.clock.advance(60)
    assert kiosk.create(eu_query, other).status_code == 202


def test_every_operation_needs_the_brand_analytics_role(kiosk: Kiosk) -> None:
    other = access_token(kiosk.sim, kiosk.client, EU_SELLER)
    assert kiosk.create(by_date(), other).status_code == 403
    response = kiosk.client.get(f"{DK}/queries", headers=auth(other))
    assert response.status_code == 403
