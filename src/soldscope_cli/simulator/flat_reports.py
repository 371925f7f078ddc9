"""Flat-file report documents: orders by last update, FBA customer returns, FBA reimbursements.

Column headers as Amazon's report type pages list them
(developer-docs.amazon.com/sp-api/docs/report-type-values-order and .../report-type-values-fba);
amounts in the marketplace's own number format ("1.234,56" in Germany, "1 234,56" with a narrow
no-break space in France, "1,234.56" in the US: FACTS.md §8). A document is the same each time
it is downloaded: its lines derive from the seller, the report type and dataStartTime only, and
are generated as they are sent, so a document of a million lines costs no memory.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from decimal import Decimal

from soldscope_cli.simulator.clock import parse_iso
from soldscope_cli.simulator.markets import MarketInfo, info

ORDERS = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL"
RETURNS = "GET_FBA_FULFILLMENT_CUSTOMER_RETURNS_DATA"
REIMBURSEMENTS = "GET_FBA_REIMBURSEMENTS_DATA"

# The simulator role each report type needs: Amazon's "Inventory and Order Tracking" role for the
# orders reports, "Amazon Fulfillment" for the FBA reports (developer-docs.amazon.com/sp-api/docs/
# roles-in-the-selling-partner-api); without it createReport answers 403.
ROLE_OF = {ORDERS: "orders", RETURNS: "fulfillment", REIMBURSEMENTS: "fulfillment"}

ORDER_COLUMNS = (
    "amazon-order-id",
    "merchant-order-id",
    "purchase-date",
    "last-updated-date",
    "order-status",
    "fulfillment-channel",
    "sales-channel",
    "order-channel",
    "url",
    "ship-service-level",
    "product-name",
    "sku",
    "asin",
    "item-status",
    "quantity",
    "currency",
    "item-price",
    "item-tax",
    "shipping-price",
    "shipping-tax",
    "gift-wrap-price",
    "gift-wrap-tax",
    "item-promotion-discount",
    "ship-promotion-discount",
    "ship-city",
    "ship-state",
    "ship-postal-code",
    "ship-country",
    "promotion-ids",
    "is-business-order",
    "purchase-order-number",
    "price-designation",
)
RETURN_COLUMNS = (
    "return-date",
    "order-id",
    "sku",
    "asin",
    "fnsku",
    "product-name",
    "quantity",
    "fulfillment-center-id",
    "detailed-disposition",
    "reason",
    "status",
    "license-plate-number",
    "customer-comments",
)
REIMBURSEMENT_COLUMNS = (
    "approval-date",
    "reimbursement-id",
    "case-id",
    "amazon-order-id",
    "reason",
    "sku",
    "fnsku",
    "asin",
    "product-name",
    "condition",
    "currency-unit",
    "amount-per-unit",
    "amount-total",
    "quantity-reimbursed-cash",
    "quantity-reimbursed-inventory",
    "quantity-reimbursed-total",
    "original-reimbursement-id",
    "original-reimbursement-type",
)

_COMMA_CODES = frozenset({"BR", "ES", "FR", "BE", "NL", "DE", "IT", "SE", "PL", "TR"})
_STATUSES = ("Shipped", "Shipped", "Shipped", "Pending", "Cancelled")
_DISPOSITIONS = ("SELLABLE", "CUSTOMER_DAMAGED", "DEFECTIVE", "CARRIER_DAMAGED")
_RETURN_REASONS = ("UNWANTED_ITEM", "DEFECTIVE", "NOT_AS_DESCRIBED", "SWITCHEROO")
_RETURN_STATUSES = ("Unit returned to inventory", "Reimbursed", "Repackaged Successfully")
_REIMBURSE_REASONS = (
    "Lost_Warehouse",
    "Damaged_Warehouse",
    "CustomerReturn",
    "CustomerServiceIssue",
)
_CENTERS = ("PHX7", "ONT8", "LEJ1", "FRA3", "MXP5", "BCN1")


def local_amount(value: Decimal, code: str) -> str:
    """An amount as a flat file of marketplace `code` writes it."""
    sign = "-" if value < 0 else ""
    whole, _, fraction = f"{abs(value):.2f}".partition(".")
    groups: list[str] = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    if code in _COMMA_CODES:
        mark = "\u202f" if code == "FR" else "."
        return f"{sign}{mark.join(groups)},{fraction}"
    return f"{sign}{','.join(groups)}.{fraction}"


def _iso(moment: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(moment))


def _span(data_start: str | None, data_end: str | None, now: float) -> tuple[float, float]:
    start = parse_iso(data_start).timestamp() if data_start else now - 30 * 86400
    end = parse_iso(data_end).timestamp() if data_end else now
    return start, max(end, start + 1)


def document_lines(
    report_type: str,
    seller_id: str,
    marketplace_ids: list[str],
    data_start: str | None,
    data_end: str | None,
    rows: int,
    now: float,
) -> Iterator[str]:
    """The document's text, a line at a time (header first)."""
    start, end = _span(data_start, data_end, now)
    # Seeded by the day the window starts: two runs a few seconds apart get the same lines.
    rng = random.Random(f"{seller_id}|{report_type}|{(data_start or '')[:10]}")
    if report_type == ORDERS:
        yield "\t".join(ORDER_COLUMNS) + "\n"
        yield from _orders(rng, marketplace_ids, start, end, rows)
    elif report_type == RETURNS:
        yield "\t".join(RETURN_COLUMNS) + "\n"
        yield from _returns(rng, start, end, rows)
    else:
        yield "\t".join(REIMBURSEMENT_COLUMNS) + "\n"
        yield from _reimbursements(rng, marketplace_ids[0], start, end, rows)


def _order_id(rng: random.Random) -> str:
    return f"{rng.randrange(100, 999)}-{rng.randrange(10**6, 10**7)}-{rng.randrange(10**6, 10**7)}"


def _orders(
    rng: random.Random, marketplace_ids: list[str], start: float, end: float, rows: int
) -> Iterator[str]:
    # Each line is an order's own id and times before one of a few hundred prepared tails (the
    # item, its status and its amounts): a million lines are written in seconds.
    markets = [info(m) for m in marketplace_ids]
    tails = [[_order_tail(rng, market) for _ in range(256)] for market in markets]
    written = 0
    span = end - start
    while written < rows:
        pool = tails[rng.randrange(len(markets))]
        order_id = _order_id(rng)
        updated = start + rng.random() * span
        head = f"{order_id}\t\t{_iso(updated - rng.random() * 432_000)}\t{_iso(updated)}\t"
        lines = min(rows - written, 1 + rng.randrange(3))
        picked = [pool[rng.randrange(256)] for _ in range(lines)]
        if lines > 1 and rng.randrange(6) == 0:
            picked[-1] = picked[0]  # the same SKU on two lines of one order (another item status)
        for tail in picked:
            yield head + tail
        written += lines


def _order_tail(rng: random.Random, market: MarketInfo) -> str:
    """An order line from order-status on: the item, its status and its amounts."""
    code = market.country_code if market.country_code != "GB" else "UK"
    status = _STATUSES[rng.randrange(len(_STATUSES))]
    sku = f"SKU-{rng.randrange(400):04d}"
    quantity = 1 + rng.randrange(3)
    price = Decimal(rng.randrange(99, 150_000)) / 100 * quantity
    tax = (price * Decimal("0.19")).quantize(Decimal("0.01"))
    priced = status != "Pending"
    fields = (
        status,
        "Amazon" if rng.randrange(4) else "Merchant",
        market.name,
        "",
        "",
        "Expedited" if rng.randrange(5) == 0 else "Standard",
        f"Outdoor item {sku}",
        sku,
        f"B0{rng.randrange(16**8):08X}",
        "Shipped" if status == "Shipped" else "Unshipped",
        str(quantity),
        market.currency if priced else "",
        local_amount(price, code) if priced else "",
        local_amount(tax, code) if priced else "",
        local_amount(Decimal("4.99"), code) if priced else "",
        local_amount(Decimal("0.95"), code) if priced else "",
        "",
        "",
        local_amount(Decimal("-1.50"), code) if priced and rng.randrange(8) == 0 else "",
        "",
        "Springfield",
        "IL",
        "62701",
        market.country_code,
        "",
        "false",
        "",
        "",
    )
    return "\t".join(fields) + "\n"


def _returns(rng: random.Random, start: float, end: float, rows: int) -> Iterator[str]:
    for _ in range(rows):
        sku = f"SKU-{rng.randrange(400):04d}"
        fields = (
            _iso(rng.uniform(start, end)),
            _order_id(rng),
            sku,
            f"B0{rng.randrange(16**8):08X}",
            f"X00{rng.randrange(16**7):07X}",
            f"Outdoor item {sku}",
            str(1 + rng.randrange(2)),
            _CENTERS[rng.randrange(len(_CENTERS))],
            _DISPOSITIONS[rng.randrange(len(_DISPOSITIONS))],
            _RETURN_REASONS[rng.randrange(len(_RETURN_REASONS))],
            _RETURN_STATUSES[rng.randrange(len(_RETURN_STATUSES))],
            f"LPN{rng.randrange(10**9):09d}" if rng.randrange(10) else "",
            "too small" if rng.randrange(5) == 0 else "",
        )
        yield "\t".join(fields) + "\n"


def _reimbursements(
    rng: random.Random, marketplace_id: str, start: float, end: float, rows: int
) -> Iterator[str]:
    market = info(marketplace_id)
    code = market.country_code if market.country_code != "GB" else "UK"
    for _ in range(rows):
        sku = f"SKU-{rng.randrange(400):04d}"
        cash = rng.randrange(3)
        inventory = 0 if cash else 1
        per_unit = Decimal(rng.randrange(99, 150_000)) / 100
        fields = (
            _iso(rng.uniform(start, end)),
            str(rng.randrange(10**9, 10**10)),
            str(rng.randrange(10**9, 10**10)) if rng.randrange(3) == 0 else "",
            _order_id(rng) if rng.randrange(2) else "",
            _REIMBURSE_REASONS[rng.randrange(len(_REIMBURSE_REASONS))],
            sku,
            f"X00{rng.randrange(16**7):07X}",
            f"B0{rng.randrange(16**8):08X}",
            f"Outdoor item {sku}",
            "New" if rng.randrange(4) else "UsedLikeNew",
            market.currency,
            local_amount(per_unit, code),
            local_amount(per_unit * cash, code),
            str(cash),
            str(inventory),
            str(cash + inventory),
            "",
            "",
        )
        yield "\t".join(fields) + "\n"
