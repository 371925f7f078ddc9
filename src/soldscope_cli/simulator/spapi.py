"""SP-API operations: routing, the access-token/role/rate-limit gate, Sellers, FBA Inventory, Finances."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import soldscope_cli.simulator.data as data
import soldscope_cli.simulator.datakiosk as datakiosk
import soldscope_cli.simulator.reports as reports
from soldscope_cli.simulator.clock import parse_iso
from soldscope_cli.simulator.markets import info
from soldscope_cli.simulator.scenario import SellerSettings
from soldscope_cli.simulator.web import Request, Response, json_response, spapi_error

if TYPE_CHECKING:
    from soldscope_cli.simulator.engine import Engine

Handler = Callable[["Engine", Request, SellerSettings, dict[str, str]], Response]

INVENTORY_PAGE_SIZE = 50
INVENTORY_TOKEN_SECONDS = 30  # FACTS §7: inventory nextToken expires after 30 seconds
INVENTORY_HISTORY_DAYS = 548  # startDateTime may reach back 18 months
FINANCES_PAGE_SIZE = 100
FINANCES_MIN_AGE_SECONDS = 120  # postedAfter/postedBefore must be over two minutes in the past
FINANCES_MAX_RANGE_DAYS = 180
DK = "/dataKiosk/2023-11-15"
TRANSACTION_STATUSES = ("DEFERRED", "RELEASED", "DEFERRED_RELEASED")


@dataclass(frozen=True)
class Operation:
    """One SP-API operation: how it is routed, the role it needs and the code that answers it."""

    name: str
    method: str
    pattern: re.Pattern[str]
    role: str | None
    handler: Handler


def unauthorized() -> Response:
    """403 as SP-API sends it for a missing/invalid token, a revoked grant or a missing role."""
    return spapi_error(403, "Unauthorized", "Access to requested resource is denied.", "")


def quota_exceeded() -> Response:
    """429 QuotaExceeded (no x-amzn-RateLimit-Limit header: Amazon omits it on 429)."""
    return spapi_error(
        429, "QuotaExceeded", "You exceeded your quota for the requested resource.", ""
    )


def invalid(details: str, message: str = "Invalid input") -> Response:
    """400 InvalidInput."""
    return spapi_error(400, "InvalidInput", message, details)


def call(
    engine: Engine, operation: Operation, request: Request, params: dict[str, str]
) -> Response:
    """Check the access token, the role and the rate limit, then run the operation."""
    seller = engine.seller_for_access_token(request.headers.get("x-amz-access-token", ""))
    if seller is None:
        return unauthorized()
    if operation.role and operation.role not in seller.roles:
        return unauthorized()
    if operation.name == "createQuery":
        # Data Kiosk's createQuery quota is the application's: every seller draws from it.
        if not engine.app_quota.try_acquire(engine, engine.scenario.app.application_id):
            return quota_exceeded()
        limit = engine.app_quota.limit_header(engine)
    elif not engine.limiter.try_acquire(operation.name, seller.selling_partner_id):
        return quota_exceeded()
    else:
        limit = engine.limiter.limit_header(operation.name)
    response = operation.handler(engine, request, seller, params)
    if response.status != 403:
        response.headers["x-amzn-RateLimit-Limit"] = limit
    return response


# --- Sellers ---------------------------------------------------------------------------------------


def get_marketplace_participations(
    engine: Engine, request: Request, seller: SellerSettings, _: dict[str, str]
) -> Response:
    """GET /sellers/v1/marketplaceParticipations."""
    payload = [
        {
            "marketplace": info(marketplace_id).as_json(),
            "participation": {"isParticipating": True, "hasSuspendedListings": False},
            "storeName": seller.store_name,
        }
        for marketplace_id in [*seller.marketplace_ids(), *seller.extra_marketplace_ids]
    ]
    return json_response(200, {"payload": payload})


# --- FBA Inventory ---------------------------------------------------------------------------------


def get_inventory_summaries(
    engine: Engine, request: Request, seller: SellerSettings, _: dict[str, str]
) -> Response:
    """GET /fba/inventory/v1/summaries: one marketplace, pages of 50, tokens valid for 30 s."""
    now = engine.now()
    if request.param("granularityType") != "Marketplace":
        return invalid("granularityType must be Marketplace.")
    granularity_id = request.param("granularityId")
    if not granularity_id:
        return invalid("granularityId is required.")
    marketplace_ids = request.csv("marketplaceIds")
    if len(marketplace_ids) != 1:
        return invalid("marketplaceIds must contain exactly one marketplace id.")
    marketplace_id = marketplace_ids[0]
    if granularity_id != marketplace_id:
        return invalid("granularityId must be the marketplace id given in marketplaceIds.")
    if marketplace_id not in seller.marketplace_ids():
        return invalid(f"Invalid marketplaceId: {marketplace_id}")
    details_text = (request.param("details") or "false").lower()
    if details_text not in ("true", "false"):
        return invalid("details must be true or false.")
    details = details_text == "true"

    token = request.param("nextToken")
    repeat = bool(token) and engine.repeats_next_token("inventory")
    if token:
        state = engine.signer.open(token)
        if (
            state is None
            or state.get("op") != "inventory"
            or state.get("seller") != seller.selling_partner_id
        ):
            return invalid("Invalid nextToken.")
        if repeat:
            pass  # the broken pagination being played keeps its one token alive
        elif now > float(state["issued"]) + INVENTORY_TOKEN_SECONDS:
            return invalid(
                "The nextToken has expired. Tokens expire 30 seconds after they are issued."
            )
        if state["marketplace"] != marketplace_id:
            return invalid("nextToken was issued for another marketplace.")
        since = state["since"]
        skus = state["skus"]
        offset = int(state["offset"])
    else:
        since = None
        skus = []
        start_text = request.param("startDateTime")
        if start_text:
            try:
                since = parse_iso(start_text).timestamp()
            except ValueError:
                return invalid("startDateTime must be an ISO 8601 date-time.")
            if since < now - INVENTORY_HISTORY_DAYS * 86400:
                return invalid("startDateTime must be within the last 18 months.")
        else:
            single = request.param("sellerSku")
            skus = request.csv("sellerSkus") or ([single] if single else [])
            if len(skus) > 50:
                return invalid("sellerSkus accepts up to 50 SKUs.")
        offset = 0

    anchor, history_days = engine.data_anchor(), engine.history_days()
    if since is not None:
        indices = [
            i
            for i in range(seller.inventory_items)
            if data.inventory_updated(seller, marketplace_id, i, anchor, history_days) >= since
        ]
    elif skus:
        indices = sorted({i for sku in skus if (i := data.sku_index(seller, sku)) is not None})
    else:
        indices = list(range(seller.inventory_items))
    page = indices[offset : offset + INVENTORY_PAGE_SIZE]
    summaries: list[dict[str, Any]] = []
    for index in page:
        _updated, summary, item_details = data.inventory_item(
            seller, marketplace_id, index, anchor, history_days
        )
        if details:
            summary["inventoryDetails"] = item_details
        summaries.append(summary)
    body: dict[str, Any] = {
        "payload": {
            "granularity": {"granularityType": "Marketplace", "granularityId": marketplace_id},
            "inventorySummaries": summaries,
        }
    }
    if offset + INVENTORY_PAGE_SIZE < len(indices):
        body["pagination"] = {
            "nextToken": engine.signer.seal(
                {
                    "op": "inventory",
                    "seller": seller.selling_partner_id,
                    "marketplace": marketplace_id,
                    "since": since,
                    "skus": skus,
                    "offset": offset + INVENTORY_PAGE_SIZE,
                    "issued": now,
                }
            )
        }
    if repeat:
        # [pagination] repeat_next_token: the same page's token again, forever, as Amazon has
        # done (selling-partner-api-models issues #2947, #4713).
        body["pagination"] = {"nextToken": token}
    return json_response(200, body)


# --- Finances 2024-06-19 ---------------------------------------------------------------------------


def list_transactions(
    engine: Engine, request: Request, seller: SellerSettings, _: dict[str, str]
) -> Response:
    """GET /finances/2024-06-19/transactions with Amazon's date-range rules."""
    now = engine.now()
    latest = now - FINANCES_MIN_AGE_SECONDS
    token = request.param("nextToken")
    if token:
        state = engine.signer.open(token)
        if (
            state is None
            or state.get("op") != "finances"
            or state.get("seller") != seller.selling_partner_id
        ):
            return invalid("Invalid nextToken.")
        after, before = float(state["after"]), float(state["before"])
        marketplace_id, status, first = state["marketplace"], state["status"], int(state["next"])
    else:
        after_text = request.param("postedAfter")
        if not after_text:
            return invalid("Start date cannot be null", message="Start date cannot be null")
        try:
            after = parse_iso(after_text).timestamp()
            before_text = request.param("postedBefore")
            before = parse_iso(before_text).timestamp() if before_text else latest
        except ValueError:
            return invalid("postedAfter and postedBefore must be ISO 8601 date-times.")
        if after >= latest:
            return invalid(
                "postedAfter must be more than two minutes before the time of the request."
            )
        if before > latest:
            return invalid(
                "postedBefore must be more than two minutes before the time of the request."
            )
        if before <= after:
            return invalid("postedBefore must be later than postedAfter.")
        if before - after > FINANCES_MAX_RANGE_DAYS * 86400:
            return invalid("postedAfter and postedBefore must not be more than 180 days apart.")
        marketplace_id = request.param("marketplaceId")
        status = request.param("transactionStatus")
        if status is not None and status not in TRANSACTION_STATUSES:
            return invalid(f"Invalid transactionStatus: {status}")
        first = 0

    start, spacing = data.transaction_spacing(seller, engine.data_anchor(), engine.history_days())
    transactions: list[dict[str, Any]] = []
    next_index: int | None = None
    indices = data.transaction_indices(
        seller,
        start=start,
        spacing=spacing,
        after=after,
        before=before,
        marketplace_id=marketplace_id,
        first=first,
    )
    for index in indices:
        if len(transactions) == FINANCES_PAGE_SIZE:
            next_index = index
            break
        item = data.transaction(seller, index, start + index * spacing)
        if status and item["transactionStatus"] != status:
            continue
        transactions.append(item)
    payload: dict[str, Any] = {"transactions": transactions}
    if next_index is not None:
        payload["nextToken"] = engine.signer.seal(
            {
                "op": "finances",
                "seller": seller.selling_partner_id,
                "after": after,
                "before": before,
                "marketplace": marketplace_id,
                "status": status,
                "next": next_index,
            }
        )
    if token and engine.repeats_next_token("finances"):
        payload["nextToken"] = token  # [pagination] repeat_next_token: the same token, forever
    return json_response(200, {"payload": payload})


def _op(name: str, method: str, path: str, role: str | None, handler: Handler) -> Operation:
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path)
    return Operation(name, method, re.compile(f"^{regex}$"), role, handler)


OPERATIONS: tuple[Operation, ...] = (
    _op(
        "getMarketplaceParticipations",
        "GET",
        "/sellers/v1/marketplaceParticipations",
        "sellers",
        get_marketplace_participations,
    ),
    _op(
        "getInventorySummaries",
        "GET",
        "/fba/inventory/v1/summaries",
        "inventory",
        get_inventory_summaries,
    ),
    _op(
        "listTransactions",
        "GET",
        "/finances/2024-06-19/transactions",
        "finances",
        list_transactions,
    ),
    _op("createReport", "POST", "/reports/2021-06-30/reports", None, reports.create_report),
    _op("getReports", "GET", "/reports/2021-06-30/reports", None, reports.get_reports),
    _op("getReport", "GET", "/reports/2021-06-30/reports/{reportId}", None, reports.get_report),
    _op(
        "cancelReport",
        "DELETE",
        "/reports/2021-06-30/reports/{reportId}",
        None,
        reports.cancel_report,
    ),
    _op(
        "getReportDocument",
        "GET",
        "/reports/2021-06-30/documents/{reportDocumentId}",
        None,
        reports.get_report_document,
    ),
    # Data Kiosk: every operation needs the Brand Analytics role (models issue 5325).
    _op("createQuery", "POST", f"{DK}/queries", "brand_analytics", datakiosk.create_query),
    _op("getQueries", "GET", f"{DK}/queries", "brand_analytics", datakiosk.get_queries),
    _op("getQuery", "GET", f"{DK}/queries/{{queryId}}", "brand_analytics", datakiosk.get_query),
    _op(
        "cancelQuery",
        "DELETE",
        f"{DK}/queries/{{queryId}}",
        "brand_analytics",
        datakiosk.cancel_query,
    ),
    _op(
        "getDocument",
        "GET",
        f"{DK}/documents/{{documentId}}",
        "brand_analytics",
        datakiosk.get_document,
    ),
)


def route(method: str, path: str) -> tuple[Operation, dict[str, str]] | None:
    """The operation serving `method path`, with its path parameters."""
    for operation in OPERATIONS:
        if operation.method == method:
            found = operation.pattern.match(path)
            if found:
                return operation, found.groupdict()
    return None
