"""Data Kiosk 2023-11-15: createQuery → getQuery → getDocument, JSON-lines documents.

A query is parsed and validated against the schema (graphql-core, imported at the first query so
the demo and `simulator serve` start without it): an unknown dataset, field or argument, or a
missing one, is a 400 as Amazon answers it. What only the data can tell — a marketplace the seller
is not in, a start more than two years back — ends the query FATAL with an error document. A query
that finds nothing ends DONE without a dataDocumentId. Queries and documents are kept 30 days.
createQuery's quota is the application's, not the seller's (FACTS.md §8).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import random
import threading
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

from soldscope_cli.simulator.clock import iso, to_datetime
from soldscope_cli.simulator.markets import info
from soldscope_cli.simulator.scenario import SellerSettings
from soldscope_cli.simulator.web import Request, Response, json_response, spapi_error

if TYPE_CHECKING:
    from graphql import GraphQLSchema

    from soldscope_cli.simulator.engine import Engine

RETENTION_SECONDS = 30 * 86400  # @resultRetention(duration: "P30D")
MAX_QUERY_CHARS = 8000  # "at most 8000 characters after unnecessary whitespace is removed"
MAX_DAYS_BACK = 730  # "The start date must be no more than two years ago."
DOCUMENTS_PATH = "/_datakiosk/"
ASINS_PER_SELLER = 8
STATUSES = ("CANCELLED", "DONE", "FATAL", "IN_PROGRESS", "IN_QUEUE")


@cache
def schema() -> GraphQLSchema:
    """The served schema, built once."""
    from graphql import build_schema

    from soldscope_cli.simulator.datakiosk_schema import SDL

    return build_schema(SDL)


@dataclass
class QueryRecord:
    """One query a seller submitted and what it produced."""

    query_id: str
    seller_id: str
    query: str
    created: float
    outcome: str  # DONE or FATAL
    lines: list[str] = field(default_factory=list)  # the data document's JSON lines
    error: str | None = None
    polls: int = 0
    final_status: str | None = None
    processing_start: float | None = None
    processing_end: float | None = None
    data_document: str | None = None
    error_document: str | None = None

    def observe(self, engine: Engine, *, poll: bool) -> str:
        """Current status, moving as reports do (the scenario's `reports` timing)."""
        if self.final_status:
            return self.final_status
        settings = engine.scenario.reports
        if poll:
            self.polls += 1
        now = engine.now()
        elapsed = now - self.created
        if not (self.polls > settings.polls_in_queue and elapsed >= settings.seconds_in_queue):
            return "IN_QUEUE"
        if self.processing_start is None:
            self.processing_start = now
        if not (
            self.polls > settings.polls_in_queue + settings.polls_in_progress
            and elapsed >= settings.seconds_in_queue + settings.seconds_in_progress
        ):
            return "IN_PROGRESS"
        self.final_status = self.outcome
        self.processing_end = now
        if self.outcome == "DONE" and self.lines:
            self.data_document = f"{self.query_id}-data"
        if self.outcome == "FATAL":
            self.error_document = f"{self.query_id}-error"
        return self.final_status

    def as_json(self, status: str) -> dict[str, Any]:
        """The Query object (models/dataKiosk_2023-11-15.json)."""
        body: dict[str, Any] = {
            "queryId": self.query_id,
            "query": self.query,
            "createdTime": iso(self.created),
            "processingStatus": status,
        }
        if self.processing_start is not None:
            body["processingStartTime"] = iso(self.processing_start)
        if self.processing_end is not None:
            body["processingEndTime"] = iso(self.processing_end)
        if self.data_document:
            body["dataDocumentId"] = self.data_document
        if self.error_document:
            body["errorDocumentId"] = self.error_document
        return body


class AppQuota:
    """createQuery's bucket, one per application: every seller of the app draws from it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}

    def try_acquire(self, engine: Engine, app: str) -> bool:
        """Take one token; False means 429."""
        settings = engine.scenario.data_kiosk
        rate, burst = settings.queries_per_hour / 3600.0, float(settings.burst)
        now = engine.now()
        with self._lock:
            tokens, last = self._buckets.get(app, (burst, now))
            tokens = min(burst, tokens + max(0.0, now - last) * rate)
            if tokens < 1.0:
                self._buckets[app] = (tokens, now)
                return False
            self._buckets[app] = (tokens - 1.0, now)
            return True

    def limit_header(self, engine: Engine) -> str:
        """x-amzn-RateLimit-Limit: the rate per second."""
        return repr(round(engine.scenario.data_kiosk.queries_per_hour / 3600.0, 4))


def _invalid(details: str, message: str = "The provided query is invalid.") -> Response:
    return spapi_error(400, "InvalidInput", message, details)


def _not_found(what: str) -> Response:
    return spapi_error(404, "NotFound", f"The provided {what} was not found.", "")


def create_query(
    engine: Engine, request: Request, seller: SellerSettings, _: dict[str, str]
) -> Response:
    """POST /dataKiosk/2023-11-15/queries."""
    try:
        body = request.json()
    except ValueError:
        return _invalid("The request body is not valid JSON.", "Invalid input")
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        return _invalid("The request body must be an object with a query.", "Invalid input")
    text = body["query"]
    if len(" ".join(text.split())) > MAX_QUERY_CHARS:
        return _invalid("A query must be at most 8000 characters.")
    from graphql import GraphQLError, execute_sync, parse, validate

    try:
        document = parse(text)
    except GraphQLError as exc:
        return _invalid(exc.message)
    errors = validate(schema(), document)
    if errors:
        return _invalid("; ".join(e.message for e in errors[:3]))
    today = to_datetime(engine.now()).date()
    problems: list[str] = []
    root = {"analytics_salesAndTraffic_2024_04_24": _Resolvers(engine, seller, today, problems)}
    result = execute_sync(schema(), document, root_value=root)
    lines: list[str] = []
    if result.errors:
        problems.extend(e.message for e in result.errors if e.message not in problems)
    elif result.data:
        for records in (result.data.get("analytics_salesAndTraffic_2024_04_24") or {}).values():
            lines.extend(json.dumps(r, separators=(",", ":")) for r in records or ())
    settings = engine.scenario.data_kiosk
    outcome = "FATAL" if problems else "DONE"
    if settings.outcome == "FATAL":
        problems = problems or [settings.error_details]
        outcome = "FATAL"
    elif settings.outcome == "NO_DATA" and outcome == "DONE":
        lines = []
    with engine.lock:
        record = QueryRecord(
            query_id=engine.next_query_id(),
            seller_id=seller.selling_partner_id,
            query=text,
            created=engine.now(),
            outcome=outcome,
            lines=lines,
            error="; ".join(problems) if problems else None,
        )
        engine.queries[record.query_id] = record
    return json_response(202, {"queryId": record.query_id})


class _Resolvers:
    """The two queries served; a problem with the data's arguments is noted, not raised."""

    def __init__(
        self, engine: Engine, seller: SellerSettings, today: date, problems: list[str]
    ) -> None:
        self._engine = engine
        self._seller = seller
        self._today = today
        self._problems = problems

    def _days(self, args: dict[str, Any]) -> list[tuple[str, date]]:
        try:
            start = date.fromisoformat(str(args["startDate"]))
            end = date.fromisoformat(str(args["endDate"]))
        except ValueError:
            self._problems.append("startDate and endDate must be dates (YYYY-MM-DD).")
            return []
        markets = list(args["marketplaceIds"])
        for market in markets:
            if market not in self._seller.marketplace_ids():
                self._problems.append(f"The seller is not registered in marketplace {market}.")
        if start < self._today - timedelta(days=MAX_DAYS_BACK):
            self._problems.append("The start date must be no more than two years ago.")
        if end < start:
            self._problems.append("endDate must not be before startDate.")
        if self._problems:
            return []
        history = self._engine.history_days()
        first = self._today - timedelta(days=history)
        days = [
            start + timedelta(days=i)
            for i in range((end - start).days + 1)
            if first <= start + timedelta(days=i) < self._today
        ]
        return [(m, d) for d in days for m in markets]

    def salesAndTrafficByDate(self, _info: Any, **args: Any) -> list[dict[str, Any]]:
        if args["aggregateBy"] != "DAY":
            # WEEK and MONTH aggregate differently; nothing here asks for them.
            self._problems.append("The simulator serves DAY granularity only.")
            return []
        return [_by_date(self._seller, m, d) for m, d in self._days(args)]

    def salesAndTrafficByAsin(self, _info: Any, **args: Any) -> list[dict[str, Any]]:
        days = self._days(args)
        if not days:
            return []
        if args["startDate"] != args["endDate"]:
            # Amazon sums a range per ASIN; the simulator serves one day at a time.
            self._problems.append("The simulator serves salesAndTrafficByAsin one day at a time.")
            return []
        count = min(ASINS_PER_SELLER, self._seller.inventory_items)
        return [_by_asin(self._seller, m, d, i) for m, d in days for i in range(count)]


def _rng(*parts: object) -> random.Random:
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _amount(value: float, currency: str) -> dict[str, Any]:
    return {"amount": round(value, 2), "currencyCode": currency}


def _by_date(seller: SellerSettings, market: str, day: date) -> dict[str, Any]:
    rng = _rng(seller.selling_partner_id, market, day)
    currency = info(market).currency
    units = rng.randint(0, 400)
    items = max(0, units - rng.randint(0, units // 4 + 1))
    price = rng.uniform(5, 80)
    sales = units * price
    browser_views, app_views = rng.randint(50, 5000), rng.randint(50, 8000)
    browser_sessions = browser_views // 2 + 1
    app_sessions = app_views // 2 + 1
    sessions = browser_sessions + app_sessions
    refunded = rng.randint(0, units // 10 + 1)
    return {
        "startDate": str(day),
        "endDate": str(day),
        "marketplaceId": market,
        "sales": {
            "averageSalesPerOrderItem": _amount(sales / items if items else 0.0, currency),
            "averageSellingPrice": _amount(price, currency),
            "orderedProductSales": _amount(sales, currency),
            "orderedProductSalesB2B": None,
            "ordersShipped": items,
            "refundRate": round(100 * refunded / units, 2) if units else 0.0,
            "totalOrderItems": items,
            "unitsOrdered": units,
            "unitsRefunded": refunded,
            "unitsShipped": max(0, units - refunded),
        },
        "traffic": {
            "browserPageViews": browser_views,
            "browserSessions": browser_sessions,
            "buyBoxPercentage": round(rng.uniform(60, 100), 2),
            "mobileAppPageViews": app_views,
            "mobileAppSessions": app_sessions,
            "orderItemSessionPercentage": round(100 * items / sessions, 2),
            "pageViews": browser_views + app_views,
            "sessions": sessions,
            "unitSessionPercentage": round(100 * units / sessions, 2),
        },
    }


def _by_asin(seller: SellerSettings, market: str, day: date, index: int) -> dict[str, Any]:
    rng = _rng(seller.selling_partner_id, market, day, index)
    asin_seed = hashlib.sha256(f"{seller.selling_partner_id}|{index}".encode()).hexdigest()
    child = "B0" + asin_seed[:8].upper()
    units = rng.randint(0, 60)
    views = rng.randint(10, 900)
    sessions = views // 2 + 1
    refunded = rng.randint(0, units // 10 + 1)
    return {
        "childAsin": child,
        "endDate": str(day),
        "marketplaceId": market,
        "parentAsin": "B0" + asin_seed[8:16].upper(),
        "sales": {
            "orderedProductSales": _amount(units * rng.uniform(5, 80), info(market).currency),
            "orderedProductSalesB2B": None,
            "totalOrderItems": units,
            "unitsOrdered": units,
            "unitsRefunded": refunded,
            "refundRate": round(100 * refunded / units, 2) if units else 0.0,
        },
        "sku": None,
        "startDate": str(day),
        "traffic": {
            "browserPageViews": views // 3,
            "buyBoxPercentage": round(rng.uniform(50, 100), 2),
            "mobileAppPageViews": views - views // 3,
            "pageViews": views,
            "sessions": sessions,
            "unitSessionPercentage": round(100 * units / sessions, 2),
        },
    }


def _own_query(engine: Engine, seller: SellerSettings, query_id: str) -> QueryRecord | Response:
    if not query_id.isdigit():
        return spapi_error(400, "InvalidInput", "Invalid input", "Invalid input")
    record = engine.queries.get(query_id)
    if (
        record is None
        or record.seller_id != seller.selling_partner_id
        or engine.now() > record.created + RETENTION_SECONDS
    ):
        return _not_found("queryId")
    return record


def get_query(
    engine: Engine, request: Request, seller: SellerSettings, params: dict[str, str]
) -> Response:
    """GET /dataKiosk/2023-11-15/queries/{queryId}."""
    with engine.lock:
        record = _own_query(engine, seller, params["queryId"])
        if isinstance(record, Response):
            return record
        return json_response(200, record.as_json(record.observe(engine, poll=True)))


def cancel_query(
    engine: Engine, request: Request, seller: SellerSettings, params: dict[str, str]
) -> Response:
    """DELETE /dataKiosk/2023-11-15/queries/{queryId}: only a query not yet ended."""
    with engine.lock:
        record = _own_query(engine, seller, params["queryId"])
        if isinstance(record, Response):
            return record
        if record.observe(engine, poll=False) in ("DONE", "FATAL", "CANCELLED"):
            return spapi_error(400, "InvalidInput", "Invalid input", "The query has ended.")
        record.final_status = "CANCELLED"
        record.processing_end = engine.now()
    return Response(204, b"", {"Content-Type": "application/json"})


def get_queries(
    engine: Engine, request: Request, seller: SellerSettings, _: dict[str, str]
) -> Response:
    """GET /dataKiosk/2023-11-15/queries: the seller's queries of the last 30 days, newest first."""
    statuses = request.csv("processingStatuses")
    if any(s not in STATUSES for s in statuses):
        return spapi_error(
            400,
            "InvalidInput",
            f"1 validation error detected: Value '[{','.join(statuses)}]' at "
            "'processingStatuses' failed to satisfy constraint",
            "",
        )
    size_text = request.param("pageSize") or "10"
    if not size_text.isdigit() or not 1 <= int(size_text) <= 100:
        return spapi_error(400, "InvalidInput", "pageSize must be between 1 and 100.", "")
    token = request.param("paginationToken")
    offset = int(token) if token and token.isdigit() else 0
    now = engine.now()
    matching: list[dict[str, Any]] = []
    with engine.lock:
        for record in sorted(engine.queries.values(), key=lambda r: -r.created):
            if record.seller_id != seller.selling_partner_id:
                continue
            if now > record.created + RETENTION_SECONDS:
                continue
            status = record.observe(engine, poll=False)
            if not statuses or status in statuses:
                matching.append(record.as_json(status))
    size = int(size_text)
    body: dict[str, Any] = {"queries": matching[offset : offset + size]}
    if offset + size < len(matching):
        body["pagination"] = {"nextToken": str(offset + size)}
    return json_response(200, body)


def get_document(
    engine: Engine, request: Request, seller: SellerSettings, params: dict[str, str]
) -> Response:
    """GET /dataKiosk/2023-11-15/documents/{documentId}: a presigned URL valid 5 minutes."""
    document_id = params["documentId"]
    query_id = document_id.split("-", 1)[0]
    if not query_id.isdigit():
        return spapi_error(400, "InvalidInput", "Invalid input", "Invalid input")
    with engine.lock:
        record = _own_query(engine, seller, query_id)
        known = not isinstance(record, Response) and document_id in (
            record.data_document,
            record.error_document,
        )
    if not known:
        return _not_found("documentId")
    expires = int(engine.now()) + 300
    claim = f"{document_id}:{expires}"
    url = (
        f"{request.base_url}{DOCUMENTS_PATH}{document_id}?expires={expires}"
        f"&signature={engine.signer.sign(claim)}"
    )
    return json_response(200, {"documentId": document_id, "documentUrl": url})


def download(engine: Engine, request: Request) -> Response:
    """GET /_datakiosk/{documentId}?expires=&signature=: the document, gzip-encoded as
    Amazon serves it (Content-Encoding says so)."""
    document_id = request.path[len(DOCUMENTS_PATH) :]
    expires = request.param("expires") or ""
    signature = request.param("signature") or ""
    if not expires.isdigit() or signature != engine.signer.sign(f"{document_id}:{expires}"):
        return Response(403, b"<Error><Code>AccessDenied</Code></Error>", {})
    if engine.now() > int(expires):
        return Response(403, b"<Error><Code>AccessDenied</Code></Error>", {})
    with engine.lock:
        record = engine.queries.get(document_id.split("-", 1)[0])
    if record is None:
        return Response(404, b"<Error><Code>NoSuchKey</Code></Error>", {})
    if document_id == record.error_document:
        body = json.dumps(
            {"errors": [{"code": "FATAL", "message": record.error or "", "details": ""}]}
        ).encode()
    elif document_id == record.data_document:
        body = ("\n".join(record.lines) + "\n").encode()
    else:
        return Response(404, b"<Error><Code>NoSuchKey</Code></Error>", {})
    return Response(
        200,
        gzip.compress(body, 1, mtime=0),
        {"Content-Type": "application/octet-stream", "Content-Encoding": "gzip"},
    )
