"""Deterministic seller data: FBA inventory summaries and Finances transactions, computed by index."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from soldscope_cli.simulator.clock import iso
from soldscope_cli.simulator.markets import info
from soldscope_cli.simulator.scenario import SellerSettings
from soldscope_cli.simulator.tokens import stable_hash, stable_id

_PRODUCTS = (
    "Stainless Steel Water Bottle 750ml",
    "Bamboo Cutting Board Set",
    "Wireless Earbuds",
    "Yoga Mat Non Slip 6mm",
    "LED Desk Lamp Dimmable",
    "Cast Iron Skillet 10 inch",
    "Organic Green Tea 100 Bags",
    "Kids Puzzle 500 Pieces",
    "Memory Foam Pillow",
    "USB C Charging Cable 2m",
    "Insulated Lunch Box",
    "Garden Hose 15m",
)
_ZERO_DECIMAL = frozenset({"JPY"})


def _sku(seller: SellerSettings, index: int) -> str:
    return f"{seller.selling_partner_id[-4:]}-SKU-{index:05d}"


def inventory_updated(
    seller: SellerSettings, marketplace_id: str, index: int, anchor: float, history_days: int
) -> float:
    """When item `index` last changed in a marketplace: spread over the history before the anchor."""
    spread = stable_hash(seller.selling_partner_id, marketplace_id, "upd", index) % (
        history_days * 86400
    )
    return anchor - spread


def inventory_item(
    seller: SellerSettings, marketplace_id: str, index: int, anchor: float, history_days: int
) -> tuple[float, dict[str, Any], dict[str, Any]]:
    """(lastUpdated epoch, summary without details, inventoryDetails) of item `index`."""
    h = stable_hash(seller.selling_partner_id, "item", index)
    hm = stable_hash(seller.selling_partner_id, marketplace_id, "qty", index)
    updated = inventory_updated(seller, marketplace_id, index, anchor, history_days)
    fulfillable = hm % 400
    inbound_working = (hm >> 9) % 20
    inbound_shipped = (hm >> 14) % 30
    inbound_receiving = (hm >> 19) % 10
    pending_orders = (hm >> 23) % 8
    transship = (hm >> 26) % 5
    fc_processing = (hm >> 29) % 4
    reserved = pending_orders + transship + fc_processing
    short, mid, long_ = (hm >> 32) % 3, (hm >> 34) % 2, (hm >> 35) % 2
    researching = short + mid + long_
    damaged = [(hm >> (36 + 3 * k)) % 3 for k in range(6)]
    unfulfillable = sum(damaged)
    total = (
        fulfillable
        + inbound_working
        + inbound_shipped
        + inbound_receiving
        + reserved
        + researching
        + unfulfillable
    )
    summary = {
        "asin": f"B0{h & 0xFFFFFFFF:08X}",
        "fnSku": f"X00{(h >> 32) & 0xFFFFFFF:07X}",
        "sellerSku": _sku(seller, index),
        "condition": "NewItem",
        "lastUpdatedTime": iso(updated),
        "productName": f"{_PRODUCTS[h % len(_PRODUCTS)]} ({index})",
        "totalQuantity": total,
    }
    details = {
        "fulfillableQuantity": fulfillable,
        "inboundWorkingQuantity": inbound_working,
        "inboundShippedQuantity": inbound_shipped,
        "inboundReceivingQuantity": inbound_receiving,
        "reservedQuantity": {
            "totalReservedQuantity": reserved,
            "pendingCustomerOrderQuantity": pending_orders,
            "pendingTransshipmentQuantity": transship,
            "fcProcessingQuantity": fc_processing,
        },
        "researchingQuantity": {
            "totalResearchingQuantity": researching,
            "researchingQuantityBreakdown": [
                {"name": "researchingQuantityInShortTerm", "quantity": short},
                {"name": "researchingQuantityInMidTerm", "quantity": mid},
                {"name": "researchingQuantityInLongTerm", "quantity": long_},
            ],
        },
        "unfulfillableQuantity": {
            "totalUnfulfillableQuantity": unfulfillable,
            "customerDamagedQuantity": damaged[0],
            "warehouseDamagedQuantity": damaged[1],
            "distributorDamagedQuantity": damaged[2],
            "carrierDamagedQuantity": damaged[3],
            "defectiveQuantity": damaged[4],
            "expiredQuantity": damaged[5],
        },
    }
    return updated, summary, details


def sku_index(seller: SellerSettings, sku: str) -> int | None:
    """The item index a seller SKU names, or None if the seller has no such SKU."""
    prefix = f"{seller.selling_partner_id[-4:]}-SKU-"
    if not sku.startswith(prefix) or not sku[len(prefix) :].isdigit():
        return None
    index = int(sku[len(prefix) :])
    return index if index < seller.inventory_items else None


# --- Finances 2024-06-19 transactions -------------------------------------------------------------
#
# Transaction i of a seller is posted at start + i * spacing and belongs to marketplace i mod m, so a
# date range maps to an index range without generating anything outside it.


def transaction_spacing(
    seller: SellerSettings, anchor: float, history_days: int
) -> tuple[float, float]:
    """(start epoch, seconds between transactions) of a seller's transaction history."""
    start = anchor - history_days * 86400
    count = max(1, seller.transactions)
    return start, history_days * 86400 / count


def _money(amount_cents: int, currency: str) -> dict[str, Any]:
    if currency in _ZERO_DECIMAL:
        return {"currencyAmount": amount_cents // 100, "currencyCode": currency}
    return {"currencyAmount": round(amount_cents / 100, 2), "currencyCode": currency}


def transaction(seller: SellerSettings, index: int, posted: float) -> dict[str, Any]:
    """Transaction `index` of a seller, in models/finances_2024-06-19.json's Transaction shape."""
    markets = seller.marketplace_ids()
    marketplace_id = markets[index % len(markets)]
    market = info(marketplace_id)
    currency = market.currency
    h = stable_hash(seller.selling_partner_id, "txn", index)
    kind = h % 20
    order_id = f"{100 + h % 900:03d}-{(h >> 10) % 10**7:07d}-{(h >> 34) % 10**7:07d}"
    group = stable_id(seller.selling_partner_id, "group", int(posted // (14 * 86400)))
    status = "DEFERRED" if (h >> 50) % 10 == 0 else "RELEASED"
    sku = _sku(seller, h % max(1, seller.inventory_items))
    related = [
        {"relatedIdentifierName": "FINANCIAL_EVENT_GROUP_ID", "relatedIdentifierValue": group}
    ]
    if kind < 16:
        quantity = 1 + (h >> 20) % 3
        principal = quantity * (999 + (h >> 24) % 5000)
        tax = principal // 10
        fees = -(principal * 15 // 100)
        total = principal + tax + fees
        transaction_type, description = "Shipment", "Order Payment"
        related.append({"relatedIdentifierName": "ORDER_ID", "relatedIdentifierValue": order_id})
        breakdowns = [
            _breakdown(
                "Sales",
                principal + tax,
                currency,
                [
                    _breakdown("Product Charges", principal, currency, []),
                    _breakdown("Tax", tax, currency, []),
                ],
            ),
            _breakdown(
                "Expenses",
                fees,
                currency,
                [
                    _breakdown("Amazon Fees", fees, currency, []),
                ],
            ),
        ]
        items = [_item(sku, order_id, total, quantity, currency, h)]
    elif kind < 18:
        quantity = 1
        refund = -(999 + (h >> 24) % 5000)
        total = refund
        transaction_type, description = "Refund", "Refund Order"
        related.append({"relatedIdentifierName": "ORDER_ID", "relatedIdentifierValue": order_id})
        breakdowns = [
            _breakdown(
                "Sales",
                refund,
                currency,
                [
                    _breakdown("Product Charges", refund, currency, []),
                ],
            )
        ]
        items = [_item(sku, order_id, total, quantity, currency, h)]
    else:
        total = -(500 + (h >> 24) % 4000)
        transaction_type, description = "ServiceFee", "Subscription Fee"
        breakdowns = [
            _breakdown(
                "Expenses",
                total,
                currency,
                [
                    _breakdown("Subscription Fee", total, currency, []),
                ],
            )
        ]
        items = []
    result: dict[str, Any] = {
        "sellingPartnerMetadata": {
            "sellingPartnerId": seller.selling_partner_id,
            "accountType": "PAYABLE",
            "marketplaceId": marketplace_id,
        },
        "relatedIdentifiers": related,
        "transactionType": transaction_type,
        "transactionId": stable_id(seller.selling_partner_id, "txn", index),
        "transactionStatus": status,
        "description": description,
        "postedDate": iso(posted, millis=True),
        "totalAmount": _money(total, currency),
        "marketplaceDetails": {"marketplaceId": marketplace_id, "marketplaceName": market.name},
        "items": items,
        "breakdowns": breakdowns,
    }
    if status == "DEFERRED":
        result["contexts"] = [
            {
                "contextType": "DeferredContext",
                "deferralReason": "DD7",
                "maturityDate": iso(posted + 7 * 86400),
            }
        ]
    return result


def _breakdown(
    kind: str, cents: int, currency: str, children: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "breakdownType": kind,
        "breakdownAmount": _money(cents, currency),
        "breakdowns": children,
    }


def _item(
    sku: str, order_id: str, cents: int, quantity: int, currency: str, h: int
) -> dict[str, Any]:
    return {
        "description": f"{_PRODUCTS[h % len(_PRODUCTS)]}",
        "totalAmount": _money(cents, currency),
        "relatedIdentifiers": [
            {
                "itemRelatedIdentifierName": "ORDER_ADJUSTMENT_ITEM_ID",
                "itemRelatedIdentifierValue": f"{order_id[:8]}-{h % 1000:03d}",
            }
        ],
        "contexts": [
            {
                "contextType": "ProductContext",
                "asin": f"B0{(h >> 8) & 0xFFFFFFFF:08X}",
                "sku": sku,
                "quantityShipped": quantity,
                "fulfillmentNetwork": "AFN",
            }
        ],
    }


def transaction_indices(
    seller: SellerSettings,
    *,
    start: float,
    spacing: float,
    after: float,
    before: float,
    marketplace_id: str | None,
    first: int,
) -> Iterator[int]:
    """Indices (from `first`) of transactions posted in [after, before), optionally one marketplace."""
    count = seller.transactions
    markets = seller.marketplace_ids()
    lo = max(first, _ceil_index(after, start, spacing))
    hi = min(count, _ceil_index(before, start, spacing))
    step = 1
    if marketplace_id is not None:
        if marketplace_id not in markets:
            return
        k = markets.index(marketplace_id)
        step = len(markets)
        lo += (k - lo) % step
    yield from range(max(0, lo), hi, step)


def _ceil_index(moment: float, start: float, spacing: float) -> int:
    """The smallest i with start + i*spacing >= moment."""
    raw = (moment - start) / spacing
    i = int(raw)
    if i < raw:
        i += 1
    return max(0, i)
