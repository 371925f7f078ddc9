"""Reports API: lifecycle, Brand Analytics validation, presigned documents and streaming."""

from __future__ import annotations

import gzip
import json
import zlib
from typing import Any

import httpx
import pytest

from soldscope_cli.simulator import ManualClock, Simulator

from .support import CA, DE, EU_SELLER, NA_SELLER, US, access_token, auth

REPORTS = "/reports/2021-06-30/reports"
SEARCH_TERMS = "GET_BRAND_ANALYTICS_SEARCH_TERMS_REPORT"
ORDERS = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL"
# ManualClock starts on Wednesday 2026-03-04; the last full Sunday..Saturday week:
WEEK = ("2026-02-22", "2026-02-28")


@pytest.fixture
def token(sim: Simulator, client: httpx.Client) -> str:
    return access_token(sim, client)


def create(client: httpx.Client, token: str, **body: Any) -> httpx.Response:
    return client.post(REPORTS, json=body, headers=auth(token))


def search_terms(
    client: httpx.Client, token: str, start: str = WEEK[0], end: str = WEEK[1], market: str = US
) -> str:
    response = create(
        client,
        token,
        reportType=SEARCH_TERMS,
        reportOptions={"reportPeriod": "WEEK"},
        dataStartTime=start,
        dataEndTime=end,
        marketplaceIds=[market],
    )
    assert response.status_code == 202, response.text
    return str(response.json()["reportId"])


def poll(client: httpx.Client, token: str, report_id: str) -> dict[str, Any]:
    response = client.get(f"{REPORTS}/{report_id}", headers=auth(token))
    assert response.status_code == 200, response.text
    return dict(response.json())


def poll_until_final(client: httpx.Client, token: str, report_id: str) -> dict[str, Any]:
    for _ in range(20):
        report = poll(client, token, report_id)
        if report["processingStatus"] in ("DONE", "CANCELLED", "FATAL"):
            return report
    raise AssertionError("report never finished")


def download(client: httpx.Client, token: str, document_id: str, **params: str) -> httpx.Response:
    info = client.get(
        f"/reports/2021-06-30/documents/{document_id}", params=params, headers=auth(token)
    )
    assert info.status_code == 200, info.text
    assert info.json()["compressionAlgorithm"] == "GZIP"
    return client.get(info.json()["url"])


def test_default_lifecycle_is_fast(client: httpx.Client, token: str) -> None:
    report_id = search_terms(client, token)
    first = poll(client, token, report_id)
    assert first["processingStatus"] == "IN_PROGRESS"
    assert "reportDocumentId" not in first
    done = poll(client, token, report_id)
    assert done["processingStatus"] == "DONE"
    assert done["reportDocumentId"].startswith("amzn1.spdoc.1.4.na.")
    assert done["dataStartTime"] == WEEK[0]
    assert done["marketplaceIds"] == [US]


def test_lifecycle_by_polls_and_time(
    sim: Simulator, client: httpx.Client, token: str, clock: ManualClock
) -> None:
    sim.set_reports(polls_in_queue=2, polls_in_progress=1, seconds_in_progress=60)
    report_id = search_terms(client, token)
    statuses = [poll(client, token, report_id)["processingStatus"] for _ in range(4)]
    assert statuses == ["IN_QUEUE", "IN_QUEUE", "IN_PROGRESS", "IN_PROGRESS"]
    clock.advance(60)
    assert poll(client, token, report_id)["processingStatus"] == "DONE"


@pytest.mark.parametrize("outcome", ["FATAL", "CANCELLED"])
def test_scenario_outcome(sim: Simulator, client: httpx.Client, token: str, outcome: str) -> None:
    sim.set_reports(outcomes={SEARCH_TERMS: outcome})
    report = poll_until_final(client, token, search_terms(client, token))
    assert report["processingStatus"] == outcome
    assert "reportDocumentId" not in report


@pytest.mark.parametrize(
    ("start", "end", "market"),
    [
        ("2026-02-23", "2026-03-01", US),  # Monday..Sunday
        ("2026-02-15", "2026-02-28", US),  # two weeks
        ("2026-03-01", "2026-03-07", US),  # not over yet
        (WEEK[0], WEEK[1], DE),  # not the seller's marketplace
    ],
)
def test_search_terms_period_rules_go_fatal(
    client: httpx.Client, token: str, start: str, end: str, market: str
) -> None:
    report = poll_until_final(client, token, search_terms(client, token, start, end, market))
    assert report["processingStatus"] == "FATAL"


def test_time_part_of_the_dates_is_ignored(client: httpx.Client, token: str) -> None:
    report_id = search_terms(client, token, WEEK[0] + "T00:00:00Z", WEEK[1] + "T23:59:59Z")
    assert poll_until_final(client, token, report_id)["processingStatus"] == "DONE"


def test_search_terms_needs_the_brand_analytics_role(sim: Simulator, client: httpx.Client) -> None:
    token = access_token(sim, client, EU_SELLER)
    response = create(
        client,
        token,
        reportType=SEARCH_TERMS,
        reportOptions={"reportPeriod": "WEEK"},
        dataStartTime=WEEK[0],
        dataEndTime=WEEK[1],
        marketplaceIds=[DE],
    )
    assert response.status_code == 403
    assert response.json()["errors"][0]["code"] == "Unauthorized"
    other = create(client, token, reportType="GET_MERCHANT_LISTINGS_ALL_DATA", marketplaceIds=[DE])
    assert other.status_code == 202


def test_document_is_the_schema_shape_and_deterministic(client: httpx.Client, token: str) -> None:
    document_id = poll_until_final(client, token, search_terms(client, token))["reportDocumentId"]
    response = download(client, token, document_id)
    assert response.status_code == 200
    assert response.headers["transfer-encoding"] == "chunked"
    assert "content-encoding" not in response.headers
    document = json.loads(gzip.decompress(response.content))
    assert document["reportSpecification"] == {
        "reportType": SEARCH_TERMS,
        "reportOptions": {"reportPeriod": "WEEK"},
        "dataStartTime": WEEK[0],
        "dataEndTime": WEEK[1],
        "marketplaceIds": [US],
    }
    rows = document["dataByDepartmentAndSearchTerm"]
    assert len(rows) == 30
    assert [r["clickShareRank"] for r in rows[:3]] == [1, 2, 3]
    assert rows[0]["departmentName"] == "Amazon.com"
    # A second report for the same seller, marketplace and week yields the same rows.
    again_id = poll_until_final(client, token, search_terms(client, token))["reportDocumentId"]
    assert json.loads(gzip.decompress(download(client, token, again_id).content)) == document


def test_rows_differ_by_week_and_seller(sim: Simulator, client: httpx.Client, token: str) -> None:
    def rows(tok: str, start: str, end: str, market: str = US) -> list[dict[str, Any]]:
        doc_id = poll_until_final(client, tok, search_terms(client, tok, start, end, market))[
            "reportDocumentId"
        ]
        return list(
            json.loads(gzip.decompress(download(client, tok, doc_id).content))[
                "dataByDepartmentAndSearchTerm"
            ]
        )

    base = rows(token, *WEEK)
    assert rows(token, "2026-02-15", "2026-02-21") != base
    assert rows(token, WEEK[0], WEEK[1], CA) != base


def test_document_url_expires_after_five_minutes(
    client: httpx.Client, token: str, clock: ManualClock
) -> None:
    document_id = poll_until_final(client, token, search_terms(client, token))["reportDocumentId"]
    info = client.get(f"/reports/2021-06-30/documents/{document_id}", headers=auth(token)).json()
    clock.advance(300)
    assert client.get(info["url"]).status_code == 200
    clock.advance(1)
    expired = client.get(info["url"])
    assert expired.status_code == 403
    assert "<Code>AccessDenied</Code>" in expired.text


def test_tampered_document_url_is_refused(client: httpx.Client, token: str) -> None:
    document_id = poll_until_final(client, token, search_terms(client, token))["reportDocumentId"]
    info = client.get(f"/reports/2021-06-30/documents/{document_id}", headers=auth(token)).json()
    tampered = info["url"].replace("X-Amz-Expires=300", "X-Amz-Expires=99999")
    response = client.get(tampered)
    assert response.status_code == 403
    assert "SignatureDoesNotMatch" in response.text


def test_content_encoding_header_option(client: httpx.Client, token: str) -> None:
    document_id = poll_until_final(client, token, search_terms(client, token))["reportDocumentId"]
    response = download(client, token, document_id, enableContentEncodingUrlHeader="true")
    assert response.headers["content-encoding"] == "gzip"
    assert json.loads(response.content)["reportSpecification"]["reportType"] == SEARCH_TERMS


def test_target_bytes_sets_the_size(sim: Simulator, client: httpx.Client, token: str) -> None:
    sim.update_seller(NA_SELLER, {"search_terms_bytes": 2_000_000})
    document_id = poll_until_final(client, token, search_terms(client, token))["reportDocumentId"]
    raw = zlib.decompress(download(client, token, document_id).content, 31)
    assert 2_000_000 <= len(raw) < 3_000_000
    assert json.loads(raw)["dataByDepartmentAndSearchTerm"][-1]["searchTerm"]


def test_other_report_types_give_a_small_table(client: httpx.Client, token: str) -> None:
    response = create(
        client, token, reportType="GET_MERCHANT_LISTINGS_ALL_DATA", marketplaceIds=[US]
    )
    report = poll_until_final(client, token, response.json()["reportId"])
    text = gzip.decompress(download(client, token, report["reportDocumentId"]).content).decode()
    lines = text.splitlines()
    assert lines[0].startswith("seller-sku\tasin")
    assert len(lines) == 101


@pytest.mark.parametrize(
    "body",
    [
        {"reportType": "NOT_A_REPORT", "marketplaceIds": [US]},
        {"reportType": SEARCH_TERMS},
        {"reportType": SEARCH_TERMS, "marketplaceIds": []},
        {"reportType": SEARCH_TERMS, "marketplaceIds": ["XXXX"]},
        {"reportType": SEARCH_TERMS, "marketplaceIds": [US], "dataStartTime": "soon"},
        {"reportType": SEARCH_TERMS, "marketplaceIds": [US], "reportOptions": {"a": 1}},
    ],
)
def test_create_report_invalid_input(
    client: httpx.Client, token: str, body: dict[str, Any]
) -> None:
    response = client.post(REPORTS, json=body, headers=auth(token))
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "InvalidInput"


def test_report_and_document_ids(sim: Simulator, client: httpx.Client, token: str) -> None:
    assert client.get(f"{REPORTS}/badReportId1", headers=auth(token)).status_code == 400
    assert client.get(f"{REPORTS}/123", headers=auth(token)).status_code == 404
    document = "/reports/2021-06-30/documents/"
    assert client.get(document + "badDocumentId1", headers=auth(token)).status_code == 400
    assert client.get(document + "amzn1.spdoc.1.4.na.x", headers=auth(token)).status_code == 404
    # Reports belong to their seller.
    report_id = search_terms(client, token)
    other = access_token(sim, client, EU_SELLER)
    assert client.get(f"{REPORTS}/{report_id}", headers=auth(other)).status_code == 404


def test_cancel_only_in_queue(sim: Simulator, client: httpx.Client, token: str) -> None:
    sim.set_reports(polls_in_queue=1)
    queued = search_terms(client, token)
    assert client.delete(f"{REPORTS}/{queued}", headers=auth(token)).status_code == 200
    assert poll(client, token, queued)["processingStatus"] == "CANCELLED"
    sim.set_reports(polls_in_queue=0)
    running = search_terms(client, token)
    poll(client, token, running)
    assert client.delete(f"{REPORTS}/{running}", headers=auth(token)).status_code == 400


def test_get_reports_filters_and_pages(client: httpx.Client, token: str) -> None:
    ids = [search_terms(client, token) for _ in range(3)]
    poll_until_final(client, token, ids[0])
    params = {"reportTypes": SEARCH_TERMS, "pageSize": "2"}
    first = client.get(REPORTS, params=params, headers=auth(token)).json()
    assert len(first["reports"]) == 2
    rest = client.get(REPORTS, params={"nextToken": first["nextToken"]}, headers=auth(token)).json()
    assert {r["reportId"] for r in first["reports"] + rest["reports"]} == set(ids)
    done = client.get(
        REPORTS,
        params={"reportTypes": SEARCH_TERMS, "processingStatuses": "DONE"},
        headers=auth(token),
    ).json()
    assert [r["reportId"] for r in done["reports"]] == [ids[0]]
    bad = client.get(
        REPORTS,
        params={"reportTypes": SEARCH_TERMS, "processingStatuses": "BAD"},
        headers=auth(token),
    )
    assert bad.status_code == 400
    mixed = client.get(
        REPORTS, params={"nextToken": first["nextToken"], "pageSize": "5"}, headers=auth(token)
    )
    assert mixed.status_code == 400


def test_a_fatal_report_carries_amazons_reason_in_its_document(
    client: httpx.Client, token: str
) -> None:
    # Monday..Sunday is not a Brand Analytics week: FATAL, with a document that says why.
    report = poll_until_final(
        client, token, search_terms(client, token, "2026-02-23", "2026-03-01")
    )
    assert report["processingStatus"] == "FATAL"
    info = client.get(
        f"/reports/2021-06-30/documents/{report['reportDocumentId']}", headers=auth(token)
    ).json()
    assert info["compressionAlgorithm"] == "GZIP"
    body = client.get(info["url"]).content
    assert body[:2] != b"\x1f\x8b"  # plain, whatever the label says (FACTS.md §8)
    assert "exactly one complete WEEK" in json.loads(body)["errorDetails"]


def test_a_forced_fatal_carries_the_scenarios_reason(
    sim: Simulator, client: httpx.Client, token: str
) -> None:
    sim.set_reports(
        outcomes={SEARCH_TERMS: "FATAL"}, error_details={SEARCH_TERMS: "Internal failure 42"}
    )
    report = poll_until_final(client, token, search_terms(client, token))
    assert report["processingStatus"] == "FATAL"
    info = client.get(
        f"/reports/2021-06-30/documents/{report['reportDocumentId']}", headers=auth(token)
    ).json()
    assert client.get(info["url"]).json() == {"errorDetails": "Internal failure 42"}
    listed = client.get(REPORTS, params={"reportTypes": SEARCH_TERMS}, headers=auth(token)).json()
    assert listed["reports"][0]["reportDocumentId"] == report["reportDocumentId"]


def test_error_details_must_be_texts(sim: Simulator) -> None:
    from soldscope_cli.simulator.scenario import ScenarioError

    with pytest.raises(ScenarioError, match=r"reports.error_details.X must be a text"):
        sim.set_reports(error_details={"X": 3})


def test_ready_documents_serve_the_bytes_made_at_the_first_download(
    sim: Simulator, client: httpx.Client, token: str
) -> None:
    sim.set_reports(ready_documents=True)
    first_id = poll_until_final(client, token, search_terms(client, token))["reportDocumentId"]
    first = download(client, token, first_id).content
    # Another report of the same seller, marketplace and week: the stored bytes, not a new gzip.
    again_id = poll_until_final(client, token, search_terms(client, token))["reportDocumentId"]
    assert again_id != first_id
    assert download(client, token, again_id).content == first
    assert len(sim.ready_documents) == 1
    # Another week is another document.
    other = search_terms(client, token, "2026-02-15", "2026-02-21")
    other_id = poll_until_final(client, token, other)["reportDocumentId"]
    assert download(client, token, other_id).content != first
    assert len(sim.ready_documents) == 2


def test_ready_flat_documents_are_made_when_the_report_is_created(
    sim: Simulator, client: httpx.Client, token: str
) -> None:
    window = {"dataStartTime": "2026-02-01T00:00:00Z", "dataEndTime": "2026-02-08T00:00:00Z"}
    body = {"reportType": ORDERS, "marketplaceIds": [US], **window}
    # Off (the default), a document is made as it is downloaded and nothing is kept.
    made = poll_until_final(client, token, create(client, token, **body).json()["reportId"])
    plain = gzip.decompress(download(client, token, made["reportDocumentId"]).content)
    assert sim.ready_documents == {}
    sim.set_reports(ready_documents=True)
    report_id = create(client, token, **body).json()["reportId"]
    # The document exists before anyone asks for it, as Amazon's does.
    [stored] = sim.ready_documents.values()
    document_id = poll_until_final(client, token, report_id)["reportDocumentId"]
    served = download(client, token, document_id).content
    assert served == b"".join(stored)
    assert gzip.decompress(served) == plain
    # Another window is another document.
    other = {**body, "dataStartTime": "2026-02-08T00:00:00Z", "dataEndTime": "2026-02-15T00:00:00Z"}
    other_report = create(client, token, **other).json()["reportId"]
    assert len(sim.ready_documents) == 2
    other_id = poll_until_final(client, token, other_report)["reportDocumentId"]
    assert download(client, token, other_id).content != served
