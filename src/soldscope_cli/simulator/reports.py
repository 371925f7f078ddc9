"""Reports API 2021-06-30: report lifecycle, presigned document URLs and the documents themselves."""

from __future__ import annotations

import calendar
import gzip
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import soldscope_cli.simulator.data as data
import soldscope_cli.simulator.flat_reports as flat_reports
from soldscope_cli.amazon.marketplaces import BY_ID
from soldscope_cli.simulator.clock import iso, parse_iso, to_datetime
from soldscope_cli.simulator.markets import info
from soldscope_cli.simulator.scenario import ReportSettings, SellerSettings
from soldscope_cli.simulator.search_terms import document_pieces, gzip_stream
from soldscope_cli.simulator.settlements import (
    SETTLEMENT_V2,
    document_lines,
    due,
    iso_time,
    paced,
    real_sleep,
)
from soldscope_cli.simulator.web import Request, Response, json_response, spapi_error

if TYPE_CHECKING:
    from soldscope_cli.simulator.engine import Engine

SEARCH_TERMS = "GET_BRAND_ANALYTICS_SEARCH_TERMS_REPORT"
DOCUMENT_URL_SECONDS = 300  # FACTS §7: the document URL expires after 5 minutes
DOCUMENTS_PATH = "/_documents/"
# Reports are kept, and listed, for 90 days (FACTS.md §8).
RETENTION_S = 90 * 86400
REPORT_STATUSES = ("CANCELLED", "DONE", "FATAL", "IN_PROGRESS", "IN_QUEUE")

# createReport refuses report types it does not know (as Amazon does); this is the subset an agency
# tool is likely to ask for. Add here when a client needs another.
REPORT_TYPES = frozenset(
    {
        SEARCH_TERMS,
        "GET_BRAND_ANALYTICS_MARKET_BASKET_REPORT",
        "GET_BRAND_ANALYTICS_REPEAT_PURCHASE_REPORT",
        "GET_BRAND_ANALYTICS_SEARCH_CATALOG_PERFORMANCE_REPORT",
        "GET_BRAND_ANALYTICS_SEARCH_QUERY_PERFORMANCE_REPORT",
        "GET_MERCHANT_LISTINGS_ALL_DATA",
        "GET_MERCHANT_LISTINGS_DATA",
        "GET_FLAT_FILE_OPEN_LISTINGS_DATA",
        "GET_AFN_INVENTORY_DATA",
        "GET_AFN_INVENTORY_DATA_BY_COUNTRY",
        "GET_FBA_MYI_UNSUPPRESSED_INVENTORY_DATA",
        "GET_FBA_MYI_ALL_INVENTORY_DATA",
        "GET_FBA_INVENTORY_PLANNING_DATA",
        "GET_LEDGER_SUMMARY_VIEW_DATA",
        "GET_LEDGER_DETAIL_VIEW_DATA",
        "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL",
        "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL",
        "GET_AMAZON_FULFILLED_SHIPMENTS_DATA_GENERAL",
        "GET_SALES_AND_TRAFFIC_REPORT",
        "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE",
        "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2",
        "GET_DATE_RANGE_FINANCIAL_TRANSACTION_DATA",
        "GET_FBA_ESTIMATED_FBA_FEES_TXT_DATA",
        "GET_FBA_REIMBURSEMENTS_DATA",
        "GET_FBA_FULFILLMENT_CUSTOMER_RETURNS_DATA",
        "GET_RESTOCK_INVENTORY_RECOMMENDATIONS_REPORT",
        "GET_STRANDED_INVENTORY_UI_DATA",
        "GET_SELLER_FEEDBACK_DATA",
        "GET_COUPON_PERFORMANCE_REPORT",
        "GET_PROMOTION_PERFORMANCE_REPORT",
        "FEE_DISCOUNTS_REPORT",
        "GET_XML_BROWSE_TREE_DATA",
        "GET_REFERRAL_FEE_PREVIEW_REPORT",
    }
)


@dataclass
class ReportRecord:
    """One report a seller requested, and what its document will contain."""

    report_id: str
    seller_id: str
    report_type: str
    marketplace_ids: list[str]
    options: dict[str, str]
    data_start: str | None
    data_end: str | None
    created: float
    outcome: str
    document: dict[str, Any] = field(default_factory=dict)
    polls: int = 0
    final_status: str | None = None
    processing_start: float | None = None
    processing_end: float | None = None
    document_id: str | None = None

    def observe(self, now: float, settings: ReportSettings, *, poll: bool) -> str:
        """Current status; a poll counts towards moving on (IN_QUEUE → IN_PROGRESS → final)."""
        if self.final_status:
            return self.final_status
        if poll:
            self.polls += 1
        elapsed = now - self.created
        started = self.polls > settings.polls_in_queue and elapsed >= settings.seconds_in_queue
        if not started:
            return "IN_QUEUE"
        if self.processing_start is None:
            self.processing_start = now
        finished = (
            self.polls > settings.polls_in_queue + settings.polls_in_progress
            and elapsed >= settings.seconds_in_queue + settings.seconds_in_progress
        )
        if not finished:
            return "IN_PROGRESS"
        self.final_status = self.outcome
        self.processing_end = now
        # A FATAL report with a reason carries a document too: the reason (FACTS.md §8).
        if self.outcome == "DONE" or self.document.get("kind") == "error":
            self.document_id = (
                f"amzn1.spdoc.1.4.{BY_ID[self.marketplace_ids[0]].region}."
                f"{uuid.uuid4()}.T{self.report_id[-6:]}"
            )
        return self.final_status

    def cancel(self, now: float) -> None:
        """Mark the report cancelled (only valid while IN_QUEUE)."""
        self.final_status = "CANCELLED"
        self.processing_end = now

    def as_json(self, status: str) -> dict[str, Any]:
        """The Report object (models/reports_2021-06-30.json)."""
        body: dict[str, Any] = {
            "reportId": self.report_id,
            "reportType": self.report_type,
            "marketplaceIds": list(self.marketplace_ids),
            "createdTime": iso(self.created),
            "processingStatus": status,
        }
        if self.data_start:
            body["dataStartTime"] = self.data_start
        if self.data_end:
            body["dataEndTime"] = self.data_end
        if self.processing_start is not None:
            body["processingStartTime"] = iso(self.processing_start)
        if self.processing_end is not None:
            body["processingEndTime"] = iso(self.processing_end)
        if self.document_id and status in ("DONE", "FATAL"):
            body["reportDocumentId"] = self.document_id
        return body


def _invalid(details: str) -> Response:
    return spapi_error(400, "InvalidInput", "Invalid input", details)


def _not_found(what: str) -> Response:
    return spapi_error(404, "NotFound", f"The requested {what} was not found.", "")


def period_is_valid(
    period: str | None, start_text: str | None, end_text: str | None, today: date
) -> bool:
    """Brand Analytics: start..end must be exactly one complete DAY/WEEK/MONTH/QUARTER."""
    if not start_text or not end_text:
        return False
    try:
        # "the time component is ignored" (sellingPartnerSearchTermsReport.json): keep the date written.
        start = parse_iso(start_text).date()
        end = parse_iso(end_text).date()
    except ValueError:
        return False
    if end >= today:
        return False
    if period == "DAY":
        return start == end
    if period == "WEEK":
        return start.weekday() == 6 and end == start + timedelta(days=6)  # Sunday..Saturday
    if period == "MONTH":
        last = calendar.monthrange(start.year, start.month)[1]
        return start.day == 1 and end == start.replace(day=last)
    if period == "QUARTER":
        if start.day != 1 or start.month not in (1, 4, 7, 10):
            return False
        end_month = start.month + 2
        return end == date(start.year, end_month, calendar.monthrange(start.year, end_month)[1])
    return False


def search_terms_error(
    period: str | None,
    start_text: str | None,
    end_text: str | None,
    marketplace_ids: list[str],
    seller: SellerSettings,
    today: date,
) -> str | None:
    """Why Amazon would end a search terms report FATAL (its error document's text), or None."""
    if len(marketplace_ids) != 1:
        return (
            "Brand Analytics reports cover exactly one marketplace: request one per marketplaceId."
        )
    if marketplace_ids[0] not in seller.marketplace_ids():
        return f"The selling partner is not registered in marketplace {marketplace_ids[0]}."
    if period not in ("DAY", "WEEK", "MONTH", "QUARTER"):
        return "reportOptions.reportPeriod must be one of DAY, WEEK, MONTH, QUARTER."
    if not period_is_valid(period, start_text, end_text, today):
        return (
            f"dataStartTime and dataEndTime must span exactly one complete {period} that has"
            " ended (a WEEK runs Sunday to Saturday)."
        )
    return None


def create_report(
    engine: Engine, request: Request, seller: SellerSettings, _: dict[str, str]
) -> Response:
    """POST /reports/2021-06-30/reports."""
    try:
        body = request.json()
    except ValueError:
        return _invalid("The request body is not valid JSON.")
    if not isinstance(body, dict):
        return _invalid("The request body must be a JSON object.")
    report_type = body.get("reportType")
    if not isinstance(report_type, str) or report_type not in REPORT_TYPES:
        return _invalid(f"Invalid reportType: {report_type}")
    marketplace_ids = body.get("marketplaceIds")
    if (
        not isinstance(marketplace_ids, list)
        or not 1 <= len(marketplace_ids) <= 25
        or not all(isinstance(m, str) and m in BY_ID for m in marketplace_ids)
    ):
        return _invalid("marketplaceIds must list 1 to 25 valid marketplace ids.")
    options = body.get("reportOptions", {})
    if not isinstance(options, dict) or not all(isinstance(v, str) for v in options.values()):
        return _invalid("reportOptions must map option names to strings.")
    times: dict[str, str | None] = {}
    for name in ("dataStartTime", "dataEndTime"):
        value = body.get(name)
        if value is not None:
            try:
                parse_iso(value if isinstance(value, str) else "")
            except ValueError:
                return _invalid(f"{name} must be an ISO 8601 date-time.")
        times[name] = value
    if report_type == SETTLEMENT_V2:
        # Amazon generates settlement reports; they cannot be requested.
        return _invalid(f"Report type {report_type} cannot be requested.")
    if report_type == SEARCH_TERMS and "brand_analytics" not in seller.roles:
        return spapi_error(403, "Unauthorized", "Access to requested resource is denied.", "")
    if (
        report_type in flat_reports.ROLE_OF
        and flat_reports.ROLE_OF[report_type] not in seller.roles
    ):
        return spapi_error(403, "Unauthorized", "Access to requested resource is denied.", "")

    now = engine.now()
    outcome = "DONE"
    error: str | None = None
    document: dict[str, Any] = {}
    if report_type == SEARCH_TERMS:
        period = options.get("reportPeriod")
        error = search_terms_error(
            period,
            times["dataStartTime"],
            times["dataEndTime"],
            marketplace_ids,
            seller,
            to_datetime(now).date(),
        )
        if error is None:
            start_day = parse_iso(times["dataStartTime"] or "").date().isoformat()
            end_day = parse_iso(times["dataEndTime"] or "").date().isoformat()
            document = {
                "kind": "search_terms",
                "specification": {
                    "reportType": SEARCH_TERMS,
                    "reportOptions": {"reportPeriod": period},
                    "dataStartTime": start_day,
                    "dataEndTime": end_day,
                    "marketplaceIds": list(marketplace_ids),
                },
                "rows": seller.search_terms_rows,
                "target_bytes": seller.search_terms_bytes,
            }
        else:
            outcome = "FATAL"
    elif report_type in flat_reports.ROLE_OF:
        document = {"kind": "flat", "rows": seller.flat_report_rows(report_type)}
    else:
        document = {"kind": "table", "rows": min(seller.inventory_items, 100)}
    with engine.lock:
        outcome = engine.scenario.reports.outcomes.get(report_type, outcome)
        if outcome == "FATAL":
            error = engine.scenario.reports.error_details.get(report_type, error)
            document = {"kind": "error", "details": error} if error else {}
        record = ReportRecord(
            report_id=engine.next_report_id(),
            seller_id=seller.selling_partner_id,
            report_type=report_type,
            marketplace_ids=list(marketplace_ids),
            options=dict(options),
            data_start=times["dataStartTime"],
            data_end=times["dataEndTime"],
            created=now,
            outcome=outcome,
            document=document,
        )
        engine.reports[record.report_id] = record
    _make_ready(engine, seller, [record])
    return json_response(202, {"reportId": record.report_id})


def _own_report(engine: Engine, seller: SellerSettings, report_id: str) -> ReportRecord | Response:
    if not report_id.isdigit():
        return _invalid(f"Invalid reportId: {report_id}")
    record = engine.reports.get(report_id)
    if record is None or record.seller_id != seller.selling_partner_id:
        return _not_found("report")
    return record


def get_report(
    engine: Engine, request: Request, seller: SellerSettings, params: dict[str, str]
) -> Response:
    """GET /reports/2021-06-30/reports/{reportId}."""
    with engine.lock:
        record = _own_report(engine, seller, params["reportId"])
        if isinstance(record, Response):
            return record
        status = record.observe(engine.now(), engine.scenario.reports, poll=True)
        return json_response(200, record.as_json(status))


def cancel_report(
    engine: Engine, request: Request, seller: SellerSettings, params: dict[str, str]
) -> Response:
    """DELETE /reports/2021-06-30/reports/{reportId}: only IN_QUEUE reports can be cancelled."""
    with engine.lock:
        record = _own_report(engine, seller, params["reportId"])
        if isinstance(record, Response):
            return record
        if record.observe(engine.now(), engine.scenario.reports, poll=False) != "IN_QUEUE":
            return _invalid("Only reports with processingStatus=IN_QUEUE can be cancelled.")
        record.cancel(engine.now())
    return Response(200, b"", {"Content-Type": "application/json"})


def get_reports(
    engine: Engine, request: Request, seller: SellerSettings, _: dict[str, str]
) -> Response:
    """GET /reports/2021-06-30/reports: the seller's reports, newest first, filtered and paged."""
    now = engine.now()
    token = request.param("nextToken")
    if token:
        if len(request.query) > 1:
            return _invalid("nextToken must be the only parameter.")
        state = engine.signer.open(token)
        if state is None or state.get("seller") != seller.selling_partner_id:
            return _invalid("Invalid nextToken.")
        filters: dict[str, Any] = state["filters"]
        offset = int(state["offset"])
    else:
        types = request.csv("reportTypes")
        if not types or len(types) > 10:
            return _invalid("reportTypes must list 1 to 10 report types, or pass nextToken.")
        statuses = request.csv("processingStatuses")
        if any(s not in REPORT_STATUSES for s in statuses):
            return _invalid("Invalid input in processing status")
        page_size_text = request.param("pageSize") or "10"
        if not page_size_text.isdigit() or not 1 <= int(page_size_text) <= 100:
            return _invalid("pageSize must be between 1 and 100.")
        try:
            since = parse_iso(request.param("createdSince") or iso(now - 90 * 86400)).timestamp()
            until = parse_iso(request.param("createdUntil") or iso(now)).timestamp()
        except ValueError:
            return _invalid("createdSince and createdUntil must be ISO 8601 date-times.")
        filters = {
            "types": types,
            "statuses": statuses,
            "marketplaces": request.csv("marketplaceIds"),
            "page_size": int(page_size_text),
            "since": since,
            "until": until,
        }
        offset = 0
    if SETTLEMENT_V2 in filters["types"] and "finances" not in seller.roles:
        # Settlement reports need the Finance and Accounting role.
        return spapi_error(403, "Unauthorized", "Access to requested resource is denied.", "")
    scheduled: list[ReportRecord] = []
    if SETTLEMENT_V2 in filters["types"]:
        with engine.lock:
            scheduled = _schedule_settlements(engine, seller, now)
        _make_ready(engine, seller, scheduled)
    with engine.lock:
        matching: list[dict[str, Any]] = []
        for record in sorted(engine.reports.values(), key=lambda r: -r.created):
            if (
                record.seller_id != seller.selling_partner_id
                or record.report_type not in filters["types"]
            ):
                continue
            if not filters["since"] <= record.created <= filters["until"]:
                continue
            if record.created < now - RETENTION_S:
                continue
            if filters["marketplaces"] and not set(filters["marketplaces"]) & set(
                record.marketplace_ids
            ):
                continue
            status = record.observe(now, engine.scenario.reports, poll=False)
            if filters["statuses"] and status not in filters["statuses"]:
                continue
            matching.append(record.as_json(status))
    page_size = int(filters["page_size"])
    body: dict[str, Any] = {"reports": matching[offset : offset + page_size]}
    if offset + page_size < len(matching):
        body["nextToken"] = engine.signer.seal(
            {"seller": seller.selling_partner_id, "filters": filters, "offset": offset + page_size}
        )
    return json_response(200, body)


def _schedule_settlements(engine: Engine, seller: SellerSettings, now: float) -> list[ReportRecord]:
    """Add the settlement reports Amazon has generated for the seller by now (lock held);
    returns the added ones."""
    added: list[ReportRecord] = []
    made = {
        (r.marketplace_ids[0], float(r.document.get("end", 0.0)))
        for r in engine.reports.values()
        if r.seller_id == seller.selling_partner_id and r.report_type == SETTLEMENT_V2
    }
    outcome = engine.scenario.reports.outcomes.get(SETTLEMENT_V2, "DONE")
    error = engine.scenario.reports.error_details.get(SETTLEMENT_V2)
    for settlement in due(seller, made, now):
        document = settlement.document
        if outcome != "DONE":
            document = (
                {"kind": "error", "details": error, "end": settlement.end}
                if error
                else {"end": settlement.end}
            )
        record = ReportRecord(
            report_id=engine.next_report_id(),
            seller_id=seller.selling_partner_id,
            report_type=SETTLEMENT_V2,
            marketplace_ids=[settlement.marketplace_id],
            options={},
            data_start=iso_time(settlement.start),
            data_end=iso_time(settlement.end),
            created=settlement.created,
            outcome=outcome,
            document=document,
            polls=1,
        )
        # Amazon lists a settlement report once it is final: it needs no polls.
        record.observe(settlement.created, _FINAL_AT_ONCE, poll=False)
        engine.reports[record.report_id] = record
        added.append(record)
    return added


_FINAL_AT_ONCE = ReportSettings(polls_in_progress=0)


def get_report_document(
    engine: Engine, request: Request, seller: SellerSettings, params: dict[str, str]
) -> Response:
    """GET /reports/2021-06-30/documents/{reportDocumentId}: a presigned URL valid for 5 minutes."""
    document_id = params["reportDocumentId"]
    if not document_id.startswith("amzn1.spdoc."):
        return _invalid(f"Invalid reportDocumentId: {document_id}")
    with engine.lock:
        record = engine.report_by_document(document_id)
    if record is None or record.seller_id != seller.selling_partner_id:
        return _not_found("report document")
    issued = int(engine.now())
    content_encoding = (request.param("enableContentEncodingUrlHeader") or "").lower() == "true"
    stamp = to_datetime(issued).strftime("%Y%m%dT%H%M%SZ")
    query = {
        "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
        "X-Amz-Date": stamp,
        "X-Amz-Expires": str(DOCUMENT_URL_SECONDS),
        "X-Amz-SignedHeaders": "host",
    }
    if content_encoding:
        query["response-content-encoding"] = "gzip"
    query["X-Amz-Signature"] = engine.signer.sign(_url_claim(document_id, query))
    url = f"{request.base_url}{DOCUMENTS_PATH}{document_id}?{urlencode(query)}"
    return json_response(
        200, {"reportDocumentId": document_id, "url": url, "compressionAlgorithm": "GZIP"}
    )


def _url_claim(document_id: str, query: dict[str, str]) -> str:
    signed = {k: v for k, v in sorted(query.items()) if k != "X-Amz-Signature"}
    return document_id + "?" + urlencode(signed)


def _s3_error(status: int, code: str, message: str) -> Response:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    ).encode()
    return Response(status, body, {"Content-Type": "application/xml"})


def download(engine: Engine, request: Request) -> Response:
    """GET /_documents/{id}?X-Amz-...: the presigned download; no SP-API token, S3-style errors."""
    document_id = request.path[len(DOCUMENTS_PATH) :]
    query = {key: values[0] for key, values in request.query.items() if values}
    signature = query.get("X-Amz-Signature", "")
    if not signature or signature != engine.signer.sign(_url_claim(document_id, query)):
        return _s3_error(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        )
    try:
        stamp = datetime.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
        issued = stamp.replace(tzinfo=UTC).timestamp()
        expires = int(query.get("X-Amz-Expires", "0"))
    except (KeyError, ValueError):
        return _s3_error(403, "AccessDenied", "Invalid presigned URL")
    if engine.now() > issued + expires:
        return _s3_error(403, "AccessDenied", "Request has expired")
    with engine.lock:
        record = engine.report_by_document(document_id)
        seller = engine.scenario.seller(record.seller_id) if record else None
    if record is None or seller is None:
        return _s3_error(404, "NoSuchKey", "The specified key does not exist.")
    headers = {"Content-Type": "application/octet-stream"}
    if record.document.get("kind") == "error":
        # Served plain although getReportDocument said GZIP, as Amazon does with some documents
        # (FACTS.md §8): a client has to look at the bytes, not the label.
        body = json.dumps({"errorDetails": record.document["details"]}).encode()
        return Response(200, body, headers)
    if query.get("response-content-encoding") == "gzip":
        headers["Content-Encoding"] = "gzip"
    if record.document.get("kind") == "search_terms":
        market = info(record.marketplace_ids[0])
        spec = record.document["specification"]
        seed = (seller.selling_partner_id, record.marketplace_ids[0], spec["dataStartTime"])
        rows, target = int(record.document["rows"]), record.document.get("target_bytes")

        def made() -> Iterator[bytes]:
            return gzip_stream(
                document_pieces(
                    spec,
                    seed_parts=seed,
                    all_department_name=market.name,
                    rows=rows,
                    target_bytes=target,
                )
            )

        # The same week of the same seller is the same document.
        key = ("search_terms", *seed, rows, target)
        return Response(200, _served(engine, key, made), headers)
    if record.document.get("kind") in READY_KINDS:
        delay = engine.scenario.reports.document_chunk_delay_ms / 1000.0
        chunks = _served(engine, _document_key(record), lambda: _document(seller, record, delay))
        if record.document["kind"] == "settlement":
            chunks = paced(chunks, delay, real_sleep)
        return Response(200, chunks, headers)
    return Response(200, gzip.compress(_table(seller, record).encode(), 1, mtime=0), headers)


# Kinds whose document exists from the report's creation when [reports] ready_documents is on.
READY_KINDS = ("flat", "settlement")


def _document_key(record: ReportRecord) -> tuple[object, ...]:
    """What makes a flat or settlement document the same: everything its generator reads."""
    doc = record.document
    if doc["kind"] == "settlement":
        return ("settlement", record.seller_id, record.marketplace_ids[0], *sorted(doc.items()))
    return (
        "flat",
        record.seller_id,
        record.report_type,
        tuple(record.marketplace_ids),
        record.data_start,
        record.data_end,
        doc["rows"],
        record.created,
    )


def _document(seller: SellerSettings, record: ReportRecord, delay: float) -> Iterator[bytes]:
    """A flat or settlement document, generated and gzipped as it is read."""
    if record.document["kind"] == "settlement":
        lines = (
            line + "\n"
            for line in document_lines(seller, record.marketplace_ids[0], record.document)
        )
        return gzip_stream(lines, chunk_bytes=16 * 1024 if delay else 256 * 1024)
    return gzip_stream(
        flat_reports.document_lines(
            record.report_type,
            seller.selling_partner_id,
            record.marketplace_ids,
            record.data_start,
            record.data_end,
            int(record.document["rows"]),
            record.created,
        )
    )


def _served(
    engine: Engine, key: tuple[object, ...], made: Callable[[], Iterator[bytes]]
) -> Iterator[bytes]:
    """The document's bytes: made as they are read, or with [reports] ready_documents made once
    and then served stored, as S3 serves a stored document."""
    if not engine.scenario.reports.ready_documents:
        return made()
    with engine.lock:
        ready = engine.ready_documents.get(key)
    if ready is None:
        ready = list(made())
        with engine.lock:
            engine.ready_documents[key] = ready
    return iter(ready)


def _make_ready(engine: Engine, seller: SellerSettings, records: list[ReportRecord]) -> None:
    """With ready_documents, store the new reports' documents now (lock not held): Amazon's
    document exists before anyone downloads it, so no download pays for making it."""
    if not engine.scenario.reports.ready_documents:
        return
    delay = engine.scenario.reports.document_chunk_delay_ms / 1000.0
    for record in records:
        if record.outcome == "DONE" and record.document.get("kind") in READY_KINDS:
            made = partial(_document, seller, record, delay)
            list(_served(engine, _document_key(record), made))


def _table(seller: SellerSettings, record: ReportRecord) -> str:
    """A small tab-separated document for report types without a dedicated generator."""
    anchor = record.created
    lines = ["seller-sku\tasin\tproduct-name\tquantity\tmarketplace-id"]
    for index in range(int(record.document.get("rows", 0))):
        _, summary, details = data.inventory_item(
            seller, record.marketplace_ids[0], index, anchor, 90
        )
        lines.append(
            f"{summary['sellerSku']}\t{summary['asin']}\t{summary['productName']}\t"
            f"{details['fulfillableQuantity']}\t{record.marketplace_ids[0]}"
        )
    return "\n".join(lines) + "\n"
