"""Scheduled settlement reports (GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2), as Amazon makes them.

Nobody requests a settlement: one appears every 14 days per seller and marketplace, listed by
getReports like any report. Its flat file writes amounts in the marketplace's local number format
("1.234,56" in Germany, "1 234,56" with narrow no-break spaces in France) and its first line
carries the settlement's header (FACTS.md §8).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from soldscope_cli.amazon.marketplaces import BY_ID
from soldscope_cli.simulator.markets import info
from soldscope_cli.simulator.scenario import SellerSettings
from soldscope_cli.simulator.tokens import stable_hash

if TYPE_CHECKING:
    from collections.abc import Mapping

SETTLEMENT_V2 = "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"
CYCLE_S = 14 * 86400
# Settlement periods end on this grid (a Thursday), every 14 days.
EPOCH = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
# Amazon finishes a settlement's report a little after the period ends.
READY_AFTER_S = 3600
# How far back scheduled reports are made: beyond getReports' 90 days nothing is listed anyway.
HISTORY_S = 100 * 86400

COLUMNS = (
    "settlement-id",
    "settlement-start-date",
    "settlement-end-date",
    "deposit-date",
    "total-amount",
    "currency",
    "transaction-type",
    "order-id",
    "merchant-order-id",
    "adjustment-id",
    "shipment-id",
    "marketplace-name",
    "amount-type",
    "amount-description",
    "amount",
    "fulfillment-id",
    "posted-date",
    "posted-date-time",
    "order-item-code",
    "merchant-order-item-id",
    "merchant-adjustment-item-id",
    "sku",
    "quantity-purchased",
    "promotion-id",
)
_COMMA = frozenset({"BR", "ES", "FR", "BE", "NL", "DE", "IT", "SE", "PL", "TR"})
_KINDS = (
    ("Order", "ItemPrice", "Principal", "1"),
    ("Order", "ItemFees", "Commission", "1"),
    ("Order", "ItemFees", "FBAPerUnitFulfillmentFee", "1"),
    ("Refund", "ItemPrice", "Principal", "1"),
    ("other-transaction", "other-transaction", "Storage Fee", ""),
)


@dataclass(frozen=True)
class Due:
    """A settlement period that has ended, and what its report's document holds."""

    marketplace_id: str
    start: float
    end: float
    document: dict[str, object]

    @property
    def created(self) -> float:
        return self.end + READY_AFTER_S


def due(seller: SellerSettings, made: set[tuple[str, float]], now: float) -> list[Due]:
    """The seller's settlements whose reports exist by `now`, except those in `made`
    (marketplace id, period end). The simulator settles each seller in its first marketplace
    only: a handful of documents per store keeps syncs within getReportDocument's burst."""
    found: list[Due] = []
    first = int((now - HISTORY_S - EPOCH) // CYCLE_S)
    for marketplace_id in seller.marketplace_ids()[:1]:
        for cycle in range(first, int((now - EPOCH) // CYCLE_S) + 1):
            end = EPOCH + cycle * CYCLE_S
            if end + READY_AFTER_S > now or (marketplace_id, end) in made:
                continue
            settlement_id = str(stable_hash(seller.selling_partner_id, marketplace_id, end))
            document: dict[str, object] = {
                "kind": "settlement",
                "start": end - CYCLE_S,
                "end": end,
                "lines": seller.settlement_lines,
                "settlement_id": settlement_id[:11],
            }
            found.append(Due(marketplace_id, end - CYCLE_S, end, document))
    return found


def iso_time(epoch: float) -> str:
    """dataStartTime/dataEndTime as a settlement report lists them."""
    return _iso(epoch)


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def local_amount(value: Decimal, marketplace_id: str) -> str:
    """`value` as the marketplace's files write it: "1.234,56" (DE), "1\u202f234,56" (FR),
    "1,234.56" (US)."""
    code = BY_ID[marketplace_id].code
    sign = "-" if value < 0 else ""
    whole, _, cents = f"{abs(value):.2f}".partition(".")
    groups: list[str] = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    if code == "FR":
        return sign + "\u202f".join(groups) + "," + cents
    if code in _COMMA:
        return sign + ".".join(groups) + "," + cents
    return sign + ",".join(groups) + "." + cents


def _local_time(epoch: float, marketplace_id: str) -> str:
    moment = datetime.fromtimestamp(epoch, UTC)
    if BY_ID[marketplace_id].code in _COMMA:
        return moment.strftime("%d.%m.%Y %H:%M:%S UTC")
    return moment.strftime("%Y-%m-%dT%H:%M:%S+00:00")


def _amount(seed: int, index: int, kind: int) -> Decimal:
    """A line's amount, whole cents: fees a tenth of a price, refunds negative."""
    cents = (stable_hash(seed, index) % 250_000) + 99
    if kind in (1, 2, 4):
        return -Decimal(cents // 10) / 100
    return (-Decimal(cents) if kind == 3 else Decimal(cents)) / 100


def document_lines(
    seller: SellerSettings, marketplace_id: str, doc: Mapping[str, Any]
) -> Iterator[str]:
    """The settlement's flat file, line by line (the header row first)."""
    market = info(marketplace_id)
    seed = stable_hash(seller.selling_partner_id, doc["settlement_id"])
    lines = int(doc["lines"])
    start, end = float(doc["start"]), float(doc["end"])
    total = sum((_amount(seed, i, i % len(_KINDS)) for i in range(lines)), Decimal(0))
    yield "\t".join(COLUMNS)
    header = [""] * len(COLUMNS)
    header[:6] = [
        str(doc["settlement_id"]),
        _local_time(start, marketplace_id),
        _local_time(end, marketplace_id),
        _local_time(end + 3 * 86400, marketplace_id),
        local_amount(total, marketplace_id),
        market.currency,
    ]
    yield "\t".join(header)
    span = end - start
    for i in range(lines):
        kind = i % len(_KINDS)
        transaction, amount_type, description, quantity = _KINDS[kind]
        posted = start + (stable_hash(seed, "t", i) % int(span))
        order = f"{300 + i % 700:03d}-{(seed + i) % 10**7:07d}-{i:07d}"
        row = [""] * len(COLUMNS)
        row[0] = str(doc["settlement_id"])
        row[6:] = [
            transaction,
            order if kind < 4 else "",
            "",
            "",
            "",
            market.name,
            amount_type,
            description,
            local_amount(_amount(seed, i, kind), marketplace_id),
            "AFN" if kind < 4 else "",
            datetime.fromtimestamp(posted, UTC).strftime("%m/%d/%y"),
            datetime.fromtimestamp(posted, UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00"),
            f"{stable_hash(seed, 'item', i) % 10**14:014d}" if kind < 4 else "",
            "",
            "",
            f"SKU-{i % 97:04d}" if kind < 4 else "",
            quantity,
            "",
        ]
        yield "\t".join(row)


def paced(
    pieces: Iterator[bytes], delay_s: float, sleep: Callable[[float], None]
) -> Iterator[bytes]:
    """The chunks with a pause before each: a slow download a test can interrupt."""
    for piece in pieces:
        if delay_s > 0:
            sleep(delay_s)
        yield piece


def real_sleep(seconds: float) -> None:
    """The download's pause (always real time: it paces bytes on the wire)."""
    time.sleep(seconds)
