"""The simulator's HTTP answers checked against Amazon's own models in ../shared/spapi/models."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from soldscope_cli.simulator import ManualClock, Simulator, parse_scenario
from soldscope_cli.simulator.spapi import OPERATIONS
from tests.prerequisites import require

from .support import EU_SELLER, US, access_token, auth, scenario_data

MODELS = Path(__file__).resolve().parents[3] / "shared" / "spapi" / "models"
require(
    MODELS.is_dir(),
    f"Amazon's SP-API models are not at {MODELS} (the shared folder beside the checkout)",
)

SERVED = {op.name for op in OPERATIONS}
MODEL_FILES = (
    "sellers.json",
    "fbaInventory.json",
    "finances_2024-06-19.json",
    "reports_2021-06-30.json",
    "application_2023-11-30.json",
    "dataKiosk_2023-11-15.json",
)
# The Data Kiosk model's request examples query a `sampleQuery` that no dataset's schema has; the
# simulator validates queries against the real schema, so they are checked by the cases below.
EXAMPLE_FILES = tuple(name for name in MODEL_FILES if not name.startswith("dataKiosk"))
SEARCH_TERMS = "GET_BRAND_ANALYTICS_SEARCH_TERMS_REPORT"


def _date_time(value: object) -> bool:
    if not isinstance(value, str) or "T" not in value:
        return False
    datetime.fromisoformat(value.replace("Z", "+00:00"))
    return True


FORMATS = jsonschema.FormatChecker()
FORMATS.checks("date-time", raises=ValueError)(_date_time)


@cache
def model(name: str) -> dict[str, Any]:
    return dict(json.loads((MODELS / name).read_text(encoding="utf-8")))


def operation(operation_id: str) -> tuple[str, str, str, dict[str, Any]]:
    """(model file, path, method, operation object) of an operationId."""
    for name in MODEL_FILES:
        for path, item in model(name)["paths"].items():
            for method, op in item.items():
                if isinstance(op, dict) and op.get("operationId") == operation_id:
                    return name, path, method, op
    raise LookupError(operation_id)


def assert_conforms(operation_id: str, response: httpx.Response) -> None:
    """Status documented, body valid for that status's schema, Amazon's headers present."""
    name, _path, _method, op = operation(operation_id)
    declared = op["responses"].get(str(response.status_code))
    assert declared is not None, f"{operation_id} does not document {response.status_code}"
    assert response.headers.get("x-amzn-RequestId")
    if "schema" in declared:
        schema = {**declared["schema"], "definitions": model(name)["definitions"]}
        jsonschema.Draft4Validator(schema, format_checker=FORMATS).validate(response.json())
    if response.status_code < 300:
        assert response.headers.get("x-amzn-RateLimit-Limit"), "rate limit header missing"
    if response.status_code == 429:
        assert "x-amzn-RateLimit-Limit" not in response.headers


@dataclass
class Ctx:
    sim: Simulator
    client: httpx.Client
    token: str

    def get(self, path: str, **params: str) -> httpx.Response:
        return self.client.get(path, params=params, headers=auth(self.token))

    def report(self, **body: Any) -> str:
        body.setdefault("reportType", "GET_MERCHANT_LISTINGS_ALL_DATA")
        body.setdefault("marketplaceIds", [US])
        response = self.client.post(
            "/reports/2021-06-30/reports", json=body, headers=auth(self.token)
        )
        assert response.status_code == 202, response.text
        return str(response.json()["reportId"])

    def done_report(self, **body: Any) -> dict[str, Any]:
        report_id = self.report(**body)
        for _ in range(5):
            report = self.get(f"/reports/2021-06-30/reports/{report_id}").json()
            if report["processingStatus"] == "DONE":
                return dict(report)
        raise AssertionError("report did not finish")


@pytest.fixture
def ctx(sim: Simulator, client: httpx.Client) -> Ctx:
    return Ctx(sim, client, access_token(sim, client))


INVENTORY = {"granularityType": "Marketplace", "granularityId": US, "marketplaceIds": US}
REPORTS = "/reports/2021-06-30/reports"
DOCS = "/reports/2021-06-30/documents/"


def _throttled(ctx: Ctx) -> httpx.Response:
    ctx.sim.set_rate_limits(enabled=True)
    responses = [ctx.get("/sellers/v1/marketplaceParticipations") for _ in range(16)]
    return responses[-1]


def _injected(
    ctx: Ctx, status: int, prefix: str, call: Callable[[Ctx], httpx.Response]
) -> httpx.Response:
    ctx.sim.add_failure(status, path_prefix=prefix)
    return call(ctx)


def _no_token(ctx: Ctx, path: str) -> httpx.Response:
    return ctx.client.get(path)


def _search_terms_without_role(ctx: Ctx) -> httpx.Response:
    token = access_token(ctx.sim, ctx.client, EU_SELLER)
    body = {
        "reportType": SEARCH_TERMS,
        "marketplaceIds": ["A1PA6795UKMFR9"],
        "reportOptions": {"reportPeriod": "WEEK"},
    }
    return ctx.client.post(REPORTS, json=body, headers=auth(token))


FLAT_REPORTS = (
    "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL",
    "GET_FBA_FULFILLMENT_CUSTOMER_RETURNS_DATA",
    "GET_FBA_REIMBURSEMENTS_DATA",
)
WINDOW = {"dataStartTime": "2026-10-01T00:00:00Z", "dataEndTime": "2026-10-31T00:00:00Z"}


def _flat_report(report_type: str) -> Callable[[Ctx], httpx.Response]:
    return lambda c: c.client.post(
        REPORTS,
        json={"reportType": report_type, "marketplaceIds": [US], **WINDOW},
        headers=auth(c.token),
    )


def _flat_report_without_role(report_type: str) -> Callable[[Ctx], httpx.Response]:
    def call(ctx: Ctx) -> httpx.Response:
        token = access_token(ctx.sim, ctx.client, EU_SELLER)
        body = {"reportType": report_type, "marketplaceIds": ["A1PA6795UKMFR9"], **WINDOW}
        return ctx.client.post(REPORTS, json=body, headers=auth(token))

    return call


SETTLEMENTS = "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"


def _settlements(ctx: Ctx, **params: str) -> httpx.Response:
    return ctx.get(REPORTS, reportTypes=SETTLEMENTS, processingStatuses="DONE", **params)


def _settlements_without_role(ctx: Ctx) -> httpx.Response:
    ctx.sim.update_seller(EU_SELLER, {"roles": ["sellers", "inventory"]})
    token = access_token(ctx.sim, ctx.client, EU_SELLER)
    return ctx.client.get(REPORTS, params={"reportTypes": SETTLEMENTS}, headers=auth(token))


def _settlement_document(ctx: Ctx) -> httpx.Response:
    [first, *_] = _settlements(ctx).json()["reports"]
    return ctx.get(DOCS + first["reportDocumentId"])


DK = "/dataKiosk/2023-11-15"
DK_QUERY = (
    "query { analytics_salesAndTraffic_2024_04_24 { salesAndTrafficByDate(aggregateBy: DAY,"
    ' startDate: "2026-02-01", endDate: "2026-02-07", marketplaceIds: ["ATVPDKIKX0DER"])'
    " { startDate marketplaceId sales { orderedProductSales { amount currencyCode } } } } }"
)


def _create_query(ctx: Ctx, query: str = DK_QUERY) -> httpx.Response:
    return ctx.client.post(f"{DK}/queries", json={"query": query}, headers=auth(ctx.token))


def _query_id(ctx: Ctx) -> str:
    response = _create_query(ctx)
    assert response.status_code == 202, response.text
    return str(response.json()["queryId"])


def _done_query(ctx: Ctx) -> dict[str, Any]:
    query_id = _query_id(ctx)
    for _ in range(5):
        query = ctx.get(f"{DK}/queries/{query_id}").json()
        if query["processingStatus"] == "DONE":
            return dict(query)
    raise AssertionError("query did not finish")


def _query_without_role(ctx: Ctx) -> httpx.Response:
    token = access_token(ctx.sim, ctx.client, EU_SELLER)
    return ctx.client.post(f"{DK}/queries", json={"query": DK_QUERY}, headers=auth(token))


def _queries_throttled(ctx: Ctx) -> httpx.Response:
    responses = [_create_query(ctx) for _ in range(16)]
    return responses[-1]


CASES: list[tuple[str, str, Callable[[Ctx], httpx.Response]]] = [
    *((("createReport", f"{t} ok", _flat_report(t))) for t in FLAT_REPORTS),
    *(
        (("createReport", f"{t} without its role", _flat_report_without_role(t)))
        for t in FLAT_REPORTS
    ),
    *(
        (
            "getReport",
            f"{t} done",
            lambda c, t=t: c.get(f"{REPORTS}/{c.done_report(reportType=t, **WINDOW)['reportId']}"),
        )
        for t in FLAT_REPORTS
    ),
    ("createQuery", "ok", _create_query),
    (
        "createQuery",
        "unknown field",
        lambda c: _create_query(c, DK_QUERY.replace("startDate marketplaceId", "startDate nope")),
    ),
    ("createQuery", "no brand analytics role", _query_without_role),
    ("createQuery", "quota of the application", _queries_throttled),
    ("getQueries", "ok", lambda c: (_query_id(c), c.get(f"{DK}/queries"))[1]),
    ("getQueries", "bad status", lambda c: c.get(f"{DK}/queries", processingStatuses="LATE")),
    ("getQuery", "ok", lambda c: c.get(f"{DK}/queries/{_query_id(c)}")),
    ("getQuery", "done", lambda c: c.get(f"{DK}/queries/{_done_query(c)['queryId']}")),
    ("getQuery", "malformed id", lambda c: c.get(f"{DK}/queries/not-a-number")),
    ("getQuery", "unknown id", lambda c: c.get(f"{DK}/queries/99")),
    (
        "cancelQuery",
        "ok",
        lambda c: (
            c.sim.set_reports(polls_in_queue=5),
            c.client.delete(f"{DK}/queries/{_query_id(c)}", headers=auth(c.token)),
        )[1],
    ),
    (
        "cancelQuery",
        "ended",
        lambda c: c.client.delete(
            f"{DK}/queries/{_done_query(c)['queryId']}", headers=auth(c.token)
        ),
    ),
    (
        "getDocument",
        "ok",
        lambda c: c.get(f"{DK}/documents/{_done_query(c)['dataDocumentId']}"),
    ),
    ("getDocument", "unknown id", lambda c: c.get(f"{DK}/documents/99-data")),
    (
        "getMarketplaceParticipations",
        "ok",
        lambda c: c.get("/sellers/v1/marketplaceParticipations"),
    ),
    (
        "getMarketplaceParticipations",
        "no token",
        lambda c: _no_token(c, "/sellers/v1/marketplaceParticipations"),
    ),
    ("getMarketplaceParticipations", "throttled", _throttled),
    (
        "getMarketplaceParticipations",
        "injected 503",
        lambda c: _injected(
            c, 503, "/sellers", lambda x: x.get("/sellers/v1/marketplaceParticipations")
        ),
    ),
    ("getInventorySummaries", "ok", lambda c: c.get("/fba/inventory/v1/summaries", **INVENTORY)),
    (
        "getInventorySummaries",
        "details",
        lambda c: c.get("/fba/inventory/v1/summaries", details="true", **INVENTORY),
    ),
    (
        "getInventorySummaries",
        "two marketplaces",
        lambda c: c.get(
            "/fba/inventory/v1/summaries", **{**INVENTORY, "marketplaceIds": f"{US},X"}
        ),
    ),
    ("getInventorySummaries", "no token", lambda c: _no_token(c, "/fba/inventory/v1/summaries")),
    (
        "getInventorySummaries",
        "injected 500",
        lambda c: _injected(
            c, 500, "/fba", lambda x: x.get("/fba/inventory/v1/summaries", **INVENTORY)
        ),
    ),
    (
        "listTransactions",
        "ok",
        lambda c: c.get("/finances/2024-06-19/transactions", postedAfter="2026-01-01T00:00:00Z"),
    ),
    ("listTransactions", "no postedAfter", lambda c: c.get("/finances/2024-06-19/transactions")),
    ("listTransactions", "no token", lambda c: _no_token(c, "/finances/2024-06-19/transactions")),
    (
        "listTransactions",
        "injected 429",
        lambda c: _injected(
            c, 429, "/finances", lambda x: x.get("/finances/2024-06-19/transactions")
        ),
    ),
    (
        "createReport",
        "ok",
        lambda c: c.client.post(
            REPORTS,
            json={"reportType": "GET_AFN_INVENTORY_DATA", "marketplaceIds": [US]},
            headers=auth(c.token),
        ),
    ),
    (
        "createReport",
        "bad type",
        lambda c: c.client.post(
            REPORTS, json={"reportType": "NOPE", "marketplaceIds": [US]}, headers=auth(c.token)
        ),
    ),
    ("createReport", "no brand analytics role", _search_terms_without_role),
    (
        "getReports",
        "ok",
        lambda c: (c.report(), c.get(REPORTS, reportTypes="GET_MERCHANT_LISTINGS_ALL_DATA"))[1],
    ),
    (
        "getReports",
        "bad status",
        lambda c: c.get(REPORTS, reportTypes="X", processingStatuses="LATE"),
    ),
    ("getReports", "settlements", _settlements),
    (
        "getReports",
        "settlements, next page",
        lambda c: c.get(REPORTS, nextToken=_settlements(c, pageSize="2").json()["nextToken"]),
    ),
    ("getReports", "settlements without the finance role", _settlements_without_role),
    (
        "createReport",
        "settlements cannot be requested",
        lambda c: c.client.post(
            REPORTS,
            json={"reportType": SETTLEMENTS, "marketplaceIds": [US]},
            headers=auth(c.token),
        ),
    ),
    ("getReportDocument", "settlement", _settlement_document),
    ("getReport", "ok", lambda c: c.get(f"{REPORTS}/{c.report()}")),
    ("getReport", "done", lambda c: c.get(f"{REPORTS}/{c.done_report()['reportId']}")),
    ("getReport", "malformed id", lambda c: c.get(f"{REPORTS}/not-a-number")),
    ("getReport", "unknown id", lambda c: c.get(f"{REPORTS}/99")),
    (
        "cancelReport",
        "ok",
        lambda c: c.client.delete(f"{REPORTS}/{c.report()}", headers=auth(c.token)),
    ),
    (
        "cancelReport",
        "not in queue",
        lambda c: c.client.delete(
            f"{REPORTS}/{c.done_report()['reportId']}", headers=auth(c.token)
        ),
    ),
    ("getReportDocument", "ok", lambda c: c.get(DOCS + c.done_report()["reportDocumentId"])),
    ("getReportDocument", "malformed id", lambda c: c.get(DOCS + "doc-1")),
    ("getReportDocument", "unknown id", lambda c: c.get(DOCS + "amzn1.spdoc.1.4.na.nothing")),
]


def test_every_served_operation_has_cases() -> None:
    assert {case[0] for case in CASES} == SERVED


@pytest.mark.parametrize(
    ("operation_id", "label", "call"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES]
)
def test_response_matches_the_model(
    ctx: Ctx, operation_id: str, label: str, call: Callable[[Ctx], httpx.Response]
) -> None:
    assert_conforms(operation_id, call(ctx))


@pytest.mark.parametrize("report_type", FLAT_REPORTS)
def test_flat_report_documents_are_tab_separated_with_amazons_headers(
    ctx: Ctx, report_type: str
) -> None:
    from soldscope_cli.simulator import flat_reports

    report = ctx.done_report(reportType=report_type, **WINDOW)
    url = ctx.get(DOCS + report["reportDocumentId"]).json()["url"]
    body = gzip.decompress(ctx.client.get(url).content).decode()
    header, *lines = body.splitlines()
    columns = {
        flat_reports.ORDERS: flat_reports.ORDER_COLUMNS,
        flat_reports.RETURNS: flat_reports.RETURN_COLUMNS,
        flat_reports.REIMBURSEMENTS: flat_reports.REIMBURSEMENT_COLUMNS,
    }[report_type]
    assert tuple(header.split("\t")) == columns
    assert lines and all(len(line.split("\t")) == len(columns) for line in lines)


def test_search_terms_document_matches_its_schema(ctx: Ctx) -> None:
    report = ctx.done_report(
        reportType=SEARCH_TERMS,
        reportOptions={"reportPeriod": "WEEK"},
        dataStartTime="2026-02-22",
        dataEndTime="2026-02-28",
    )
    info = ctx.get(DOCS + report["reportDocumentId"]).json()
    document = json.loads(gzip.decompress(ctx.client.get(info["url"]).content))
    schema = json.loads(
        (MODELS / "sellingPartnerSearchTermsReport.json").read_text(encoding="utf-8")
    )
    jsonschema.Draft7Validator(schema, format_checker=FORMATS).validate(document)
    assert len(document["dataByDepartmentAndSearchTerm"]) == 30


# --- the models' own request examples (x-amzn-api-sandbox static blocks) ---------------------------


def sandbox_examples() -> Iterator[tuple[str, int, dict[str, Any]]]:
    for name in EXAMPLE_FILES:
        for item in model(name)["paths"].values():
            for op in item.values():
                if not isinstance(op, dict) or op.get("operationId") not in SERVED:
                    continue
                for status, declared in op["responses"].items():
                    for example in declared.get("x-amzn-api-sandbox", {}).get("static", []):
                        if "request" not in example:
                            continue  # a response-only example (rotateApplicationClientSecret's)
                        yield op["operationId"], int(status), example["request"]["parameters"]


EXAMPLES = list(sandbox_examples())


@pytest.fixture
def example_sim() -> Iterator[Ctx]:
    # The finance examples ask for 2023-03-07 onwards; put "now" a few weeks later so that date is
    # inside Amazon's 180-day window, and give the seller enough history to need a second page.
    data = scenario_data()
    data["sellers"][0]["transactions"] = 600
    clock = ManualClock(datetime(2023, 4, 1, 12, 0, tzinfo=UTC))
    with (
        Simulator(parse_scenario(data), clock=clock) as sim,
        httpx.Client(base_url=sim.url) as client,
    ):
        yield Ctx(sim, client, access_token(sim, client))


def test_there_are_examples_to_check() -> None:
    assert len(EXAMPLES) >= 8


@pytest.mark.parametrize(
    ("operation_id", "status", "parameters"),
    EXAMPLES,
    ids=[f"{e[0]}-{e[1]}-{i}" for i, e in enumerate(EXAMPLES)],
)
def test_model_request_examples_are_accepted(
    example_sim: Ctx, operation_id: str, status: int, parameters: dict[str, Any]
) -> None:
    _name, path, method, op = operation(operation_id)
    where = {p["name"]: p["in"] for p in op.get("parameters", [])}
    values = {key: spec["value"] for key, spec in parameters.items()}
    missing_path = [p for p, loc in where.items() if loc == "path" and p not in values]
    if missing_path:
        pytest.skip(f"example has no {missing_path[0]}, so it cannot be written as a URL")
    if status < 300:
        values = _with_issued_ids(example_sim, operation_id, values)
    query: dict[str, str] = {}
    body: Any = None
    for key, value in values.items():
        if where[key] == "path":
            path = path.replace("{" + key + "}", str(value))
        elif where[key] == "query":
            query[key] = ",".join(value) if isinstance(value, list) else str(value)
        elif where[key] == "body":
            body = value
    response = example_sim.client.request(
        method.upper(), path, params=query, json=body, headers=auth(example_sim.token)
    )
    assert response.status_code == status, response.text
    if response.content:
        assert_conforms(operation_id, response)


def _with_issued_ids(ctx: Ctx, operation_id: str, values: dict[str, Any]) -> dict[str, Any]:
    """Swap ids the server must have issued for ones this simulator issued."""
    values = dict(values)
    if "reportId" in values:
        values["reportId"] = (
            ctx.report() if operation_id == "cancelReport" else ctx.done_report()["reportId"]
        )
    if "reportDocumentId" in values:
        values["reportDocumentId"] = ctx.done_report()["reportDocumentId"]
    if "nextToken" in values:
        assert operation_id == "listTransactions", "only listTransactions examples carry a token"
        first_page = {k: v for k, v in values.items() if k != "nextToken"}
        response = ctx.get("/finances/2024-06-19/transactions", **first_page)
        values["nextToken"] = response.json()["payload"]["nextToken"]
    return values
