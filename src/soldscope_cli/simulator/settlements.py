"""Scheduled settlement reports (GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2), as Amazon makes them.

Nobody requests a settlement: one appears every 14 days per seller and marketplace, listed by
getReports like any report. Its flat file writes amounts in the marketplace's local number format
("1.234,56" in Germany, "1 234,56" with narrow no-break spaces in France) and its first line
carries the settlement's header (FACTS.md §8).
"""

from __future__ import annotations

import random
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
            if end - CYCLE_S < now - seller.settlement_days * 86400.0:
                continue
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
    return _cents_text(int(value.scaleb(2).to_integral_value()), BY_ID[marketplace_id].code)


_TO_COMMA = str.maketrans(",.", ".,")
_TO_FRENCH = str.maketrans(",.", "\u202f,")


def _cents_text(cents: int, code: str) -> str:
    whole, frac = divmod(abs(cents), 100)
    text = f"{'-' if cents < 0 else ''}{whole:,}.{frac:02d}"
    if code == "FR":
        return text.translate(_TO_FRENCH)
    return text.translate(_TO_COMMA) if code in _COMMA else text


def _local_time(epoch: float, marketplace_id: str) -> str:
    moment = datetime.fromtimestamp(epoch, UTC)
    if BY_ID[marketplace_id].code in _COMMA:
        return moment.strftime("%d.%m.%Y %H:%M:%S UTC")
    return moment.strftime("%Y-%m-%dT%H:%M:%S+00:00")


def _cents(rng: random.Random, kind: int) -> int:
    """A line's amount in cents: fees a tenth of a price, refunds negative."""
    cents = rng.randrange(99, 250_099)
    if kind in (1, 2, 4):
        return -(cents // 10)
    return -cents if kind == 3 else cents


def _lines(seed: int, count: int, span: int) -> Iterator[tuple[int, int, int, int]]:
    """(kind, cents, posted offset, item code) of each line: the same for the same seed."""
    rng = random.Random(seed)
    kinds = len(_KINDS)
    for i in range(count):
        kind = i % kinds
        yield kind, _cents(rng, kind), rng.randrange(span), rng.randrange(10**14)


def document_lines(
    seller: SellerSettings, marketplace_id: str, doc: Mapping[str, Any]
) -> Iterator[str]:
    """The settlement's flat file, line by line (the header row first). Lines are generated
    twice from the same seed: once for the total the header states, once to write them, so a
    document of millions of lines costs no memory."""
    market = info(marketplace_id)
    seed = stable_hash(seller.selling_partner_id, doc["settlement_id"])
    count = int(doc["lines"])
    start, end = float(doc["start"]), float(doc["end"])
    span = int(end - start)
    total = sum(cents for _, cents, _, _ in _lines(seed, count, span))
    settlement_id = str(doc["settlement_id"])
    yield "\t".join(COLUMNS)
    header = [""] * len(COLUMNS)
    header[:6] = [
        settlement_id,
        _local_time(start, marketplace_id),
        _local_time(end, marketplace_id),
        _local_time(end + 3 * 86400, marketplace_id),
        local_amount(Decimal(total) / 100, marketplace_id),
        market.currency,
    ]
    yield "\t".join(header)
    blank = "\t".join([""] * 3)
    code = BY_ID[marketplace_id].code
    days = [datetime.fromtimestamp(start + day * 86400, UTC) for day in range(span // 86400 + 1)]
    short = [d.strftime("%m/%d/%y") for d in days]
    iso = [d.strftime("%Y-%m-%d") for d in days]
    for i, (kind, cents, offset, item) in enumerate(_lines(seed, count, span)):
        transaction, amount_type, description, quantity = _KINDS[kind]
        day, second = divmod(offset, 86400)
        hour, second = divmod(second, 3600)
        minute, second = divmod(second, 60)
        ordered = kind < 4
        yield "\t".join(
            (
                settlement_id,
                "\t\t\t\t",  # the header's five columns, empty on a line
                transaction,
                f"{300 + i % 700:03d}-{(seed + i) % 10**7:07d}-{i:07d}" if ordered else "",
                blank,
                market.name,
                amount_type,
                description,
                _cents_text(cents, code),
                "AFN" if ordered else "",
                short[day],
                f"{iso[day]}T{hour:02d}:{minute:02d}:{second:02d}+00:00",
                f"{item:014d}" if ordered else "",
                "\t",  # merchant-order-item-id, merchant-adjustment-item-id
                f"SKU-{i % 97:04d}" if ordered else "",
                quantity,
                "",
            )
        )


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
